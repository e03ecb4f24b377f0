import ClusterProc
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension LaunchTests {
    /// The family's union socket serves the user who launched it (and root), never another
    /// uid, even when the socket is reachable: a hard link in a directory open to everyone
    /// and mode 0777 on the socket leave only the peer credential check.
    @Test(.enabled(if: getuid() == 0, "needs root to run a client as another user (setpriv)"))
    func theFamilySocketRefusesAnotherUser() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node01", count: 1, command: "sleep", ["sleep", "60"])
        defer {
            launcher.signal(SIGTERM)
            _ = launcher.finish()
        }
        let record = try FamilyRegistry.find("\(launcher.pid)", environment: ProcessInfo.processInfo.environment)
        let directory = NSTemporaryDirectory() + "family-peers-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o777)
        let reachable = "\(directory)/family.sock"
        try #require(link(record.socket, reachable) == 0, "cannot link \(record.socket): \(errno)")
        #expect(chmod(reachable, 0o777) == 0)

        let stranger = try await read9p(as: "nobody", ["--address", "unix:\(reachable)", "--list", ""])
        #expect(stranger.status != 0, "nobody listed the family: \(stranger.output)")
        #expect(!stranger.output.contains("node01"))
        let owner = try await read9p(["--address", "unix:\(reachable)", "--list", ""])
        #expect(owner.status == 0, "\(owner.errors)")
        #expect(owner.output.split(separator: "\n").contains("node01"), "\(owner.output)")
    }
}
