import Testing
@testable import NineP

@Test func libraryLoads() {
    #expect(String(describing: NineP.self) == "NineP")
}
