import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `-t` bounds the SSH connection, `--startup-timeout` procsrv's start-up behind it, and `-v`
/// says why a node could not be reached.
extension LaunchTests {
    @Test func aSlowLoginShellIsNotCutByTheConnectTimeout() async throws {
        let cluster = try await SimCluster.shared()
        let shell = "\(cluster.directory)/slowsh"
        try "#!/bin/sh\nsleep 3\nexec /bin/sh \"$@\"\n".write(toFile: shell, atomically: true, encoding: .utf8)
        chmod(shell, 0o755)
        let user = try cluster.user(withLoginShell: shell)
        let started = ContinuousClock.now
        let outcome = try await Self.launch(cluster, ["-l", user, "-t", "2", "-w", "node01", "--", "echo", "up"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output == "node01: up\n", "\(outcome.errors)")
        #expect(ContinuousClock.now - started >= .seconds(3), "the shell's start-up was waited for")
        // The same shell beyond a start-up deadline shorter than its sleep: said as such.
        let cut = try await Self.launch(cluster, ["-l", user, "--startup-timeout", "1", "-w", "node01", "--", "echo", "up"])
        #expect(cut.status == 255, "\(cut.errors)")
        #expect(cut.errors.contains("node01: procsrv did not answer within 1.0 seconds"), "\(cut.errors)")
    }

    @Test func aProcsrvThatNeverAnswersIsReportedAsSuch() async throws {
        let cluster = try await SimCluster.shared()
        // Reads what the launcher sends and never answers; ends at end of file.
        let silent = "\(cluster.directory)/silent-procsrv"
        try "#!/bin/sh\nexec cat >/dev/null\n".write(toFile: silent, atomically: true, encoding: .utf8)
        chmod(silent, 0o755)
        let started = ContinuousClock.now
        let outcome = try await Self.launch(cluster, ["--procsrv", silent, "--startup-timeout", "1.5", "-w", "node[01-02]", "--", "true"])
        let elapsed = ContinuousClock.now - started
        #expect(outcome.status == 255, "\(outcome.errors)")
        for node in ["node01", "node02"] {
            #expect(outcome.errors.contains("\(node): procsrv did not answer within 1.5 seconds of its start"), "\(outcome.errors)")
        }
        #expect(!outcome.errors.contains("did not start"), "\(outcome.errors)")
        #expect(elapsed >= .milliseconds(1500) && elapsed < .seconds(10), "ended by the start-up deadline: \(elapsed)")
    }

    @Test func verboseSaysWhyAConnectionFailed() async throws {
        let cluster = try await SimCluster.shared()
        let address = try Self.hostName(of: "node01", in: cluster.sshConfig)
        func lines(_ arguments: [String]) async throws -> [Substring] {
            let outcome = try await Self.launch(cluster, arguments + ["-w", "node01", "--", "true"])
            #expect(outcome.status == 255, "\(outcome.errors)")
            return outcome.errors.split(separator: "\n")
        }
        // A port where nothing listens.
        let refused = try await lines(["-v", "-o", "Port=1"])
        #expect(refused.contains { $0.hasPrefix("cluster-launch: node01: connecting to root@\(address) port 1 refused") && $0.contains("Connection refused") },
                "\(refused)")
        let quiet = try await lines(["-o", "Port=1"])
        #expect(!quiet.contains { $0.contains("connecting to") }, "without -v only the error: \(quiet)")
        // A known_hosts file without the node.
        let empty = "\(cluster.directory)/known_hosts.empty"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let hostKey = try await lines(["-v", "-o", "UserKnownHostsFile=\(empty)"])
        #expect(hostKey.contains { $0.hasPrefix("cluster-launch: node01: host key of root@\(address) port ") && $0.contains(empty) }, "\(hostKey)")
        // A user the node has no key for.
        let denied = try await lines(["-v", "-l", "nobody"])
        #expect(denied.contains { $0.hasPrefix("cluster-launch: node01: authentication at nobody@\(address) port ") && $0.contains("denied") && $0.contains("publickey") },
                "\(denied)")
    }

    @Test func verboseSaysAConnectionTimedOut() async throws {
        let cluster = try await SimCluster.shared()
        // A listener that never accepts: the TCP handshake completes, no SSH banner ever comes.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound && listen(listener, 8) == 0)
        let port = UInt16(bigEndian: address.sin_port)
        let outcome = try await Self.launch(cluster, ["-v", "-t", "1", "-o", "Port=\(port)", "-w", "127.0.0.1", "--", "true"])
        #expect(outcome.status == 255, "\(outcome.errors)")
        #expect(outcome.errors.contains("cluster-launch: 127.0.0.1: connecting to root@127.0.0.1 port \(port) timed out after 1.0 seconds"),
                "\(outcome.errors)")
    }

    /// The `HostName` a simcluster client configuration gives `node`.
    static func hostName(of node: String, in config: String) throws -> String {
        let lines = try String(contentsOfFile: config, encoding: .utf8).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let at = lines.firstIndex(of: "Host \(node)"), at + 1 < lines.count, lines[at + 1].hasPrefix("HostName ") else {
            throw SimClusterError("no HostName for \(node) in \(config)")
        }
        return String(lines[at + 1].dropFirst("HostName ".count))
    }
}
