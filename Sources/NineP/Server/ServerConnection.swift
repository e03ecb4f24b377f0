import Logging
import Synchronization
import SystemPackage

/// The limits a server connection works within.
public struct ServerConfiguration: Sendable {
    /// The largest msize the server accepts; a client asking for more gets this.
    public var maxMessageSize: UInt32 = 512 * 1024 + 24
    /// The smallest msize the server agrees to; below it Tversion fails.
    public var minMessageSize: UInt32 = 256
    /// Fids one connection may hold at once.
    public var maxFids = 8192
    /// Threads one connection may use to serve requests concurrently.
    public var maxThreads = 32
    public var logger = Logger(label: "ninep.server")

    public init() {}
}

/// Serves one 9P connection: version negotiation, the fid and tag tables, concurrent
/// requests and Tflush, over any ``ByteStream``.
///
/// Threads follow the leader/follower pattern: one thread at a time reads and decodes the
/// next request, hands the reading role to the next idle thread and serves the request
/// itself, so a quick request costs no hand-off and a blocking one does not stall the
/// others. Requests that touch the same fid run in the order they arrived (a client may
/// pipeline walk, open, read and clunk of one new fid); others run concurrently.
public final class ServerConnection<FS: FileSystem>: Sendable {
    private let fileSystem: FS
    private let stream: any ByteStream
    private let configuration: ServerConfiguration
    private let onClose: @Sendable () -> Void
    private let reader: ConditionLock<ReaderState>
    private let shared: ConditionLock<SharedState>
    private let writer = Mutex<Void>(())
    /// Idle threads a connection keeps waiting for requests before one retires.
    private let idleThreadsKept: Int

    /// Serves `stream` on threads of its own until it closes.
    /// - Parameters:
    ///   - onClose: called once, after every fid was released.
    /// - Throws: ``NinePError`` when no thread could be started.
    @discardableResult
    public static func serve(
        _ fileSystem: FS, over stream: any ByteStream, configuration: ServerConfiguration = .init(),
        onClose: @escaping @Sendable () -> Void = {}
    ) throws(NinePError) -> ServerConnection {
        let connection = ServerConnection(fileSystem, stream, configuration, onClose)
        connection.shared.withLock { $0.threads = 1 }
        do {
            try startThread(name: "9p-serve") { connection.workerLoop() }
        } catch {
            stream.close()
            throw error
        }
        return connection
    }

    private init(_ fileSystem: FS, _ stream: any ByteStream, _ configuration: ServerConfiguration, _ onClose: @escaping @Sendable () -> Void) {
        self.fileSystem = fileSystem
        self.stream = stream
        self.configuration = configuration
        self.onClose = onClose
        self.idleThreadsKept = configuration.maxThreads
        self.reader = ConditionLock(ReaderState(decoder: FrameDecoder(maxSize: configuration.maxMessageSize)))
        self.shared = ConditionLock(SharedState(msize: configuration.maxMessageSize))
    }

    /// Closes the connection; in-flight requests are cancelled and every fid released.
    public func close() {
        stream.close()
    }

    /// The fids the connection holds now (at most ``ServerConfiguration/maxFids``), for
    /// monitoring and tests.
    public var fidCount: Int { shared.withLock { $0.fids.count } }

    /// Blocks until the connection has closed and released everything.
    public func waitUntilClosed(deadline: ContinuousClock.Instant? = nil) -> Bool {
        shared.wait(until: { $0.finished }, deadline: deadline) { _ in true } ?? false
    }

    // MARK: - State

    private struct ReaderState {
        var decoder: FrameDecoder
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var sequence: UInt64 = 0
        var ended = false
    }

    /// A node the file system handed out (by attach, walk or create), released exactly once,
    /// when the last fid standing for it goes: a clone walk (Twalk with no names) makes two
    /// fids stand for one node, and a file system whose nodes own something (a remote fid)
    /// must not see that node released twice.
    private final class HeldNode: Sendable {
        let node: FS.Node
        private let fileSystem: FS

        init(_ node: FS.Node, _ fileSystem: FS) {
            self.node = node
            self.fileSystem = fileSystem
        }

        deinit {
            fileSystem.release(node)
        }
    }

    private enum FidKind {
        case node(HeldNode)
        case auth(any AuthenticationFile)
    }

    private struct FidEntry {
        var kind: FidKind
        var user: AttachRequest?
        var name: String
        var open: (any OpenFile)?
        var isDirectory = false
        var removeOnClose = false
        var cursor = DirectoryCursor()
    }

    private struct DirectoryCursor {
        var items: [DirectoryItem] = []
        var index = 0
        var byteOffset: UInt64 = 0
    }

    private struct InFlight {
        var sequence: UInt64
        var context: RequestContext
        var flushed = false
        var replying = false
    }

    /// A request waiting for, or using, a fid. Requests that only look at a fid (Tgetattr,
    /// the source of a Twalk to another fid) share it; the others have it to themselves.
    private struct FidUse {
        var sequence: UInt64
        var sharing: Bool
    }

    private struct SharedState {
        var dialect: Dialect?
        var msize: UInt32
        var fids: [UInt32: FidEntry] = [:]
        var inFlight: [UInt16: InFlight] = [:]
        var fidQueues: [UInt32: [FidUse]] = [:]
        var threads = 0
        var idle = 0
        var closed = false
        var finished = false
    }

    private struct Request {
        var tag: UInt16
        var sequence: UInt64
        var message: Result<Message, NinePError>
        var fids: [UInt32]
        /// The fids among `fids` this request only looks at.
        var sharedFids: [UInt32]
        var context: RequestContext
        var dialect: Dialect
        var msize: UInt32
    }

    // MARK: - Threads

    private func workerLoop() {
        while true {
            shared.withLock { $0.idle += 1 }
            let next: Request? = reader.withLock { state in
                shared.withLock { $0.idle -= 1 }
                return readRequest(&state)
            }
            guard let request = next else {
                let last = shared.withLock(notify: true) { state -> Bool in
                    state.threads -= 1
                    return state.threads == 0
                }
                if last { finish() }
                return
            }
            let spawn = shared.withLock { state -> Bool in
                guard state.idle == 0, state.threads < configuration.maxThreads, !state.closed else { return false }
                state.threads += 1
                return true
            }
            if spawn {
                do {
                    try startThread(name: "9p-serve") { self.workerLoop() }
                } catch {
                    shared.withLock { $0.threads -= 1 }
                    configuration.logger.warning("9P server: \(error)")
                }
            }
            handle(request)
            // A connection keeps the threads it grew (at most maxThreads, idle ones asleep on
            // the reader lock) until it closes, except beyond idleThreadsKept: retiring at the
            // second idle thread made a busy connection start a thread for every other
            // request, and any lower bound still churned under 32 requests in flight.
            let surplus = shared.withLock { state -> Bool in
                guard state.idle > idleThreadsKept else { return false }
                state.threads -= 1
                return true
            }
            if surplus { return }
        }
    }

    /// Reads and registers the next request; handles Tversion in place, since it resets
    /// the session. Returns nil when the connection has ended.
    private func readRequest(_ state: inout ReaderState) -> Request? {
        while !state.ended {
            let frame: Frame
            do {
                guard let next = try nextFrame(&state) else {
                    state.ended = true
                    break
                }
                frame = next
            } catch {
                configuration.logger.debug("9P server: closing connection: \(error)")
                state.ended = true
                break
            }
            state.sequence += 1
            let (dialect, msize) = shared.withLock { ($0.dialect, $0.msize) }
            if frame.type == Tversion.type {
                negotiateVersion(frame, &state)
                continue
            }
            guard let dialect else {
                send(.rerror(Rerror(ename: "version not negotiated", errno: nil)), tag: frame.tag, dialect: .plain)
                continue
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
            let fids = (try? message.get()).map(Self.fidsTouched) ?? []
            let sharedFids = (try? message.get()).map(Self.fidsOnlyLookedAt) ?? []
            let sequence = state.sequence
            // A client may reuse a tag as soon as its reply arrives, which can be before the
            // replying thread has retired it: wait for that rather than call it a reuse.
            shared.wait(until: { $0.inFlight[frame.tag]?.replying != true }) { _ in }
            let registered = shared.withLock { shared -> RequestContext? in
                guard shared.inFlight[frame.tag] == nil else { return nil }
                let context = RequestContext(user: nil)
                shared.inFlight[frame.tag] = InFlight(sequence: sequence, context: context)
                for fid in fids {
                    shared.fidQueues[fid, default: []].append(FidUse(sequence: sequence, sharing: sharedFids.contains(fid)))
                }
                return context
            }
            guard let context = registered else {
                configuration.logger.debug("9P server: tag \(frame.tag) reused while in flight")
                send(error: NinePError.violation("tag \(frame.tag) is already in flight"), tag: frame.tag, dialect: dialect)
                continue
            }
            return Request(
                tag: frame.tag, sequence: sequence, message: message, fids: fids, sharedFids: sharedFids, context: context,
                dialect: dialect, msize: msize)
        }
        shared.withLock { $0.closed = true }
        stream.close()
        cancelAll()
        return nil
    }

    private func nextFrame(_ state: inout ReaderState) throws -> Frame? {
        while true {
            if let frame = try state.decoder.nextFrame() { return frame }
            let count = try state.buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            if count == 0 { return nil }
            state.buffer.withUnsafeBytes { state.decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    private func negotiateVersion(_ frame: Frame, _ state: inout ReaderState) {
        let decoded = try? Message.decode(frame, dialect: .plain)
        guard case .tversion(let request) = decoded else {
            send(.rerror(Rerror(ename: "malformed Tversion", errno: nil)), tag: frame.tag, dialect: .plain)
            return
        }
        guard request.msize >= configuration.minMessageSize else {
            send(.rerror(Rerror(ename: "msize \(request.msize) is too small", errno: nil)), tag: frame.tag, dialect: .plain)
            return
        }
        // A Tversion in mid-session aborts everything outstanding and clunks every fid.
        cancelAll()
        shared.wait(until: { $0.inFlight.isEmpty }) { _ in }
        releaseAllFids()
        let dialect = Dialect(clientVersion: request.version)
        let msize = min(request.msize, configuration.maxMessageSize)
        shared.withLock { state in
            state.dialect = dialect
            state.msize = msize
        }
        state.decoder.maxSize = msize
        send(.rversion(Rversion(msize: msize, version: dialect?.versionString ?? "unknown")), tag: frame.tag, dialect: .plain)
    }

    private func cancelAll() {
        let contexts = shared.withLock(notify: true) { state in
            state.inFlight.keys.compactMap { tag -> RequestContext? in
                state.inFlight[tag]?.flushed = true
                return state.inFlight[tag]?.context
            }
        }
        for context in contexts { context.cancel() }
        shared.notifyAll()
    }

    private func releaseAllFids() {
        let entries = shared.withLock { state -> [FidEntry] in
            defer { state.fids = [:] }
            return Array(state.fids.values)
        }
        for entry in entries { release(entry) }
    }

    private func release(_ entry: FidEntry) {
        if let open = entry.open {
            open.close()
        }
        switch entry.kind {
        case .node(let held):
            // The node itself is released when its last fid is gone (see HeldNode).
            if entry.removeOnClose {
                try? fileSystem.remove(held.node, context: RequestContext(user: entry.user))
            }
        case .auth(let file):
            file.close()
        }
    }

    private func finish() {
        shared.wait(until: { $0.inFlight.isEmpty }) { _ in }
        releaseAllFids()
        shared.withLock(notify: true) { $0.finished = true }
        onClose()
    }

    // MARK: - Replies

    private func send(_ message: Message, tag: UInt16, dialect: Dialect) {
        let bytes = message.encode(tag: tag, dialect: dialect)
        let failed = writer.withLock { _ -> Bool in
            do {
                try bytes.withUnsafeBytes { try stream.write($0) }
                return false
            } catch {
                return true
            }
        }
        if failed { stream.close() }
    }

    private func send(error: any Error, tag: UInt16, dialect: Dialect) {
        let mapped = Self.mapError(error)
        switch dialect {
        case .linux: send(.rlerror(Rlerror(ecode: UInt32(bitPattern: mapped.errno.rawValue))), tag: tag, dialect: dialect)
        case .unix: send(.rerror(Rerror(ename: mapped.message, errno: UInt32(bitPattern: mapped.errno.rawValue))), tag: tag, dialect: dialect)
        case .plain: send(.rerror(Rerror(ename: mapped.message)), tag: tag, dialect: dialect)
        }
    }

    /// The one error mapping of the engine: errno and message for every dialect.
    static func mapError(_ error: any Error) -> NinePError {
        switch error {
        case let error as NinePError: error
        case let errno as Errno: NinePError(errno)
        default: NinePError(.ioError, "\(error)")
        }
    }

    // MARK: - Serving one request

    private func handle(_ request: Request) {
        let ready = shared.wait(until: { state in
            request.context.isCancelled || request.fids.allSatisfy { Self.mayRun(request, on: $0, state) }
        }) { _ in !request.context.isCancelled } ?? false

        var reply: Result<Message, any Error>
        if ready {
            do {
                reply = .success(try execute(request))
            } catch {
                reply = .failure(error)
            }
        } else {
            reply = .failure(NinePError(.cancelled, errno: .interrupted, "flushed"))
        }

        let shouldReply = shared.withLock(notify: true) { state -> Bool in
            for fid in request.fids {
                state.fidQueues[fid]?.removeAll { $0.sequence == request.sequence }
                if state.fidQueues[fid]?.isEmpty == true { state.fidQueues[fid] = nil }
            }
            guard var flight = state.inFlight[request.tag], flight.sequence == request.sequence else { return false }
            if flight.flushed {
                state.inFlight[request.tag] = nil
                return false
            }
            flight.replying = true
            state.inFlight[request.tag] = flight
            return true
        }
        if shouldReply {
            switch reply {
            case .success(let message): send(message, tag: request.tag, dialect: request.dialect)
            case .failure(let error): send(error: error, tag: request.tag, dialect: request.dialect)
            }
            shared.withLock(notify: true) { state in
                if state.inFlight[request.tag]?.sequence == request.sequence { state.inFlight[request.tag] = nil }
            }
        }
    }

    /// Whether `request` may use `fid` now: it is first in the fid's queue, or it only looks at
    /// the fid and so does every request before it. Pipelined requests that change a fid
    /// (walk to it, open, clunk) thus run in order, while many Tgetattr or walks from one root
    /// fid run at once instead of one after another.
    private static func mayRun(_ request: Request, on fid: UInt32, _ state: SharedState) -> Bool {
        guard let queue = state.fidQueues[fid], let first = queue.first else { return true }
        if first.sequence == request.sequence { return true }
        guard request.sharedFids.contains(fid) else { return false }
        for use in queue {
            if use.sequence == request.sequence { return true }
            if !use.sharing { return false }
        }
        return false
    }

    /// The fids a request only looks at, never changes (nor the state of an open fid).
    private static func fidsOnlyLookedAt(_ message: Message) -> [UInt32] {
        switch message {
        case .tgetattr(let m): [m.fid]
        case .tstat(let m): [m.fid]
        case .treadlink(let m): [m.fid]
        case .tstatfs(let m): [m.fid]
        case .twalk(let m): m.fid == m.newfid ? [] : [m.fid]
        case .txattrwalk(let m): m.fid == m.newfid ? [] : [m.fid]
        default: []
        }
    }

    private static func fidsTouched(_ message: Message) -> [UInt32] {
        switch message {
        case .tauth(let m): [m.afid]
        case .tattach(let m): m.afid == Tattach.noFid || m.afid == m.fid ? [m.fid] : [m.fid, m.afid]
        case .twalk(let m): m.fid == m.newfid ? [m.fid] : [m.fid, m.newfid]
        case .topen(let m): [m.fid]
        case .tcreate(let m): [m.fid]
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
    }

    private func entry(_ fid: UInt32) throws -> FidEntry {
        guard let entry = shared.withLock({ $0.fids[fid] }) else {
            throw NinePError(.badFileDescriptor, "unknown fid \(fid)")
        }
        return entry
    }

    private func node(_ fid: UInt32) throws -> (FS.Node, FidEntry) {
        let entry = try entry(fid)
        guard case .node(let held) = entry.kind else {
            throw NinePError(.badFileDescriptor, "fid \(fid) is an authentication fid")
        }
        return (held.node, entry)
    }

    private func openFile(_ fid: UInt32) throws -> (any OpenFile, FidEntry) {
        let entry = try entry(fid)
        if case .auth(let file) = entry.kind { return (file, entry) }
        guard let open = entry.open else { throw NinePError(.badFileDescriptor, "fid \(fid) is not open") }
        return (open, entry)
    }

    private func store(_ entry: FidEntry, as fid: UInt32, replacing: Bool = false) throws {
        let previous = try shared.withLock { state -> FidEntry? in
            let previous = state.fids[fid]
            if previous != nil && !replacing { throw NinePError(.badFileDescriptor, "fid \(fid) is already in use") }
            if previous == nil && state.fids.count >= configuration.maxFids {
                throw NinePError(.tooManyOpenFiles, "too many fids (at most \(configuration.maxFids))")
            }
            state.fids[fid] = entry
            return previous
        }
        if let previous { release(previous) }
    }

    private func update(_ fid: UInt32, _ body: (inout FidEntry) -> Void) {
        shared.withLock { state in
            if var entry = state.fids[fid] {
                body(&entry)
                state.fids[fid] = entry
            }
        }
    }

    private func removeFid(_ fid: UInt32) throws -> FidEntry {
        guard let entry = shared.withLock({ $0.fids.removeValue(forKey: fid) }) else {
            throw NinePError(.badFileDescriptor, "unknown fid \(fid)")
        }
        return entry
    }

    private static func validate(name: String) throws {
        guard !name.isEmpty, name != ".", !name.utf8.contains(0x2F), !name.utf8.contains(0) else {
            throw NinePError(.noSuchFileOrDirectory, "invalid file name \"\(name.debugDescription.dropFirst().dropLast())\"")
        }
        guard name.utf8.count <= 255 else { throw NinePError(.fileNameTooLong) }
    }

    private func context(_ request: Request, _ entry: FidEntry?) -> RequestContext {
        // The registered context carries cancellation; the user comes from the fid.
        let context = RequestContext(user: entry?.user)
        request.context.onCancel { context.cancel() }
        return context
    }

    private func execute(_ request: Request) throws -> Message {
        let message = try request.message.get()
        switch message {
        case .tauth(let m):
            let attach = AttachRequest(uname: m.uname, aname: m.aname, numericUser: m.nUname == Tattach.noUname ? nil : m.nUname)
            let file = try fileSystem.authenticate(attach, context: context(request, nil))
            try store(FidEntry(kind: .auth(file), user: attach, name: ""), as: m.afid)
            return .rauth(Rauth(aqid: Qid(type: .auth, path: UInt64(m.afid))))

        case .tattach(let m):
            let attach = AttachRequest(uname: m.uname, aname: m.aname, numericUser: m.nUname == Tattach.noUname ? nil : m.nUname)
            if m.afid == Tattach.noFid {
                guard fileSystem.allowsUnauthenticatedAttach else {
                    throw NinePError(.permissionDenied, "authentication required")
                }
            } else {
                let auth = try entry(m.afid)
                guard case .auth(let file) = auth.kind, file.isAuthenticated else {
                    throw NinePError(.permissionDenied, "fid \(m.afid) is not an authenticated fid")
                }
                guard file.user == m.uname else { throw NinePError(.permissionDenied, "authenticated as \(file.user), not \(m.uname)") }
            }
            let root = HeldNode(try fileSystem.attach(attach, context: context(request, nil)), fileSystem)
            try store(FidEntry(kind: .node(root), user: attach, name: "/"), as: m.fid)
            return .rattach(Rattach(qid: fileSystem.qid(of: root.node)))

        case .twalk(let m):
            guard m.wnames.count <= Twalk.maxNames else {
                throw NinePError(.invalidArgument, "walk of \(m.wnames.count) names (at most \(Twalk.maxNames))")
            }
            let (start, entry) = try node(m.fid)
            guard case .node(let startHeld) = entry.kind else { throw NinePError(.badFileDescriptor) }
            if m.newfid == m.fid && entry.open != nil { throw NinePError(.badFileDescriptor, "cannot walk open fid \(m.fid) in place") }
            if m.newfid != m.fid, shared.withLock({ $0.fids[m.newfid] != nil }) {
                throw NinePError(.badFileDescriptor, "fid \(m.newfid) is already in use")
            }
            for name in m.wnames { try Self.validate(name: name) }
            let nodes = m.wnames.isEmpty ? [] : try fileSystem.walk(from: start, names: m.wnames, context: context(request, entry))
            let qids = nodes.map { fileSystem.qid(of: $0) }
            if nodes.count < m.wnames.count {
                for node in nodes { fileSystem.release(node) }
                return .rwalk(Rwalk(qids: qids))
            }
            for node in nodes.dropLast() { fileSystem.release(node) }
            // A clone shares the node; a walk holds the node it reached (released if the
            // store fails).
            let target = nodes.last.map { HeldNode($0, fileSystem) } ?? startHeld
            let walked = FidEntry(kind: .node(target), user: entry.user, name: m.wnames.last ?? entry.name)
            try store(walked, as: m.newfid, replacing: m.newfid == m.fid)
            return .rwalk(Rwalk(qids: qids))

        case .topen(let m):
            var flags: UInt32 =
                switch m.mode & 3 {
                case OpenMode.write: LinuxOpenFlags.writeOnly
                case OpenMode.readWrite: LinuxOpenFlags.readWrite
                default: LinuxOpenFlags.readOnly
                }
            if m.mode & OpenMode.truncate != 0 { flags |= LinuxOpenFlags.truncate }
            let (qid, iounit) = try open(m.fid, flags: flags, request: request)
            if m.mode & OpenMode.removeOnClose != 0 { update(m.fid) { $0.removeOnClose = true } }
            return .ropen(Ropen(qid: qid, iounit: iounit))

        case .tlopen(let m):
            let (qid, iounit) = try open(m.fid, flags: m.flags, request: request)
            return .rlopen(Rlopen(qid: qid, iounit: iounit))

        case .tread(let m):
            let (file, entry) = try openFile(m.fid)
            let count = Int(min(m.count, request.msize - 11))
            if entry.isDirectory {
                guard request.dialect != .linux else { throw NinePError(.isDirectory, "use Treaddir to read a directory") }
                return .rread(Rread(data: try readDirectoryStats(m.fid, entry, file, offset: m.offset, count: count, request)))
            }
            var data = try file.read(offset: m.offset, count: count, context: context(request, entry))
            if data.count > count { data.removeLast(data.count - count) }
            return .rread(Rread(data: data))

        case .twrite(let m):
            let (file, entry) = try openFile(m.fid)
            let written = try file.write(offset: m.offset, data: m.data, context: context(request, entry))
            return .rwrite(Rwrite(count: UInt32(clamping: written)))

        case .treaddir(let m):
            let (file, entry) = try openFile(m.fid)
            guard entry.isDirectory else { throw NinePError(.notDirectory) }
            let count = Int(min(m.count, request.msize - 11))
            var cursor = entry.cursor
            if m.offset == 0 {
                cursor = DirectoryCursor(items: try file.readDirectory(context: context(request, entry)))
            }
            var writer = WireWriter(reservingCapacity: count)
            var index = Int(clamping: m.offset)
            while index < cursor.items.count {
                let item = cursor.items[index]
                let dirent = DirectoryEntry(qid: item.qid, offset: UInt64(index + 1), type: item.type, name: item.name)
                guard writer.bytes.count + dirent.encodedSize <= count else { break }
                dirent.write(to: &writer)
                index += 1
            }
            update(m.fid) { $0.cursor = cursor }
            return .rreaddir(Rreaddir(data: writer.bytes))

        case .tclunk(let m):
            release(try removeFid(m.fid))
            return .rclunk(Rclunk())

        case .tremove(let m):
            let entry = try removeFid(m.fid)
            defer { release(entry) }
            guard case .node(let held) = entry.kind else { throw NinePError(.badFileDescriptor) }
            try fileSystem.remove(held.node, context: context(request, entry))
            return .rremove(Rremove())

        case .tstat(let m):
            let (node, entry) = try node(m.fid)
            return .rstat(Rstat(stat: try stat(of: node, name: entry.name, request: request, entry: entry)))

        case .twstat(let m):
            let (node, entry) = try node(m.fid)
            try fileSystem.writeStat(of: node, m.stat, context: context(request, entry))
            return .rwstat(Rwstat())

        case .tgetattr(let m):
            let (node, entry) = try node(m.fid)
            let attributes = try fileSystem.attributes(of: node, context: context(request, entry))
            let qid = fileSystem.qid(of: node)
            return .rgetattr(
                Rgetattr(
                    valid: GetattrMask.basic.rawValue & m.requestMask | GetattrMask.basic.rawValue, qid: qid,
                    mode: attributes.mode, uid: attributes.uid, gid: attributes.gid, nlink: attributes.nlink,
                    rdev: attributes.rdev, size: attributes.size, blksize: attributes.blockSize,
                    blocks: attributes.blocks, atimeSec: attributes.atime.seconds,
                    atimeNsec: attributes.atime.nanoseconds, mtimeSec: attributes.mtime.seconds,
                    mtimeNsec: attributes.mtime.nanoseconds, ctimeSec: attributes.ctime.seconds,
                    ctimeNsec: attributes.ctime.nanoseconds, btimeSec: 0, btimeNsec: 0, gen: 0, dataVersion: 0))

        case .tsetattr(let m):
            let (node, entry) = try node(m.fid)
            try fileSystem.setAttributes(of: node, m, context: context(request, entry))
            return .rsetattr(Rsetattr())

        case .tstatfs(let m):
            let (node, entry) = try node(m.fid)
            return .rstatfs(try fileSystem.statistics(of: node, context: context(request, entry)))

        case .treadlink(let m):
            let (node, entry) = try node(m.fid)
            return .rreadlink(Rreadlink(target: try fileSystem.readlink(node, context: context(request, entry))))

        case .txattrwalk(let m):
            _ = try node(m.fid)
            throw NinePError(.noData, "no extended attribute \(m.name)")

        case .txattrcreate(let m):
            _ = try node(m.fid)
            throw NinePError(.notSupported, "extended attributes are not supported")

        case .tfsync(let m):
            _ = try entry(m.fid)
            return .rfsync(Rfsync())

        case .tlock(let m):
            // Record locks are granted without being enforced across clients: enough for a
            // read-only tree, and what a single-client export needs.
            _ = try entry(m.fid)
            return .rlock(Rlock(status: 0))

        case .tgetlock(let m):
            _ = try entry(m.fid)
            return .rgetlock(Rgetlock(type: 2, start: m.start, length: m.length, procId: m.procId, clientId: m.clientId))

        case .tlcreate(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.fid)
            guard entry.open == nil else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is open") }
            let (created, file) = try fileSystem.create(in: directory, name: m.name, flags: m.flags, mode: m.mode, gid: m.gid, context: context(request, entry))
            try store(FidEntry(kind: .node(HeldNode(created, fileSystem)), user: entry.user, name: m.name, open: file), as: m.fid, replacing: true)
            return .rlcreate(Rlcreate(qid: fileSystem.qid(of: created), iounit: file.iounit))

        case .tcreate(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.fid)
            let context = context(request, entry)
            if m.perm & DirMode.directory != 0 {
                _ = try fileSystem.makeDirectory(in: directory, name: m.name, mode: m.perm & 0o777, gid: ~0, context: context)
            } else if m.perm & DirMode.symlink != 0 {
                _ = try fileSystem.makeSymlink(in: directory, name: m.name, target: m.ext, gid: ~0, context: context)
            }
            if m.perm & (DirMode.directory | DirMode.symlink) != 0 {
                let created = HeldNode(try fileSystem.walk(from: directory, name: m.name, context: context), fileSystem)
                let file = try fileSystem.open(created.node, flags: LinuxOpenFlags.readOnly, context: context)
                try store(FidEntry(kind: .node(created), user: entry.user, name: m.name, open: file, isDirectory: m.perm & DirMode.directory != 0), as: m.fid, replacing: true)
                return .rcreate(Rcreate(qid: fileSystem.qid(of: created.node), iounit: file.iounit))
            }
            let flags = UInt32(m.mode & 3) | LinuxOpenFlags.create | (m.mode & OpenMode.truncate != 0 ? LinuxOpenFlags.truncate : 0)
            let (created, file) = try fileSystem.create(in: directory, name: m.name, flags: flags, mode: m.perm & 0o777 | LinuxMode.regular, gid: ~0, context: context)
            try store(FidEntry(kind: .node(HeldNode(created, fileSystem)), user: entry.user, name: m.name, open: file), as: m.fid, replacing: true)
            return .rcreate(Rcreate(qid: fileSystem.qid(of: created), iounit: file.iounit))

        case .tsymlink(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.fid)
            return .rsymlink(Rsymlink(qid: try fileSystem.makeSymlink(in: directory, name: m.name, target: m.target, gid: m.gid, context: context(request, entry))))

        case .tmknod(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.dfid)
            return .rmknod(Rmknod(qid: try fileSystem.makeNode(in: directory, name: m.name, mode: m.mode, major: m.major, minor: m.minor, gid: m.gid, context: context(request, entry))))

        case .tmkdir(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.dfid)
            return .rmkdir(Rmkdir(qid: try fileSystem.makeDirectory(in: directory, name: m.name, mode: m.mode, gid: m.gid, context: context(request, entry))))

        case .trename(let m):
            try Self.validate(name: m.name)
            let (file, entry) = try node(m.fid)
            let (directory, _) = try node(m.dfid)
            try fileSystem.rename(file, into: directory, name: m.name, context: context(request, entry))
            return .rrename(Rrename())

        case .trenameat(let m):
            try Self.validate(name: m.oldname)
            try Self.validate(name: m.newname)
            let (old, entry) = try node(m.oldDirFid)
            let (new, _) = try node(m.newDirFid)
            try fileSystem.rename(from: old, oldName: m.oldname, to: new, newName: m.newname, context: context(request, entry))
            return .rrenameat(Rrenameat())

        case .tunlinkat(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.dirFid)
            try fileSystem.unlink(in: directory, name: m.name, flags: m.flags, context: context(request, entry))
            return .runlinkat(Runlinkat())

        case .tlink(let m):
            try Self.validate(name: m.name)
            let (directory, entry) = try node(m.dfid)
            let (file, _) = try node(m.fid)
            try fileSystem.link(file, into: directory, name: m.name, context: context(request, entry))
            return .rlink(Rlink())

        case .tflush(let m):
            let target = shared.withLock(notify: true) { state -> (UInt64, RequestContext)? in
                guard m.oldtag != request.tag, var flight = state.inFlight[m.oldtag], flight.sequence < request.sequence else { return nil }
                flight.flushed = true
                state.inFlight[m.oldtag] = flight
                return (flight.sequence, flight.context)
            }
            if let (sequence, flushed) = target {
                flushed.cancel()
                shared.notifyAll()
                shared.wait(until: { $0.inFlight[m.oldtag]?.sequence != sequence }) { _ in }
            }
            return .rflush(Rflush())

        default:
            let name = Message.name(ofType: message.type) ?? "\(message.type)"
            throw NinePError(.unknownMessageType, errno: .notSupported, "unexpected \(name)")
        }
    }

    private func open(_ fid: UInt32, flags: UInt32, request: Request) throws -> (Qid, UInt32) {
        let (node, entry) = try node(fid)
        guard entry.open == nil else { throw NinePError(.badFileDescriptor, "fid \(fid) is already open") }
        let file = try fileSystem.open(node, flags: flags, context: context(request, entry))
        let qid = fileSystem.qid(of: node)
        var opened = false
        shared.withLock { state in
            guard var current = state.fids[fid], current.open == nil else { return }
            current.open = file
            current.isDirectory = qid.type.contains(.directory)
            state.fids[fid] = current
            opened = true
        }
        guard opened else {
            file.close()
            throw NinePError(.badFileDescriptor, "fid \(fid) went away")
        }
        return (qid, file.iounit)
    }

    private func stat(of node: FS.Node, name: String, request: Request, entry: FidEntry) throws -> Stat {
        let context = context(request, entry)
        let attributes = try fileSystem.attributes(of: node, context: context)
        var mode = attributes.mode & 0o777
        var ext = ""
        switch attributes.mode & LinuxMode.typeMask {
        case LinuxMode.directory: mode |= DirMode.directory
        case LinuxMode.symlink:
            mode |= DirMode.symlink
            if request.dialect == .unix { ext = (try? fileSystem.readlink(node, context: context)) ?? "" }
        case LinuxMode.socket: mode |= DirMode.socket
        case LinuxMode.fifo: mode |= DirMode.namedPipe
        case LinuxMode.blockDevice, LinuxMode.characterDevice:
            mode |= DirMode.device
            let kind = attributes.mode & LinuxMode.typeMask == LinuxMode.blockDevice ? "b" : "c"
            ext = "\(kind) \((attributes.rdev >> 8) & 0xfff) \(attributes.rdev & 0xff | (attributes.rdev >> 12) & 0xfff00)"
        default: break
        }
        if attributes.mode & 0o4000 != 0 { mode |= DirMode.setuid }
        if attributes.mode & 0o2000 != 0 { mode |= DirMode.setgid }
        return Stat(
            qid: fileSystem.qid(of: node), mode: mode, atime: UInt32(truncatingIfNeeded: attributes.atime.seconds),
            mtime: UInt32(truncatingIfNeeded: attributes.mtime.seconds),
            length: attributes.isDirectory ? 0 : attributes.size, name: name,
            uid: attributes.userName ?? "\(attributes.uid)", gid: attributes.groupName ?? "\(attributes.gid)",
            muid: "", extension: ext, nUid: attributes.uid, nGid: attributes.gid, nMuid: ~0)
    }

    /// 9P2000 and .u read a directory as packed stat records; an offset must be 0 or where the
    /// previous read ended.
    private func readDirectoryStats(_ fid: UInt32, _ entry: FidEntry, _ file: any OpenFile, offset: UInt64, count: Int, _ request: Request) throws -> [UInt8] {
        guard case .node(let held) = entry.kind else { throw NinePError(.badFileDescriptor) }
        let directory = held.node
        var cursor = entry.cursor
        if offset == 0 {
            cursor = DirectoryCursor(items: try file.readDirectory(context: context(request, entry)))
        } else if offset != cursor.byteOffset {
            throw NinePError(.invalidArgument, "directory read at offset \(offset), expected \(cursor.byteOffset)")
        }
        var writer = WireWriter(reservingCapacity: count)
        let context = context(request, entry)
        while cursor.index < cursor.items.count {
            let item = cursor.items[cursor.index]
            guard let child = try? fileSystem.walk(from: directory, name: item.name, context: context) else {
                cursor.index += 1
                continue
            }
            defer { fileSystem.release(child) }
            guard let stat = try? stat(of: child, name: item.name, request: request, entry: entry) else {
                cursor.index += 1
                continue
            }
            var one = WireWriter()
            one.writeStat(stat, dialect: request.dialect)
            guard writer.bytes.count + one.bytes.count <= count else {
                if writer.bytes.isEmpty { throw NinePError(.invalidArgument, "read count \(count) is too small for a directory entry") }
                break
            }
            writer.writeBytes(one.bytes)
            cursor.index += 1
        }
        cursor.byteOffset += UInt64(writer.bytes.count)
        update(fid) { $0.cursor = cursor }
        return writer.bytes
    }
}
