import ClusterProcNode
import Foundation
import Glibc
import NineP
import SystemPackage
import Testing

/// The real procsrv with --key: authenticated clients attach, others do not, and bad keys or
/// addresses keep it from starting. Traffic goes to loopback only.
@Suite struct ProcsrvAuthTests {
    /// A key file of `bytes` random bytes with `mode`, and its key.
    func makeKeyFile(bytes: Int = 32, mode: mode_t = 0o600) throws -> (path: String, key: SharedKey?) {
        let path = NSTemporaryDirectory() + "procsrv-key-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(fd) }
        let random = try FileDescriptor.open("/dev/urandom", .readOnly)
        defer { try? random.close() }
        var data = [UInt8](repeating: 0, count: bytes)
        let got = try data.withUnsafeMutableBytes { try random.read(into: $0) }
        #expect(got == bytes)
        #expect(data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes)
        fchmod(fd, mode)
        return (path, bytes >= 32 ? try SharedKey(bytes: data) : nil)
    }

    /// The address procsrv printed on stderr.
    func boundAddress(_ server: ProcsrvProcess) throws -> NinePAddress {
        let text = try #require(server.waitForErrors { text in
            text.split(separator: "\n").first { $0.hasPrefix("procsrv: listening on ") }.map { String($0.dropFirst("procsrv: listening on ".count)) }
        }, "procsrv said: \(server.errors)")
        return try NinePAddress(parsing: text)
    }

    func startupFailure(_ arguments: [String]) throws -> String {
        let server = try ProcsrvProcess(arguments)
        defer { server.kill() }
        let status = try #require(server.waitForExit(), "procsrv \(arguments) did not exit; it said: \(server.errors)")
        #expect((status >> 8) & 0xff != 0, "procsrv \(arguments) exited 0")
        #expect(status & 0x7f == 0, "procsrv \(arguments) died of a signal")
        return server.errors
    }

    @Test(.clientsKeepUp) func anAuthenticatedClientAttachesOverLoopbackTCPAndOthersAreRefused() async throws {
        let (keyPath, key) = try makeKeyFile()
        defer { unlink(keyPath) }
        let server = try ProcsrvProcess(["--listen", "tcp:127.0.0.1:0", "--key", keyPath])
        defer { server.kill() }
        let address = try boundAddress(server)
        guard case .tcp(let host, let port) = address else { Issue.record("not TCP: \(address)"); return }
        #expect(host == "127.0.0.1" && port != 0)

        let client = try NinePClient.connect(over: try address.connect())
        defer { client.close() }
        let afid = try await SharedKeyAuthentication.authenticate(client: client, key: try #require(key), uname: "root", aname: "")
        let root = try await client.attach(uname: "root", aname: "", authFid: afid)
        let status = String(decoding: try await client.readFile(root, path: ["\(server.pid)", "status"]), as: UTF8.self)
        #expect(status.contains("Name:\tprocsrv"))
        #expect(status.contains("Pid:\t\(server.pid)\n"))

        // Without authentication: EACCES, even on loopback.
        let stranger = try NinePClient.connect(over: try address.connect())
        defer { stranger.close() }
        do {
            _ = try await stranger.attach(uname: "root")
            Issue.record("an unauthenticated attach succeeded")
        } catch {
            #expect(error.errno == .permissionDenied, "\(error)")
        }
        // With another key: refused.
        do {
            _ = try await SharedKeyAuthentication.authenticate(client: stranger, key: try SharedKey(bytes: Array(repeating: 7, count: 32)), uname: "root")
            Issue.record("a wrong key authenticated")
        } catch let error as AuthenticationError {
            #expect(error.code == .rejected)
        }
        // The first client is still served.
        #expect(try await client.readFile(root, path: ["\(server.pid)", "comm"]) == Array("procsrv\n".utf8))
    }

    @Test(.clientsKeepUp) func aUnixSocketTakesTheKeyToo() async throws {
        let (keyPath, key) = try makeKeyFile(bytes: 48)
        defer { unlink(keyPath) }
        let socket = NSTemporaryDirectory() + "procsrv-auth-\(UUID().uuidString).sock"
        let server = try ProcsrvProcess(["--listen", "unix:\(socket)", "--key", keyPath])
        defer { server.kill() }
        let address = try boundAddress(server)
        let stranger = try NinePClient.connect(over: try address.connect())
        defer { stranger.close() }
        do {
            _ = try await stranger.attach(uname: "root")
            Issue.record("an unauthenticated attach succeeded")
        } catch {
            #expect(error.errno == .permissionDenied, "\(error)")
        }
        let afid = try await SharedKeyAuthentication.authenticate(client: stranger, key: try #require(key), uname: "root")
        let root = try await stranger.attach(uname: "root", authFid: afid)
        #expect(root.qid.type.contains(.directory))
    }

    @Test(arguments: [0o644, 0o640, 0o660] as [mode_t])
    func aKeyFileOthersCanReachKeepsProcsrvFromStarting(mode: mode_t) throws {
        let (keyPath, _) = try makeKeyFile(mode: mode)
        defer { unlink(keyPath) }
        let errors = try startupFailure(["--listen", "tcp:127.0.0.1:0", "--key", keyPath])
        #expect(errors.contains("mode \(String(mode, radix: 8))"), "\(errors)")
        #expect(errors.contains("chmod 600"), "\(errors)")
        #expect(!errors.contains("listening on"))
    }

    @Test func aShortOrMissingOrNonRegularKeyKeepsProcsrvFromStarting() throws {
        let (shortPath, _) = try makeKeyFile(bytes: 16)
        defer { unlink(shortPath) }
        #expect(try startupFailure(["--listen", "tcp:127.0.0.1:0", "--key", shortPath]).contains("16 bytes"))
        let missing = try startupFailure(["--listen", "tcp:127.0.0.1:0", "--key", shortPath + ".absent"])
        #expect(missing.contains("cannot open"), "\(missing)")
        #expect(try startupFailure(["--listen", "tcp:127.0.0.1:0", "--key", NSTemporaryDirectory()]).contains("not a regular file"))
    }

    @Test func anyAddressWithoutAKeyIsRefusedNamingTheOption() throws {
        // Only the refusal: procsrv must exit before it binds anything.
        let errors = try startupFailure(["--listen", "tcp:0.0.0.0:0"])
        #expect(errors.contains("--key"), "\(errors)")
        #expect(errors.contains("authentication"), "\(errors)")
        #expect(!errors.contains("listening on"))
    }

    @Test func keyWithoutListenIsAUsageError() throws {
        let (keyPath, _) = try makeKeyFile()
        defer { unlink(keyPath) }
        let errors = try startupFailure(["--stdio", "--key", keyPath])
        #expect(errors.contains("--key"), "\(errors)")
    }
}
