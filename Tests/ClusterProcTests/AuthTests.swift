@testable import ClusterProcNode
import Foundation
import Glibc
import NineP
import SystemPackage
import Testing

/// Shared-key authentication over a socket pair: ProcFS behind ``SharedKeyFileSystem``,
/// our client on the other end.
@Suite struct AuthTests {
    static func randomKey() throws -> SharedKey {
        try SharedKey(bytes: try SharedKeyAuthentication.randomBytes(32))
    }

    func connect<FS: FileSystem>(_ fileSystem: FS, dialect: Dialect = .linux) throws -> (NinePClient, ServerConnection<FS>) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else { throw Errno(rawValue: errno) }
        let a = try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[0]))
        let b = try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[1]))
        let server = try ServerConnection.serve(fileSystem, over: a)
        let client = try NinePClient.connect(over: b, msize: 65536, dialect: dialect)
        return (client, server)
    }

    func connect(key: SharedKey, dialect: Dialect = .linux) throws -> (NinePClient, ServerConnection<SharedKeyFileSystem<ProcFS>>) {
        try connect(SharedKeyFileSystem(try ProcFS(), key: key), dialect: dialect)
    }

    /// Our own status as the server reads it: /proc/self is the server, which is this process.
    func readSelfStatus(_ client: NinePClient, _ root: RemoteFid) async throws -> String {
        let selfLink = try await client.walk(root, ["self"])
        let pid = try #require(Int32(try await client.readlink(selfLink)))
        #expect(pid == getpid())
        return String(decoding: try await client.readFile(root, path: ["\(pid)", "status"]), as: UTF8.self)
    }

    // MARK: Raw steps of the exchange, to send what a correct client would not

    func tauth(_ client: NinePClient, uname: String = "root", aname: String = "") async throws(NinePError) -> UInt32 {
        let afid = client.allocateFid()
        guard case .rauth = try await client.call(.tauth(Tauth(afid: afid, uname: uname, aname: aname))) else {
            throw NinePError.violation("not Rauth")
        }
        return afid
    }

    func read(_ client: NinePClient, _ afid: UInt32, count: UInt32 = 32) async throws(NinePError) -> [UInt8] {
        guard case .rread(let reply) = try await client.call(.tread(Tread(fid: afid, offset: 0, count: count))) else {
            throw NinePError.violation("not Rread")
        }
        return reply.data
    }

    func write(_ client: NinePClient, _ afid: UInt32, _ data: [UInt8]) async throws(NinePError) -> UInt32 {
        guard case .rwrite(let reply) = try await client.call(.twrite(Twrite(fid: afid, offset: 0, data: data))) else {
            throw NinePError.violation("not Rwrite")
        }
        return reply.count
    }

    func expectPermissionDenied(_ body: () async throws -> Void, _ what: String) async {
        do {
            try await body()
            Issue.record("\(what): succeeded, expected EACCES")
        } catch let error as NinePError {
            #expect(error.errno == .permissionDenied, "\(what): \(error)")
        } catch let error as AuthenticationError {
            #expect(error.code == .rejected, "\(what): \(error)")
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    // MARK: - Tests

    @Test func theRightKeyAttachesAndReadsStatus() async throws {
        let key = try Self.randomKey()
        let (client, server) = try connect(key: key)
        defer { client.close(); server.close() }
        let afid = try await SharedKeyAuthentication.authenticate(client: client, key: key, uname: "root", aname: "")
        let root = try await client.attach(uname: "root", aname: "", authFid: afid)
        let status = try await readSelfStatus(client, root)
        #expect(status.contains("Pid:\t\(getpid())\n"))
        #expect(status.hasPrefix("Name:"))
    }

    @Test func attachWithoutAuthenticationIsRefused() async throws {
        let (client, server) = try connect(key: try Self.randomKey())
        defer { client.close(); server.close() }
        await expectPermissionDenied({ _ = try await client.attach(uname: "root") }, "attach without afid")
        // An afid whose exchange never finished is no better.
        let afid = try await tauth(client)
        await expectPermissionDenied({ _ = try await client.attach(uname: "root", authFid: afid) }, "attach with an unfinished afid")
    }

    @Test func aWrongKeyIsRefused() async throws {
        let (client, server) = try connect(key: try Self.randomKey())
        defer { client.close(); server.close() }
        do {
            _ = try await SharedKeyAuthentication.authenticate(client: client, key: try Self.randomKey(), uname: "root")
            Issue.record("a wrong key authenticated")
        } catch let error as AuthenticationError {
            #expect(error.code == .rejected)
            #expect(error.errno == .permissionDenied)
        }
        await expectPermissionDenied({ _ = try await client.attach(uname: "root") }, "attach after a failed exchange")
    }

    @Test func aReplayedClientMessageFailsForANewNonce() async throws {
        let key = try Self.randomKey()
        let (client, server) = try connect(key: key)
        defer { client.close(); server.close() }
        // One honest exchange, whose client message an eavesdropper records.
        let first = try await tauth(client)
        let firstNonce = try await read(client, first)
        #expect(firstNonce.count == 32)
        let clientNonce = try SharedKeyAuthentication.randomBytes(32)
        let message = clientNonce + SharedKeyAuthentication.clientMAC(key: key, serverNonce: firstNonce, clientNonce: clientNonce, uname: "root", aname: "")
        #expect(try await write(client, first, message) == 64)
        let serverProof = try await read(client, first)
        #expect(serverProof == SharedKeyAuthentication.serverMAC(key: key, serverNonce: firstNonce, clientNonce: clientNonce, uname: "root", aname: ""))
        // The same bytes again, on a new exchange: a new nonce, so they no longer prove anything.
        let second = try await tauth(client)
        let secondNonce = try await read(client, second)
        #expect(secondNonce != firstNonce)
        await expectPermissionDenied({ _ = try await write(client, second, message) }, "replayed client message")
        await expectPermissionDenied({ _ = try await client.attach(uname: "root", authFid: second) }, "attach through the replayed exchange")
        // The honest one still works.
        let root = try await client.attach(uname: "root", authFid: first)
        #expect(try await readSelfStatus(client, root).contains("Pid:\t\(getpid())\n"))
    }

    @Test func attachIsBoundToTheUserAndTreeThatAuthenticated() async throws {
        let key = try Self.randomKey()
        let (client, server) = try connect(key: key)
        defer { client.close(); server.close() }
        let afid = try await SharedKeyAuthentication.authenticate(client: client, key: key, uname: "alice", aname: "")
        await expectPermissionDenied({ _ = try await client.attach(uname: "bob", aname: "", authFid: afid) }, "another user")
        await expectPermissionDenied({ _ = try await client.attach(uname: "alice", aname: "/proc", authFid: afid) }, "another tree")
        let root = try await client.attach(uname: "alice", aname: "", authFid: afid)
        #expect(root.qid.type.contains(.directory))
    }

    @Test(arguments: [0, 1, 31, 32, 63, 65, 1000])
    func garbageWritesFailCleanlyAndTheServerKeepsServing(length: Int) async throws {
        let key = try Self.randomKey()
        // 9P2000.u, whose Rerror carries the server's message beside the errno.
        let (client, server) = try connect(key: key, dialect: .unix)
        defer { client.close(); server.close() }
        let afid = try await tauth(client)
        _ = try await read(client, afid)
        let garbage = try SharedKeyAuthentication.randomBytes(length)
        do {
            _ = try await write(client, afid, garbage)
            Issue.record("\(length) random bytes authenticated")
        } catch {
            #expect(error.errno == .permissionDenied)
            #expect(error.message.contains("has \(length) bytes, not 64"), "\(error.message)")
        }
        // The failed exchange stays failed: reads and a second write fail too.
        await expectPermissionDenied({ _ = try await read(client, afid) }, "read after failure")
        await expectPermissionDenied({ _ = try await write(client, afid, garbage) }, "write after failure")
        await expectPermissionDenied({ _ = try await client.attach(uname: "root", authFid: afid) }, "attach after failure")
        // The same connection goes on: a correct exchange attaches and reads.
        #expect(!client.isClosed)
        let good = try await SharedKeyAuthentication.authenticate(client: client, key: key, uname: "root")
        let root = try await client.attach(uname: "root", authFid: good)
        #expect(try await readSelfStatus(client, root).contains("Pid:\t\(getpid())\n"))
    }

    @Test func aConnectionGetsAFewFailuresThenTauthIsRefused() async throws {
        let key = try Self.randomKey()
        // 9P2000.u, whose Rerror carries the server's message beside the errno.
        let (client, server) = try connect(key: key, dialect: .unix)
        defer { client.close(); server.close() }
        for _ in 0..<SharedKeyAuthentication.maximumFailures {
            await expectPermissionDenied({ _ = try await SharedKeyAuthentication.authenticate(client: client, key: try Self.randomKey(), uname: "root") }, "wrong key")
        }
        // Even the right key is refused now, with a clear error, and the connection stays up.
        do {
            _ = try await SharedKeyAuthentication.authenticate(client: client, key: key, uname: "root")
            Issue.record("authenticated after too many failures")
        } catch let error as NinePError {
            #expect(error.errno == .permissionDenied)
            #expect(error.message.contains("too many failed"))
        }
        #expect(!client.isClosed)
        // Another connection is not affected.
        let (other, otherServer) = try connect(key: key)
        defer { other.close(); otherServer.close() }
        let afid = try await SharedKeyAuthentication.authenticate(client: other, key: key, uname: "root")
        _ = try await other.attach(uname: "root", authFid: afid)
    }

    @Test func aServerWithoutTheKeyIsFoundOut() async throws {
        let (client, server) = try connect(ImpostorFileSystem())
        defer { client.close(); server.close() }
        do {
            _ = try await SharedKeyAuthentication.authenticate(client: client, key: try Self.randomKey(), uname: "root")
            Issue.record("an impostor passed for the server")
        } catch let error as AuthenticationError {
            #expect(error.code == .serverNotProven)
        }
    }

    @Test func theServerProofMatchesOnlyItsOwnExchange() throws {
        let key = try Self.randomKey()
        let ns = try SharedKeyAuthentication.randomBytes(32)
        let nc = try SharedKeyAuthentication.randomBytes(32)
        let proof = SharedKeyAuthentication.serverMAC(key: key, serverNonce: ns, clientNonce: nc, uname: "u", aname: "a")
        #expect(SharedKeyAuthentication.isValid(proof, for: SharedKeyAuthentication.serverLabel, key: key, serverNonce: ns, clientNonce: nc, uname: "u", aname: "a"))
        // A server's proof never passes for a client's, nor for another user or tree.
        #expect(!SharedKeyAuthentication.isValid(proof, for: SharedKeyAuthentication.clientLabel, key: key, serverNonce: ns, clientNonce: nc, uname: "u", aname: "a"))
        #expect(!SharedKeyAuthentication.isValid(proof, for: SharedKeyAuthentication.serverLabel, key: key, serverNonce: ns, clientNonce: nc, uname: "ua", aname: ""))
        #expect(!SharedKeyAuthentication.isValid(proof, for: SharedKeyAuthentication.serverLabel, key: key, serverNonce: nc, clientNonce: ns, uname: "u", aname: "a"))
        #expect(!SharedKeyAuthentication.isValid(Array(proof.dropLast()), for: SharedKeyAuthentication.serverLabel, key: key, serverNonce: ns, clientNonce: nc, uname: "u", aname: "a"))
    }
}

/// A server that plays along without the key: it takes any client message and answers with
/// random bytes for its proof.
struct ImpostorFileSystem: FileSystem {
    final class File: AuthenticationFile {
        let isAuthenticated = false
        let user = "root"
        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
            Array(try SharedKeyAuthentication.randomBytes(32).prefix(count))
        }
        func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int { data.count }
    }

    func authenticate(_ request: AttachRequest, context: RequestContext) throws -> any AuthenticationFile { File() }
    func attach(_ request: AttachRequest, context: RequestContext) throws -> Int { 0 }
    func walk(from node: Int, name: String, context: RequestContext) throws -> Int { throw NinePError(.noSuchFileOrDirectory) }
    func qid(of node: Int) -> Qid { Qid(type: .directory, version: 0, path: 0) }
    func attributes(of node: Int, context: RequestContext) throws -> FileAttributes { FileAttributes(mode: LinuxMode.directory | 0o555) }
    func open(_ node: Int, flags: UInt32, context: RequestContext) throws -> any OpenFile { throw NinePError(.permissionDenied) }
}

/// Key files: what procsrv's --key accepts and refuses.
@Suite struct SharedKeyFileTests {
    func makeKeyFile(bytes: Int, mode: mode_t) throws -> String {
        let path = NSTemporaryDirectory() + "cluster-proc-key-\(UUID().uuidString)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(fd) }
        let data = try SharedKeyAuthentication.randomBytes(bytes)
        _ = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        return path
    }

    func refusal(_ path: String) -> AuthenticationError? {
        do {
            _ = try SharedKey.load(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test func aPrivateKeyOf32BytesLoads() throws {
        let path = try makeKeyFile(bytes: 32, mode: 0o600)
        defer { unlink(path) }
        _ = try SharedKey.load(path: path)
        let readOnly = try makeKeyFile(bytes: 64, mode: 0o400)
        defer { unlink(readOnly) }
        _ = try SharedKey.load(path: readOnly)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o620, 0o602, 0o666] as [mode_t])
    func aKeyOthersMayReadOrWriteIsRefused(mode: mode_t) throws {
        let path = try makeKeyFile(bytes: 32, mode: mode)
        defer { unlink(path) }
        let error = try #require(refusal(path))
        #expect(error.code == .unusableKeyFile)
        #expect(error.description.contains("chmod 600"))
    }

    @Test func aShortKeyIsRefused() throws {
        let path = try makeKeyFile(bytes: 31, mode: 0o600)
        defer { unlink(path) }
        let error = try #require(refusal(path))
        #expect(error.description.contains("31 bytes"))
    }

    @Test func aDirectoryOrAMissingFileIsRefused() throws {
        let directory = NSTemporaryDirectory() + "cluster-proc-keydir-\(UUID().uuidString)"
        #expect(mkdir(directory, 0o700) == 0)
        defer { rmdir(directory) }
        #expect(try #require(refusal(directory)).description.contains("not a regular file"))
        let missing = try #require(refusal(directory + "/absent"))
        #expect(missing.errno == .noSuchFileOrDirectory)
    }
}
