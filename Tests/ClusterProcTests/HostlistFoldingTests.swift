import Foundation
import TestSupport
import Testing
@testable import ClusterProc

@Suite struct HostlistFoldingTests {
    @Test(arguments: [
        ("node01,node02,node03,node07", "node[01-03,07]"),
        ("node8,node9,node10", "node[8-10]"),
        ("node08,node09,node10", "node[08-10]"),
        ("node10,node08,node09", "node[08-10]"),
        ("node1,node01", "node1,node01"),
        ("node1,node2,node01,node02", "node[1-2],node[01-02]"),
        ("a1,b1,a2", "a[1-2],b1"),
        ("login", "login"),
        ("node5", "node5"),
        ("n1.ib,n2.ib,n3", "n[1-2].ib,n3"),
        ("rack1-node01,rack1-node02,rack2-node01", "rack1-node[01-02],rack2-node01"),
        ("login,node3,node1,login2,node2", "login,node[1-3],login2"),
        ("n0,n1,n2,n5,n7,n8", "n[0-2,5,7-8]"),
    ])
    func foldsLikePdsh(hosts: String, folded: String) {
        let list = HostList(hosts.split(separator: ",").map(String.init))
        #expect(list.folded() == folded)
        #expect(list.description == folded)
    }

    @Test func emptyListFoldsToNothing() {
        #expect(HostList().folded() == "")
    }

    @Test func foldingAgreesWithClusterShell() throws {
        // nodeset is a real peer: it must read our folded form as the same set.
        let nodeset = "/usr/bin/nodeset"
        try #require(FileManager.default.isExecutableFile(atPath: nodeset), "ClusterShell's nodeset is not installed")
        let list = HostList(["node01", "node02", "node03", "node07", "node8", "node9", "node10", "gpu1.ib", "gpu3.ib"])
        let expanded = try runToCompletion([nodeset, "-e", "-S", ",", list.folded()]).output
        #expect(Set(expanded.split { $0 == "," || $0.isNewline }.map(String.init)) == Set(list))
    }

    /// Random host sets over a few prefixes, suffixes and padding widths: parsing the folded form
    /// gives the same set back, and folding is stable.
    @Test func parseOfFoldedGivesTheSameSet() throws {
        let prefixes = ["node", "n", "rack1-node", "gpu-", "c", "x9y", ""]
        let suffixes = ["", ".ib", "-bmc", "a"]
        var generator = SplitMix64(seed: 0x5EED_0003)
        for round in 0..<500 {
            var names: [String] = []
            for _ in 0..<Int.random(in: 0...60, using: &generator) {
                let value = Int.random(in: 0...150, using: &generator)
                let width = Int.random(in: 0...4, using: &generator)
                let digits = String(value)
                let number = String(repeating: "0", count: max(0, width - digits.count)) + digits
                let prefix = prefixes.randomElement(using: &generator)!
                let suffix = suffixes.randomElement(using: &generator)!
                names.append(Int.random(in: 0..<10, using: &generator) == 0 ? prefix + "plain" + suffix : prefix + number + suffix)
            }
            let list = HostList(names)
            let folded = list.folded()
            if list.isEmpty { continue }
            let back = try HostList(parsing: folded)
            #expect(Set(back) == Set(list), "round \(round): \(names) folded to \(folded)")
            #expect(back.count == list.count, "round \(round): \(folded)")
            #expect(back.folded() == folded, "round \(round): folding is not stable for \(names)")
        }
    }
}
