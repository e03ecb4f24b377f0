import CLibSSH
import Logging
import NineP
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One SSH connection to one node, through libssh, honouring the user's OpenSSH
/// configuration, agent, keys and `known_hosts`.
///
/// libssh blocks in every call and a session must never be used from two threads, so each
/// `SSHSession` owns a thread of its own on which every libssh call for it happens. Callers
/// hand it work through a queue and a pipe that wakes its poll loop; the loop moves the
/// bytes of every open `SSHChannel` between libssh and the channel's buffers, respecting
/// the remote window so that nothing blocks forever. Closing the session (or dropping the
/// last reference to it and its channels) ends the thread.
public final class SSHSession: Sendable {
    /// How this session was asked to connect.
    public let options: SSHOptions
    let core: SSHSessionCore

    private init(options: SSHOptions, logger: Logger) throws {
        self.options = options
        self.core = try SSHSessionCore(host: options.host, logger: logger)
    }

    deinit { core.shutdown() }

    /// Connects, checks the host key as OpenSSH would, and authenticates with public keys
    /// (the agent, then the configured or default identity files).
    ///
    /// Key exchange prefers curve25519-sha256 unless the configuration names `KexAlgorithms`.
    /// - Parameters:
    ///   - options: where and how to connect.
    ///   - logger: where to log, at debug level.
    /// - Returns: the connected, authenticated session.
    /// - Throws: `SSHError` with `.connectFailed`, `.timeout`, `.hostKey`, `.authDenied` or
    ///   `.config`; the whole attempt is bounded by `options.connectTimeout`.
    public static func connect(_ options: SSHOptions, logger: Logger = Logger(label: "cluster-proc.ssh"))
        async throws -> SSHSession
    {
        let session = try SSHSession(options: options, logger: logger)
        do {
            try await session.core.perform { driver in try driver.connect(options) }
        } catch {
            session.close()
            throw error
        }
        return session
    }

    /// Starts `command` on the node in a new channel.
    /// - Parameters:
    ///   - command: the command line, run by the remote user's shell.
    ///   - stderr: called on the session's thread with each chunk of the remote stderr; when
    ///     `nil`, stderr is kept for `SSHChannel.stderr` to read.
    /// - Returns: the channel, its stdout ready to read.
    /// - Throws: `SSHError` (`.channel`, `.timeout`, `.closed`).
    public func exec(command: String, stderr: (@Sendable ([UInt8]) -> Void)? = nil) async throws -> SSHChannel {
        let shared = ConditionLock(SSHChannelState())
        try await core.perform { driver in try driver.exec(command, shared: shared, onStderr: stderr) }
        return SSHChannel(command: command, session: self, shared: shared)
    }

    /// Starts `command` on the node in a new channel, blocking the calling thread (never call
    /// this from the shared concurrency pool; use the `async` form there).
    /// - Parameters:
    ///   - command: the command line, run by the remote user's shell.
    ///   - stderr: called with each chunk of the remote stderr, or `nil` to keep it for
    ///     `SSHChannel.stderr`.
    /// - Returns: the channel.
    /// - Throws: `SSHError` (`.channel`, `.timeout`, `.closed`).
    public func exec(command: String, stderr: (@Sendable ([UInt8]) -> Void)? = nil) throws -> SSHChannel {
        let shared = ConditionLock(SSHChannelState())
        try core.performBlocking(timeout: options.connectTimeout) { driver in
            try driver.exec(command, shared: shared, onStderr: stderr)
        }
        return SSHChannel(command: command, session: self, shared: shared)
    }

    /// Copies a local file by SFTP into a new private directory (mode 0700) on the node.
    /// - Parameters:
    ///   - localPath: the file to copy; its permission bits are kept.
    ///   - remoteDirectory: where to make the private directory.
    /// - Returns: the remote path of the copy; pass it to `removeUpload` when done.
    /// - Throws: `SSHError` (`.sftp`, `.system`).
    public func upload(localPath: String, remoteDirectory: String = "/tmp") async throws -> String {
        try await core.perform { driver in try driver.upload(localPath: localPath, remoteDirectory: remoteDirectory) }
    }

    /// Removes a file that `upload` made, and its private directory.
    /// - Parameter remotePath: what `upload` returned.
    /// - Throws: `SSHError` (`.sftp`).
    public func removeUpload(remotePath: String) async throws {
        try await core.perform { driver in try driver.removeUpload(remotePath: remotePath) }
    }

    /// Disconnects; open channels fail with `.closed`. Safe to call more than once.
    /// Waits (a few seconds at most) until the session thread has freed its channels and the
    /// session: a process that exits while libssh still tears down would find OpenSSL already
    /// cleaned up by the exit.
    public func close() {
        core.shutdown()
        core.waitUntilTornDown(deadline: .now + .seconds(5))
    }
}

// MARK: - The queue between callers and the session thread

/// What callers share with the session thread: the job queue and the pipe that wakes it.
final class SSHSessionCore: Sendable {
    typealias Job = @Sendable (SSHSessionDriver) -> Void

    struct State: Sendable {
        var jobs: [Job] = []
        var shuttingDown = false
        /// Whether `wakeFD` is still open; only the session thread closes it, under the lock.
        var wakeOpen = true
        /// Set by the session thread when it has freed everything.
        var tornDown = false
    }

    let host: String
    let state = ConditionLock(State())
    /// The read end of the wake-up pipe, polled by the session thread.
    let wakeFD: Int32
    /// The session thread, so that it never waits for its own teardown.
    let sessionThread = Mutex<pthread_t>(pthread_t())
    /// The write end: one byte wakes the session thread. Both ends are closed by that thread.
    let wakeWriteFD: Int32

    init(host: String, logger: Logger) throws {
        self.host = host
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw SSHError(.system, host: host, "pipe: \(Errno(rawValue: errno))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeFD = fds[0]
        wakeWriteFD = fds[1]
        // Handed to the session thread, and used only there from now on.
        nonisolated(unsafe) let driver = SSHSessionDriver(core: self, logger: logger)
        do {
            try startThread(name: "ssh-\(host)", stackSize: 8 << 20) { [self] in
                sessionThread.withLock { $0 = pthread_self() }
                driver.run()
            }
        } catch {
            Glibc.close(fds[0])
            Glibc.close(fds[1])
            throw SSHError(.system, host: host, "cannot start the session thread: \(error)")
        }
    }

    /// Wakes the session thread to look at its queue and channels again.
    func wake() {
        var one: UInt8 = 1
        state.withLock(notify: true) { state in
            // Under the lock, so a wake never hits a descriptor closed and reused meanwhile.
            if state.wakeOpen { _ = Glibc.write(wakeWriteFD, &one, 1) }
        }
    }

    /// Queues `job` for the session thread. Returns false when the session has ended.
    func submit(_ job: @escaping Job) -> Bool {
        var one: UInt8 = 1
        return state.withLock(notify: true) { state in
            guard !state.shuttingDown else { return false }
            state.jobs.append(job)
            _ = Glibc.write(wakeWriteFD, &one, 1)
            return true
        }
    }

    /// Waits until the session thread has finished its teardown, unless called from that
    /// thread itself (a handler running there must not wait for its own end).
    func waitUntilTornDown(deadline: ContinuousClock.Instant) {
        guard pthread_equal(pthread_self(), sessionThread.withLock { $0 }) == 0 else { return }
        _ = state.wait(deadline: deadline, notify: true) { state -> Bool? in state.tornDown ? true : nil }
    }

    func shutdown() {
        var one: UInt8 = 1
        state.withLock(notify: true) { state in
            guard !state.shuttingDown else { return }
            state.shuttingDown = true
            _ = Glibc.write(wakeWriteFD, &one, 1)
        }
    }

    /// Runs `body` on the session thread, suspending the calling task (not its thread).
    func perform<T: Sendable>(_ body: @escaping @Sendable (SSHSessionDriver) throws -> T) async throws -> T {
        let host = self.host
        return try await withCheckedThrowingContinuation { continuation in
            let queued = submit { driver in
                continuation.resume(with: Result { try body(driver) })
            }
            if !queued {
                continuation.resume(throwing: SSHError(.closed, host: host, "the session is closed"))
            }
        }
    }

    /// Runs `body` on the session thread, blocking the calling thread up to `timeout`.
    func performBlocking<T: Sendable>(
        timeout: Duration, _ body: @escaping @Sendable (SSHSessionDriver) throws -> T
    ) throws -> T {
        let result = ConditionLock<Result<T, any Error>?>(nil)
        let queued = submit { driver in
            let value = Result { try body(driver) }
            result.withLock(notify: true) { $0 = value }
        }
        guard queued else { throw SSHError(.closed, host: host, "the session is closed") }
        // The job itself honours the deadline; the margin only covers a busy session thread.
        guard let value = result.wait(deadline: .now + timeout + .seconds(1), notify: true, { $0 }) else {
            throw SSHError(.timeout, host: host, "the session did not answer within \(timeout)")
        }
        return try value.get()
    }
}

// MARK: - The session thread

/// Owns the `ssh_session` and everything libssh; lives on, and is used only from, the
/// session's own thread.
final class SSHSessionDriver {
    /// One open channel as the session thread sees it.
    final class Entry {
        let channel: ssh_channel
        let shared: ConditionLock<SSHChannelState>
        let onStderr: (@Sendable ([UInt8]) -> Void)?
        var eofSent = false
        var stdoutEOF = false
        var stderrEOF = false

        init(channel: ssh_channel, shared: ConditionLock<SSHChannelState>, onStderr: (@Sendable ([UInt8]) -> Void)?) {
            self.channel = channel
            self.shared = shared
            self.onStderr = onStderr
        }
    }

    /// Key exchange methods in our order of preference; OpenSSH's default post-quantum
    /// method costs far more client CPU per connection, which matters for wide fan-out.
    static let preferredKex = [
        "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group18-sha512",
        "diffie-hellman-group16-sha512", "diffie-hellman-group-exchange-sha256",
        "diffie-hellman-group14-sha256",
    ].joined(separator: ",")

    /// Largest write handed to libssh at once (also bounds what a stalled peer holds up).
    static let writeChunk = 32 << 10
    static let readChunk = 64 << 10

    let core: SSHSessionCore
    let logger: Logger
    var host: String { core.host }
    var session: ssh_session?
    var event: ssh_event?
    /// The connection died; the session is no longer in the event's poll set.
    var connectionLost = false
    var entries: [Entry] = []
    var timeout: Duration = .seconds(10)
    var readBuffer = [UInt8](repeating: 0, count: SSHSessionDriver.readChunk)
    /// When the loop last moved bytes or ran work.
    var lastProgress = ContinuousClock.now

    init(core: SSHSessionCore, logger: Logger) {
        self.core = core
        self.logger = logger
    }

    // MARK: Loop

    func run() {
        while true {
            let (jobs, shuttingDown) = core.state.withLock(notify: true) { state in
                defer { state.jobs = [] }
                return (state.jobs, state.shuttingDown)
            }
            for job in jobs { job(self) }
            if !jobs.isEmpty { lastProgress = .now }
            if shuttingDown {
                teardown()
                return
            }
            let progress = pump() || hasBufferedOutput()
            let now = ContinuousClock.now
            if progress { lastProgress = now }
            waitForActivity(timeoutMilliseconds: progress ? 0 : pollTimeout(idleFor: now - lastProgress))
        }
    }

    /// How long the loop may sleep in poll when nothing moved.
    ///
    /// libssh sometimes takes a packet off the socket inside another call (reading one stream
    /// pulls in the other's, or another channel's) and keeps it, so the socket shows nothing
    /// new and the poll would sleep its whole timeout (seen: 1 s stalls on about 1% of 9P
    /// round trips). That happens only in the moments after bytes moved, so a session that
    /// just moved bytes polls every 20 ms for a while, and one that has been quiet sleeps a
    /// second: a family of 64 idle nodes costs the launcher next to no CPU.
    private func pollTimeout(idleFor idle: Duration) -> Int32 {
        if entries.isEmpty || idle > Self.busySpell { return 1000 }
        return 20
    }

    /// How long after bytes last moved the session keeps polling often.
    static let busySpell: Duration = .milliseconds(500)

    private func waitForActivity(timeoutMilliseconds: Int32) {
        if let event {
            let rc = ssh_event_dopoll(event, timeoutMilliseconds)
            if !connectionLost, let session, rc == SSH_ERROR || ssh_is_connected(session) == 0,
               ssh_is_connected(session) == 0 {
                // Stop polling a dead socket (dopoll would return at once, forever); new
                // requests fail because the session is not connected.
                connectionLost = true
                failAll(SSHError(.closed, host: host, "connection lost", libsshMessage: libsshError()))
                ssh_event_remove_session(event, session)
            }
        } else {
            var fds = [pollfd(fd: core.wakeFD, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 1, timeoutMilliseconds)
            drainWake(core.wakeFD)
        }
    }

    private func teardown() {
        failAll(SSHError(.closed, host: host, "the session is closed"))
        if let event {
            if let session, !connectionLost { ssh_event_remove_session(event, session) }
            ssh_event_remove_fd(event, core.wakeFD)
            ssh_event_free(event)
            self.event = nil
        }
        if let session {
            ssh_disconnect(session)
            ssh_free(session)
            self.session = nil
        }
        // Jobs that raced with shutdown still run, so that their callers hear back.
        let late = core.state.withLock(notify: true) { state in
            defer { state.jobs = [] }
            return state.jobs
        }
        for job in late { job(self) }
        core.state.withLock(notify: true) { state in
            state.wakeOpen = false
            state.tornDown = true
            Glibc.close(core.wakeFD)
            Glibc.close(core.wakeWriteFD)
        }
    }

    /// Frees every channel and tells its readers and writers why.
    private func failAll(_ error: SSHError) {
        for entry in entries {
            entry.shared.withLock(notify: true) { state in
                if !state.finished && state.failure == nil { state.failure = error }
            }
            ssh_channel_free(entry.channel)
        }
        entries.removeAll()
    }

    /// Moves bytes for every channel; returns whether anything moved.
    /// Whether libssh holds data already read from the socket for a stream with room to take
    /// it. Reading one stream can pull the other stream's packets off the socket into libssh's
    /// buffers; polling the socket then would wait for bytes that already came (up to the
    /// poll's timeout), so the loop goes round again instead.
    private func hasBufferedOutput() -> Bool {
        for entry in entries {
            let (stdoutRoom, stderrRoom) = entry.shared.withLock(notify: false) { state in
                (SSHChannelState.outputLimit - state.stdout.count, SSHChannelState.outputLimit - state.stderr.count)
            }
            if !entry.stdoutEOF, stdoutRoom > 0, Self.readable(ssh_channel_poll(entry.channel, 0)) { return true }
            if !entry.stderrEOF, entry.onStderr != nil || stderrRoom > 0, Self.readable(ssh_channel_poll(entry.channel, 1)) {
                return true
            }
        }
        return false
    }

    /// `ssh_channel_poll`'s answer means bytes to read, or the end of the stream to see.
    private static func readable(_ polled: Int32) -> Bool {
        polled > 0 || polled == SSH_EOF
    }

    private func pump() -> Bool {
        var progress = false
        var index = 0
        while index < entries.count {
            let entry = entries[index]
            // Only looks: waking the channel's readers here would wake them on every turn.
            let (closed, pending, inputEOF, stdoutRoom, stderrRoom) = entry.shared.withLock(notify: false) { state in
                (state.closed, state.input.front(limit: Self.writeChunk), state.inputEOF,
                 SSHChannelState.outputLimit - state.stdout.count,
                 SSHChannelState.outputLimit - state.stderr.count)
            }
            if closed {
                ssh_channel_close(entry.channel)
                ssh_channel_free(entry.channel)
                entries.remove(at: index)
                progress = true
                continue
            }
            if pumpInput(entry, pending: pending, inputEOF: inputEOF) { progress = true }
            if !entry.stdoutEOF, pumpOutput(entry, stderr: false, room: stdoutRoom) { progress = true }
            if !entry.stderrEOF, pumpOutput(entry, stderr: true, room: entry.onStderr == nil ? stderrRoom : Int.max) {
                progress = true
            }
            if entry.stdoutEOF && entry.stderrEOF && ssh_channel_is_closed(entry.channel) != 0 {
                // Both streams drained and the remote side closed: the exit status (sent before
                // the close) is in, so this call does not wait.
                let status = ssh_channel_get_exit_status(entry.channel)
                entry.shared.withLock(notify: true) { state in
                    state.exitStatus = status >= 0 ? Int32(status) : nil
                    state.finished = true
                }
                ssh_channel_free(entry.channel)
                entries.remove(at: index)
                progress = true
                continue
            }
            index += 1
        }
        return progress
    }

    private func pumpInput(_ entry: Entry, pending: [UInt8], inputEOF: Bool) -> Bool {
        guard !entry.eofSent else { return false }
        var progress = false
        if !pending.isEmpty {
            let window = Int(ssh_channel_window_size(entry.channel))
            let n = min(window, pending.count)
            if n > 0 {
                let written = pending.withUnsafeBytes { ssh_channel_write(entry.channel, $0.baseAddress, UInt32(n)) }
                if written < 0 {
                    fail(entry, SSHError(.channel, host: host, "writing to the command's stdin failed",
                                         libsshMessage: libsshError()))
                    return true
                }
                entry.shared.withLock(notify: true) { $0.input.drop(Int(written)) }
                progress = written > 0
            }
        }
        if inputEOF && entry.shared.withLock(notify: false, { $0.input.isEmpty }) {
            ssh_channel_send_eof(entry.channel)
            entry.eofSent = true
            progress = true
        }
        return progress
    }

    private func pumpOutput(_ entry: Entry, stderr: Bool, room: Int) -> Bool {
        var progress = false
        var room = room
        while room > 0 {
            let want = UInt32(min(room, readBuffer.count))
            let n = readBuffer.withUnsafeMutableBytes {
                ssh_channel_read_nonblocking(entry.channel, $0.baseAddress, want, stderr ? 1 : 0)
            }
            if n > 0 {
                progress = true
                room -= Int(n)
                let bytes = Array(readBuffer[0..<Int(n)])
                if stderr, let onStderr = entry.onStderr {
                    onStderr(bytes)
                } else {
                    entry.shared.withLock(notify: true) { state in
                        if stderr { state.stderr.append(contentsOf: bytes) } else { state.stdout.append(contentsOf: bytes) }
                    }
                }
                continue
            }
            if n == SSH_EOF {
                if stderr { entry.stderrEOF = true } else { entry.stdoutEOF = true }
                entry.shared.withLock(notify: true) { state in
                    if stderr { state.stderrEOF = true } else { state.stdoutEOF = true }
                }
                progress = true
            } else if n < 0 {
                fail(entry, SSHError(.channel, host: host, "reading from the channel failed",
                                     libsshMessage: libsshError()))
                progress = true
            }
            break
        }
        return progress
    }

    /// Marks one channel failed; the next pump frees it once its user closes it.
    private func fail(_ entry: Entry, _ error: SSHError) {
        entry.shared.withLock(notify: true) { state in
            if state.failure == nil { state.failure = error }
        }
        entry.stdoutEOF = true
        entry.stderrEOF = true
        entry.eofSent = true
    }

    // MARK: Channels

    func exec(_ command: String, shared: ConditionLock<SSHChannelState>,
              onStderr: (@Sendable ([UInt8]) -> Void)?) throws {
        guard let session, ssh_is_connected(session) != 0 else {
            throw SSHError(.closed, host: host, "the session is not connected")
        }
        setTimeout(.now + timeout)
        guard let channel = ssh_channel_new(session) else {
            throw SSHError(.channel, host: host, "cannot create a channel", libsshMessage: libsshError())
        }
        guard ssh_channel_open_session(channel) == SSH_OK else {
            let message = libsshError()
            ssh_channel_free(channel)
            throw SSHError(.channel, host: host, "cannot open a session channel", libsshMessage: message)
        }
        guard ssh_channel_request_exec(channel, command) == SSH_OK else {
            let message = libsshError()
            ssh_channel_close(channel)
            ssh_channel_free(channel)
            throw SSHError(.channel, host: host, "cannot start '\(command)'", libsshMessage: message)
        }
        entries.append(Entry(channel: channel, shared: shared, onStderr: onStderr))
    }

    // MARK: SFTP

    private func withSFTP<T>(_ body: (sftp_session) throws -> T) throws -> T {
        guard let session, ssh_is_connected(session) != 0 else {
            throw SSHError(.closed, host: host, "the session is not connected")
        }
        setTimeout(.now + timeout)
        guard let sftp = sftp_new(session) else {
            throw SSHError(.sftp, host: host, "cannot open an SFTP channel", libsshMessage: libsshError())
        }
        defer { sftp_free(sftp) }
        guard sftp_init(sftp) == SSH_OK else {
            throw SSHError(.sftp, host: host, "cannot start SFTP (error \(sftp_get_error(sftp)))",
                           libsshMessage: libsshError())
        }
        return try body(sftp)
    }

    func upload(localPath: String, remoteDirectory: String) throws -> String {
        let source: FileDescriptor
        do {
            source = try FileDescriptor.open(FilePath(localPath), .readOnly, options: .closeOnExec)
        } catch {
            throw SSHError(.system, host: host, "cannot open \(localPath): \(error)")
        }
        defer { try? source.close() }
        var info = stat()
        guard fstat(source.rawValue, &info) == 0 else {
            throw SSHError(.system, host: host, "cannot stat \(localPath): \(Errno(rawValue: errno))")
        }
        let mode = mode_t(info.st_mode & 0o777)
        let base = localPath.split(separator: "/").last.map(String.init) ?? "file"
        return try withSFTP { sftp in
            // mkdtemp, remotely: a fresh name, made with O_EXCL semantics by mkdir itself.
            var directory = ""
            for attempt in 0..<16 {
                let suffix = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
                directory = "\(remoteDirectory)/cluster-proc.\(suffix)"
                if sftp_mkdir(sftp, directory, 0o700) == 0 { break }
                let code = sftp_get_error(sftp)
                if code != SSH_FX_FILE_ALREADY_EXISTS || attempt == 15 {
                    throw SSHError(.sftp, host: host, "cannot make \(directory) (SFTP error \(code))",
                                   libsshMessage: libsshError())
                }
            }
            let target = "\(directory)/\(base)"
            guard let file = sftp_open(sftp, target, O_WRONLY | O_CREAT | O_EXCL, mode) else {
                let code = sftp_get_error(sftp)
                _ = sftp_rmdir(sftp, directory)
                throw SSHError(.sftp, host: host, "cannot create \(target) (SFTP error \(code))",
                               libsshMessage: libsshError())
            }
            var buffer = [UInt8](repeating: 0, count: 32 << 10)
            var failure: SSHError?
            while failure == nil {
                let n: Int
                do {
                    n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                } catch {
                    failure = SSHError(.system, host: host, "cannot read \(localPath): \(error)")
                    break
                }
                if n == 0 { break }
                var offset = 0
                while offset < n {
                    let written = buffer.withUnsafeBytes { sftp_write(file, $0.baseAddress! + offset, n - offset) }
                    if written <= 0 {
                        failure = SSHError(.sftp, host: host, "cannot write \(target) (SFTP error \(sftp_get_error(sftp)))",
                                           libsshMessage: libsshError())
                        break
                    }
                    offset += written
                }
            }
            if sftp_close(file) != SSH_OK, failure == nil {
                failure = SSHError(.sftp, host: host, "cannot close \(target)", libsshMessage: libsshError())
            }
            if let failure {
                _ = sftp_unlink(sftp, target)
                _ = sftp_rmdir(sftp, directory)
                throw failure
            }
            return target
        }
    }

    func removeUpload(remotePath: String) throws {
        let directory = String(remotePath[..<(remotePath.lastIndex(of: "/") ?? remotePath.startIndex)])
        try withSFTP { sftp in
            if sftp_unlink(sftp, remotePath) != 0 {
                throw SSHError(.sftp, host: host, "cannot remove \(remotePath) (SFTP error \(sftp_get_error(sftp)))",
                               libsshMessage: libsshError())
            }
            if !directory.isEmpty, sftp_rmdir(sftp, directory) != 0 {
                throw SSHError(.sftp, host: host, "cannot remove \(directory) (SFTP error \(sftp_get_error(sftp)))",
                               libsshMessage: libsshError())
            }
        }
    }
}

/// Empties the wake-up pipe so that poll sleeps again.
func drainWake(_ fd: Int32) {
    var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    while withUnsafeMutableBytes(of: &bytes, { Glibc.read(fd, $0.baseAddress, $0.count) }) > 0 {}
}
