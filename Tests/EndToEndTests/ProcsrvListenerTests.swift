import ClusterProcNode
import Foundation
import Glibc
import NineP
import SystemPackage
import Testing

/// Every listener serves its own user only (design decision 10): TCP takes the key, or an
/// explicit `--no-auth` on loopback; a Unix socket checks its peer's credentials.
extension ProcsrvAuthTests {
    @Test func loopbackTCPWithoutAKeyIsRefusedAtStart() throws {
        let server = try ProcsrvProcess(["--listen", "tcp:127.0.0.1:0"])
        defer { server.kill() }
        let status = try #require(server.waitForExit(), "procsrv without --key kept running: \(server.errors)")
        #expect((status >> 8) & 0xff == 64)
        #expect(server.errors.contains("every local user could read /proc"), "\(server.errors)")
        #expect(server.errors.contains("--key FILE") && server.errors.contains("--no-auth"), "\(server.errors)")
        #expect(!server.errors.contains("listening on"))
    }

    @Test(arguments: [
        (["--listen", "unix:/tmp/procsrv-never.sock", "--no-auth"], "--no-auth is for loopback TCP only"),
        (["--listen", "tcp:0.0.0.0:0", "--no-auth"], "--no-auth is accepted on loopback only"),
        (["--listen", "tcp:127.0.0.1:0", "--no-auth", "--key", "/nonexistent"], "--key and --no-auth contradict each other"),
        (["--stdio", "--no-auth"], "--no-auth applies to --listen"),
    ] as [([String], String)])
    func noAuthIsForLoopbackTCPAlone(arguments: [String], message: String) throws {
        let server = try ProcsrvProcess(arguments)
        defer { server.kill() }
        let status = try #require(server.waitForExit(), "procsrv \(arguments) kept running: \(server.errors)")
        #expect((status >> 8) & 0xff == 64, "procsrv \(arguments) exited \(status)")
        #expect(server.errors.contains("procsrv: error: \(message)"), "\(server.errors)")
    }

    @Test func noAuthServesLoopbackAndWarnsThatEveryLocalUserCanRead() async throws {
        let server = try ProcsrvProcess(["--listen", "tcp:127.0.0.1:0", "--no-auth"])
        defer { server.kill() }
        let address = try boundAddress(server)
        #expect(server.errors.contains("warning"), "\(server.errors)")
        #expect(server.errors.contains("every local user can connect"), "\(server.errors)")
        let comm = try await read9p(["--address", "\(address)", "\(server.pid)/comm"])
        #expect(comm.status == 0, "\(comm.errors)")
        #expect(comm.output == "procsrv\n")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the key file to another user"))
    func aKeyFileOfAnotherUserKeepsProcsrvFromStarting() throws {
        let (keyPath, _) = try makeKeyFile()
        defer { unlink(keyPath) }
        let nobody = try #require(getpwnam("nobody"))
        #expect(chown(keyPath, nobody.pointee.pw_uid, nobody.pointee.pw_gid) == 0)
        let errors = try startupFailure(["--listen", "tcp:127.0.0.1:0", "--key", keyPath])
        #expect(errors.contains("owned by uid \(nobody.pointee.pw_uid), not by procsrv's user (uid 0)"), "\(errors)")
        #expect(!errors.contains("listening on"))
    }

    /// The socket and its directory are opened to everyone (0777), so that only the peer
    /// credential check stands between another user and /proc.
    @Test(.enabled(if: getuid() == 0, "needs root to run a client as another user (setpriv)"))
    func aWorldConnectableUnixSocketServesOnlyItsOwnUser() async throws {
        let directory = NSTemporaryDirectory() + "procsrv-peers-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o777)
        let socket = "\(directory)/procsrv.sock"
        let server = try ProcsrvProcess(["--listen", "unix:\(socket)"])
        defer { server.kill() }
        _ = try boundAddress(server)
        #expect(chmod(socket, 0o777) == 0)

        let stranger = try await read9p(as: "nobody", ["--address", "unix:\(socket)", "\(server.pid)/environ"])
        #expect(stranger.status != 0, "nobody read procsrv's environment: \(stranger.output)")
        #expect(stranger.output.isEmpty)
        let logged = try await onOwnThread {
            server.waitForErrors { $0.contains("refused a connection to unix:\(socket) from uid 65534") ? true : nil }
        }
        #expect(logged == true, "\(server.errors)")

        let owner = try await read9p(["--address", "unix:\(socket)", "\(server.pid)/comm"])
        #expect(owner.status == 0, "\(owner.errors)")
        #expect(owner.output == "procsrv\n")
    }

    /// Connections that never attach hold a slot each: beyond the bound they are closed at
    /// once, and each is closed when its attach timeout passes; an attached client stays.
    @Test(.clientsKeepUp) func unattachedConnectionsAreBoundedAndTimedOut() async throws {
        let (keyPath, key) = try makeKeyFile()
        defer { unlink(keyPath) }
        let server = try ProcsrvProcess(["--listen", "tcp:127.0.0.1:0", "--key", keyPath])
        defer { server.kill() }
        let address = try boundAddress(server)
        guard case .tcp(_, let port) = address else { Issue.record("not TCP: \(address)"); return }
        let limits = ProcServer.Limits.standard.connections
        let timeout = try #require(limits.attachTimeout)

        let client = try NinePClient.connect(over: try address.connect())
        defer { client.close() }
        let afid = try await SharedKeyAuthentication.authenticate(client: client, key: try #require(key), uname: "root", aname: "")
        let root = try await client.attach(uname: "root", authFid: afid)

        let opened = ContinuousClock.now
        var silent: [Int32] = []
        defer { silent.forEach { close($0) } }
        for _ in 0..<limits.unattached { silent.append(try silentConnection(port: port)) }
        let extra = try silentConnection(port: port)
        defer { close(extra) }
        // Waits block: on threads of their own, never the tests' shared pool.
        let extraClosed = try await onOwnThread { peerCloses(extra, before: .now + .seconds(5)) }
        #expect(extraClosed, "a connection beyond \(limits.unattached) unattached ones was not closed")
        let refusal = try await onOwnThread {
            server.waitForErrors { $0.contains("have not attached yet (at most \(limits.unattached))") ? true : nil }
        }
        #expect(refusal == true, "\(server.errors)")

        let waiting = silent
        let outlived = try await onOwnThread { waiting.filter { !peerCloses($0, before: opened + timeout + .seconds(20)) }.count }
        #expect(outlived == 0, "\(outlived) unattached connections outlived their timeout")
        #expect(ContinuousClock.now - opened >= timeout - .milliseconds(500), "closed before its timeout")
        let logged = try await onOwnThread { server.waitForErrors { $0.contains("did not attach in time") ? true : nil } }
        #expect(logged == true, "\(server.errors)")
        // The attached client was left alone, and a new one is served again.
        #expect(try await client.readFile(root, path: ["\(server.pid)", "comm"]) == Array("procsrv\n".utf8))
        let fresh = try await read9p(["--address", "\(address)", "--key", keyPath, "\(server.pid)/comm"])
        #expect(fresh.output == "procsrv\n", "\(fresh.errors)")
    }
}
