import Foundation
import Testing
@testable import ClusterProc

/// Selection against real files in a temporary directory and an environment dictionary.
@Suite struct HostlistSelectionTests {
    /// A temporary directory removed when the test's value is dropped.
    final class TemporaryDirectory {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("hostlist-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func file(_ name: String, _ contents: String) throws -> String {
            let file = path + "/" + name
            try contents.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Reads real files; standard input comes from `stdin`, and reads of it are counted.
    final class Input {
        var stdin: String
        var stdinReads = 0
        init(stdin: String = "") { self.stdin = stdin }
        var input: HostSelection.Input {
            HostSelection.Input(readFile: HostSelection.Input.system.readFile, readStandardInput: { [self] in
                stdinReads += 1
                return stdin
            })
        }
    }

    private func resolve(_ targets: [String], excluding exclusions: [String] = [], environment: [String: String] = [:],
                         input: Input = Input()) throws(HostListError) -> [String] {
        try HostSelection(targets: targets, exclusions: exclusions).resolve(environment: environment, input: input.input).hosts
    }

    private func error(_ body: () throws(HostListError) -> [String]) -> HostListError? {
        do {
            let hosts = try body()
            Issue.record("expected an error, got \(hosts)")
            return nil
        } catch {
            return error
        }
    }

    @Test func expressionsAreUnionedThenExcluded() throws {
        #expect(try resolve(["node[1-3]", "node5", "node2"], excluding: ["node2"]) == ["node1", "node3", "node5"])
        #expect(try resolve([" a,b "], excluding: ["c"]) == ["a", "b"])
    }

    @Test func hostFilesTakeCommentsCommasWhitespaceAndExpressions() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.file("hosts", """
            # the login node first
            login1
            node[01-03], node05   node[ 07 - 08 ]  # rack 1
            \tgpu1,gpu2
            node02

            """)
        #expect(try resolve(["^" + file]) == ["login1", "node01", "node02", "node03", "node05", "node07", "node08", "gpu1", "gpu2"])
        let exclude = try directory.file("down", "node02\nnode[07-08]\n")
        #expect(try resolve(["^" + file], excluding: ["^" + exclude, "login1"])
            == ["node01", "node03", "node05", "gpu1", "gpu2"])
    }

    @Test func badLinesAndMissingFilesAreNamed() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.file("hosts", "node1\n# fine\nnode[3-1]\n")
        let bad = error { () throws(HostListError) in try resolve(["^" + file]) }
        #expect(bad?.code == .reversedRange)
        #expect(bad?.description.hasPrefix(file + ":3: ") == true, "\(String(describing: bad))")

        let missing = directory.path + "/absent"
        let unreadable = error { () throws(HostListError) in try resolve(["^" + missing]) }
        #expect(unreadable?.code == .unreadableFile)
        #expect(unreadable?.description.contains(missing) == true)

        #expect(error { () throws(HostListError) in try resolve(["^"]) }?.code == .unreadableFile)
        let empty = try directory.file("empty", "# nobody\n\n")
        #expect(error { () throws(HostListError) in try resolve(["^" + empty]) }?.code == .noHosts)
    }

    @Test func standardInputIsReadOnce() throws {
        let input = Input(stdin: "n1 n2\nn[3-4]\n")
        #expect(try resolve(["-", "x", "-"], excluding: ["n2"], input: input) == ["n1", "n3", "n4", "x"])
        #expect(input.stdinReads == 1)

        let both = Input(stdin: "n1\n")
        let left = error { () throws(HostListError) in try resolve(["-"], excluding: ["-"], input: both) }
        #expect(left?.code == .noHosts)
        #expect(left?.description == "no hosts left after excluding -")
        #expect(both.stdinReads == 1)
    }

    @Test func withoutTargetsWCOLLThenTheAllocation() throws {
        let directory = try TemporaryDirectory()
        let wcoll = try directory.file("wcoll", "w[1-2]\n")
        let hostfile = try directory.file("hostfile", "h1\nh2\nh3\n")
        #expect(try resolve([], environment: ["WCOLL": wcoll, "SLURM_JOB_NODELIST": "s[1-4]"]) == ["w1", "w2"])
        #expect(try resolve([], environment: ["SLURM_JOB_NODELIST": "s[1-4]"]) == ["s1", "s2", "s3", "s4"])
        #expect(try resolve([], environment: ["CLUSTER_PROC_HOSTFILE": hostfile]) == ["h1", "h2", "h3"])
        #expect(try resolve([], excluding: ["w1"], environment: ["WCOLL": wcoll]) == ["w2"])
        let none = error { () throws(HostListError) in try resolve([], environment: ["WCOLL": ""]) }
        #expect(none?.code == .noHosts)
    }

    @Test func aCountTakesTheFirstHostsOfTheAllocation() throws {
        let directory = try TemporaryDirectory()
        let hostfile = try directory.file("hostfile", "h[1-5]\n")
        let wcoll = try directory.file("wcoll", "w[1-3]\n")
        let slurm = ["SLURM_JOB_NODELIST": "node[01-64]", "CLUSTER_PROC_HOSTFILE": hostfile, "WCOLL": wcoll]
        #expect(try resolve(["4"], environment: slurm) == ["node01", "node02", "node03", "node04"])
        #expect(try resolve(["64"], environment: slurm).count == 64)
        #expect(try resolve([" 2 "], environment: ["CLUSTER_PROC_HOSTFILE": hostfile, "WCOLL": wcoll]) == ["h1", "h2"])
        #expect(try resolve(["3"], environment: ["WCOLL": wcoll]) == ["w1", "w2", "w3"])
        #expect(try resolve(["2", "extra"], excluding: ["node01"], environment: slurm) == ["node02", "node03", "extra"])
    }

    /// srun's way: `-n 2 -x node05` in `node[05-08]` runs on two nodes, not one.
    @Test func aCountIsTakenAfterTheExclusions() throws {
        let slurm = ["SLURM_JOB_NODELIST": "node[05-08]"]
        #expect(try resolve(["2"], excluding: ["node05"], environment: slurm) == ["node06", "node07"])
        #expect(try resolve(["2"], excluding: ["/node0[57]/"], environment: slurm) == ["node06", "node08"])
        let short = error { () throws(HostListError) in try resolve(["4"], excluding: ["node05"], environment: slurm) }
        #expect(short?.code == .badCount)
        #expect(short?.description.contains("only 3 left after the exclusions") == true, "\(String(describing: short))")
    }

    /// pdsh's `/regex/`: extended, unanchored; in -x it removes, in -w it keeps.
    @Test func slashedValuesAreRegularExpressions() throws {
        #expect(try resolve(["node0[1-4]"], excluding: ["/node0[13]/"]) == ["node02", "node04"])
        #expect(try resolve(["foo[1-4]"], excluding: ["/o{2}1/"]) == ["foo2", "foo3", "foo4"])
        #expect(try resolve(["foo[1-4]", "/[24]$/"]) == ["foo2", "foo4"])
        #expect(try resolve(["/[24]$/"], environment: ["SLURM_JOB_NODELIST": "s[1-4]"]) == ["s2", "s4"])
        let bad = error { () throws(HostListError) in try resolve(["a"], excluding: ["/node[/"]) }
        #expect(bad?.code == .badPattern)
        #expect(error { () throws(HostListError) in try resolve(["foo[1-4]", "/^oo/"]) }?.code == .noHosts)
    }

    @Test func anExclusionThatMatchesNothingIsReported() throws {
        var warnings: [String] = []
        let hosts = try HostSelection(targets: ["node0[1-4]"], exclusions: ["node0*", "node02", "/^oo/"])
            .resolve(environment: [:], input: Input().input) { warnings.append($0) }
        #expect(hosts.hosts == ["node01", "node03", "node04"])
        #expect(warnings == ["-x node0* matches none of the selected hosts", "-x /^oo/ matches none of the selected hosts"])
    }

    /// ClusterShell's local groups file format, read from CLUSTER_PROC_GROUPS.
    @Test func groupsComeFromAGroupsFile() throws {
        let directory = try TemporaryDirectory()
        let groups = try directory.file("groups", """
            # site groups
            io: node[4-6]
            login: login1, login2
            gpu: node[10-11] @login   # nested
            """)
        let environment = ["CLUSTER_PROC_GROUPS": groups]
        #expect(try resolve(["@io"], environment: environment) == ["node4", "node5", "node6"])
        #expect(try resolve(["@io,extra", "@gpu"], excluding: ["@login"], environment: environment)
            == ["node4", "node5", "node6", "extra", "node10", "node11"])
        let unknown = error { () throws(HostListError) in try resolve(["@nope"], environment: environment) }
        #expect(unknown?.code == .badGroup)
        #expect(unknown?.description == "no group @nope in \(groups)")
        let loop = try directory.file("loop", "a: @b\nb: @a\n")
        #expect(error { () throws(HostListError) in try resolve(["@a"], environment: ["CLUSTER_PROC_GROUPS": loop]) }?.code == .badGroup)
        let broken = try directory.file("broken", "io node1\n")
        let bad = error { () throws(HostListError) in try resolve(["@io"], environment: ["CLUSTER_PROC_GROUPS": broken]) }
        #expect(bad?.description.hasPrefix(broken + ":1: ") == true, "\(String(describing: bad))")
        let missing = error { () throws(HostListError) in
            try resolve(["@io"], environment: ["CLUSTER_PROC_GROUPS": directory.path + "/absent"])
        }
        #expect(missing?.code == .unreadableFile)
    }

    @Test func badCountsAreClearErrors() throws {
        let slurm = ["SLURM_JOB_NODELIST": "node[01-04]"]
        let tooMany = error { () throws(HostListError) in try resolve(["5"], environment: slurm) }
        #expect(tooMany?.code == .badCount)
        #expect(tooMany?.description.contains("SLURM_JOB_NODELIST") == true)
        #expect(tooMany?.description.contains("4") == true)
        #expect(error { () throws(HostListError) in try resolve(["0"], environment: slurm) }?.code == .badCount)
        #expect(error { () throws(HostListError) in try resolve(["99999999999999999999999"], environment: slurm) }?.code == .badCount)
        let noAllocation = error { () throws(HostListError) in try resolve(["4"]) }
        #expect(noAllocation?.code == .noAllocation)
        let badList = error { () throws(HostListError) in try resolve(["2"], environment: ["SLURM_JOB_NODELIST": "node[1-"]) }
        #expect(badList?.code == .unbalancedBrackets)
        #expect(badList?.description.hasPrefix("SLURM_JOB_NODELIST: ") == true)
    }

    @Test func excludingEverythingIsAnError() throws {
        let all = error { () throws(HostListError) in try resolve(["node[1-3]"], excluding: ["node[1-2]", "node3"]) }
        #expect(all?.code == .noHosts)
        #expect(all?.description == "no hosts left after excluding node[1-2],node3")
    }

    @Test func theLimitCoversTheWholeSelection() throws {
        let selection = HostSelection(targets: ["a[1-6]", "b[1-6]"], limit: 10)
        #expect(throws: HostListError.self) { try selection.resolve(environment: [:], input: Input().input) }
    }
}

@Suite struct HostGroupsTests {
    /// Eight levels of groups that each name the next ten times: 10^8 expansions unbounded.
    @Test func groupsThatMultiplyAreRefused() throws {
        let text = (0..<8).map { level in
            "g\(level): " + Array(repeating: "@g\(level + 1)", count: 10).joined(separator: ",")
        }.joined(separator: "\n") + "\ng8: node01\n"
        let groups = try HostGroups(parsing: text, source: "test")
        #expect(throws: HostListError.self) { try groups.hosts(of: "g0") }
        // A group named many times within the bound still expands.
        #expect(try groups.hosts(of: "g5").count == 1)
    }
}
