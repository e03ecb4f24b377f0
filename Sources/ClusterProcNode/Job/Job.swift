import Glibc
import Logging
import NineP
import Synchronization
import SystemPackage

/// A job that procsrv starts and supervises: its root process, every process descended from
/// it (the family), its standard streams and its exit status.
///
/// The 9P job files map onto it: `ctl` → `controlCommand(_:)`, `stdout`/`stderr` →
/// `readOutput(_:maxBytes:deadline:)`, `stdin` → `writeInput(_:)`/`closeInput()`,
/// `wait` → `wait(deadline:)` and `ExitStatus.text`, `pids` → `familyPIDs()`.
///
/// ## The family
/// The family is the root and all its descendants, found by walking the parent links of
/// `/proc/*/stat`. A process that double-forks away from the tree re-parents to the nearest
/// subreaper; when procsrv has called `becomeSubreaper()` that is procsrv itself, and such an
/// orphan is recognised as this job's by the variable `CLUSTER_PROC_JOB=<token>` that the
/// job's environment carries (descendants inherit it), or by having been seen in the family
/// before. Members are remembered by PID and start time and signalled through a pidfd opened
/// after the start time was checked, so a reused PID is never signalled.
///
/// ## What remains when procsrv dies
/// `posix_spawn` cannot set `PR_SET_PDEATHSIG` in the child, and a parent-death signal would
/// reach only the root anyway. If procsrv is killed with SIGKILL the family survives it and
/// re-parents to the next subreaper or init. procsrv therefore calls `terminateFamily` when
/// its connection closes and when it receives SIGTERM, SIGHUP or SIGINT
/// (`Job.onTerminationSignals`). When SSH drops the channel, sshd sends SIGHUP to procsrv.
///
/// Every method is thread-safe. Blocking methods (`readOutput`, `writeInput`, `wait`,
/// `terminateFamily`) block the calling thread: call them from threads of their own, not
/// from the Swift concurrency pool.
public final class Job: Sendable {
    /// The job's standard output streams.
    public enum Output: Sendable, Equatable {
        case stdout, stderr
    }

    /// The result of reading a job's output.
    public enum OutputChunk: Sendable, Equatable {
        /// Bytes the job wrote (never empty).
        case chunk([UInt8])
        /// The stream is finished: the pipe closed and everything was read.
        case eof
        /// Nothing arrived before the deadline.
        case timedOut
    }

    /// The environment variable that marks every process of a job, also orphans that left the tree.
    public static let markerVariable = "CLUSTER_PROC_JOB"

    /// The PID of the process `start` spawned; it leads a new session and process group.
    public let rootPID: Int32
    /// The root process with its start time.
    public let root: FamilyMember
    /// The value of `CLUSTER_PROC_JOB` in the job's environment.
    public let marker: String

    private let logger: Logger
    private let stdoutPipe: JobOutputPipe
    private let stderrPipe: JobOutputPipe
    private let input: Mutex<InputState>
    private let lifecycle: ConditionLock<Lifecycle>
    private let known: Mutex<Set<FamilyMember>>

    private struct InputState {
        var fd: Int32
        var writers = 0
        var closed = false
    }

    private struct Lifecycle {
        var exitStatus: ExitStatus?
        /// Set once the root was reaped; its PID (and process group ID) may then belong to another.
        var reaped = false
    }

    private static let jobCounter = Atomic<Int>(0)

    // MARK: - Starting

    /// Starts a job from its spec.
    ///
    /// The program is found as `execvp` would (searching the job's `PATH`), started with
    /// `posix_spawn` in a new session, with its standard input, output and error on pipes,
    /// no other descriptor, an empty signal mask and every signal at its default disposition.
    /// argv, environment and working directory are passed on byte for byte (but for argv[0]
    /// of a spec that ``JobSpec/runsInLoginShell``).
    /// - Parameters:
    ///   - spec: what to start; its environment entries are added to `environment`.
    ///   - environment: the `NAME=VALUE` entries the job's environment starts from (procsrv
    ///     passes its own); `CLUSTER_PROC_JOB` is added.
    ///   - outputBufferSize: how many bytes of each output stream may wait unread before the
    ///     job is held back.
    ///   - logger: where supervision logs at debug and trace level.
    /// - Throws: `JobError` naming the problem: `.badSpec`, `.commandNotFound` (`simulate:
    ///   command not found`), `.badWorkingDirectory` (`cd /x: No such file or directory`),
    ///   `.spawnFailed`.
    public static func start(
        _ spec: JobSpec,
        environment: [[UInt8]] = [],
        outputBufferSize: Int = 1 << 20,
        logger: Logger
    ) throws -> Job {
        try spec.validate()
        ignoreBrokenPipes
        let marker = "\(getpid()).\(jobCounter.wrappingAdd(1, ordering: .relaxed).newValue).\(UInt32.random(in: .min ... .max))"
        let variables = spec.environment(over: environment) + [Array("\(markerVariable)=\(marker)".utf8)]
        let argv = spec.runsInLoginShell ? [JobSpawn.loginShell()] + spec.argv.dropFirst() : spec.argv
        let spawned = try JobSpawn.spawn(argv: argv, environment: variables, workingDirectory: spec.workingDirectory)
        let job = Job(spawned: spawned, marker: marker, outputBufferSize: outputBufferSize, logger: logger)
        if !spec.readsInput { job.closeInput() }
        logger.debug("job started", metadata: ["pid": "\(spawned.pid)", "argc": "\(spec.argv.count)", "marker": "\(marker)"])
        return job
    }

    /// Starts `argv` as a new job (``start(_:environment:outputBufferSize:logger:)`` for
    /// words that are text).
    /// - Parameters:
    ///   - environment: the job's whole environment (not merged with procsrv's).
    ///   - workingDirectory: where the job starts; nil for procsrv's own.
    public static func start(
        argv: [String],
        environment: [String: String],
        workingDirectory: String? = nil,
        outputBufferSize: Int = 1 << 20,
        logger: Logger
    ) throws -> Job {
        let spec = JobSpec(
            argv: argv.map { Array($0.utf8) }, environment: environment.sorted { $0.key < $1.key }.map { Array("\($0.key)=\($0.value)".utf8) },
            workingDirectory: workingDirectory.map { Array($0.utf8) })
        return try start(spec, outputBufferSize: outputBufferSize, logger: logger)
    }

    private init(spawned: JobSpawn.Spawned, marker: String, outputBufferSize: Int, logger: Logger) {
        rootPID = spawned.pid
        // The root stays our unreaped child until the waiter reaps it, so its PID cannot be reused yet.
        root = FamilyMember(pid: spawned.pid, startTime: JobProcessTable.entry(pid: spawned.pid)?.startTime ?? 0)
        self.marker = marker
        self.logger = logger
        stdoutPipe = JobOutputPipe(fd: spawned.stdoutRead, capacity: outputBufferSize)
        stderrPipe = JobOutputPipe(fd: spawned.stderrRead, capacity: outputBufferSize)
        input = Mutex(InputState(fd: spawned.stdinWrite))
        lifecycle = ConditionLock(Lifecycle())
        known = Mutex([root])
        do {
            try startThread(name: "job-waiter") { [lifecycle, logger, rootPID] in
                Self.awaitRoot(rootPID, lifecycle: lifecycle, logger: logger)
            }
        } catch {
            // The job already runs; without its waiter nothing could report or reap it.
            preconditionFailure("cannot start the job's waiter thread: \(error)")
        }
    }

    deinit {
        stdoutPipe.abandon()
        stderrPipe.abandon()
        input.withLock { state in
            if state.fd >= 0 { close(state.fd) }
            state.fd = -1
        }
    }

    /// Writing to a pipe whose reader is gone must fail with EPIPE, not kill procsrv.
    private static let ignoreBrokenPipes: Void = {
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
    }()

    /// Makes this process the subreaper of its descendants (`PR_SET_CHILD_SUBREAPER`), so a
    /// process that double-forks out of a job's tree re-parents here instead of to init and
    /// stays findable. procsrv calls it once at start.
    /// - Throws: `JobError` with `.systemCallFailed` when the kernel refuses.
    public static func becomeSubreaper() throws {
        guard let prctl = JobSystemCalls.prctl else {
            throw JobError(.systemCallFailed, "prctl: not available")
        }
        guard prctl(JobSystemCalls.prSetChildSubreaper, 1, 0, 0, 0) == 0 else {
            let code = errno
            throw JobError(.systemCallFailed, "prctl(PR_SET_CHILD_SUBREAPER): \(JobSystemCalls.describe(code))",
                           errno: Errno(rawValue: code))
        }
    }

    /// Whether this process is a subreaper now.
    public static var isSubreaper: Bool {
        var value: Int32 = 0
        guard let prctl = JobSystemCalls.prctl else { return false }
        let result = withUnsafeMutablePointer(to: &value) {
            prctl(JobSystemCalls.prGetChildSubreaper, UInt(bitPattern: Int(bitPattern: $0)), 0, 0, 0)
        }
        return result == 0 && value != 0
    }

    // MARK: - Exit status

    /// Waits for the root to exit without reaping it, then reaps it with the lifecycle locked,
    /// so a group signal sent under the same lock can never reach a recycled process group.
    private static func awaitRoot(_ pid: Int32, lifecycle: ConditionLock<Lifecycle>, logger: Logger) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            guard errno == EINTR else { break }
        }
        lifecycle.withLock(notify: true) { state in
            var status: Int32 = 0
            var result: Int32
            repeat { result = waitpid(pid, &status, 0) } while result < 0 && errno == EINTR
            state.reaped = true
            state.exitStatus = result == pid ? ExitStatus(waitStatus: status) : nil
            if state.exitStatus == nil {
                // Someone else reaped it; the status is lost, call it killed.
                state.exitStatus = .signaled(SIGKILL)
            }
        }
        logger.debug("job root exited", metadata: ["pid": "\(pid)"])
    }

    /// How the root process ended; nil while it runs.
    public var exitStatus: ExitStatus? {
        lifecycle.withLock(notify: true) { $0.exitStatus }
    }

    /// Waits until the root process has ended or `deadline` passes (nil: no deadline).
    /// - Returns: the exit status, or nil at the deadline.
    public func wait(deadline: ContinuousClock.Instant? = nil) -> ExitStatus? {
        lifecycle.wait(deadline: deadline, notify: true) { $0.exitStatus }
    }

    /// Waits until the root process has ended, or until `stop` says to give up; `stop` is
    /// looked at each time a waiter is woken, so whoever makes it true calls ``wakeWaiters()``.
    /// - Returns: the exit status, or nil when stopped.
    public func wait(until stop: @escaping () -> Bool) -> ExitStatus? {
        lifecycle.wait(deadline: nil, notify: true) { state -> ExitStatus?? in
            if let status = state.exitStatus { return .some(status) }
            return stop() ? .some(nil) : nil
        } ?? nil
    }

    /// Wakes every thread waiting in ``wait(until:)`` or ``readOutput(_:maxBytes:until:)``
    /// so that it looks at its `stop` again.
    public func wakeWaiters() {
        stdoutPipe.wake()
        stderrPipe.wake()
        lifecycle.withLock(notify: true) { _ in }
    }

    // MARK: - Output

    /// Reads what the job wrote to `stream`, waiting until something arrives, the stream ends
    /// or `deadline` passes (nil: no deadline). Each byte is returned once.
    /// - Parameters:
    ///   - stream: `.stdout` or `.stderr`.
    ///   - maxBytes: the most bytes to return at once.
    ///   - deadline: when to give up waiting.
    public func readOutput(_ stream: Output, maxBytes: Int, deadline: ContinuousClock.Instant? = nil) -> OutputChunk {
        (stream == .stdout ? stdoutPipe : stderrPipe).read(maxBytes: maxBytes, deadline: deadline)
    }

    /// Reads what the job wrote to `stream`, waiting until something arrives, the stream ends
    /// or `stop` says to give up (`.timedOut`); see ``wakeWaiters()``.
    public func readOutput(_ stream: Output, maxBytes: Int, until stop: @escaping () -> Bool) -> OutputChunk {
        (stream == .stdout ? stdoutPipe : stderrPipe).read(maxBytes: maxBytes, deadline: nil, stop: stop)
    }

    /// How many bytes of `stream` wait unread now (at most the buffer size).
    public func bufferedOutput(_ stream: Output) -> Int {
        (stream == .stdout ? stdoutPipe : stderrPipe).buffered
    }

    // MARK: - Input

    /// Writes all of `bytes` to the job's standard input, blocking while the pipe is full.
    /// - Throws: `JobError` `.inputClosed` when the job no longer reads it (EPIPE) or
    ///   `closeInput()` was called; `.inputFailed` for other failures.
    public func writeInput(_ bytes: [UInt8]) throws {
        let fd = try input.withLock { state -> Int32 in
            guard !state.closed else { throw JobError(.inputClosed, "stdin: closed") }
            state.writers += 1
            return state.fd
        }
        defer {
            input.withLock { state in
                state.writers -= 1
                if state.closed && state.writers == 0 && state.fd >= 0 {
                    close(state.fd)
                    state.fd = -1
                }
            }
        }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count >= 0 {
                offset += count
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EPIPE {
                throw JobError(.inputClosed, "stdin: the job no longer reads its input (Broken pipe)", errno: .brokenPipe)
            }
            throw JobError(.inputFailed, "stdin: \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
        }
    }

    /// Closes the job's standard input, so it reads end of file once it has read what was
    /// written. A write in progress finishes first. Safe to call more than once.
    public func closeInput() {
        input.withLock { state in
            state.closed = true
            if state.writers == 0 && state.fd >= 0 {
                close(state.fd)
                state.fd = -1
            }
        }
    }

    // MARK: - Family

    /// The PIDs of every process of the family now (the root while it is not reaped, its
    /// descendants, and orphans that left the tree), zombies included, sorted.
    public func familyPIDs() -> [Int32] {
        familyMembers().map(\.pid)
    }

    /// The family now, each process with its start time.
    public func familyMembers() -> [FamilyMember] {
        scanFamily().map(\.member).sorted { $0.pid < $1.pid }
    }

    /// Finds the family in the process table and reaps the zombies of it that are orphans
    /// re-parented to this process (never the root: its waiter does that).
    /// The family's PIDs, found in `table` (every process's stat, read by the caller).
    func familyPIDs(table: [Int32: JobProcessTable.Entry]) -> [Int32] {
        scanFamily(table: table).map(\.pid).sorted()
    }

    func scanFamily(table: [Int32: JobProcessTable.Entry] = JobProcessTable.snapshot()) -> [JobProcessTable.Entry] {
        let me = getpid()
        let previously = known.withLock { $0 }
        var children: [Int32: [Int32]] = [:]
        for entry in table.values { children[entry.parentPID, default: []].append(entry.pid) }

        var seeds: [Int32] = []
        if let entry = table[rootPID], entry.startTime == root.startTime { seeds.append(rootPID) }
        for pid in children[me] ?? [] where pid != rootPID {
            guard let entry = table[pid] else { continue }
            if previously.contains(entry.member)
                || JobProcessTable.environment(of: pid, contains: "\(Self.markerVariable)=\(marker)") {
                seeds.append(pid)
            }
        }
        var family: [JobProcessTable.Entry] = []
        var seen = Set<Int32>()
        while let pid = seeds.popLast() {
            guard seen.insert(pid).inserted, let entry = table[pid] else { continue }
            family.append(entry)
            seeds.append(contentsOf: children[pid] ?? [])
        }

        var alive: [JobProcessTable.Entry] = []
        for entry in family {
            if entry.isZombie && entry.parentPID == me && entry.pid != rootPID {
                var status: Int32 = 0
                if waitpid(entry.pid, &status, WNOHANG) == entry.pid {
                    logger.trace("reaped orphan", metadata: ["pid": "\(entry.pid)"])
                    continue
                }
            }
            alive.append(entry)
        }
        known.withLock { $0 = Set(alive.map(\.member)) }
        return alive
    }

    // MARK: - Signals

    /// Delivers `signo` to every process of the family and to the root's process group.
    public func signal(_ signo: Int32) {
        let members = scanFamily()
        logger.debug("signal family", metadata: ["signal": "\(signo)", "count": "\(members.count)"])
        signalGroup(signo)
        for entry in members where !entry.isZombie { Self.send(signo, to: entry.member) }
    }

    /// Sends to the root's process group while its ID cannot belong to anyone else.
    private func signalGroup(_ signo: Int32) {
        lifecycle.withLock(notify: true) { state in
            if !state.reaped { _ = kill(-rootPID, signo) }
        }
    }

    /// Sends a signal to exactly this process: through a pidfd opened before the start time
    /// is checked, so the PID cannot be recycled in between.
    /// - Returns: whether the signal was sent.
    @discardableResult
    static func send(_ signo: Int32, to member: FamilyMember) -> Bool {
        if let pidfdOpen = JobSystemCalls.pidfdOpen, let pidfdSendSignal = JobSystemCalls.pidfdSendSignal {
            let pidfd = pidfdOpen(member.pid, 0)
            if pidfd >= 0 {
                defer { close(pidfd) }
                guard member.exists else { return false }
                return pidfdSendSignal(pidfd, signo, nil, 0) == 0
            }
            if errno == ESRCH { return false }
        }
        guard member.exists else { return false }
        return kill(member.pid, signo) == 0
    }

    /// Ends the whole family: SIGTERM (and SIGCONT, so stopped processes see it) to every
    /// member, up to `grace` for them to exit, then ``killFamily()`` for the rest.
    /// Idempotent; returns at once when the family is already gone.
    /// - Parameter grace: how long the family may take to exit after SIGTERM.
    public func terminateFamily(grace: Duration = .seconds(1)) {
        let clock = ContinuousClock()
        let start = clock.now
        var members = scanFamily().filter { !$0.isZombie }
        guard !members.isEmpty else { return }
        logger.debug("terminating family", metadata: ["count": "\(members.count)"])
        for signo in [SIGTERM, SIGCONT] {
            signalGroup(signo)
            for entry in members { Self.send(signo, to: entry.member) }
        }

        // The family may exit by itself; poll, as no single event says the whole tree is gone.
        while clock.now < start + grace {
            members = scanFamily().filter { !$0.isZombie }
            if members.isEmpty { break }
            JobSystemCalls.sleep(milliseconds: 10)
        }
        killFamily()
    }

    /// Kills the whole family at once: every member is frozen with SIGSTOP, so none can fork
    /// any more, then killed with SIGKILL together with the root's process group, scanning
    /// again until nothing of the family remains (orphans re-parented here included).
    /// Orphaned zombies are reaped; the root is reaped by the job's waiter. Returns once the
    /// family is gone (or, for members that linger as zombies of others, after half a second).
    public func killFamily() {
        let clock = ContinuousClock()
        let start = clock.now
        var rounds = 0
        while true {
            var members = scanFamily().filter { !$0.isZombie }
            if members.isEmpty { break }
            rounds += 1
            // Freeze first: scan and stop until a scan finds nothing new, so no member forks
            // a child between the scan and the kill.
            var stopped = Set<FamilyMember>()
            while true {
                let fresh = members.map(\.member).filter { !stopped.contains($0) }
                if fresh.isEmpty { break }
                for member in fresh { Self.send(SIGSTOP, to: member) }
                stopped.formUnion(fresh)
                members = scanFamily().filter { !$0.isZombie }
            }
            signalGroup(SIGKILL)
            for member in stopped { Self.send(SIGKILL, to: member) }
            JobSystemCalls.sleep(milliseconds: 2)
        }
        _ = wait(deadline: clock.now + .milliseconds(500))
        // Members that died before their parent are zombies until that parent is reaped;
        // then they re-parent here (or to init) and the scan reaps them.
        let settle = clock.now + .milliseconds(500)
        while !scanFamily().isEmpty && clock.now < settle {
            JobSystemCalls.sleep(milliseconds: 2)
        }
        logger.debug("family killed", metadata: ["killRounds": "\(rounds)", "elapsed": "\(clock.now - start)"])
    }

    // MARK: - Control file

    /// Carries out the `ctl` file's commands (see `JobControlCommand`), one per line.
    /// Nothing is done unless every line is understood.
    /// - Throws: `JobError` `.badControlCommand` naming the line it could not understand,
    ///   `.alreadyStarted` for `start`.
    public func controlCommand(_ text: String) throws {
        let commands = try JobControlCommand.parse(text)
        if commands.contains(.start) { throw JobError(.alreadyStarted, "ctl: start: the job has already started") }
        commands.forEach(perform)
    }

    /// Carries out one command on the running job (`start` does nothing here).
    func perform(_ command: JobControlCommand) {
        switch command {
        case .signal(let signo): signal(signo)
        case .interrupt: signal(SIGINT)
        case .kill: killFamily()
        case .start: break
        }
    }
}
