import Testing
@testable import ClusterProc

/// The job's argv from the words the user gave: a line for the login shell without `--`,
/// argv exactly after it.
@Suite struct LaunchCommandTests {
    static func bytes(_ words: [String]) -> [[UInt8]] { words.map { Array($0.utf8) } }

    @Test func wordsWithoutTerminatorAreOneLine() throws {
        let words = Self.bytes(["cd", "/tmp", "&&", "pwd"]) + [[0x65, 0xff]]
        let job = try ProcessBytes.command(from: words)
        #expect(job.runsInLoginShell)
        #expect(job.argv == Self.bytes(["sh", "-c"]) + [Array("cd /tmp && pwd ".utf8) + [0x65, 0xff]], "bytes joined as they are")
    }

    @Test func wordsAfterTerminatorAreArgvExactly() throws {
        let job = try ProcessBytes.command(from: Self.bytes(["--", "cd /tmp && pwd", "--", "-x"]))
        #expect(!job.runsInLoginShell)
        #expect(job.argv == Self.bytes(["cd /tmp && pwd", "--", "-x"]))
    }

    @Test(arguments: [([], "no command"), (["--"], "no command after --"), (["-Z", "x"], "unknown option -Z")] as [([String], String)])
    func noCommandOrAnOptionIsRefused(words: [String], message: String) {
        let error = #expect(throws: LaunchError.self) { try ProcessBytes.command(from: Self.bytes(words)) }
        #expect(error?.description.hasPrefix(message) == true, "\(error?.description ?? "")")
    }
}
