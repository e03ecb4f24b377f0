import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `scripts/slurmcluster`: a real Slurm cluster whose nodes have their own names and process
/// tables, that runs jobs for root and an ordinary user, and that `down` stops exactly.
@Suite(.enabled(if: SlurmCluster.canRun, Comment(rawValue: SlurmCluster.whyNot)))
struct SlurmClusterTests {
    @Test func nodesRunStepsAndDownLeavesNothing() async throws {
        let cluster = try await SlurmCluster.start(8, name: "updown")
        var stopped = false
        defer { if !stopped { _ = SimCluster.spawn([SlurmCluster.script, "down", "--dir", cluster.directory], collect: false) } }

        // Task N runs on the Nth node, which has that node's hostname and its own PID
        // namespace, whose PID 1 is that node's slurmd.
        let (status, output) = try await cluster.client(["srun", "-N8", "-l", "sh", "-c", "echo $(hostname) $SLURMD_NODENAME $(cat /proc/1/comm)"])
        #expect(status == 0, "\(output)")
        let lines = Set(output.split(separator: "\n").map(String.init))
        #expect(lines == Set(cluster.nodes.enumerated().map { "\($0.offset): \($0.element) \($0.element) slurmd" }))

        let (userStatus, users) = try await cluster.client(["srun", "-N8", "id", "-un"], as: cluster.user)
        #expect(userStatus == 0, "\(users)")
        // srun's own notes ("srun: job 2 queued …") go to stderr, collected here too.
        let printed = users.split(separator: "\n").filter { !$0.hasPrefix("srun: ") }
        #expect(printed == Array(repeating: Substring(cluster.user), count: 8))

        // A batch job whose step runs on every node, started in the state directory.
        let work = "\(cluster.directory)/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let (batchStatus, batch) = try await cluster.client(["sbatch", "-N8", "--chdir=\(work)", "--output=/dev/null", "--wrap", "srun sleep 300"])
        #expect(batchStatus == 0, "\(batch)")
        let deadline = ContinuousClock.now + .seconds(30)
        while processes(mentioning: work).filter({ $0.command.hasSuffix("sleep 300 ") }).count < 8 {
            try #require(ContinuousClock.now < deadline, "the batch job's 8 sleeps did not start")
            try await Task.sleep(for: .milliseconds(50))  // poll interval
        }
        #expect(!processes(mentioning: cluster.directory).isEmpty)

        let (downStatus, down) = await cluster.stop()
        stopped = true
        #expect(downStatus == 0, "\(down)")
        #expect(down.contains("stopped 8 node(s)"))
        let left = processes(mentioning: cluster.directory)
        #expect(left.isEmpty, "left running: \(left)")
    }

    /// Processes whose command line names `path` or whose working directory is under it.
    private func processes(mentioning path: String) -> [(pid: Int32, command: String)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> (Int32, String)? in
            guard let pid = Int32(entry), pid != getpid() else { return nil }
            guard let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !raw.isEmpty else { return nil }
            let command = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            let cwd = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd")) ?? ""
            guard command.contains(path) || cwd == path || cwd.hasPrefix(path + "/") else { return nil }
            return (pid, command)
        }
    }
}
