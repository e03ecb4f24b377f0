import ClusterProc
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SSHSession against real sshd nodes of the simulated cluster.
@Suite(.enabled(if: SimCluster.canRun, "\(SimCluster.whyNot)"), .takesTurnsOnTheCluster)
struct SSHSessionTests {
    func options(_ cluster: SimCluster, _ host: String, timeout: Duration = .seconds(10)) -> SSHOptions {
        SSHOptions(host: host, configFile: cluster.sshConfig, connectTimeout: timeout)
    }

    /// Runs `command` and collects stdout, stderr and the exit status, off the shared pool.
    func run(_ session: SSHSession, _ command: String) async throws -> (stdout: String, stderr: String, status: Int32) {
        let channel = try await session.exec(command: command)
        return try await onOwnThread {
            let stdout = try channel.readAll()
            var stderr: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try channel.stderr.read(into: $0) }
                if n == 0 { break }
                stderr += chunk[0..<n]
            }
            let status = try channel.waitForExit(timeout: .seconds(10))
            channel.close()
            return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self), status)
        }
    }

    func emptyKnownHosts() throws -> String {
        let path = NSTemporaryDirectory() + "cluster-proc-known_hosts-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        return path
    }

    @Test func hostnameOnNode02() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node02"))
        defer { session.close() }
        let result = try await run(session, "hostname")
        #expect(result.stdout == "node02\n")
        #expect(result.status == 0)
    }

    @Test func exitStatusComesBack() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node01"))
        defer { session.close() }
        #expect(try await run(session, "exit 3").status == 3)
        #expect(try await run(session, "true").status == 0)
    }

    @Test func stdoutAndStderrApart() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node03"))
        defer { session.close() }
        let result = try await run(session, "echo to-out; echo to-err >&2; echo more-out")
        #expect(result.stdout == "to-out\nmore-out\n")
        #expect(result.stderr == "to-err\n")

        // The handler form: stderr chunks go to the closure, never into stdout.
        let seen = Mutex<[UInt8]>([])
        let channel = try await session.exec(command: "echo E1 >&2; echo O1; echo E2 >&2") { bytes in
            seen.withLock { $0 += bytes }
        }
        let (stdout, status) = try await onOwnThread { (try channel.readAll(), try channel.waitForExit(timeout: .seconds(10))) }
        #expect(String(decoding: stdout, as: UTF8.self) == "O1\n")
        #expect(status == 0)
        #expect(String(decoding: seen.withLock { $0 }, as: UTF8.self) == "E1\nE2\n")
    }

    @Test func tenMebibytesRoundTripThroughCat() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node04"))
        defer { session.close() }
        var generator = SystemRandomNumberGenerator()
        var random = [UInt8](repeating: 0, count: 10 << 20)
        random.withUnsafeMutableBytes { bytes in
            for i in stride(from: 0, to: bytes.count, by: 8) { bytes.storeBytes(of: generator.next(), toByteOffset: i, as: UInt64.self) }
        }
        let payload = random
        let channel = try await session.exec(command: "cat")
        async let written: Void = onOwnThread {
            var offset = 0
            while offset < payload.count {
                let n = min(100_000, payload.count - offset)  // odd sizes, not frame-aligned
                try payload.withUnsafeBytes { try channel.write(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
                offset += n
            }
            channel.sendEOF()
        }
        let echoed = try await onOwnThread { try channel.readAll() }
        try await written
        let status = try await onOwnThread { try channel.waitForExit(timeout: .seconds(10)) }
        #expect(echoed.count == payload.count)
        #expect(echoed == payload)
        #expect(status == 0)
    }

    @Test func unknownHostKeyIsRefused() async throws {
        let cluster = try await SimCluster.shared()
        let knownHosts = try emptyKnownHosts()
        defer { try? FileManager.default.removeItem(atPath: knownHosts) }
        var options = options(cluster, "node02")
        options.knownHostsFile = knownHosts
        options.strictHostKeyChecking = .yes
        let error = try await #require(throws: SSHError.self) { try await SSHSession.connect(options) }
        #expect(error.code == .hostKey)
        #expect(error.message.contains(
            "No ED25519 host key is known for node02 and you have requested strict checking."))
        #expect(error.message.hasSuffix("Host key verification failed."))
        #expect(try String(contentsOfFile: knownHosts, encoding: .utf8).isEmpty)
    }

    @Test func acceptNewAddsTheKey() async throws {
        let cluster = try await SimCluster.shared()
        let knownHosts = try emptyKnownHosts()
        defer { try? FileManager.default.removeItem(atPath: knownHosts) }
        var options = options(cluster, "node05")
        options.knownHostsFile = knownHosts
        options.strictHostKeyChecking = .acceptNew
        let first = try await SSHSession.connect(options)
        #expect(try await run(first, "hostname").stdout == "node05\n")
        first.close()
        let written = try String(contentsOfFile: knownHosts, encoding: .utf8)
        let nodeKey = try String(contentsOfFile: "\(cluster.directory)/hostkeys/node05.pub", encoding: .utf8)
            .split(separator: " ")[1]
        #expect(written.contains("ssh-ed25519 \(nodeKey)"))

        // Now known: strict checking accepts it.
        options.strictHostKeyChecking = .yes
        let second = try await SSHSession.connect(options)
        #expect(try await run(second, "hostname").stdout == "node05\n")
        second.close()
    }

    @Test func changedHostKeyIsRefused() async throws {
        let cluster = try await SimCluster.shared()
        // node03's addresses paired with node02's key: what a replaced host looks like.
        let lines = try String(contentsOfFile: cluster.knownHosts, encoding: .utf8).split(separator: "\n")
        let node02 = try #require(lines.first { $0.hasPrefix("node02,") }).split(separator: " ")
        let node03 = try #require(lines.first { $0.hasPrefix("node03,") }).split(separator: " ")
        let knownHosts = try emptyKnownHosts()
        defer { try? FileManager.default.removeItem(atPath: knownHosts) }
        try "\(node03[0]) \(node02[1]) \(node02[2])\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        for policy in [SSHOptions.StrictHostKeyChecking.yes, .acceptNew] {
            var options = options(cluster, "node03")
            options.knownHostsFile = knownHosts
            options.strictHostKeyChecking = policy
            let error = try await #require(throws: SSHError.self) { try await SSHSession.connect(options) }
            #expect(error.code == .hostKey)
            #expect(error.message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"))
            #expect(error.message.contains("Host key for node03 has changed"))
        }
    }

    @Test func deniedKeyIsReportedLikeOpenSSH() async throws {
        let cluster = try await SimCluster.shared()
        var options = options(cluster, "node01")
        options.user = "daemon"  // has no authorized_keys in the cluster
        let error = try await #require(throws: SSHError.self) { try await SSHSession.connect(options) }
        #expect(error.code == .authDenied)
        #expect(error.message == "daemon@node01: Permission denied (publickey).")
    }

    @Test func stoppedNodeTimesOutWithinTheDeadline() async throws {
        let cluster = try await SimCluster.shared()
        let node = cluster.nodes.last!
        let sshd = try cluster.sshdPID(of: node)
        #expect(kill(sshd, SIGSTOP) == 0)
        defer { kill(sshd, SIGCONT) }
        let timeout = Duration.seconds(2)
        let clock = ContinuousClock()
        let started = clock.now
        let error = try await #require(throws: SSHError.self) {
            try await SSHSession.connect(options(cluster, node, timeout: timeout))
        }
        let took = clock.now - started
        #expect(error.code == .timeout)
        // A deadline, not a benchmark: a hang would take forever, so the margin is generous.
        #expect(took < timeout + .seconds(30))
    }

    @Test func lostConnectionFailsTheChannel() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node04"))
        defer { session.close() }
        // The remote shell's parent is this connection's sshd: killing it drops the TCP
        // connection under a command that would otherwise run on.
        let channel = try await session.exec(command: "kill -9 $PPID; exec sleep 60")
        let error = try await #require(throws: SSHError.self) {
            try await onOwnThread { try channel.waitForExit(timeout: .seconds(20)) }
        }
        #expect(error.code == .closed)
        let stdout = try await onOwnThread { () -> Result<[UInt8], any Error> in Result { try channel.readAll() } }
        if case .success(let bytes) = stdout { #expect(bytes.isEmpty) }
        // The session knows it is gone: new commands fail at once.
        await #expect(throws: SSHError.self) { _ = try await session.exec(command: "true") }
    }

    @Test func eightSessionsInParallel() async throws {
        let cluster = try await SimCluster.shared()
        // Every node but the last (which the stopped-node test freezes for a while).
        let hosts = Array(cluster.nodes.dropLast()) + [cluster.nodes[0]]
        #expect(hosts.count == 8)
        let names = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for host in hosts {
                group.addTask {
                    let session = try await SSHSession.connect(options(cluster, host))
                    defer { session.close() }
                    return (host, try await run(session, "hostname").stdout)
                }
            }
            var names: [(String, String)] = []
            for try await pair in group { names.append(pair) }
            return names
        }
        #expect(names.count == 8)
        for (host, name) in names { #expect(name == "\(host)\n") }
    }

    @Test func nodeHasItsOwnProcessTable() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node06"))
        defer { session.close() }
        let result = try await run(session, "ps -e -o pid=,comm=")
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1) }
        #expect(result.status == 0)
        #expect(rows.count < 20, "a node's process table holds only its sshd and our session: \(result.stdout)")
        #expect(rows.contains { ($0.first == "1" || $0.first == "2") && $0.last == "sshd" })
        let local = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { Int($0) != nil }
        #expect(local.count > rows.count)
    }

    @Test func uploadStagesAFileInAPrivateDirectory() async throws {
        let cluster = try await SimCluster.shared()
        let session = try await SSHSession.connect(options(cluster, "node02"))
        defer { session.close() }
        let local = NSTemporaryDirectory() + "cluster-proc-stage-\(UUID().uuidString).sh"
        try "#!/bin/sh\necho staged on $(hostname)\n".write(toFile: local, atomically: true, encoding: .utf8)
        #expect(chmod(local, 0o755) == 0)
        defer { try? FileManager.default.removeItem(atPath: local) }
        let remote = try await session.upload(localPath: local)
        #expect(remote.hasPrefix("/tmp/cluster-proc."))
        let directory = (remote as NSString).deletingLastPathComponent
        #expect(try await run(session, remote).stdout == "staged on node02\n")
        #expect(try await run(session, "stat -c %a \(directory)").stdout == "700\n")
        try await session.removeUpload(remotePath: remote)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func ordinaryUserConfigWorksWithOpenSSH() async throws {
        let cluster = try await SimCluster.shared()
        let (status, output) = try await SimCluster.run(
            ["/usr/sbin/runuser", "-u", cluster.user, "--", "/usr/bin/ssh", "-F", cluster.userSSHConfig, "node01", "id -un; hostname"])
        #expect(status == 0, "\(output)")
        #expect(output == "\(cluster.user)\nnode01\n")
    }
}
