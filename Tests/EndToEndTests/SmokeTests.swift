import Testing
@testable import ClusterProc

@Test func endToEndTargetLoads() {
    #expect(String(describing: ClusterProc.self) == "ClusterProc")
}
