import Foundation
import Testing

import ClusterProc

#if canImport(Glibc)
import Glibc
#endif

/// A family whose union holds honest nodes (real procsrv) beside nodes that lie
/// (`cluster-proc-testtool lying-family`, see its `LyingNode`): cps and the namespace must
/// finish every operation within a deadline, fail the liars' files with a clear error, keep
/// their own memory bounded, and go on answering for the honest nodes.
///
/// Every program runs under `timeout`, so a hang fails the test (status 124) rather than
/// holding it; a crash shows as a status of 128 and more.
@Suite(.serialized)
struct HostileNodeTests {
    /// The lying family: its process (whose PID is the family's id) and that id.
    struct Family {
        let process: Spawned
        var id: String { "\(process.pid)" }

        @discardableResult
        func stop() -> Spawned.Outcome {
            process.signal(SIGKILL)
            return process.finish()
        }

        /// The family process's peak resident memory in KiB.
        func peakMemoryKiB() -> Int? {
            guard let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8) else { return nil }
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        }
    }

    static func startFamily() async throws -> Family {
        let tool = try namespaceTestToolPath()
        // Deadlines are generous: the machine may be loaded, and nothing here should need one.
        let process = try Spawned([tool, "lying-family", "--procsrv", "\(LaunchTests.binaries)/procsrv", "--timeout", "10"], discardOutput: true)
        let family = Family(process: process)
        // The machine is shared and may be loaded at the start of a run: wait long.
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if FamilyRegistry.list(environment: [:]).contains(where: { $0.id == family.id }) { return family }
            try await Task.sleep(for: .milliseconds(50))
        }
        let outcome = family.stop()
        throw SimClusterError("the lying family never registered (status \(outcome.status)): \(outcome.errors)")
    }

    static func cps(_ family: Family, _ arguments: [String]) async throws -> Spawned.Outcome {
        try await Spawned.run(["/usr/bin/timeout", "120", "\(LaunchTests.binaries)/cps", "-j", family.id, "--timeout", "30", "-e"] + arguments)
    }

    /// Rows of a node in cps output.
    static func rows(_ output: String, _ host: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.hasPrefix(host + " ") }
    }

    @Test func cpsShowsTheHonestNodesBesideTheLiars() async throws {
        let family = try await Self.startFamily()
        defer { family.stop() }

        let plain = try await Self.cps(family, ["-w", "node[01-05]"])
        #expect(plain.status == 1, "some nodes are missing: \(plain.status) \(plain.errors)")
        #expect(!Self.rows(plain.output, "node01").isEmpty && !Self.rows(plain.output, "node03").isEmpty, "\(plain.output)")
        #expect(Self.rows(plain.output, "node02").contains { $0.hasSuffix(" liar") }, "\(plain.output)")
        // A `ps` that never ends, and node files no machine could have.
        #expect(Self.rows(plain.output, "node04").contains { $0.contains(" DOWN ") }, "\(plain.output)")
        #expect(Self.rows(plain.output, "node05").contains { $0.contains(" DOWN ") && $0.contains("unreadable /proc") }, "\(plain.output)")

        // Every column of a process whose figures are all at the end of their range.
        let every = "pid,ppid,pgid,sid,tpgid,euid,ruid,stat,flags,pcpu,c,pmem,rss,vsz,sz,etime,etimes,time,times,bsdtime,nlwp,psr,nice,pri,opri,priority,start,stime,lstart,comm,args"
        for arguments in [["-l"], ["-f"], ["-o", every], ["--json", "-o", every], ["--sort=-pcpu,rss,start", "-o", every]] {
            let outcome = try await Self.cps(family, ["-w", "node02"] + arguments)
            #expect(outcome.status == 0, "cps \(arguments): \(outcome.status) \(outcome.errors)")
            #expect(outcome.output.contains("liar"), "cps \(arguments): \(outcome.output)")
        }

        // A chain of 100000 processes, each the parent of the next, drawn as a tree.
        let forest = try await Self.cps(family, ["-w", "node06", "--forest", "--no-headers", "-o", "pid,args"])
        #expect(forest.status == 0, "\(forest.status) \(forest.errors)")
        let lines = forest.output.split(separator: "\n")
        #expect(lines.count == 100_000, "every process shows once")
        #expect((lines.map(\.utf8.count).max() ?? 0) < 2048, "the tree stops growing to the right")

        let peak = try #require(family.peakMemoryKiB())
        #expect(peak < 512 * 1024, "the family's union stayed small: \(peak) KiB")
    }

    @Test(.enabled(if: namespaceTestsPossible, "needs root and /dev/fuse for the namespace"))
    func theNamespaceFailsTheLiarsFilesAndServesTheOthers() async throws {
        try namespacePrepareMachine()
        let family = try await Self.startFamily()
        defer { family.stop() }
        // node01 serves this machine's /proc, where the family's process runs as root: its
        // environ is 0400 root.
        let secret = "/proc/node01/\(family.id)/environ"
        let script = """
            t() { echo "@$1"; shift; timeout 60 "$@" 2>&1; echo "rc=$?"; }
            t ls2 ls /proc/node02
            t ls4 ls /proc/node04
            for e in 0 512 999 5000 negative; do t errno-$e cat /proc/node02/errno-$e; done
            t self readlink -v /proc/node02/self
            t cwd readlink -v /proc/node02/1/cwd
            t abs readlink -v /proc/node02/abs
            t exe readlink -v /proc/node02/1/exe
            t root readlink -v /proc/node02/1/root
            t socket readlink -v /proc/node02/socket
            t mounts readlink -v /proc/node02/mounts
            t huge stat -c %s /proc/node02/hugesize
            t oversize cat /proc/node02/oversize
            t names ls -a /proc/node02/names
            t honest head -1 /proc/node01/1/status
            t honest3 sh -c 'ls /proc/node03 | grep -c .'
            t other setpriv --reuid=nobody --regid=nogroup --clear-groups cat \(secret)
            t owner sh -c 'cat \(secret) | wc -c'
            """
        let outcome = try await Spawned.run(
            ["/usr/bin/timeout", "600", "\(LaunchTests.binaries)/cluster-launch", "exec", "-j", family.id, "--", "sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.status) \(outcome.errors)")
        let parts = sections(outcome.output)
        let ioError = "Input/output error\nrc=1"
        #expect(parts["ls2"]?.hasSuffix("Input/output error\nrc=2") == true, "a directory read that never advances: \(parts["ls2"] ?? "")")
        // A listing without end stops at its bound (EIO), or at the node's deadline when a
        // loaded machine reaches that first; either way it ends.
        let endless = parts["ls4"] ?? ""
        #expect((endless.contains("Input/output error") || endless.contains("Connection timed out")) && endless.hasSuffix("rc=2"), "a directory without end: \(endless)")
        for errno in ["0", "512", "999", "5000", "negative"] {
            #expect(parts["errno-\(errno)"]?.hasSuffix(ioError) == true, "errno \(errno): \(parts["errno-\(errno)"] ?? "")")
        }
        for link in ["self", "cwd", "abs"] {
            #expect(parts[link]?.hasSuffix(ioError) == true, "a link out of the node: \(parts[link] ?? "")")
        }
        #expect(parts["exe"] == "/usr/bin/liar\nrc=0")
        #expect(parts["root"] == "/\nrc=0")
        #expect(parts["socket"] == "socket:[123]\nrc=0")
        #expect(parts["mounts"] == "self/mounts\nrc=0")
        #expect(parts["huge"] == "\(Int64.max)\nrc=0", "\(parts["huge"] ?? "")")
        #expect(parts["oversize"]?.hasSuffix(ioError) == true, "\(parts["oversize"] ?? "")")
        #expect(parts["names"] == ".\n..\nok\nrc=0", "only the names a file can have: \(parts["names"] ?? "")")
        #expect(parts["honest"]?.hasPrefix("Name:") == true, "\(parts["honest"] ?? "")")
        #expect((parts["honest3"]?.split(separator: "\n").first.flatMap { Int($0) } ?? 0) > 2, "\(parts["honest3"] ?? "")")
        #expect(parts["other"]?.contains("Permission denied") == true && parts["other"]?.hasSuffix("rc=1") == true, "\(parts["other"] ?? "")")
        #expect((parts["owner"]?.split(separator: "\n").first.flatMap { Int($0) } ?? 0) > 0, "root reads it: \(parts["owner"] ?? "")")

        let peak = try #require(family.peakMemoryKiB())
        #expect(peak < 512 * 1024, "the family's union stayed small: \(peak) KiB")
    }
}
