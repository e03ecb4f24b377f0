#if canImport(Glibc)
import Glibc
#endif
import Logging
import NineP
import Synchronization
import SystemPackage

/// The job tree procsrv serves beside /proc (attach name `job`): the job's control files.
///
/// | file | access | what it does |
/// |---|---|---|
/// | `ctl` | write | `start`, `signal N`, `signal TERM`, `kill`, `interrupt` (``JobControlCommand``); a read gives the error of the last command that failed, or nothing |
/// | `spec` | write | the job to start, a ``JobSpec`` in its binary encoding, written in order from offset 0 (a write at 0 starts again) |
/// | `stdin` | write | forwarded to the job; clunking the fid opened for writing closes the job's stdin |
/// | `stdout`, `stderr` | read | streaming: a read waits for data or end of file; offsets are ignored, each byte is read once |
/// | `wait` | read | waits until the job's root ends, then `exit N\n` or `signal N\n` |
/// | `pids` | read | the family's PIDs, one a line, at open time |
/// | `info` | read | `host=`, and once started `pid=`, `command=` (control bytes as `\xNN`), `start=` (Unix seconds) lines |
/// | `ps` | read | a ``ProcessSnapshot`` of the node at open time: what cps needs, in one read |
///
/// ## Starting
/// The tree starts without a job (unless procsrv was given one on its command line). A client
/// writes the spec to `spec`, then `start` to `ctl`; the write of `start` fails with the
/// reason when the spec is bad or the job cannot be started (read `ctl` for the message:
/// 9P2000.L carries only the errno), and the client may write a spec again. Until a job has
/// started, `stdin`, `stdout`, `stderr` and `wait` cannot be opened (EAGAIN).
///
/// A signal, `interrupt` or `kill` before `start` cancels the job: it never starts, `start`
/// then fails (ECANCELED), `wait` reads `signal N` for the signal that cancelled it and the
/// output streams are empty. So an interrupt that comes while a launcher is still setting a
/// node up is never lost.
///
/// Blocking reads end when their request is flushed or the connection closes: the request's
/// cancellation wakes them (``Job/wakeWaiters()``), so an idle job costs its node no wake-ups.
public final class JobControlTree: Sendable {
    /// The files of the tree, in listing order.
    public enum File: String, CaseIterable, Sendable {
        case ctl, spec, stdin, stdout, stderr, wait, pids, info, ps

        var mode: UInt32 {
            switch self {
            case .ctl: 0o600
            case .spec, .stdin: 0o200
            case .stdout, .stderr: 0o400
            case .wait, .pids, .info, .ps: 0o444
            }
        }

        var isWritable: Bool { self == .ctl || self == .spec || self == .stdin }

        /// Whether the file is read whole at open, as /proc's are; the others block or take
        /// writes, and must be read only when asked.
        public var isSnapshot: Bool { self == .pids || self == .info || self == .ps }
    }

    /// The file a qid of this tree names (nil: the directory, or not this tree's).
    public static func file(of qid: Qid) -> File? {
        guard qid.type == .file, qid.path & (1 << 63) != 0 else { return nil }
        let index = Int(qid.path & ~(1 << 63)) - 1
        return File.allCases.indices.contains(index) ? File.allCases[index] : nil
    }

    /// Where the tree is in a job's life.
    enum Phase {
        /// No job yet: the spec may be written.
        case waiting
        case running(Job, command: [[UInt8]], startTime: Int)
        /// Signalled before it started: it never will.
        case cancelled(ExitStatus)
    }

    struct State {
        var phase = Phase.waiting
        /// The spec written so far.
        var spec: [UInt8] = []
        /// The message of the last ctl command that failed.
        var lastError = ""
    }

    public let hostName: String
    /// The entries a started job's environment starts from (procsrv's own environment).
    let baseEnvironment: [[UInt8]]
    let outputBufferSize: Int
    let logger: Logger
    private let state = Mutex(State())

    /// A tree without a job yet.
    /// - Parameters:
    ///   - environment: the `NAME=VALUE` entries a job's environment starts from; the spec's
    ///     entries are added to them.
    ///   - outputBufferSize: how much of each output stream may wait unread.
    ///   - logger: logs starts at debug level.
    public init(environment: [[UInt8]], outputBufferSize: Int = 1 << 20, logger: Logger) {
        self.baseEnvironment = environment
        self.outputBufferSize = outputBufferSize
        self.logger = logger
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        self.hostName = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The job, once started.
    public var job: Job? {
        state.withLock { state in
            if case .running(let job, _, _) = state.phase { return job }
            return nil
        }
    }

    /// Starts the job `spec` describes, unless one was started or cancelled already.
    /// - Throws: `JobError`: `.alreadyStarted`, `.cancelled`, or why it could not start
    ///   (`.badSpec`, `.commandNotFound`, `.badWorkingDirectory`, `.spawnFailed`).
    @discardableResult
    public func start(_ spec: JobSpec) throws(JobError) -> Job {
        // Under the lock: an interrupt waits for the start and then reaches the job.
        try state.withLock { state throws(JobError) -> Job in
            switch state.phase {
            case .running: throw JobError(.alreadyStarted, "ctl: start: the job has already started")
            case .cancelled(let status):
                throw JobError(.cancelled, "ctl: start: the job was stopped (\(status.text)) before it started", errno: .canceled)
            case .waiting: break
            }
            let job = try startJob(spec)
            state.phase = .running(job, command: spec.argv, startTime: time(nil))
            state.spec = []
            return job
        }
    }

    private func startJob(_ spec: JobSpec) throws(JobError) -> Job {
        do {
            return try Job.start(spec, environment: baseEnvironment, outputBufferSize: outputBufferSize, logger: logger)
        } catch let error as JobError {
            throw error
        } catch {
            throw JobError(.spawnFailed, "\(error)")
        }
    }

    /// Carries out `ctl` commands, one a line; nothing is done unless every line is understood.
    /// - Throws: `JobError` for a line not understood or a `start` that failed; its message
    ///   is then what a read of `ctl` gives.
    public func control(_ text: String) throws(JobError) {
        do throws(JobError) {
            for command in try JobControlCommand.parse(text) {
                try perform(command)
            }
            state.withLock { $0.lastError = "" }
        } catch {
            logger.debug("ctl failed", metadata: ["error": "\(error.message)"])
            state.withLock { $0.lastError = error.message }
            throw error
        }
    }

    private func perform(_ command: JobControlCommand) throws(JobError) {
        if command == .start {
            let spec = try JobSpec(decoding: state.withLock { $0.spec })
            try start(spec)
            return
        }
        let job = state.withLock { state -> Job? in
            switch state.phase {
            case .running(let job, _, _): return job
            case .cancelled: return nil
            case .waiting:
                switch command {
                case .signal(let signo): state.phase = .cancelled(.signaled(signo))
                case .interrupt: state.phase = .cancelled(.signaled(SIGINT))
                case .kill: state.phase = .cancelled(.signaled(SIGKILL))
                case .start: break
                }
                return nil
            }
        }
        // Outside the lock: killing a family takes a moment, and nothing else must wait for it.
        job?.perform(command)
    }

    /// Takes bytes of the spec: in order from offset 0, at most ``JobSpec/maximumSize``.
    func writeSpec(offset: UInt64, data: [UInt8]) throws(JobError) {
        try state.withLock { state throws(JobError) in
            guard case .waiting = state.phase else {
                throw JobError(.alreadyStarted, "spec: the job has started or was stopped; a spec is no longer taken")
            }
            if offset == 0 { state.spec = [] }
            guard offset == UInt64(state.spec.count) else {
                throw JobError(.badSpec, "spec: write at offset \(offset); the spec is written in order, next at \(state.spec.count)")
            }
            guard data.count <= JobSpec.maximumSize - state.spec.count else {
                throw JobError(.badSpec, "spec: more than \(JobSpec.maximumSize) bytes", errno: .fileTooLarge)
            }
            state.spec += data
        }
    }

    /// The text of `info`.
    public var infoText: String {
        var text = "host=\(hostName)\n"
        let running = state.withLock { state -> (Job, [[UInt8]], Int)? in
            if case .running(let job, let command, let startTime) = state.phase { return (job, command, startTime) }
            return nil
        }
        if let (job, command, startTime) = running {
            text += "pid=\(job.rootPID)\ncommand=\(command.map(Self.printable).joined(separator: " "))\nstart=\(startTime)\n"
        }
        return text
    }

    /// A word for a line of `info`: control bytes and backslashes as `\xNN`, so no word can
    /// add a line of its own.
    static func printable(_ word: [UInt8]) -> String {
        var bytes: [UInt8] = []
        for byte in word {
            if byte < 0x20 || byte == 0x7f || byte == UInt8(ascii: "\\") {
                let hex = Array("0123456789abcdef".utf8)
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func qid(of file: File?) -> Qid {
        guard let file else { return Qid(type: .directory, path: 1 << 63) }
        return Qid(type: .file, path: 1 << 63 | UInt64(File.allCases.firstIndex(of: file)! + 1))
    }

    func attributes(of file: File?) -> FileAttributes {
        let started = state.withLock { state -> Int in
            if case .running(_, _, let startTime) = state.phase { return startTime }
            return 0
        }
        let now = FileAttributes.Timestamp(seconds: UInt64(started))
        let mode = file.map { LinuxMode.regular | $0.mode } ?? (LinuxMode.directory | 0o555)
        return FileAttributes(mode: mode, uid: getuid(), gid: getgid(), nlink: file == nil ? 2 : 1, atime: now, mtime: now, ctime: now)
    }

    func open(_ file: File?, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        let access = flags & LinuxOpenFlags.accessMask
        guard let file else {
            guard access == LinuxOpenFlags.readOnly else { throw NinePError(.isDirectory) }
            return JobDirectoryFile()
        }
        if access != LinuxOpenFlags.readOnly && !file.isWritable { throw NinePError(.permissionDenied) }
        if access == LinuxOpenFlags.readOnly && file.mode & 0o400 == 0 { throw NinePError(.permissionDenied) }
        let phase = state.withLock { $0.phase }
        switch file {
        case .ctl: return JobControlFile(tree: self)
        case .spec: return JobSpecFile(tree: self)
        case .pids: return JobTextFile(Array((job?.familyPIDs() ?? []).map { "\($0)\n" }.joined().utf8))
        case .info: return JobTextFile(Array(infoText.utf8))
        case .ps:
            // The family is found from the same stat files the snapshot holds.
            let job = self.job
            return JobTextFile(ProcessSnapshot.capture(family: { stats in
                job?.familyPIDs(table: stats.compactMapValues(JobProcessTable.parseStat)) ?? []
            }))
        case .stdin, .stdout, .stderr, .wait:
            switch phase {
            case .waiting:
                throw NinePError(.resourceTemporarilyUnavailable, "\(file.rawValue): no job has started yet (write its spec, then start to ctl)")
            case .cancelled(let status):
                switch file {
                case .wait: return JobTextFile(Array("\(status.text)\n".utf8))
                case .stdin: throw NinePError(.brokenPipe, "stdin: the job was stopped before it started")
                default: return JobTextFile([])
                }
            case .running(let job, _, _):
                switch file {
                case .stdin: return JobInputFile(job: job, closesInput: access != LinuxOpenFlags.readOnly)
                case .stdout: return JobOutputFile(job: job, stream: .stdout)
                case .stderr: return JobOutputFile(job: job, stream: .stderr)
                default: return JobWaitFile(job: job)
                }
            }
        }
    }

    /// The message of the last `ctl` command that failed (empty after one that worked).
    var lastError: String { state.withLock { $0.lastError } }
}

/// The listing of the job tree's root.
final class JobDirectoryFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        throw NinePError(.isDirectory)
    }

    func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
        JobControlTree.File.allCases.map {
            DirectoryItem(name: $0.rawValue, qid: JobControlTree.qid(of: $0), type: DirectoryEntry.typeRegular)
        }
    }
}

/// Fixed text, made at open.
final class JobTextFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    let content: [UInt8]
    init(_ content: [UInt8]) { self.content = content }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        guard offset < UInt64(content.count) else { return [] }
        let start = Int(offset)
        return Array(content[start..<min(content.count, start + count)])
    }
}

/// `ctl`: each write is one or more command lines; a read gives the last failure's message.
final class JobControlFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    let tree: JobControlTree
    init(tree: JobControlTree) { self.tree = tree }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        let text = tree.lastError.isEmpty ? [] : Array("\(tree.lastError)\n".utf8)
        guard offset < UInt64(text.count) else { return [] }
        return Array(text[Int(offset)..<min(text.count, Int(offset) + count)])
    }

    func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
        do {
            try tree.control(String(decoding: data, as: UTF8.self))
        } catch {
            throw NinePError(error.ninePErrno, error.message)
        }
        return data.count
    }
}

/// `spec`: the encoded ``JobSpec``, written in order.
final class JobSpecFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    let tree: JobControlTree
    init(tree: JobControlTree) { self.tree = tree }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        throw NinePError(.badFileDescriptor)
    }

    func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
        do {
            try tree.writeSpec(offset: offset, data: data)
        } catch {
            throw NinePError(error.ninePErrno, error.message)
        }
        return data.count
    }
}

extension JobError {
    /// The errno a 9P client gets for this error.
    var ninePErrno: Errno {
        switch code {
        case .cancelled: .canceled
        case .notStarted: .resourceTemporarilyUnavailable
        default: errno ?? .invalidArgument
        }
    }
}

/// `stdin`: writes go to the job; the fid that opened it for writing closes it when clunked.
final class JobInputFile: OpenFile {
    /// A write waits while the job does not read its input.
    var ioDuration: CallDuration { .unbounded }
    let job: Job
    let closesInput: Bool
    init(job: Job, closesInput: Bool) {
        self.job = job
        self.closesInput = closesInput
    }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        throw NinePError(.badFileDescriptor)
    }

    func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
        do {
            try job.writeInput(data)
        } catch let error as JobError {
            throw NinePError(error.code == .inputClosed ? .brokenPipe : (error.errno ?? .ioError), error.message)
        }
        return data.count
    }

    func close() {
        if closesInput { job.closeInput() }
    }
}

/// `stdout` and `stderr`: a read returns what arrived, waiting for at least a byte.
final class JobOutputFile: OpenFile {
    var ioDuration: CallDuration { .unbounded }
    let job: Job
    let stream: Job.Output
    init(job: Job, stream: Job.Output) {
        self.job = job
        self.stream = stream
    }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        // Sleeps until output, its end, or a flush (which wakes it): no polling while idle.
        context.onCancel { [job] in job.wakeWaiters() }
        switch job.readOutput(stream, maxBytes: max(count, 1), until: { context.isCancelled }) {
        case .chunk(let bytes): return bytes
        case .eof: return []
        case .timedOut: throw NinePError(.interrupted)
        }
    }
}

/// `wait`: blocks until the root has ended, then its status as text.
final class JobWaitFile: OpenFile {
    var ioDuration: CallDuration { .unbounded }
    let job: Job
    init(job: Job) { self.job = job }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        context.onCancel { [job] in job.wakeWaiters() }
        guard let status = job.wait(until: { context.isCancelled }) else { throw NinePError(.interrupted) }
        let text = Array("\(status.text)\n".utf8)
        guard offset < UInt64(text.count) else { return [] }
        return Array(text[Int(offset)..<min(text.count, Int(offset) + count)])
    }
}
