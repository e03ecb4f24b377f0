import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The job's argv, environment and working directory reach the node byte for byte, and none
/// of them is ever on a command line there.
extension LaunchTests {
    /// Words no shell quoting may spoil: every byte value alone and inside a word, empty
    /// words, a Unicode prepend letter before `;` (which merges with it into one Character),
    /// quotes, newlines, command substitutions and invalid UTF-8.
    /// - Parameter script: a program that must never run (its name follows a `;`).
    static func awkwardWords(marker: String, script: String) -> [[UInt8]] {
        var words: [[UInt8]] = (1...255).map { [UInt8($0)] }
        words += (1...255).map { Array("a".utf8) + [UInt8($0)] + Array("b".utf8) }
        words.append(Array(1...255))
        // `&` runs the script at once, so its marker tells whether it ran; after `;` it would
        // run only once procsrv is gone.
        words += [[], [], Array("x".utf8) + [0xe0, 0xb5, 0x8e] + Array("&\(script)".utf8),
                  Array("x".utf8) + [0xe0, 0xb5, 0x8e] + Array(";\(script)".utf8)]
        words += ["'", "\"", "'\\''", "a b", "\n", "line\nbreak", "$(touch \(marker))", "`touch \(marker)`",
                  "$HOME", "~", "*", "--", "-", "%1", "{a,b}", "#c", "!!", "\\", "a;b", "a&b", "a|b", "(x)", "<x>"]
            .map { Array($0.utf8) }
        words += [[0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80], [0xe0, 0xb5, 0x8e]]
        return words
    }

    /// What `printf '%s\0' WORDS; echo` writes.
    static func nulTerminated(_ words: [[UInt8]]) -> [UInt8] {
        words.flatMap { $0 + [0] } + [UInt8(ascii: "\n")]
    }

    static var printWords: [[UInt8]] { ["sh", "-c", "printf '%s\\0' \"$@\"; echo", "sh"].map { Array($0.utf8) } }

    /// Where two byte strings first differ, with a little of each around it.
    static func firstDifference(_ got: [UInt8], _ wanted: [UInt8]) -> String {
        let index = (0..<min(got.count, wanted.count)).first { got[$0] != wanted[$0] } ?? min(got.count, wanted.count)
        let around = { (bytes: [UInt8]) in Array(bytes[max(0, index - 8)..<min(bytes.count, index + 8)]) }
        return "\(got.count) bytes, wanted \(wanted.count); first difference at \(index): got \(around(got)), wanted \(around(wanted))"
    }

    @Test func argumentsArriveByteForByte() async throws {
        let cluster = try await SimCluster.shared()
        let marker = "/tmp/cluster-proc-injected-\(getpid())"
        let script = "/tmp/cluster-proc-inject-\(getpid()).sh"
        unlink(marker)
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer { unlink(script) }
        let words = Self.awkwardWords(marker: marker, script: script)
        let command = ["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-N", "-w", "node01", "--"].map { Array($0.utf8) }
        let outcome = try await Spawned.run(bytes: command + Self.printWords + words)
        #expect(outcome.status == 0, "\(outcome.errors)")
        let same = outcome.outputBytes == Self.nulTerminated(words)
        #expect(same, "\(Self.firstDifference(outcome.outputBytes, Self.nulTerminated(words)))")
        #expect(access(marker, F_OK) != 0, "a word ran a command on the node")
        unlink(marker)
    }

    /// A spec larger than one 9P message goes in several writes and arrives whole.
    @Test func aJobLargerThanAMessageArrivesWhole() async throws {
        let cluster = try await SimCluster.shared()
        let words = (0..<6).map { index in (0..<100_000).map { UInt8(truncatingIfNeeded: 1 + ($0 * 7 + index) % 255) } }
        let count = ["/bin/sh", "-c", "printf '%s\\0' \"$@\" | cksum", "sh"].map { Array($0.utf8) }
        let here = try await Spawned.run(bytes: count + words)
        let command = ["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-N", "-w", "node04", "--"].map { Array($0.utf8) }
        let there = try await Spawned.run(bytes: command + count + words)
        #expect(there.status == 0, "\(there.errors)")
        #expect(!here.output.isEmpty)
        #expect(there.output == here.output)
    }

    @Test func workingDirectoryAndExportedValuesArriveByteForByte() async throws {
        let cluster = try await SimCluster.shared()
        let directory = Array("/tmp/cluster-proc-dir \(getpid()) ".utf8) + [0xff, 0xfe] + Array("'$(x)".utf8)
        try #require(directory.withUnsafeBufferPointer { buffer in
            let path = Array(buffer) + [0]
            return path.withUnsafeBufferPointer { mkdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 0o755) }
        } == 0)
        defer {
            let path = directory + [0]
            _ = path.withUnsafeBufferPointer { rmdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        }
        let value = Array("it's \"quoted\"\nand $(new) `lines`\n".utf8) + [0xff] + Array(" end\n".utf8)
        let command = ["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-N", "-w", "node02", "--export", "AWKWARD_VALUE", "--",
                       "sh", "-c", "pwd -P | tr -d '\\n'; printf '\\0%s\\0' \"$AWKWARD_VALUE\"; echo"].map { Array($0.utf8) }
        let outcome = try await Spawned.run(bytes: command, environment: [Array("AWKWARD_VALUE=".utf8) + value], workingDirectory: directory)
        #expect(outcome.status == 0, "\(outcome.errors)")
        let wanted = directory + [0] + value + [0, UInt8(ascii: "\n")]
        let same = outcome.outputBytes == wanted
        #expect(same, "\(Self.firstDifference(outcome.outputBytes, wanted))")
    }
}

extension LaunchTests {
    /// Every process's command line on a node, read on the node itself, NULs and all.
    static func commandLines(_ cluster: SimCluster, on node: String) async throws -> [UInt8] {
        let outcome = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, node, "cat /proc/[0-9]*/cmdline 2>/dev/null; true"])
        return outcome.outputBytes
    }

    @Test func nothingOfTheJobIsOnACommandLineOnTheNode() async throws {
        let cluster = try await SimCluster.shared()
        let canary = "canary\(UInt64.random(in: 0...UInt64.max))"
        let secret = "secret-\(canary)"
        let argument = "argument-\(canary)"
        let directory = "/tmp/cluster-proc-cwd-\(canary)"
        let copy = "/tmp/cluster-proc-secret-\(getpid())"
        mkdir(directory, 0o755)
        defer { rmdir(directory); unlink(copy) }
        unlink(copy)
        // The job keeps the secret only in its environment: it copies it to a file, then
        // becomes `sleep`, so its own command line holds none of the canaries either.
        let job = ["sh", "-c", "printf %s \"$CLUSTER_PROC_TEST_SECRET\" > \(copy); exec sleep 600", argument]
        let command = ["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-w", "node[01-02]",
                       "--export", "CLUSTER_PROC_TEST_SECRET", "--"] + job
        let launcher = try Spawned(bytes: command.map { Array($0.utf8) }, environment: [Array("CLUSTER_PROC_TEST_SECRET=\(secret)".utf8)],
                                   workingDirectory: Array(directory.utf8), discardOutput: true)
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        var lines: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            lines = try await Self.commandLines(cluster, on: "node02")
            if lines.contains(subsequence: Array("sleep\u{0}600".utf8)), access(copy, F_OK) == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let running = lines.contains(subsequence: Array("sleep\u{0}600".utf8))
        #expect(running, "the job runs on node02 while its command lines are read")
        #expect((try? String(contentsOfFile: copy, encoding: .utf8)) == secret, "the job got the secret")
        for (what, canary) in [("the exported value", secret), ("an argument", argument), ("the working directory", directory)] {
            let shown = lines.contains(subsequence: Array(canary.utf8))
            #expect(!shown, "\(what) is on a command line on node02")
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, count >= subsequence.count else { return subsequence.isEmpty }
        return (0...(count - subsequence.count)).contains { self[$0..<($0 + subsequence.count)].elementsEqual(subsequence) }
    }
}

/// The job starts, its bytes exact, whatever the node user's login shell: sshd hands the
/// remote command to that shell, and fish and tcsh quote nothing like sh does.
extension LaunchTests {
    static func launchThroughShell(_ shell: String) async throws {
        let cluster = try await SimCluster.shared()
        let user = try cluster.user(withLoginShell: shell)
        let marker = "/tmp/cluster-proc-injected-shell-\(getpid())"
        let script = "/tmp/cluster-proc-inject-shell-\(getpid()).sh"
        unlink(marker)
        try "#!/bin/sh\ntouch \(marker)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer { unlink(script) }
        let words = awkwardWords(marker: marker, script: script)
        let command = ["\(binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-l", user, "-N", "-w", "node03", "--"].map { Array($0.utf8) }
        let outcome = try await Spawned.run(bytes: command + [Array("/bin/sh".utf8)] + printWords.dropFirst() + words,
                                            workingDirectory: Array("/tmp".utf8))
        #expect(outcome.status == 0, "\(outcome.errors)")
        let same = outcome.outputBytes == nulTerminated(words)
        #expect(same, "\(firstDifference(outcome.outputBytes, nulTerminated(words)))")
        #expect(access(marker, F_OK) != 0, "a word ran a command on the node")
        unlink(marker)
    }

    @Test func aDashLoginShellStartsTheJob() async throws {
        try await Self.launchThroughShell("/bin/dash")
    }

    @Test(.enabled(if: access("/usr/bin/tcsh", X_OK) == 0, "needs tcsh (scripts/install-deps --test)"))
    func aTcshLoginShellStartsTheJob() async throws {
        try await Self.launchThroughShell("/usr/bin/tcsh")
    }

    @Test(.enabled(if: access("/usr/bin/fish", X_OK) == 0, "needs fish (scripts/install-deps --test)"))
    func aFishLoginShellStartsTheJob() async throws {
        try await Self.launchThroughShell("/usr/bin/fish")
    }
}

extension LaunchTests {
    /// The procsrv path is the one word of the remote command that comes from the user: a
    /// path a shell could read otherwise is refused before any node is contacted.
    @Test(arguments: ["/tmp/a b/procsrv", "/tmp/x;id", "/tmp/$(id)", "-procsrv", "=procsrv", "%1", "/tmp/\u{e9}/procsrv", "~/procsrv"])
    func anUnsafeProcsrvPathIsRefusedBeforeConnecting(path: String) async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, ["--procsrv=\(path)", "-w", "nosuchnode", "-t", "3", "--", "true"])
        #expect(outcome.status == 64)
        #expect(outcome.errors.contains("is not safe on a remote command line"), "\(outcome.errors)")
        #expect(!outcome.errors.contains("nosuchnode"), "refused before connecting: \(outcome.errors)")
    }
}

extension LaunchTests {
    /// A larger stack lets exec take more than 2 MiB of arguments; the spec does not, and the
    /// launcher says so before it contacts any node.
    @Test(.enabled(if: access("/usr/bin/prlimit", X_OK) == 0, "needs prlimit (util-linux)"))
    func aJobTooLargeForTheSpecIsRefusedBeforeConnecting() async throws {
        let cluster = try await SimCluster.shared()
        // The words are made after the limit is raised: sh builds 30 words of 100000 bytes.
        let script = "w=$(head -c 100000 /dev/zero | tr '\\0' a); set --; for i in $(seq 30); do set -- \"$@\" \"$w\"; done; exec \"$0\" run -F \(cluster.sshConfig) -w nosuchnode -t 3 -- echo \"$@\""
        let outcome = try await Spawned.run(["/usr/bin/prlimit", "--stack=268435456", "--", "/bin/sh", "-c", script, "\(Self.binaries)/cluster-launch"])
        #expect(outcome.status == 64, "\(outcome.errors.prefix(300))")
        #expect(outcome.errors.contains("job spec:") && outcome.errors.contains("at most \(2 << 20)"), "\(outcome.errors.prefix(300))")
        #expect(!outcome.errors.contains("nosuchnode"), "refused before connecting")
    }
}

extension LaunchTests {
    /// The launcher forwards no stdin, so the job's reads end of file instead of waiting forever.
    @Test func theJobsStdinReadsEndOfFile() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try Spawned(["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-w", "node[01-02]", "--",
                                    "sh", "-c", "cat; echo \"read to the end\""])
        let (outcome, _) = try await Self.finish(launcher, limit: .seconds(20))
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output.contains("node01: read to the end\n") && outcome.output.contains("node02: read to the end\n"), "\(outcome.output)")
    }
}
