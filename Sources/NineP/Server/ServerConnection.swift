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
    /// Calls of ``CallDuration/bounded`` duration one connection runs at once (each on a
    /// thread of its own); beyond it they queue.
    public var maxThreads = 32
    /// Calls of ``CallDuration/unbounded`` duration (streams that wait for data) one
    /// connection runs at once; beyond it they queue. They never take the threads of
    /// bounded calls, so parked reads cannot stall the rest.
    public var maxStreamThreads = 64
    /// Requests one connection may have in flight; beyond it a request is answered EBUSY.
    public var maxRequests = 4096
    public var logger = Logger(label: "ninep.server")

    public init() {}
}

/// Serves one 9P connection over any ``ByteStream``: the thin driver under ``ServerSession``.
///
/// One thread always reads. It serves immediate calls (a /proc file, an attribute) itself, as
/// they come, and collects their replies into one write per read; calls that may wait go to
/// a pool: at most ``ServerConfiguration/maxThreads`` bounded ones (a remote node) and
/// ``ServerConfiguration/maxStreamThreads`` unbounded ones (a job's output) at once, the rest
/// waiting in the session's queue. So the reader is never stuck behind a blocked call: it
/// answers Tflush and immediate requests at once, however many reads are parked, and parked
/// streams never hold the threads that bounded calls need.
public final class ServerConnection<FS: FileSystem>: Sendable {
    private let fileSystem: FS
    private let stream: any ByteStream
    private let configuration: ServerConfiguration
    private let onClose: @Sendable () -> Void
    private let core: ConditionLock<Core>
    /// Held while replies are written, so that they leave in the order of the outbox.
    private let writer = Mutex<Void>(())

    private struct Core {
        var session: ServerSession<FS>
        var workers = 0
        var idleWorkers = 0
        /// Calls running on pool threads, by duration.
        var busy: [CallDuration: Int] = [:]
        var readerDone = false
        var finished = false
        /// A thread waits for the running calls to end (a Tversion, the connection's end):
        /// completions wake it. Otherwise they wake nobody.
        var draining = false
    }

    /// Serves `stream` on threads of its own until it closes.
    /// - Parameters:
    ///   - onClose: called once, after every fid was released.
    /// - Throws: ``NinePError`` when the reader thread could not be started.
    @discardableResult
    public static func serve(
        _ fileSystem: FS, over stream: any ByteStream, configuration: ServerConfiguration = .init(),
        onClose: @escaping @Sendable () -> Void = {}
    ) throws(NinePError) -> ServerConnection {
        let connection = ServerConnection(fileSystem, stream, configuration, onClose)
        do {
            try startThread(name: "9p-read") { connection.readLoop() }
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
        let limits = ServerSession<FS>.Limits(
            maxMessageSize: configuration.maxMessageSize, minMessageSize: configuration.minMessageSize,
            maxFids: configuration.maxFids, maxRequests: configuration.maxRequests)
        self.core = ConditionLock(Core(session: ServerSession(fileSystem: fileSystem, limits: limits)))
    }

    /// Closes the connection; in-flight requests are cancelled and every fid released.
    public func close() {
        stream.close()
    }

    /// The fids the connection holds now (at most ``ServerConfiguration/maxFids``), for
    /// monitoring and tests.
    public var fidCount: Int { core.withLock { $0.session.fids.count } }

    /// Blocks until the connection has closed and released everything.
    public func waitUntilClosed(deadline: ContinuousClock.Instant? = nil) -> Bool {
        core.wait(until: { $0.finished }, deadline: deadline) { _ in true } ?? false
    }

    // MARK: - Reading

    private func readLoop() {
        var decoder = FrameDecoder(maxSize: configuration.maxMessageSize)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        reading: while true {
            do {
                while let frame = try decoder.nextFrame() {
                    if let msize = process(frame) { decoder.maxSize = msize }
                }
            } catch {
                configuration.logger.debug("9P server: closing connection: \(error)")
                break reading
            }
            flushOutbox()
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            } catch {
                configuration.logger.debug("9P server: read failed: \(error)")
                break reading
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        shutDown()
    }

    /// Takes one request; returns the new msize after a Tversion.
    private func process(_ frame: Frame) -> UInt32? {
        let step = core.withLock { $0.session.receive(frame) }
        perform(step)
        guard step.versionPending else { return nil }
        // version(5): answered once everything outstanding has ended.
        core.withLock { $0.draining = true }
        let (finished, msize) = core.wait(until: { $0.session.running == 0 }) { core in
            core.draining = false
            return (core.session.finishVersion(), core.session.msize)
        }!
        perform(finished)
        return msize
    }

    /// Does what a step asks, outside the lock: cancels, closes, runs quick calls here and
    /// wakes or starts pool threads for the scheduled ones.
    private func perform(_ step: ServerSession<FS>.Step) {
        for context in step.cancelled { context.cancel() }
        for entry in step.released { entry.close(fileSystem) }
        for call in step.calls { run(call) }
        if step.scheduled > 0 { wakePool() }
    }

    private func run(_ call: ServerCall<FS>) {
        let outcome = call.execute(fileSystem)
        let (next, wake) = core.withLock { core in (core.session.complete(call, outcome), core.draining) }
        if wake { core.notifyAll() }
        perform(next)
    }

    // MARK: - The pool

    private func limit(of duration: CallDuration) -> Int {
        duration == .unbounded ? configuration.maxStreamThreads : configuration.maxThreads
    }

    /// Starts threads until every scheduled call that may start has an idle thread to take
    /// it (counting every idle thread once: one woken for an earlier call is not free again).
    private func wakePool() {
        let start = core.withLock(notify: true) { core -> Int in
            var startable: [CallDuration: Int] = [:]
            for call in core.session.scheduled where (core.busy[call.duration] ?? 0) + (startable[call.duration] ?? 0) < limit(of: call.duration) {
                startable[call.duration, default: 0] += 1
            }
            let wanted = startable.values.reduce(0, +) - core.idleWorkers
            let room = configuration.maxThreads + configuration.maxStreamThreads - core.workers
            let count = max(0, min(wanted, room))
            core.workers += count
            return count
        }
        for _ in 0..<start {
            do {
                try startThread(name: "9p-serve") { self.workerLoop() }
            } catch {
                core.withLock(notify: true) { $0.workers -= 1 }
                configuration.logger.warning("9P server: \(error)")
            }
        }
    }

    private func workerLoop() {
        while true {
            core.withLock { $0.idleWorkers += 1 }
            let call = core.wait(deadline: nil) { core -> ServerCall<FS>?? in
                if let call = core.session.nextScheduled({ (core.busy[$0] ?? 0) < limit(of: $0) }) {
                    core.idleWorkers -= 1
                    core.busy[call.duration, default: 0] += 1
                    return .some(call)
                }
                if core.readerDone {
                    core.idleWorkers -= 1
                    return .some(nil)
                }
                return nil
            }!
            guard let call else {
                core.withLock(notify: true) { $0.workers -= 1 }
                return
            }
            run(call)
            // A thread of this duration is free again: a call that waited for it may start.
            let waiting = core.withLock { core -> Bool in
                core.busy[call.duration, default: 1] -= 1
                return !core.session.scheduled.isEmpty
            }
            if waiting { core.notifyAll() }
            flushOutbox()
        }
    }

    // MARK: - Writing

    /// Writes what the outbox holds, in order; any thread may call it after a step.
    private func flushOutbox() {
        let failed = writer.withLock { _ -> Bool in
            while true {
                let bytes = core.withLock { core -> [UInt8] in
                    defer { core.session.outbox.removeAll(keepingCapacity: true) }
                    return core.session.outbox
                }
                if bytes.isEmpty { return false }
                do {
                    try bytes.withUnsafeBytes { try stream.write($0) }
                } catch {
                    return true
                }
            }
        }
        if failed { stream.close() }
    }

    // MARK: - The end

    private func shutDown() {
        stream.close()
        let step = core.withLock(notify: true) { core -> ServerSession<FS>.Step in
            core.readerDone = true
            core.draining = true
            return core.session.close()
        }
        perform(step)
        do {
            // In a scope of its own: the nodes go before anyone is told the connection ended.
            let released = core.wait(until: { $0.session.running == 0 && $0.workers == 0 }) { $0.session.releaseAll() }!
            for entry in released { entry.close(fileSystem) }
        }
        core.withLock(notify: true) { $0.finished = true }
        onClose()
    }
}
