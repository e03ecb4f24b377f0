import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real Slurm cluster on this machine (`scripts/slurmcluster`): a private munged, slurmctld
/// and slurmd nodes in their own PID, UTS and mount namespaces, all on 127.0.0.1 with a port
/// each. A test starts one in a state directory of its own and stops it; the exit handler
/// stops any the process leaves running.
struct SlurmCluster: Sendable {
    /// Whether this process can run a Slurm cluster: it needs root and Debian's Slurm and munge.
    static let canRun: Bool = getuid() == 0
        && ["/usr/sbin/slurmd", "/usr/sbin/slurmctld", "/usr/sbin/munged", "/usr/bin/srun"]
            .allSatisfy(FileManager.default.isExecutableFile(atPath:))
    /// Why tests that need Slurm skip when `canRun` is false.
    static let whyNot = "needs root and Debian's slurmd, slurmctld, srun and munged (scripts/install-deps --test) to run a Slurm cluster"

    /// The repository's `scripts/slurmcluster`.
    static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("scripts/slurmcluster").path
    }()

    let directory: String
    /// `node01`, `node02`, ….
    let nodes: [String]
    /// The ordinary user the cluster runs jobs for besides root.
    let user: String
    /// What every Slurm client needs: `SLURM_CONF`.
    var environment: [String: String] { ["SLURM_CONF": "\(directory)/slurm.conf"] }

    /// Brings up `count` (at most 90) nodes in `/tmp/slurm-e2e-PID-NAME`: slurmd on ports of
    /// a block of 100 chosen from the test process's PID, slurmctld on the block's last port.
    /// slurmcluster refuses a port in use (another test run's cluster), so a few blocks are tried.
    static func start(_ count: Int, name: String) async throws -> SlurmCluster {
        precondition((1...90).contains(count))
        let directory = "/tmp/slurm-e2e-\(getpid())-\(name)"
        registerExitHandler
        var failure = ""
        for attempt in 0..<4 {
            running.withLock { _ = $0.insert(directory) }
            let port = 20_000 + Int((getpid() + pid_t(attempt) * 37) % 400) * 100
            let (status, output) = try await SimCluster.run(
                [script, "up", "\(count)", "--dir", directory, "--port", "\(port)", "--ctld-port", "\(port + 99)"])
            if status == 0 {
                return SlurmCluster(directory: directory, nodes: (1...count).map { String(format: "node%02d", $0) }, user: "cpuser")
            }
            await stop(directory: directory)
            failure = "slurmcluster up failed (\(status)): \(output)"
            guard output.contains("is in use") else { break }
        }
        throw SimClusterError(failure)
    }

    /// Stops every daemon and process of the cluster and removes its state directory.
    /// - Returns: `slurmcluster down`'s status and output.
    @discardableResult
    func stop() async -> (Int32, String) {
        await Self.stop(directory: directory)
    }

    /// Runs a Slurm client command (`srun`, `sinfo`, …) against this cluster.
    func client(_ arguments: [String], as user: String? = nil) async throws -> (Int32, String) {
        let settings = environment.map { "\($0.key)=\($0.value)" }
        let command = user.map { ["/usr/sbin/runuser", "-u", $0, "--", "/usr/bin/env"] + settings + arguments }
            ?? (["/usr/bin/env"] + settings + arguments)
        return try await SimCluster.run(command)
    }

    private static let running = Mutex<Set<String>>([])
    private static let registerExitHandler: Void = { atexit { SlurmCluster.stopAtExit() } }()

    @discardableResult
    private static func stop(directory: String) async -> (Int32, String) {
        let result = (try? await SimCluster.run([script, "down", "--dir", directory])) ?? (-1, "cannot run slurmcluster down")
        _ = try? await SimCluster.run(["/bin/rm", "-rf", directory])
        running.withLock { _ = $0.remove(directory) }
        return result
    }

    /// Runs from the exit handler: nothing but posix_spawn.
    private static func stopAtExit() {
        for directory in running.withLock({ $0 }) {
            _ = SimCluster.spawn([script, "down", "--dir", directory], collect: false)
            _ = SimCluster.spawn(["/bin/rm", "-rf", directory], collect: false)
        }
    }
}
