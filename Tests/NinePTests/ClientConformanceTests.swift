import NineP
import SystemPackage
import Testing

/// Our client against a server the test scripts frame by frame: what flush(5) asks of a
/// client, and replies no honest server sends.
@Suite struct ClientConformanceTests {
    /// flush(5): "If a response to the flushed request is received before the Rflush, the
    /// client must honor the response as if it had not been flushed, since the completed
    /// request may signify a state change in the server. For instance, ... Twalk may have
    /// allocated a fid." The caller of a walk that timed out has failed; the fid the walk
    /// made is clunked, and its number is not handed out again until the Rclunk.
    @Test func aWalkAnsweredBeforeItsRflushIsClunked() async throws {
        try await onThreadOfItsOwn {
            let (client, server) = try ScriptedServer.connect()
            defer { client.close() }
            let newfid = client.allocateFid()
            let failed = ConditionLock<Result<Message, NinePError>?>(nil)
            client.send(.twalk(Twalk(fid: 0, newfid: newfid, wnames: ["a"])), deadline: .now + .milliseconds(50)) { result in
                failed.withLock(notify: true) { $0 = result }
            }
            let walk = try server.next()
            guard case .twalk = walk.message else { throw NinePError.violation("expected Twalk, got \(walk.message)") }
            let flush = try server.next()
            guard case .tflush(let t) = flush.message, t.oldtag == walk.tag else { throw NinePError.violation("expected Tflush, got \(flush.message)") }
            // The deadline failed the caller; it gives the fid number back at once.
            let result = failed.wait(until: { $0 != nil }, deadline: .now + .seconds(10)) { $0! }
            guard case .failure(let error) = result else { throw NinePError.violation("the timed-out walk succeeded") }
            #expect(error.code == .timedOut)
            client.releaseFid(newfid)
            #expect(client.allocateFid() != newfid, "the fid number was reused while the server may hold it")
            // The walk had completed: its reply comes first, then the Rflush.
            try server.reply(.rwalk(Rwalk(qids: [Qid(type: .file, path: 1)])), tag: walk.tag)
            try server.reply(.rflush(Rflush()), tag: flush.tag)
            let clunk = try server.next()
            guard case .tclunk(let c) = clunk.message else { throw NinePError.violation("expected Tclunk, got \(clunk.message)") }
            #expect(c.fid == newfid)
            #expect(client.allocateFid() != newfid, "the fid number was reused before the Rclunk")
            try server.reply(.rclunk(Rclunk()), tag: clunk.tag)
            // A request after the Rclunk: its reply is delivered, so the Rclunk was too.
            try server.ping(client)
            #expect(client.allocateFid() == newfid)
        }
    }

    /// The same walk, flushed without a reply: "the flushed transaction is considered to
    /// have been canceled", and the fid number is free at the Rflush.
    @Test func aWalkFlushedWithoutReplyFreesItsFidAtTheRflush() async throws {
        try await onThreadOfItsOwn {
            let (client, server) = try ScriptedServer.connect()
            defer { client.close() }
            let newfid = client.allocateFid()
            client.send(.twalk(Twalk(fid: 0, newfid: newfid, wnames: ["a"])), deadline: .now + .milliseconds(10)) { _ in
                client.releaseFid(newfid)
            }
            let walk = try server.next()
            let flush = try server.next()
            guard case .tflush(let t) = flush.message, t.oldtag == walk.tag else { throw NinePError.violation("expected Tflush") }
            try server.reply(.rflush(Rflush()), tag: flush.tag)
            try server.ping(client)
            #expect(client.allocateFid() == newfid)
        }
    }

    /// A deadline that has already passed: the request still goes out before its Tflush.
    @Test func aTflushNeverPrecedesItsRequest() async throws {
        try await onThreadOfItsOwn {
            let (client, server) = try ScriptedServer.connect()
            defer { client.close() }
            for round in 0..<50 {
                client.send(.tgetattr(Tgetattr(fid: 0, requestMask: 1)), deadline: .now - .seconds(1)) { _ in }
                let first = try server.next()
                guard case .tgetattr = first.message else {
                    Issue.record("round \(round): \(first.message) came before its request")
                    return
                }
                let flush = try server.next()
                try server.reply(.rflush(Rflush()), tag: flush.tag)
            }
        }
    }

    /// An Rlerror or .u Rerror with errno 0 (or one Linux does not have) is an error, EIO,
    /// never a success; an Rwalk with more qids than names is a protocol violation, not a
    /// trap.
    @Test func hostileRepliesAreErrors() async throws {
        try await onThreadOfItsOwn {
            let (client, server) = try ScriptedServer.connect()
            defer { client.close() }
            for ecode: UInt32 in [0, 5000, UInt32.max] {
                let reply = ConditionLock<Result<Message, NinePError>?>(nil)
                client.send(.tgetattr(Tgetattr(fid: 0, requestMask: 1))) { result in reply.withLock(notify: true) { $0 = result } }
                let request = try server.next()
                try server.reply(.rlerror(Rlerror(ecode: ecode)), tag: request.tag)
                let result = reply.wait(until: { $0 != nil }, deadline: .now + .seconds(10)) { $0! }
                guard case .failure(let error) = result else {
                    Issue.record("Rlerror \(ecode) became a success")
                    continue
                }
                #expect(error.errno == .ioError, "Rlerror \(ecode)")
            }
        }
        let (client, server) = try ScriptedServer.connect()
        defer { client.close() }
        let root = RemoteFid(number: 0, qid: Qid(type: .directory, path: 0))
        let walked = Task { try await client.walk(root, ["a"]) }
        try await onThreadOfItsOwn {
            let request = try server.next()
            try server.reply(.rwalk(Rwalk(qids: [Qid(type: .file, path: 1), Qid(type: .file, path: 2)])), tag: request.tag)
        }
        guard case .failure(let error) = await walked.result else {
            Issue.record("a walk answered with more qids than names succeeded")
            return
        }
        #expect((error as? NinePError)?.code == .protocolViolation)
    }

    /// Tags come from a free list: with all 65535 in flight the next request fails at once
    /// (EBUSY), and a tag answered is used again.
    @Test func tagsRunOutCleanly() async throws {
        try await onThreadOfItsOwn {
            let (client, server) = try ScriptedServer.connect(msize: 8192)
            defer { client.close() }
            let drained = ConditionLock<[UInt16]>([])
            try startThread(name: "drain") {
                var tags: [UInt16] = []
                while tags.count < 65535, let frame = try? server.next() { tags.append(frame.tag) }
                drained.withLock(notify: true) { $0 = tags }
            }
            for _ in 0..<65535 { client.send(.tgetattr(Tgetattr(fid: 0, requestMask: 1))) { _ in } }
            let start = ContinuousClock.now
            let refused = ConditionLock<Result<Message, NinePError>?>(nil)
            let tag = client.send(.tgetattr(Tgetattr(fid: 0, requestMask: 1))) { result in refused.withLock(notify: true) { $0 = result } }
            #expect(tag == nil)
            #expect(ContinuousClock.now - start < .seconds(1))
            guard case .failure(let error)? = refused.withLock({ $0 }) else {
                Issue.record("the 65536th request was not refused at once")
                return
            }
            #expect(error.errno == .resourceBusy)
            let tags = drained.wait(until: { $0.count == 65535 }, deadline: .now + .seconds(60)) { $0 } ?? []
            #expect(Set(tags).count == 65535)
            #expect(!tags.contains(Tversion.noTag))
        }
    }
}

/// The server end of a socket pair, driven by the test: it reads the client's frames and
/// writes whatever replies the test scripts.
final class ScriptedServer: Sendable {
    let stream: FileDescriptorStream
    let decoder = ConditionLock(FrameDecoder(maxSize: 1 << 20))

    init(stream: FileDescriptorStream) {
        self.stream = stream
    }

    /// A client connected to a scripted server that answered its Tversion.
    static func connect(msize: UInt32 = 65536) throws -> (NinePClient, ScriptedServer) {
        let (a, b) = try socketPair()
        let server = ScriptedServer(stream: b)
        let version = ConditionLock<Bool?>(nil)
        try startThread(name: "scripted-version") {
            do {
                let frame = try server.next()
                try server.reply(.rversion(Rversion(msize: msize, version: "9P2000.L")), tag: frame.tag, dialect: .plain)
                version.withLock(notify: true) { $0 = true }
            } catch {
                version.withLock(notify: true) { $0 = false }
            }
        }
        let client = try NinePClient.connect(over: a, msize: msize)
        _ = version.wait(until: { $0 != nil }) { $0 }
        return (client, server)
    }

    struct Request {
        var tag: UInt16
        var message: Message
    }

    /// The client's next request.
    func next() throws -> Request {
        let frame = try decoder.withLock { decoder -> Frame in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                if let frame = try decoder.nextFrame() { return frame }
                let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if count == 0 { throw NinePError.closed() }
                decoder.append(Array(buffer[0..<count]))
            }
        }
        let dialect: Dialect = frame.type == Tversion.type ? .plain : .linux
        return Request(tag: frame.tag, message: try Message.decode(frame, dialect: dialect))
    }

    func reply(_ message: Message, tag: UInt16, dialect: Dialect = .linux) throws {
        try message.encode(tag: tag, dialect: dialect).withUnsafeBytes { try stream.write($0) }
    }

    /// A round trip that shows every earlier reply was delivered (replies are taken in order).
    func ping(_ client: NinePClient) throws {
        let answered = ConditionLock(false)
        client.send(.tgetattr(Tgetattr(fid: 0, requestMask: 1))) { _ in answered.withLock(notify: true) { $0 = true } }
        let request = try next()
        try reply(.rlerror(Rlerror(ecode: UInt32(Errno.noSuchFileOrDirectory.rawValue))), tag: request.tag)
        _ = answered.wait(until: { $0 }, deadline: .now + .seconds(10)) { _ in }
    }
}
