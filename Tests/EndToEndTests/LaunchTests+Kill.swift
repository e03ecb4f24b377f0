import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cluster-launch kill`: a signal to a family's job from another terminal (scancel --signal).
extension LaunchTests {
    @Test func killSignalsTheFamilyFromAnotherTerminal() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node[01-02]", count: 2, command: "sleep", ["sleep", "600"])
        var finished = false
        defer {
            if !finished {
                launcher.signal(SIGINT)
                _ = launcher.finish()
            }
        }
        let id = "\(launcher.pid)"
        let binary = "\(Self.binaries)/cluster-launch"
        let bad = try await Spawned.run([binary, "kill", "-j", id, "-s", "NOSUCH"])
        #expect(bad.status == 64, "\(bad.errors)")

        let one = try await Spawned.run([binary, "-j", id, "kill", "-s", "USR1", "-w", "node01"])
        #expect(one.status == 0, "\(one.errors)")
        // node01's sleep ends by SIGUSR1; node02's goes on.
        let deadline = ContinuousClock.now + .seconds(20)
        var rows: [Substring] = []
        while ContinuousClock.now < deadline {
            let cps = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "--no-headers", "-o", "comm"])
            rows = cps.output.split(separator: "\n").filter { $0.hasSuffix(" sleep") }
            if rows.count == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(rows.count == 1 && rows.first?.hasPrefix("node02") == true, "\(rows)")

        let all = try await Spawned.run([binary, "kill", "-j", id])
        #expect(all.status == 0, "\(all.errors)")
        let outcome = launcher.finish()
        finished = true
        #expect(outcome.status == 128 + SIGTERM, "the highest of USR1 (138) and TERM (143): \(outcome.errors)")
        let gone = try await Spawned.run([binary, "kill", "-j", id])
        #expect(gone.status != 0 && gone.errors.contains("no running family"), "\(gone.errors)")
    }
}
