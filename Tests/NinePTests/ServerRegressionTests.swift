import NineP
import SystemPackage
import Testing

/// Inputs that once broke the server engine (found by the interop and fuzz tests), each kept
/// as a named case, sent as raw frames from a socket the test drives itself.
@Suite struct ServerRegressionTests {
    static let tree: [String: MemoryFileSystem.Entry] = [
        "hello": .file(Array("hello\n".utf8)),
        "dir": .directory(["a": .file([1])]),
    ]

    /// Twalk with no names (a clone) made a second fid stand for the node without a walk
    /// call, and clunking both released the node twice: a proxy file system would clunk its
    /// remote fid twice. Found by the fuzz test's node balance.
    @Test func cloneWalkReleasesTheNodeOnce() async throws {
        let fileSystem = CountingFileSystem(MemoryFileSystem(Self.tree))
        try await onThreadOfItsOwn {
            let peer = try RawPeer(fileSystem)
            defer { peer.close() }
            try peer.negotiate()
            #expect(try peer.call(.tattach(Tattach(fid: 0, afid: Tattach.noFid, uname: "u", aname: ""))).isReply(Rattach.type))
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: []))).isReply(Rwalk.type))
            #expect(try peer.call(.twalk(Twalk(fid: 1, newfid: 2, wnames: []))).isReply(Rwalk.type))
            #expect(try peer.call(.twalk(Twalk(fid: 2, newfid: 2, wnames: ["dir"]))).isReply(Rwalk.type))
            #expect(fileSystem.liveNodes.load(ordering: .relaxed) == 2)
            #expect(try peer.call(.tclunk(Tclunk(fid: 0))).isReply(Rclunk.type))
            // fid 1 still stands for the root: the node is not released yet.
            #expect(fileSystem.liveNodes.load(ordering: .relaxed) == 2)
            #expect(try peer.call(.tgetattr(Tgetattr(fid: 1, requestMask: GetattrMask.basic.rawValue))).isReply(Rgetattr.type))
            #expect(try peer.call(.tclunk(Tclunk(fid: 1))).isReply(Rclunk.type))
            #expect(fileSystem.liveNodes.load(ordering: .relaxed) == 1)
            #expect(try peer.call(.tclunk(Tclunk(fid: 2))).isReply(Rclunk.type))
            #expect(fileSystem.liveNodes.load(ordering: .relaxed) == 0)
        }
    }

    /// diodls and diodcat send Tauth first and went no further on EOPNOTSUPP; libnpclient
    /// (as diod itself answers) takes Rlerror ENOENT to mean "no authentication needed".
    @Test func tauthWithoutAuthenticationAnswersENOENT() async throws {
        try await onThreadOfItsOwn {
            let peer = try RawPeer(MemoryFileSystem(Self.tree))
            defer { peer.close() }
            try peer.negotiate()
            let reply = try peer.call(.tauth(Tauth(afid: 7, uname: "root", aname: "ctl", nUname: 0)))
            guard case .rlerror(let error) = try Message.decode(reply, dialect: .linux) else {
                Issue.record("Tauth answered with type \(reply.type)")
                return
            }
            #expect(error.ecode == UInt32(Errno.noSuchFileOrDirectory.rawValue))
            // The afid was not taken: attaching with it as a plain fid works.
            #expect(try peer.call(.tattach(Tattach(fid: 7, afid: Tattach.noFid, uname: "root", aname: "ctl", nUname: 0))).isReply(Rattach.type))
        }
    }

    /// A mid-session Tversion with a smaller msize: the new msize holds at once, so a frame
    /// larger than it is a framing error that closes the connection (found when the fuzz
    /// generator kept its old msize).
    @Test func midSessionVersionShrinksMsize() async throws {
        try await onThreadOfItsOwn {
            let peer = try RawPeer(MemoryFileSystem(Self.tree))
            defer { peer.close() }
            try peer.negotiate(msize: 8192)
            let version = try peer.call(.tversion(Tversion(msize: 290, version: "9P2000.L")), tag: Tversion.noTag)
            guard case .rversion(let agreed) = try Message.decode(version, dialect: .plain) else {
                Issue.record("Tversion answered with type \(version.type)")
                return
            }
            #expect(agreed.msize == 290)
            #expect(try peer.call(.tattach(Tattach(fid: 0, afid: Tattach.noFid, uname: "u", aname: ""))).isReply(Rattach.type))
            let long = Twalk(fid: 0, newfid: 1, wnames: Array(repeating: String(repeating: "x", count: 20), count: 13))
            #expect(long.encodedFrameSize(dialect: .linux) > 290)
            try peer.send(.twalk(long), tag: 9)
            #expect(try peer.nextReply() == nil, "the server answered a frame larger than msize")
            #expect(peer.server.waitUntilClosed(deadline: .now + .seconds(10)))
        }
    }

    /// Tflush of a tag never sent, of its own tag, and Tread on an unopened fid: each is
    /// answered once and the connection stays usable.
    @Test func flushOfUnknownTagsAndReadOfUnopenedFid() async throws {
        try await onThreadOfItsOwn {
            let peer = try RawPeer(MemoryFileSystem(Self.tree))
            defer { peer.close() }
            try peer.negotiate()
            #expect(try peer.call(.tflush(Tflush(oldtag: 4242))).isReply(Rflush.type))
            #expect(try peer.call(.tflush(Tflush(oldtag: 5)), tag: 5).isReply(Rflush.type))
            #expect(try peer.call(.tattach(Tattach(fid: 0, afid: Tattach.noFid, uname: "u", aname: ""))).isReply(Rattach.type))
            #expect(try peer.call(.tread(Tread(fid: 0, offset: UInt64.max, count: UInt32.max))).isReply(Rlerror.type))
            #expect(try peer.call(.treaddir(Treaddir(fid: 0, offset: UInt64.max, count: 0))).isReply(Rlerror.type))
            #expect(try peer.call(.tgetattr(Tgetattr(fid: 0, requestMask: ~0))).isReply(Rgetattr.type))
        }
    }
}

extension Frame {
    func isReply(_ type: UInt8) -> Bool { self.type == type }
}

extension Twalk {
    func encodedFrameSize(dialect: Dialect) -> Int { Message.twalk(self).encode(tag: 0, dialect: dialect).count }
}

/// A server over one end of a socket pair and a raw, blocking peer on the other.
final class RawPeer<FS: FileSystem>: Sendable {
    let server: ServerConnection<FS>
    let stream: FileDescriptorStream
    let decoder = ConditionLock(FrameDecoder(maxSize: 1 << 20))
    let dialect: Dialect

    init(_ fileSystem: FS, dialect: Dialect = .linux, configuration: ServerConfiguration = .init()) throws {
        let (a, b) = try socketPair()
        server = try ServerConnection.serve(fileSystem, over: a, configuration: configuration)
        stream = b
        self.dialect = dialect
    }

    func negotiate(msize: UInt32 = 8192) throws {
        let reply = try call(.tversion(Tversion(msize: msize, version: dialect.versionString)), tag: Tversion.noTag)
        guard case .rversion = try Message.decode(reply, dialect: .plain) else { throw NinePError.violation("no Rversion") }
    }

    func send(_ message: Message, tag: UInt16) throws {
        try message.encode(tag: tag, dialect: dialect).withUnsafeBytes { try stream.write($0) }
    }

    /// The next frame from the server; nil when it closed the connection.
    func nextReply() throws -> Frame? {
        try decoder.withLock { decoder in
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                if let frame = try decoder.nextFrame() { return frame }
                let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if count == 0 { return nil }
                decoder.append(Array(buffer[0..<count]))
            }
        }
    }

    /// The reply decoded in the peer's dialect.
    func decode(_ frame: Frame) throws -> Message {
        try Message.decode(frame, dialect: dialect)
    }

    /// The errno an Rlerror or a .u Rerror carries; nil for any other reply.
    func errno(of frame: Frame) throws -> Errno? {
        switch try decode(frame) {
        case .rlerror(let e): Errno(rawValue: Int32(bitPattern: e.ecode))
        case .rerror(let e): e.errno.map { Errno(rawValue: Int32(bitPattern: $0)) } ?? NinePError.errno(forMessage: e.ename)
        default: nil
        }
    }

    /// Whether the reply is an Rerror or Rlerror.
    func isError(_ frame: Frame) -> Bool {
        frame.type == Rerror.type || frame.type == Rlerror.type
    }

    /// Whether the reply is an error with `errno`; in 9P2000, whose Rerror carries only a
    /// string, whether it is an error at all.
    func failed(_ frame: Frame, with errno: Errno) throws -> Bool {
        dialect == .plain ? isError(frame) : try self.errno(of: frame) == errno
    }

    /// Sends one request and returns its reply, which must carry the same tag.
    func call(_ message: Message, tag: UInt16 = 1) throws -> Frame {
        try send(message, tag: tag)
        guard let reply = try nextReply() else { throw NinePError.closed() }
        guard reply.tag == tag else { throw NinePError.violation("reply tag \(reply.tag) for \(tag)") }
        return reply
    }

    func close() {
        stream.close()
        _ = server.waitUntilClosed(deadline: .now + .seconds(10))
    }
}
