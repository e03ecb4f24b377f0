#if canImport(Glibc)
import Glibc
#endif
import NineP
import Synchronization
import SystemPackage

/// The job tree procsrv serves beside /proc (attach name `job`): the job's control files.
///
/// | file | access | what it does |
/// |---|---|---|
/// | `ctl` | write | `signal N`, `signal TERM`, `kill`, `interrupt` (``Job/controlCommand(_:)``) |
/// | `stdin` | write | forwarded to the job; clunking the fid opened for writing closes the job's stdin |
/// | `stdout`, `stderr` | read | streaming: a read waits for data or end of file; offsets are ignored, each byte is read once |
/// | `wait` | read | waits until the job's root ends, then `exit N\n` or `signal N\n` |
/// | `pids` | read | the family's PIDs, one a line, at open time |
/// | `info` | read | `host=`, `pid=`, `command=`, `start=` (Unix seconds) lines |
/// | `ps` | read | a ``ProcessSnapshot`` of the node at open time: what cps needs, in one read |
///
/// Blocking reads end when their request is flushed or the connection closes: the request's
/// cancellation wakes them (``Job/wakeWaiters()``), so an idle job costs its node no wake-ups.
public final class JobControlTree: Sendable {
    /// The files of the tree, in listing order.
    public enum File: String, CaseIterable, Sendable {
        case ctl, stdin, stdout, stderr, wait, pids, info, ps

        var mode: UInt32 {
            switch self {
            case .ctl: 0o600
            case .stdin: 0o200
            case .stdout, .stderr: 0o400
            case .wait, .pids, .info, .ps: 0o444
            }
        }

        var isWritable: Bool { self == .ctl || self == .stdin }

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

    public let job: Job
    public let command: [String]
    public let hostName: String
    /// When the job was started, in Unix seconds.
    public let startTime: Int

    /// - Parameters:
    ///   - job: the supervised job.
    ///   - command: its argv, for `info`.
    public init(job: Job, command: [String]) {
        self.job = job
        self.command = command
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        self.hostName = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.startTime = time(nil)
    }

    /// The text of `info`.
    public var infoText: String {
        "host=\(hostName)\npid=\(job.rootPID)\ncommand=\(command.joined(separator: " "))\nstart=\(startTime)\n"
    }

    static func qid(of file: File?) -> Qid {
        guard let file else { return Qid(type: .directory, path: 1 << 63) }
        return Qid(type: .file, path: 1 << 63 | UInt64(File.allCases.firstIndex(of: file)! + 1))
    }

    func attributes(of file: File?) -> FileAttributes {
        let now = FileAttributes.Timestamp(seconds: UInt64(startTime))
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
        switch file {
        case .ctl: return JobControlFile(job: job)
        case .stdin: return JobInputFile(job: job, closesInput: access != LinuxOpenFlags.readOnly)
        case .stdout: return JobOutputFile(job: job, stream: .stdout)
        case .stderr: return JobOutputFile(job: job, stream: .stderr)
        case .wait: return JobWaitFile(job: job)
        case .pids: return JobTextFile(Array(job.familyPIDs().map { "\($0)\n" }.joined().utf8))
        case .info: return JobTextFile(Array(infoText.utf8))
        case .ps:
            // The family is found from the same stat files the snapshot holds.
            return JobTextFile(ProcessSnapshot.capture(family: { [job] stats in
                job.familyPIDs(table: stats.compactMapValues(JobProcessTable.parseStat))
            }))
        }
    }
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

/// `ctl`: each write is one or more command lines.
final class JobControlFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    let job: Job
    init(job: Job) { self.job = job }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] { [] }

    func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
        do {
            try job.controlCommand(String(decoding: data, as: UTF8.self))
        } catch let error as JobError {
            throw NinePError(.invalidArgument, error.message)
        }
        return data.count
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
