import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cluster-launch ls` names what is not a directory as ls(1) does, instead of failing on it.
extension LaunchTests {
    @Test func lsShowsALinkAndAFileOfANode() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node01", count: 1, command: "sleep", ["sleep", "600"])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let id = "\(launcher.pid)"
        let rows = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "--no-headers", "--no-host", "-C", "sleep", "-o", "pid="])
        let pid = try #require(rows.output.split(whereSeparator: \.isWhitespace).first.map(String.init), "\(rows.output)")
        let target = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node01", "readlink", "/proc/\(pid)/cwd"])
        #expect(!target.output.isEmpty, "\(target.errors)")

        let link = try await Spawned.run(["\(Self.binaries)/cluster-launch", "ls", "-j", id, "node01/\(pid)/cwd"])
        #expect(link.status == 0, "\(link.errors)")
        #expect(link.output == "node01/\(pid)/cwd -> \(target.output)", "\(link.output)")
        let file = try await Spawned.run(["\(Self.binaries)/cluster-launch", "ls", "-j", id, "node01/\(pid)/status"])
        #expect(file.status == 0, "\(file.errors)")
        #expect(file.output == "node01/\(pid)/status\n")
        let missing = try await Spawned.run(["\(Self.binaries)/cluster-launch", "ls", "-j", id, "node01/\(pid)/nosuch"])
        #expect(missing.status == 1)
    }
}
