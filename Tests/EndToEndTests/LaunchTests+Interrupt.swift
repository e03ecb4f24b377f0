import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ^C at any moment stops the job, and a second one kills it on every node at once, however
/// stubborn its family.
extension LaunchTests {
    /// The processes of `nodes` whose command line has `needle` (each node's own table,
    /// found by its PID namespace).
    static func processes(_ cluster: SimCluster, nodes: [String], containing needle: String) async throws -> [pid_t] {
        var found: [pid_t] = []
        for node in nodes {
            let sshd = try await sshd(cluster, node)
            for pid in processes(inNamespaceOf: sshd) {
                guard let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                if [UInt8](line).contains(subsequence: Array(needle.utf8)) { found.append(pid) }
            }
        }
        return found
    }

    /// Waits (up to `timeout`) until no process of `nodes` has `needle` in its command line.
    /// - Returns: how long it took, or nil if some were still there at the end.
    static func awaitGone(_ cluster: SimCluster, nodes: [String], containing needle: String, timeout: Duration) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if try await processes(cluster, nodes: nodes, containing: needle).isEmpty { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(20))  // the process table has no event to wait on
        }
        return nil
    }

    /// Waits for the launcher's exit on a thread of its own; SIGKILLs it after `limit`, so a
    /// launcher that hangs fails the test instead of stalling it.
    static func finish(_ launcher: Spawned, limit: Duration) async throws -> (Spawned.Outcome, Duration) {
        let start = ContinuousClock.now
        let watchdog = Task {
            try await Task.sleep(for: limit)
            launcher.signal(SIGKILL)
        }
        defer { watchdog.cancel() }
        let outcome = try await onOwnThread { launcher.finish() }
        return (outcome, ContinuousClock.now - start)
    }

    @Test func aSecondInterruptKillsAStubbornFamilyOnEveryNodeAtOnce() async throws {
        let cluster = try await SimCluster.shared()
        let nodes = (1...8).map { String(format: "node%02d", $0) }
        let tag = "\(1000 + Int.random(in: 0..<1000)).\(getpid())"
        // Ignores SIGTERM and SIGINT (the sleeps inherit that), and double-forks one sleep
        // out of the tree: only procsrv's subreaping and SIGKILL can end it all.
        let script = "trap '' TERM INT; sleep \(tag)1 & (setsid sleep \(tag)2 &); sleep \(tag)3"
        let launcher = try Spawned(["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-w", "node[01-08]", "--", "sh", "-c", script],
                                   discardOutput: true)
        var running: [pid_t] = []
        let started = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < started {
            running = try await Self.processes(cluster, nodes: nodes, containing: "sleep\u{0}\(tag)")
            if running.count == 24 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(running.count == 24, "three stubborn sleeps on each of 8 nodes")
        launcher.signal(SIGINT)
        try await Task.sleep(for: .milliseconds(200))  // the user's pause between two ^C
        #expect(try await Self.processes(cluster, nodes: nodes, containing: "sleep\u{0}\(tag)").count == 24, "the family ignores the interrupt")
        launcher.signal(SIGINT)
        async let gone = Self.awaitGone(cluster, nodes: nodes, containing: "sleep\u{0}\(tag)", timeout: .seconds(20))
        let (outcome, exited) = try await Self.finish(launcher, limit: .seconds(20))
        let left = try await gone
        #expect(outcome.status != 0)
        // About a quarter of a second here; the bound only allows for a loaded machine.
        // Killing node after node took over a second each.
        #expect(exited < .seconds(5), "the launcher exited \(exited) after the second ^C")
        #expect(left != nil && left! < .seconds(5), "the family was gone from every node after \(String(describing: left))")
        #expect(outcome.errors.contains("node[01-08]"), "\(outcome.errors)")
    }

    /// ^C while the launcher is still connecting or setting procsrv up is not lost: the job
    /// ends (or never starts) and the launcher says so with a non-zero status.
    @Test(arguments: [100, 300, 600, 900])
    func anEarlyInterruptStopsTheJob(milliseconds: Int) async throws {
        let cluster = try await SimCluster.shared()
        let tag = "20.\(getpid())\(milliseconds)"
        let launcher = try Spawned(["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-w", "node[05-06]", "--", "sleep", tag],
                                   discardOutput: true)
        try await Task.sleep(for: .milliseconds(milliseconds))  // the moment is the point of the test
        launcher.signal(SIGINT)
        let (outcome, exited) = try await Self.finish(launcher, limit: .seconds(25))
        #expect(outcome.status != 0, "\(outcome.errors)")
        #expect(exited < .seconds(15), "sleep 20 was stopped, not run to its end")
        let left = try await Self.awaitGone(cluster, nodes: ["node05", "node06"], containing: "sleep\u{0}\(tag)", timeout: .seconds(10))
        #expect(left != nil, "nothing of the job is left on the nodes")
    }

    /// Two quick ^C early on kill the job wherever it got to.
    @Test func twoEarlyInterruptsKillTheJob() async throws {
        let cluster = try await SimCluster.shared()
        let tag = "20.\(getpid())7"
        let launcher = try Spawned(["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-w", "node[05-06]", "--",
                                    "sh", "-c", "trap '' INT TERM; sleep \(tag)"], discardOutput: true)
        try await Task.sleep(for: .milliseconds(300))  // the moment is the point of the test
        launcher.signal(SIGINT)
        try await Task.sleep(for: .milliseconds(100))
        launcher.signal(SIGINT)
        let (outcome, exited) = try await Self.finish(launcher, limit: .seconds(25))
        #expect(outcome.status != 0, "\(outcome.errors)")
        #expect(exited < .seconds(15), "the job was killed, not run to its end")
        let left = try await Self.awaitGone(cluster, nodes: ["node05", "node06"], containing: "sleep\u{0}\(tag)", timeout: .seconds(10))
        #expect(left != nil, "nothing of the job is left on the nodes")
    }
}
