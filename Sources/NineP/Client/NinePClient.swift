import Logging
import Synchronization
import SystemPackage

/// A 9P client connection: many requests multiplexed by tag over one ``ByteStream``.
///
/// Replies are matched by a reader thread of the client's own. Every call may carry a
/// deadline; a call that is cancelled or runs out of time fails at once and sends Tflush,
/// and its tag is reused only after Rflush. flush(5): a reply that still arrives before the
/// Rflush must be honoured, "since the completed request may signify a state change in the
/// server": a fid such a request made (Tattach, Twalk to a new fid) is clunked, and its
/// number is not reused until the server has let go of it. When the connection drops, every
/// pending call fails at once with ``NinePError/Code/connectionClosed``.
public final class NinePClient: Sendable {
    /// The dialect the server agreed to.
    public let dialect: Dialect
    /// The negotiated msize.
    public let msize: UInt32
    private let stream: any ByteStream
    private let state: ConditionLock<State>
    private let writer = Mutex<Void>(())
    private let logger: Logger
    /// Wake-ups of the background reader and of the deadline thread, each on a condition of
    /// its own: a reply wakes only the callers waiting on `state`, never these two. Set when
    /// something they look at may have changed; they clear it before they look.
    private let readerKick = ConditionLock(false)
    private let deadlineKick = ConditionLock(false)

    private struct Pending {
        var completion: (@Sendable (Result<Message, NinePError>) -> Void)?
        var deadline: ContinuousClock.Instant?
        /// The tag of the Tflush sent for this request, once abandoned.
        var flushTag: UInt16?
        /// The fid the request makes on the server, and how many qids a walk must answer
        /// for the fid to exist.
        var createdFid: (fid: UInt32, walkNames: Int?)?
        /// A late reply made the fid, and a Tclunk of it is on its way.
        var clunkingLateFid = false
    }

    private struct State {
        var pending: [UInt16: Pending] = [:]
        /// Tags used before and free again, oldest first from `freeHead`; `unusedTag` and
        /// above were never used. A freed tag is the last to be used again, so a stale
        /// reference to it (a cancellation that comes late) is unlikely to meet a new request.
        var freeTags: [UInt16] = []
        var freeHead = 0
        var unusedTag: UInt16 = 0
        var nextFid: UInt32 = 1
        var freeFids: [UInt32] = []
        /// Fids an abandoned request may have made on the server; true once the caller
        /// released the number. They go back to `freeFids` when the server's side is known.
        var doubtfulFids: [UInt32: Bool] = [:]
        var closedError: NinePError?
        var earliestDeadline: ContinuousClock.Instant?
        /// A thread is reading the stream (the background reader or a blocking caller).
        var leading = false
        /// Tags whose callers read their replies themselves (``callBlocking``).
        var selfReading: Set<UInt16> = []

        /// Whether some reply is awaited that no caller will read for itself.
        var backgroundWork: Bool { pending.count > selfReading.count }

        /// A free tag (never NOTAG), without a search; nil when all 65535 are in flight.
        mutating func allocateTag() -> UInt16? {
            if unusedTag < Tversion.noTag {
                defer { unusedTag += 1 }
                return unusedTag
            }
            guard freeHead < freeTags.count else { return nil }
            defer {
                freeHead += 1
                if freeHead > 4096 && freeHead * 2 > freeTags.count {
                    freeTags.removeFirst(freeHead)
                    freeHead = 0
                }
            }
            return freeTags[freeHead]
        }

        mutating func retire(_ tag: UInt16) {
            if pending.removeValue(forKey: tag) != nil { freeTags.append(tag) }
            selfReading.remove(tag)
        }

        /// The server's side of a doubtful fid is settled: the number is free once the caller
        /// let it go.
        mutating func settle(_ fid: UInt32) {
            if doubtfulFids.removeValue(forKey: fid) == true { freeFids.append(fid) }
        }
    }

    /// Connects over `stream`: negotiates the version (blocking) and starts the reader.
    /// - Parameters:
    ///   - msize: the largest message to ask for.
    ///   - dialect: the dialect to ask for; the server may answer with another or "unknown".
    ///   - timeout: how long the version exchange may take.
    /// - Throws: ``NinePError`` when the server refuses the version or does not answer.
    public static func connect(
        over stream: any ByteStream, msize: UInt32 = 512 * 1024 + 24, dialect: Dialect = .linux,
        timeout: Duration = .seconds(10), logger: Logger = Logger(label: "ninep.client")
    ) throws(NinePError) -> NinePClient {
        let request = Message.tversion(Tversion(msize: msize, version: dialect.versionString)).encode(tag: Tversion.noTag, dialect: .plain)
        do {
            try request.withUnsafeBytes { try stream.write($0) }
        } catch {
            stream.close()
            throw NinePError.closed("cannot send Tversion: \(error)")
        }
        // Read the reply on a thread of its own so the timeout holds even if nothing comes.
        let reply = ConditionLock<Result<(Frame, FrameDecoder), NinePError>?>(nil)
        try startThread(name: "9p-version") {
            var decoder = FrameDecoder(maxSize: msize)
            var buffer = [UInt8](repeating: 0, count: 8192)
            let result: Result<(Frame, FrameDecoder), NinePError>
            do {
                while true {
                    if let frame = try decoder.nextFrame() {
                        result = .success((frame, decoder))
                        break
                    }
                    let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                    if count == 0 { throw NinePError.closed("connection closed during version negotiation") }
                    decoder.append(Array(buffer[0..<count]))
                }
            } catch let error as NinePError {
                result = .failure(error)
            } catch {
                result = .failure(.closed("version negotiation: \(error)"))
            }
            reply.withLock(notify: true) { $0 = result }
        }
        guard let outcome = reply.wait(until: { $0 != nil }, deadline: .now + timeout, { $0 }) ?? nil else {
            stream.close()
            throw NinePError.timedOut("no answer to Tversion within \(timeout)")
        }
        let (frame, decoder): (Frame, FrameDecoder)
        do {
            (frame, decoder) = try outcome.get()
        } catch {
            stream.close()
            throw error
        }
        let answer: Message
        do {
            answer = try Message.decode(frame, dialect: .plain)
        } catch {
            stream.close()
            throw error
        }
        switch answer {
        case .rversion(let r):
            guard let agreed = Dialect(clientVersion: r.version), r.version == agreed.versionString else {
                stream.close()
                throw NinePError.violation("server does not speak \(dialect.versionString) (answered \(r.version))")
            }
            guard r.msize <= msize, r.msize >= 256 else {
                stream.close()
                throw NinePError.violation("server answered msize \(r.msize) to \(msize)")
            }
            let client = NinePClient(stream: stream, dialect: agreed, msize: r.msize, logger: logger)
            let leftover = { () -> FrameDecoder in
                var copy = decoder
                copy.maxSize = r.msize
                return copy
            }()
            client.reading.decoder = leftover
            try startThread(name: "9p-client") { client.backgroundReader() }
            try startThread(name: "9p-deadlines") { client.deadlineLoop() }
            return client
        case .rerror(let e):
            stream.close()
            throw NinePError(.protocolViolation, errno: .protocolError, "version refused: \(e.ename)")
        default:
            stream.close()
            throw NinePError.violation("unexpected answer to Tversion")
        }
    }

    private let reading = ReadingState()

    private init(stream: any ByteStream, dialect: Dialect, msize: UInt32, logger: Logger) {
        self.stream = stream
        self.dialect = dialect
        self.msize = msize
        self.logger = logger
        self.state = ConditionLock(State())
    }

    /// The most data one Tread or Twrite can carry.
    public var maxIOSize: Int { Int(msize) - 24 }

    /// Ends the connection; pending calls fail with ``NinePError/Code/connectionClosed``.
    public func close() {
        stream.close()
        fail(with: .closed("connection closed by client"))
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { state.withLock { $0.closedError != nil } }

    // MARK: - Requests

    /// Sends a request; `completion` runs on the client's reader thread with the reply, or
    /// with the error an Rerror/Rlerror stood for, a timeout, or the connection's end.
    /// - Returns: the tag used, or nil when the request failed at once.
    @discardableResult
    public func send(
        _ message: Message, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<Message, NinePError>) -> Void
    ) -> UInt16? {
        send(message, deadline: deadline, readsItself: false, completion: completion)
    }

    private func send(
        _ message: Message, deadline: ContinuousClock.Instant?, readsItself: Bool,
        completion: @escaping @Sendable (Result<Message, NinePError>) -> Void
    ) -> UInt16? {
        // Registered and written under the writer's lock: a deadline that passes at once
        // cannot put its Tflush on the wire before the request itself.
        let outcome = writer.withLock { _ -> SendOutcome in
            var (wakeReader, wakeDeadlines) = (false, false)
            let registered = state.withLock { state -> Result<UInt16, NinePError> in
                // The background reader starts reading when nobody reads and this reply is
                // nobody's own to read.
                wakeReader = !readsItself && !state.leading
                if let error = state.closedError { return .failure(error) }
                guard let tag = state.allocateTag() else {
                    return .failure(NinePError(.fileSystem, errno: .resourceBusy, "too many requests in flight"))
                }
                state.pending[tag] = Pending(completion: completion, deadline: deadline, createdFid: Self.fidCreated(by: message))
                if readsItself { state.selfReading.insert(tag) }
                if let deadline, deadline < (state.earliestDeadline ?? deadline + .seconds(1)) {
                    // The deadline thread looks again only for a sooner deadline: a later one
                    // it meets when it wakes for the earliest, so a call costs it no wake-up.
                    state.earliestDeadline = deadline
                    wakeDeadlines = true
                }
                return .success(tag)
            }
            if wakeReader { kick(readerKick) }
            if wakeDeadlines { kick(deadlineKick) }
            let tag: UInt16
            switch registered {
            case .success(let registeredTag): tag = registeredTag
            case .failure(let error): return .refused(error)
            }
            do {
                try message.encode(tag: tag, dialect: dialect).withUnsafeBytes { try stream.write($0) }
            } catch {
                return .writeFailed(.closed("cannot send: \(error)"))
            }
            return .sent(tag)
        }
        switch outcome {
        case .writeFailed(let error):
            // Registered, and the write failed: the connection's end fails every pending
            // call, this one included, once.
            stream.close()
            fail(with: error)
            return nil
        case .refused(let error):
            completion(.failure(error))
            return nil
        case .sent(let tag):
            return tag
        }
    }

    private enum SendOutcome {
        case sent(UInt16)
        case refused(NinePError)
        case writeFailed(NinePError)
    }

    /// The fid a request makes on the server (for a walk, only when every name is walked).
    private static func fidCreated(by message: Message) -> (fid: UInt32, walkNames: Int?)? {
        switch message {
        case .tattach(let m): (m.fid, nil)
        case .tauth(let m): (m.afid, nil)
        case .twalk(let m) where m.newfid != m.fid: (m.newfid, m.wnames.count)
        case .txattrwalk(let m) where m.newfid != m.fid: (m.newfid, nil)
        default: nil
        }
    }

    /// One request, awaited. Task cancellation flushes the request on the wire.
    /// - Throws: ``NinePError``: the server's error, a timeout, cancellation, or a closed
    ///   connection.
    public func call(_ message: Message, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> Message {
        let box = Mutex<UInt16?>(nil)
        let result: Result<Message, NinePError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let tag = send(message, deadline: deadline) { continuation.resume(returning: $0) }
                box.withLock { $0 = tag }
                if Task.isCancelled, let tag { abandon(tag, because: NinePError(.cancelled, errno: .interrupted, "cancelled")) }
            }
        } onCancel: {
            if let tag = box.withLock({ $0 }) { abandon(tag, because: NinePError(.cancelled, errno: .interrupted, "cancelled")) }
        }
        return try result.get()
    }

    /// One request, blocking the calling thread (for threads of their own, such as FUSE's).
    ///
    /// Over a ``DeadlineByteStream`` the caller reads the stream itself when nobody else is
    /// (delivering any other replies it meets), so a round trip costs no wake-up of a reader
    /// thread; otherwise the client's reader hands it the reply.
    public func callBlocking(_ message: Message, deadline: ContinuousClock.Instant? = nil) throws(NinePError) -> Message {
        try pipelineBlocking([message], deadline: deadline)[0].get()
    }

    /// Requests sent back to back, blocking the calling thread until every one is answered:
    /// one round trip for a chain such as Twalk, Tlopen then Tread on one fid (servers that
    /// run a fid's requests in order answer them in order; others may fail a later one, which
    /// the caller can try again on its own). The caller reads its own replies as
    /// ``callBlocking(_:deadline:)`` does.
    /// - Returns: one result per message, in the order sent.
    public func pipelineBlocking(_ messages: [Message], deadline: ContinuousClock.Instant? = nil) -> [Result<Message, NinePError>] {
        guard !messages.isEmpty else { return [] }
        final class Replies: @unchecked Sendable {
            // Guarded by the client's state lock.
            var results: [Result<Message, NinePError>?]
            var missing: Int
            init(_ count: Int) {
                results = Array(repeating: nil, count: count)
                missing = count
            }
        }
        let replies = Replies(messages.count)
        let readsItself = stream is any DeadlineByteStream
        var tags: [UInt16?] = []
        for (index, message) in messages.enumerated() {
            let tag = send(message, deadline: deadline, readsItself: readsItself) { [state] result in
                state.withLock(notify: true) { _ in
                    if replies.results[index] == nil { replies.missing -= 1 }
                    replies.results[index] = result
                }
            }
            tags.append(tag)
        }
        while true {
            // The replies, or the stream free for us to read them. No deadline here: the
            // deadline thread fails the calls when it passes (a reading caller also stops
            // reading then).
            let lead = state.wait(until: { state in
                replies.missing == 0 || !state.leading && tags.contains { $0.map(state.selfReading.contains) ?? false }
            }) { state -> Bool in
                if replies.missing == 0 { return false }
                state.leading = true
                return true
            }!
            guard lead else { return state.withLock { _ in replies.results.map { $0! } } }
            leadOnce(deadline: deadline)
            if let deadline, ContinuousClock.now >= deadline {
                let unanswered = state.withLock { _ in tags.indices.filter { replies.results[$0] == nil }.compactMap { tags[$0] } }
                for tag in unanswered { abandon(tag, because: .timedOut("no reply within the deadline")) }
            }
        }
    }

    /// Gives up on a request: sends Tflush, fails the caller now, and frees the tag once
    /// the server answers the flush.
    public func abandon(_ tag: UInt16, because error: NinePError) {
        let outcome = state.withLock { state -> (completion: (@Sendable (Result<Message, NinePError>) -> Void)?, flushTag: UInt16?) in
            guard var pending = state.pending[tag], pending.flushTag == nil, pending.completion != nil, state.closedError == nil else {
                return (nil, nil)
            }
            let completion = pending.completion
            pending.completion = nil
            pending.deadline = nil
            state.selfReading.remove(tag)
            if let created = pending.createdFid { state.doubtfulFids[created.fid] = false }
            // Without a tag for the Tflush the request stays in flight until it is answered.
            let flushTag = state.allocateTag()
            if let flushTag {
                pending.flushTag = flushTag
                state.pending[flushTag] = Pending(completion: nil, deadline: nil)
            }
            state.pending[tag] = pending
            return (completion, flushTag)
        }
        outcome.completion?(.failure(error))
        // The reply is nobody's own to read any more: the background reader takes it.
        kick(readerKick)
        guard let flushTag = outcome.flushTag else { return }
        write(Message.tflush(Tflush(oldtag: tag)).encode(tag: flushTag, dialect: dialect))
    }

    private func write(_ bytes: [UInt8]) {
        let failed = writer.withLock { _ -> NinePError? in
            do {
                try bytes.withUnsafeBytes { try stream.write($0) }
                return nil
            } catch {
                return .closed("cannot send: \(error)")
            }
        }
        if let failed {
            stream.close()
            fail(with: failed)
        }
    }

    // MARK: - Reader and deadlines

    /// What the thread reading the stream keeps between reads; touched only by the thread
    /// that holds `leading`.
    private final class ReadingState: @unchecked Sendable {
        var decoder = FrameDecoder(maxSize: 1 << 20)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    }

    private func kick(_ flag: ConditionLock<Bool>) {
        flag.withLock(notify: true) { $0 = true }
    }

    /// Reads for the replies no caller reads itself, whenever nobody else reads.
    private func backgroundReader() {
        while true {
            let go = state.withLock { state -> Bool? in
                guard state.closedError == nil else { return nil }
                guard !state.leading && state.backgroundWork else { return false }
                state.leading = true
                return true
            }
            switch go {
            case nil: return
            case true?: leadOnce(deadline: nil)
            case false?: readerKick.wait(until: { $0 }) { $0 = false }
            }
        }
    }

    /// Holding `leading`: delivers what is buffered, reads once (until `deadline` at most)
    /// and delivers what came, then lets go of `leading`.
    private func leadOnce(deadline: ContinuousClock.Instant?) {
        var failure: NinePError?
        do {
            while let frame = try reading.decoder.nextFrame() { try deliver(frame) }
            let count: Int? = try reading.buffer.withUnsafeMutableBytes { buffer in
                if let timed = stream as? any DeadlineByteStream { return try timed.read(into: buffer, deadline: deadline) }
                return try stream.read(into: buffer)
            }
            if let count {
                if count == 0 {
                    failure = .closed("connection closed by server")
                } else {
                    reading.buffer.withUnsafeBytes { reading.decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                    while let frame = try reading.decoder.nextFrame() { try deliver(frame) }
                }
            }
        } catch let error as NinePError {
            logger.debug("9P client: \(error)")
            failure = error
        } catch {
            failure = .closed("connection failed: \(error)")
        }
        if state.withLock(notify: true, { state in
            state.leading = false
            return state.backgroundWork
        }) {
            kick(readerKick)
        }
        if let failure {
            stream.close()
            fail(with: failure)
        }
    }

    private func deliver(_ frame: Frame) throws(NinePError) {
        let message = try Message.decode(frame, dialect: dialect)
        var lateFid: UInt32?
        let found = state.withLock { state -> Result<(@Sendable (Result<Message, NinePError>) -> Void)?, NinePError> in
            guard var pending = state.pending[frame.tag] else {
                return .failure(NinePError.violation("reply with tag \(frame.tag) that is not in flight"))
            }
            if case .rflush = message, let old = state.pending.first(where: { $0.value.flushTag == frame.tag }) {
                // The flush is answered: the flushed tag is free again, whatever came before.
                state.retire(frame.tag)
                state.retire(old.key)
                if let created = old.value.createdFid, !old.value.clunkingLateFid { state.settle(created.fid) }
                return .success(nil)
            }
            guard pending.flushTag == nil, pending.completion != nil else {
                // flush(5): answered before the Rflush, so it happened. A fid it made must go.
                if let created = pending.createdFid, Self.made(created, message) {
                    pending.clunkingLateFid = true
                    state.pending[frame.tag] = pending
                    lateFid = created.fid
                }
                if pending.flushTag == nil { state.retire(frame.tag) }
                return .success(nil)
            }
            state.retire(frame.tag)
            return .success(pending.completion)
        }
        if let lateFid {
            send(.tclunk(Tclunk(fid: lateFid))) { [self] _ in state.withLock { $0.settle(lateFid) } }
        }
        guard let completion = try found.get() else { return }
        completion(Self.result(of: message))
    }

    /// Whether a reply made the fid its request would create.
    private static func made(_ created: (fid: UInt32, walkNames: Int?), _ reply: Message) -> Bool {
        switch reply {
        case .rwalk(let walk): walk.qids.count == created.walkNames
        case .rerror, .rlerror: false
        default: true
        }
    }

    /// A reply as the caller sees it: an Rerror or Rlerror is a failure, with EIO where
    /// the errno makes no sense (0, negative, or beyond Linux's range) — never a success.
    static func result(of message: Message) -> Result<Message, NinePError> {
        switch message {
        case .rlerror(let e):
            return .failure(NinePError(sensibleErrno(Int64(e.ecode)) ?? .ioError))
        case .rerror(let e):
            let errno = e.errno.flatMap { sensibleErrno(Int64($0)) } ?? NinePError.errno(forMessage: e.ename)
            return .failure(NinePError(.fileSystem, errno: errno, e.ename.isEmpty ? NinePError.text(for: errno) : e.ename))
        default:
            return .success(message)
        }
    }

    /// An errno a peer sent, if it is one Linux has (1...4095).
    static func sensibleErrno(_ value: Int64) -> Errno? {
        (1...4095).contains(value) ? Errno(rawValue: Int32(value)) : nil
    }

    private func fail(with error: NinePError) {
        let completions = state.withLock(notify: true) { state -> [@Sendable (Result<Message, NinePError>) -> Void] in
            if state.closedError == nil { state.closedError = error }
            defer {
                state.pending = [:]
                state.doubtfulFids = [:]
            }
            return state.pending.values.compactMap(\.completion)
        }
        for completion in completions { completion(.failure(error)) }
        kick(readerKick)
        kick(deadlineKick)
    }

    private func deadlineLoop() {
        while true {
            let expired = state.withLock { state -> [UInt16]? in
                if state.closedError != nil { return nil }
                let now = ContinuousClock.now
                guard let earliest = state.earliestDeadline, earliest <= now else { return [] }
                let expired = state.pending.filter { $0.value.deadline.map { $0 <= now } ?? false }.map(\.key)
                state.earliestDeadline = state.pending.values.compactMap(\.deadline).filter { $0 > now }.min()
                return expired
            }
            guard let expired else { return }
            for tag in expired { abandon(tag, because: .timedOut("no reply within the deadline")) }
            // Until the earliest deadline, or until a sooner one is registered.
            let planned = state.withLock { $0.earliestDeadline }
            _ = deadlineKick.wait(until: { $0 }, deadline: planned ?? .now + .seconds(3600)) { $0 = false }
        }
    }

    // MARK: - Fids

    /// A fid number not in use on this connection.
    public func allocateFid() -> UInt32 {
        state.withLock { state in
            if let fid = state.freeFids.popLast() { return fid }
            defer { state.nextFid &+= 1 }
            return state.nextFid
        }
    }

    /// Returns a fid number for reuse; call only after its Rclunk (or a failed walk to it).
    public func releaseFid(_ fid: UInt32) {
        state.withLock { state in
            if state.doubtfulFids[fid] != nil {
                state.doubtfulFids[fid] = true
            } else {
                state.freeFids.append(fid)
            }
        }
    }
}
