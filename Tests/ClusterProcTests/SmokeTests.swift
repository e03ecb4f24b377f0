import Testing
@testable import ClusterProc

@Test func libraryLoads() {
    #expect(String(describing: ClusterProc.self) == "ClusterProc")
}
