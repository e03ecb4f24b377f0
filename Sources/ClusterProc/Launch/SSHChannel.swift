import NineP

/// What a channel's reader, writer and the session thread share.
struct SSHChannelState: Sendable {
    /// Bytes buffered per direction before the session thread stops taking more from libssh
    /// (which then stops opening the SSH window, so the remote side waits).
    static let outputLimit = 1 << 20
    /// Bytes a writer may queue for the remote stdin before `write` blocks.
    static let inputLimit = 256 << 10

    var stdout = ByteQueue()
    var stdoutEOF = false
    var stderr = ByteQueue()
    var stderrEOF = false
    var input = ByteQueue()
    var inputEOF = false
    var exitStatus: Int32?
    /// The remote side closed the channel and everything it sent is delivered.
    var finished = false
    /// `close()` was called here.
    var closed = false
    var failure: SSHError?
}

/// One command running on a node: its stdout as a blocking `ByteStream`, writes to its
/// stdin, stderr apart, and its exit status.
///
/// The channel belongs to an `SSHSession` (which it keeps alive); the session's own thread
/// moves the bytes. `read`, `write` and `waitForExit` block the calling thread, so call them
/// from threads of your own, never from the shared concurrency pool.
public final class SSHChannel: ByteStream, Sendable {
    /// The command as it was sent.
    public let command: String
    let session: SSHSession
    let shared: ConditionLock<SSHChannelState>
    /// The remote stderr, when `exec` was given no handler for it (else it reads nothing).
    public let stderr: SSHChannelStderr

    init(command: String, session: SSHSession, shared: ConditionLock<SSHChannelState>) {
        self.command = command
        self.session = session
        self.shared = shared
        self.stderr = SSHChannelStderr(session: session, shared: shared)
    }

    deinit { close() }

    /// Reads stdout bytes, blocking until some arrive.
    /// - Returns: the count read; 0 at end of stdout or after `close()`.
    /// - Throws: `SSHError` when the connection failed before stdout ended.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try readOutput(\.stdout, ended: \.stdoutEOF, into: buffer, shared: shared, session: session)
    }

    /// Queues `bytes` for the remote stdin, blocking while too much is already queued.
    /// - Throws: `SSHError` (`.closed`) after `close()`, `sendEOF()` or the end of the channel.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            _ = try shared.wait(deadline: nil, notify: true) { state -> Bool? in
                if let failure = state.failure { throw failure }
                if state.closed || state.finished || state.inputEOF {
                    throw SSHError(.closed, host: session.options.host, "the channel's stdin is closed")
                }
                let room = SSHChannelState.inputLimit - state.input.count
                guard room > 0 else { return nil }
                let n = min(room, bytes.count - offset)
                state.input.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                offset += n
                return true
            }
            session.core.wake()
        }
    }

    /// Ends the remote stdin once the queued bytes are sent (the command reads end of file).
    public func sendEOF() {
        shared.withLock(notify: true) { $0.inputEOF = true }
        session.core.wake()
    }

    /// Closes the channel in both directions and wakes blocked readers and writers.
    /// Safe to call more than once.
    public func close() {
        let first = shared.withLock(notify: true) { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { session.core.wake() }
    }

    /// The exit status, if the command has ended and reported one.
    public var exitStatus: Int32? { shared.withLock(notify: false) { $0.exitStatus } }

    /// Waits until the command has ended and the channel is closed by the remote side.
    /// - Parameter timeout: how long to wait.
    /// - Returns: the command's exit status.
    /// - Throws: `SSHError` `.timeout` when it has not ended in time; `.channel` when it
    ///   ended without a status (killed by a signal); the connection's failure.
    public func waitForExit(timeout: Duration) throws -> Int32 {
        let host = session.options.host
        let result = try shared.wait(deadline: .now + timeout, notify: true) { state -> Int32? in
            if state.finished {
                if let status = state.exitStatus { return status }
                throw SSHError(.channel, host: host, "'\(command)' ended without an exit status")
            }
            if let failure = state.failure { throw failure }
            if state.closed { throw SSHError(.closed, host: host, "the channel was closed") }
            return nil
        }
        guard let result else {
            throw SSHError(.timeout, host: host, "'\(command)' did not exit within \(timeout)")
        }
        return result
    }

    /// Reads stdout to its end, for short outputs.
    /// - Throws: `SSHError` on failure.
    public func readAll() throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}

/// The stderr of an `SSHChannel` as a read-only `ByteStream`.
public final class SSHChannelStderr: ByteStream, Sendable {
    let session: SSHSession
    let shared: ConditionLock<SSHChannelState>

    init(session: SSHSession, shared: ConditionLock<SSHChannelState>) {
        self.session = session
        self.shared = shared
    }

    /// Reads stderr bytes, blocking until some arrive; 0 at its end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try readOutput(\.stderr, ended: \.stderrEOF, into: buffer, shared: shared, session: session)
    }

    /// Always throws: stderr cannot be written.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        throw SSHError(.channel, host: session.options.host, "stderr is read-only")
    }

    /// Closes the whole channel.
    public func close() {
        shared.withLock(notify: true) { $0.closed = true }
        session.core.wake()
    }
}

/// Takes buffered bytes of one output stream (stdout or stderr), blocking until some arrive;
/// 0 at the stream's end. Wakes the session thread when this read makes room in a full
/// buffer, so that it takes more from libssh (and opens the SSH window) again.
private func readOutput(
    _ stream: WritableKeyPath<SSHChannelState, ByteQueue>, ended: KeyPath<SSHChannelState, Bool>,
    into buffer: UnsafeMutableRawBufferPointer, shared: ConditionLock<SSHChannelState>, session: SSHSession
) throws -> Int {
    guard buffer.count > 0 else { return 0 }
    var resume = false
    let n = try shared.wait(deadline: nil, notify: true) { state -> Int? in
        if !state[keyPath: stream].isEmpty {
            let wasFull = state[keyPath: stream].count >= SSHChannelState.outputLimit
            let n = state[keyPath: stream].take(into: buffer)
            resume = wasFull && state[keyPath: stream].count < SSHChannelState.outputLimit
            return n
        }
        if state[keyPath: ended] || state.closed || state.finished { return 0 }
        if let failure = state.failure { throw failure }
        return nil
    }
    if resume { session.core.wake() }
    return n ?? 0
}
