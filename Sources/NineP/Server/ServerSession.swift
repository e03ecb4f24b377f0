import SystemPackage

/// One server connection's protocol state as a plain state machine: the dialect and msize,
/// the fid table with each fid's open mode, the requests in flight by tag, the per-fid order
/// of requests, Tflush and Tversion.
///
/// It performs no I/O and starts no thread. ``receive(_:)`` takes a frame as it came off the
/// wire and ``complete(_:_:)`` the outcome of a call the driver ran; each returns a ``Step``:
/// calls to run now, contexts to cancel and fids to close. Replies (and only replies) collect
/// in ``outbox`` in the order the state decided them, which is the order they must go out:
/// the reply of a flushed request always precedes its Rflush, a Rflush precedes the Rflush
/// of a later Tflush of the same tag. Calls that may wait are queued in ``scheduled`` for a
/// pool; a flush reaches them there too, so a busy pool never keeps a Tflush waiting.
///
/// ``ServerConnection`` drives it from its threads under one lock; tests drive it with bytes.
struct ServerSession<FS: FileSystem>: Sendable {
    struct Limits: Sendable {
        var maxMessageSize: UInt32
        var minMessageSize: UInt32
        var maxFids: Int
        /// Requests in flight at once; beyond it a request is answered EBUSY at once.
        var maxRequests: Int
    }

    /// What the driver does after a transition.
    struct Step: Sendable {
        /// Calls to run now, on the thread that took the step.
        var calls: [ServerCall<FS>] = []
        /// Calls were added to ``ServerSession/scheduled`` for the pool.
        var scheduled = 0
        /// Contexts of flushed or aborted requests; cancel them outside the lock.
        var cancelled: [RequestContext] = []
        /// Fids that left the table; close them outside the lock.
        var released: [ServerFid<FS>] = []
        /// A Tversion waits for every running call to end: call ``finishVersion()`` then.
        var versionPending = false

        mutating func append(_ other: Step) {
            calls += other.calls
            scheduled += other.scheduled
            cancelled += other.cancelled
            released += other.released
            versionPending = versionPending || other.versionPending
        }
    }

    private enum Phase {
        /// Waiting for an earlier request on one of its fids.
        case waiting
        /// Handed to the driver (inline or in ``scheduled``).
        case started
        /// A Tflush waiting for the request it flushes to end.
        case flush
    }

    private struct InFlight {
        var sequence: UInt64
        var phase: Phase
        var flushed = false
        /// Tflush tags to answer, in order, once this request is answered or dropped.
        var flushers: [Tag] = []
        var context: RequestContext?
    }

    /// A request waiting for, or using, a fid. Requests that only look at a fid share it.
    private struct FidUse {
        var sequence: UInt64
        var sharing: Bool
    }

    private struct Waiting {
        var tag: Tag
        var sequence: UInt64
        var message: Result<Message, NinePError>
        var fids: [Fid]
        var sharedFids: [Fid]
    }

    let fileSystem: FS
    let limits: Limits
    private(set) var dialect: Dialect?
    private(set) var msize: UInt32
    private(set) var fids: [Fid: ServerFid<FS>] = [:]
    private var requests: [Tag: InFlight] = [:]
    private var fidQueues: [Fid: [FidUse]] = [:]
    private var waiting: [Waiting] = []
    private var sequence: UInt64 = 0
    /// Calls handed out and not yet completed (inline or scheduled).
    private(set) var running = 0
    /// Blocking calls waiting for a pool thread, oldest first.
    private(set) var scheduled: [ServerCall<FS>] = []
    private var pendingVersion: (tag: Tag, request: Tversion)?
    /// Set by a Tversion or the connection's end: outstanding requests get no reply.
    private var aborting = false
    private(set) var closed = false
    /// Replies to send, in order.
    var outbox: [UInt8] = []

    init(fileSystem: FS, limits: Limits) {
        self.fileSystem = fileSystem
        self.limits = limits
        self.msize = limits.maxMessageSize
    }

    /// Requests in flight, for tests and monitoring.
    var requestCount: Int { requests.count }

    // MARK: - Requests in

    /// Takes one frame from the client.
    mutating func receive(_ frame: Frame) -> Step {
        guard !closed else { return Step() }
        sequence += 1
        let tag = Tag(frame.tag)
        if frame.type == Tversion.type { return beginVersion(frame) }
        guard let dialect else {
            reply(.failure(NinePError(.protocolViolation, errno: .protocolError, "version not negotiated")), tag: tag, dialect: .plain)
            return Step()
        }
        var message: Result<Message, NinePError>
        do {
            message = .success(try Message.decode(frame, dialect: dialect))
        } catch {
            message = .failure(error)
        }
        if case .success(let decoded) = message, !dialect.allows(type: decoded.type) {
            let name = Message.name(ofType: decoded.type) ?? "\(decoded.type)"
            message = .failure(NinePError(.unknownMessageType, errno: .notSupported, "\(name) is not part of \(dialect.versionString)"))
        }
        guard requests[tag] == nil else {
            // The reply goes to the tag in flight's owner too; a client that reuses a tag
            // early has broken the protocol, and this is what it asked for.
            reply(.failure(NinePError.violation("tag \(tag) is already in flight")), tag: tag, dialect: dialect)
            return Step()
        }
        // flush(5): "A Tflush can never be responded to by an Rerror message": it is taken
        // whatever the load.
        if case .success(.tflush(let flush)) = message {
            return self.flush(Tag(flush.oldtag), tag: tag, dialect: dialect)
        }
        guard requests.count < limits.maxRequests else {
            reply(.failure(NinePError(.fileSystem, errno: .resourceBusy, "too many requests in flight (at most \(limits.maxRequests))")), tag: tag, dialect: dialect)
            return Step()
        }
        let decoded = try? message.get()
        let touched = decoded.map(Self.fidsTouched) ?? []
        let shared = decoded.map(Self.fidsOnlyLookedAt) ?? []
        requests[tag] = InFlight(sequence: sequence, phase: .waiting)
        for fid in touched {
            fidQueues[fid, default: []].append(FidUse(sequence: sequence, sharing: shared.contains(fid)))
        }
        waiting.append(Waiting(tag: tag, sequence: sequence, message: message, fids: touched, sharedFids: shared))
        return startRunnable()
    }

    /// Starts every waiting request whose fids are free, in arrival order.
    private mutating func startRunnable() -> Step {
        var step = Step()
        var index = 0
        while index < waiting.count {
            let candidate = waiting[index]
            guard candidate.fids.allSatisfy({ mayRun(candidate, on: $0) }) else {
                index += 1
                continue
            }
            waiting.remove(at: index)
            step.append(start(candidate))
        }
        return step
    }

    /// Whether `request` may use `fid` now: it is first in the fid's queue, or it only looks
    /// at the fid and so does every request before it. Pipelined requests that change a fid
    /// (walk to it, open, clunk) thus run in order, while many Tgetattr or walks from one root
    /// fid run at once.
    private func mayRun(_ request: Waiting, on fid: Fid) -> Bool {
        guard let queue = fidQueues[fid], let first = queue.first else { return true }
        if first.sequence == request.sequence { return true }
        guard request.sharedFids.contains(fid) else { return false }
        for use in queue {
            if use.sequence == request.sequence { return true }
            if !use.sharing { return false }
        }
        return false
    }

    private mutating func start(_ request: Waiting) -> Step {
        let message: Message
        switch request.message {
        case .success(let decoded): message = decoded
        case .failure(let error):
            return finish(tag: request.tag, sequence: request.sequence, dialect: dialect ?? .plain, .failure(error), changes: [])
        }
        var entries: [Fid: ServerFid<FS>] = [:]
        for fid in request.fids { entries[fid] = fids[fid] }
        // Tclunk and Tremove end the fid whatever happens (clunk(5), remove(5)).
        var removed: ServerFid<FS>?
        switch message {
        case .tclunk(let m): removed = fids.removeValue(forKey: Fid(m.fid))
        case .tremove(let m): removed = fids.removeValue(forKey: Fid(m.fid))
        default: break
        }
        let primary = request.fids.first.flatMap { entries[$0] }
        let context = RequestContext(user: primary?.user)
        let call = ServerCall(
            tag: request.tag, sequence: request.sequence, message: message, entries: entries, removed: removed,
            context: context, dialect: dialect ?? .plain, msize: msize, duration: duration(of: message, primary))
        requests[request.tag]?.phase = .started
        requests[request.tag]?.context = context
        running += 1
        var step = Step()
        if call.duration == .immediate {
            step.calls.append(call)
        } else {
            scheduled.append(call)
            step.scheduled = 1
        }
        return step
    }

    private func duration(of message: Message, _ entry: ServerFid<FS>?) -> CallDuration {
        switch message {
        case .tread, .twrite, .treaddir:
            switch entry?.kind {
            case .auth(let file): file.ioDuration
            case .xattr: .immediate
            default: entry?.open?.ioDuration ?? .immediate
            }
        case .tfsync, .tlock, .tgetlock, .txattrcreate: .immediate
        default: fileSystem.callDuration
        }
    }

    /// The oldest scheduled call of a duration `mayStart` allows, for a pool thread.
    mutating func nextScheduled(_ mayStart: (CallDuration) -> Bool) -> ServerCall<FS>? {
        guard let index = scheduled.firstIndex(where: { mayStart($0.duration) }) else { return nil }
        return scheduled.remove(at: index)
    }

    // MARK: - Outcomes

    /// Takes the outcome of a call the driver ran: applies its fid changes, answers it
    /// (unless it was flushed and failed, or the session is aborting), answers the flushes
    /// waiting for it, and starts the requests that waited for its fids.
    mutating func complete(_ call: ServerCall<FS>, _ outcome: ServerCall<FS>.Outcome) -> Step {
        running -= 1
        return finish(tag: call.tag, sequence: call.sequence, dialect: call.dialect, outcome.reply, changes: outcome.changes)
    }

    private mutating func finish(
        tag: Tag, sequence: UInt64, dialect: Dialect, _ result: Result<Message, any Error>, changes: [ServerCall<FS>.FidChange]
    ) -> Step {
        var step = Step()
        dequeue(sequence: sequence)
        guard let request = requests[tag], request.sequence == sequence else {
            // Dropped by a Tversion or the connection's end: nothing it did stays.
            for change in changes { step.released += change.heldEntries }
            return step
        }
        if aborting {
            requests[tag] = nil
            for change in changes { step.released += change.heldEntries }
            return step
        }
        var result = result
        if request.flushed, case .failure = result {
            // flush(5): a flushed request that did not complete gets no reply.
            for change in changes { step.released += change.heldEntries }
        } else {
            for change in changes {
                if let error = apply(change, &step) {
                    result = .failure(error)
                }
            }
            reply(result, tag: tag, dialect: dialect)
        }
        retire(tag)
        step.append(startRunnable())
        return step
    }

    private mutating func dequeue(sequence: UInt64) {
        for (fid, queue) in fidQueues where queue.contains(where: { $0.sequence == sequence }) {
            let rest = queue.filter { $0.sequence != sequence }
            fidQueues[fid] = rest.isEmpty ? nil : rest
        }
    }

    /// Applies one change; returns the error that replaces the reply when it cannot be.
    private mutating func apply(_ change: ServerCall<FS>.FidChange, _ step: inout Step) -> NinePError? {
        switch change {
        case .store(let fid, let entry, let replacing):
            if let previous = fids[fid] {
                guard replacing else {
                    step.released.append(entry)
                    return NinePError(.badFileDescriptor, "fid \(fid) is already in use")
                }
                step.released.append(previous)
            } else if fids.count >= limits.maxFids {
                step.released.append(entry)
                return NinePError(.tooManyOpenFiles, "too many fids (at most \(limits.maxFids))")
            }
            fids[fid] = entry
        case .opened(let fid, let file, let access, let isDirectory, let removeOnClose):
            guard var entry = fids[fid], entry.open == nil else {
                file.close()
                return NinePError(.badFileDescriptor, "fid \(fid) went away")
            }
            entry.open = file
            entry.access = access
            entry.isDirectory = isDirectory
            entry.removeOnClose = removeOnClose
            fids[fid] = entry
        case .cursor(let fid, let cursor):
            fids[fid]?.cursor = cursor
        }
        return nil
    }

    /// Ends a tag's life and answers, in order, the flushes that waited for it.
    private mutating func retire(_ tag: Tag) {
        guard let request = requests.removeValue(forKey: tag) else { return }
        for flusher in request.flushers where requests[flusher]?.phase == .flush {
            reply(.success(.rflush(Rflush())), tag: flusher, dialect: dialect ?? .plain)
            retire(flusher)
        }
    }

    // MARK: - Tflush

    /// flush(5): a request not yet started is dropped and the flush answered at once; one
    /// that runs is cancelled, and the flush is answered when it ends (after its reply, if it
    /// completed anyway); a flush of a tag not in flight is answered at once. Several flushes
    /// of one tag are answered in the order they came.
    private mutating func flush(_ oldtag: Tag, tag: Tag, dialect: Dialect) -> Step {
        requests[tag] = InFlight(sequence: sequence, phase: .flush)
        var step = Step()
        guard oldtag != tag, var old = requests[oldtag], old.sequence < sequence else {
            reply(.success(.rflush(Rflush())), tag: tag, dialect: dialect)
            retire(tag)
            return step
        }
        switch old.phase {
        case .waiting:
            waiting.removeAll { $0.tag == oldtag && $0.sequence == old.sequence }
            dequeue(sequence: old.sequence)
            requests[oldtag] = nil
            reply(.success(.rflush(Rflush())), tag: tag, dialect: dialect)
            retire(tag)
            step.append(startRunnable())
        case .started:
            if let index = scheduled.firstIndex(where: { $0.tag == oldtag && $0.sequence == old.sequence }) {
                // Still waiting for a pool thread: it never runs.
                let dropped = scheduled.remove(at: index)
                if let removed = dropped.removed { step.released.append(removed) }
                running -= 1
                dequeue(sequence: old.sequence)
                old.flushers.append(tag)
                requests[oldtag] = old
                retire(oldtag)
                step.append(startRunnable())
            } else {
                old.flushed = true
                old.flushers.append(tag)
                requests[oldtag] = old
                if let context = old.context { step.cancelled.append(context) }
            }
        case .flush:
            old.flushers.append(tag)
            requests[oldtag] = old
        }
        return step
    }

    // MARK: - Tversion and the end

    /// version(5): a Tversion aborts every outstanding request and clunks every fid; it is
    /// answered once the calls still running have ended (``finishVersion()``).
    private mutating func beginVersion(_ frame: Frame) -> Step {
        let tag = Tag(frame.tag)
        guard case .tversion(let request)? = try? Message.decode(frame, dialect: .plain) else {
            reply(.failure(NinePError.malformed("malformed Tversion")), tag: tag, dialect: .plain)
            return Step()
        }
        guard request.msize >= limits.minMessageSize else {
            reply(.failure(NinePError(.protocolViolation, errno: .invalidArgument, "msize \(request.msize) is too small")), tag: tag, dialect: .plain)
            return Step()
        }
        var step = abortOutstanding()
        pendingVersion = (tag, request)
        step.versionPending = true
        return step
    }

    /// Answers a pending Tversion; call when ``running`` is 0.
    mutating func finishVersion() -> Step {
        guard let (tag, request) = pendingVersion, running == 0 else { return Step() }
        pendingVersion = nil
        var step = Step()
        step.released = Array(fids.values)
        fids = [:]
        requests = [:]
        fidQueues = [:]
        waiting = []
        aborting = false
        let agreed = Dialect(clientVersion: request.version)
        dialect = agreed
        msize = min(request.msize, limits.maxMessageSize)
        reply(.success(.rversion(Rversion(msize: msize, version: agreed?.versionString ?? "unknown"))), tag: tag, dialect: .plain)
        return step
    }

    /// The connection ended: every request is aborted. Call ``releaseAll()`` once
    /// ``running`` is 0.
    mutating func close() -> Step {
        closed = true
        return abortOutstanding()
    }

    /// Every fid, taken out of the table to be closed.
    mutating func releaseAll() -> [ServerFid<FS>] {
        defer { fids = [:] }
        return Array(fids.values)
    }

    private mutating func abortOutstanding() -> Step {
        var step = Step()
        aborting = true
        running -= scheduled.count
        for call in scheduled {
            requests[call.tag] = nil
            if let removed = call.removed { step.released.append(removed) }
        }
        scheduled = []
        waiting = []
        fidQueues = [:]
        // Calls that run stay registered until they report back; nothing else does.
        requests = requests.filter { $0.value.phase == .started }
        step.cancelled = requests.values.compactMap(\.context)
        return step
    }

    // MARK: - Replies

    /// Encodes a reply into the outbox, within msize: an error string is cut to fit, and any
    /// other reply that would not fit becomes an error (intro(5): no message may exceed msize).
    private mutating func reply(_ result: Result<Message, any Error>, tag: Tag, dialect: Dialect) {
        var bytes: [UInt8]
        switch result {
        case .success(let message):
            bytes = message.encode(tag: tag.rawValue, dialect: dialect)
            if bytes.count > Int(msize) {
                bytes = Self.errorReply(NinePError(.fileSystem, errno: .messageTooLong, "reply of \(bytes.count) bytes exceeds msize \(msize)"), tag: tag, dialect: dialect, msize: msize)
            }
        case .failure(let error):
            bytes = Self.errorReply(Self.mapError(error), tag: tag, dialect: dialect, msize: msize)
        }
        outbox += bytes
    }

    private static func errorReply(_ error: NinePError, tag: Tag, dialect: Dialect, msize: UInt32) -> [UInt8] {
        // Rlerror carries no text; Rerror's header is 4+1+2+2 bytes (+4 for .u's errno).
        let errno = UInt32(bitPattern: error.errno.rawValue)
        switch dialect {
        case .linux:
            return Message.rlerror(Rlerror(ecode: errno)).encode(tag: tag.rawValue, dialect: dialect)
        case .unix, .plain:
            let room = Int(msize) - 9 - (dialect == .unix ? 4 : 0)
            let text = truncated(error.message, toBytes: room)
            return Message.rerror(Rerror(ename: text, errno: dialect == .unix ? errno : nil)).encode(tag: tag.rawValue, dialect: dialect)
        }
    }

    /// `text` cut to at most `count` UTF-8 bytes, on a character boundary.
    static func truncated(_ text: String, toBytes count: Int) -> String {
        guard text.utf8.count > count else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > max(count, 0) { break }
            result.append(character)
            used += size
        }
        return result
    }

    /// The one error mapping of the engine: errno and message for every dialect.
    static func mapError(_ error: any Error) -> NinePError {
        switch error {
        case let error as NinePError: error
        case let errno as Errno: NinePError(errno)
        default: NinePError(.ioError, "\(error)")
        }
    }

    // MARK: - Fids a message touches

    /// The fids a request only looks at, never changes (nor the state of an open fid).
    static func fidsOnlyLookedAt(_ message: Message) -> [Fid] {
        switch message {
        case .tgetattr(let m): [Fid(m.fid)]
        case .tstat(let m): [Fid(m.fid)]
        case .treadlink(let m): [Fid(m.fid)]
        case .tstatfs(let m): [Fid(m.fid)]
        case .twalk(let m): m.fid == m.newfid ? [] : [Fid(m.fid)]
        case .txattrwalk(let m): m.fid == m.newfid ? [] : [Fid(m.fid)]
        case .tcreate(let m): linkTarget(m).map { [$0] } ?? []
        default: []
        }
    }

    static func fidsTouched(_ message: Message) -> [Fid] {
        let raw: [UInt32] =
            switch message {
            case .tauth(let m): [m.afid]
            case .tattach(let m): m.afid == Tattach.noFid || m.afid == m.fid ? [m.fid] : [m.fid, m.afid]
            case .twalk(let m): m.fid == m.newfid ? [m.fid] : [m.fid, m.newfid]
            case .topen(let m): [m.fid]
            case .tcreate(let m): [m.fid] + (linkTarget(m).map { $0.rawValue == m.fid ? [] : [$0.rawValue] } ?? [])
            case .tread(let m): [m.fid]
            case .twrite(let m): [m.fid]
            case .tclunk(let m): [m.fid]
            case .tremove(let m): [m.fid]
            case .tstat(let m): [m.fid]
            case .twstat(let m): [m.fid]
            case .tstatfs(let m): [m.fid]
            case .tlopen(let m): [m.fid]
            case .tlcreate(let m): [m.fid]
            case .tsymlink(let m): [m.fid]
            case .tmknod(let m): [m.dfid]
            case .trename(let m): m.fid == m.dfid ? [m.fid] : [m.fid, m.dfid]
            case .treadlink(let m): [m.fid]
            case .tgetattr(let m): [m.fid]
            case .tsetattr(let m): [m.fid]
            case .txattrwalk(let m): m.fid == m.newfid ? [m.fid] : [m.fid, m.newfid]
            case .txattrcreate(let m): [m.fid]
            case .treaddir(let m): [m.fid]
            case .tfsync(let m): [m.fid]
            case .tlock(let m): [m.fid]
            case .tgetlock(let m): [m.fid]
            case .tlink(let m): m.fid == m.dfid ? [m.fid] : [m.dfid, m.fid]
            case .tmkdir(let m): [m.dfid]
            case .trenameat(let m): m.oldDirFid == m.newDirFid ? [m.oldDirFid] : [m.oldDirFid, m.newDirFid]
            case .tunlinkat(let m): [m.dirFid]
            default: []
            }
        return raw.map { Fid($0) }
    }

    /// The fid a 9P2000.u hard-link Tcreate (DMLINK) names in its extension.
    static func linkTarget(_ create: Tcreate) -> Fid? {
        guard create.perm & DirMode.link != 0, let number = UInt32(create.ext.trimmingCharacters(in: " ")) else { return nil }
        return Fid(number)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var text = Substring(self)
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return text
    }
}
