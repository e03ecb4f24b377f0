#if canImport(Glibc)
import Glibc
#endif
import Logging
import NineP
import Synchronization
import SystemPackage

/// The node's /proc as a read-only 9P file tree, and the job procsrv supervises beside it.
///
/// Attach names: `""` or `/proc` is /proc; `job` is the ``JobControlTree`` when there is a job.
///
/// - Listings are what /proc lists at that moment, each entry with its `d_type`.
/// - A file's content is read whole at open (``ProcSnapshotFile``); reads are slices of it.
///   Attributes keep /proc's size 0 for regular files, so a client reads to end of file.
/// - Walks never leave /proc (see ``ProcEntry``): symlinks are returned as symlinks
///   (Treadlink, the .u stat extension) and never followed.
/// - Nothing can change: opening for writing or truncation, create, remove, rename, setattr,
///   wstat, mknod, link and xattr creation all fail with EROFS.
/// - Everything runs as the user who started the server, so the kernel's /proc permissions
///   apply and its errno (EACCES, EPERM, ENOENT, ESRCH) is what the client gets.
/// - Files whose reading changes the system (``readsWithSideEffects``) are refused with EPERM.
/// - What a connection holds (walked entries' descriptors, snapshots, listings) is charged to
///   its ``ProcBudget``: serve each connection through ``serving(_:)`` with its own.
public struct ProcFS: FileSystem {
    /// /proc answers from the kernel at once; the job tree's streams say for themselves.
    public var callDuration: CallDuration { .immediate }

    /// What a fid stands for.
    public enum Node: Sendable {
        case proc(ProcEntryHandle)
        /// nil: the job tree's root.
        case job(JobControlTree.File?)
    }

    /// An opaque reference to an entry of /proc.
    public struct ProcEntryHandle: Sendable {
        let entry: ProcEntry
    }

    /// Files below /proc whose reading changes the system, refused at open with EPERM:
    /// `kmsg` (a read takes the messages out of the kernel's log, as syslog(2)'s
    /// SYSLOG_ACTION_READ does: whoever reads it next, journald or dmesg's reader, misses
    /// them) and `sys/vm/stat_refresh` (a read folds every CPU's VM counters into the global
    /// ones: a trigger, not data). Files that act only when written (`sysrq-trigger`,
    /// `sys/vm/drop_caches`, `PID/clear_refs`) need nothing: nothing is ever written.
    public static let readsWithSideEffects: Set<String> = ["kmsg", "sys/vm/stat_refresh"]

    private let root: ProcEntry
    /// The supervised job, served under attach name `job`.
    public let jobTree: JobControlTree?
    private let logger: Logger
    private let budget: ProcBudget

    /// - Parameters:
    ///   - path: the /proc to serve (the mount of procfs of this PID namespace).
    ///   - jobTree: the job tree, when the server supervises a job.
    ///   - logger: logs at debug level.
    ///   - budget: what its connection may hold; by default one connection's share of
    ///     ``ProcServer/Limits/standard``.
    /// - Throws: `Errno` when `path` cannot be opened.
    public init(path: String = "/proc", jobTree: JobControlTree? = nil, logger: Logger = Logger(label: "procsrv.procfs"), budget: ProcBudget? = nil) throws {
        self.root = try ProcEntry.root(path: path)
        self.jobTree = jobTree
        self.logger = logger
        self.budget = budget ?? ProcServer.Limits.standard.pools(logger: logger).budget(for: "the connection")
    }

    private init(_ base: ProcFS, budget: ProcBudget) {
        self.root = base.root
        self.jobTree = base.jobTree
        self.logger = base.logger
        self.budget = budget
    }

    /// The same tree for another connection, which holds what it uses against `budget`.
    public func serving(_ budget: ProcBudget) -> ProcFS {
        ProcFS(self, budget: budget)
    }

    public func attach(_ request: AttachRequest, context: RequestContext) throws -> Node {
        let node: Node
        switch request.aname {
        case "", "/", "/proc", "proc": node = .proc(ProcEntryHandle(entry: root))
        case "job", "/job":
            guard jobTree != nil else { throw NinePError(.noSuchFileOrDirectory, "no job is supervised here") }
            node = .job(nil)
        default:
            throw NinePError(.noSuchFileOrDirectory, "no tree \"\(request.aname)\" (try \"\" for /proc or \"job\")")
        }
        budget.onAttach()
        return node
    }

    public func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        switch node {
        case .proc(let handle):
            return .proc(ProcEntryHandle(entry: try handle.entry.walk(name, descriptors: budget.descriptors)))
        case .job(let file):
            guard file == nil else { throw NinePError(.notDirectory) }
            if name == ".." { return .job(nil) }
            guard let child = JobControlTree.File(rawValue: name) else { throw NinePError(.noSuchFileOrDirectory) }
            return .job(child)
        }
    }

    public func qid(of node: Node) -> Qid {
        switch node {
        case .proc(let handle): handle.entry.qid
        case .job(let file): JobControlTree.qid(of: file)
        }
    }

    public func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        switch node {
        case .proc(let handle):
            let info = try handle.entry.status()
            let mode = UInt32(info.st_mode)
            let isRegular = mode & LinuxMode.typeMask == LinuxMode.regular
            return FileAttributes(
                mode: mode, uid: info.st_uid, gid: info.st_gid, nlink: UInt64(info.st_nlink),
                rdev: UInt64(info.st_rdev), size: isRegular ? 0 : UInt64(max(0, info.st_size)),
                blockSize: UInt64(max(0, info.st_blksize)), blocks: 0,
                atime: Self.timestamp(info.st_atim), mtime: Self.timestamp(info.st_mtim), ctime: Self.timestamp(info.st_ctim),
                userName: UserNames.shared.user(info.st_uid), groupName: UserNames.shared.group(info.st_gid))
        case .job(let file):
            guard let jobTree else { throw NinePError(.noSuchFileOrDirectory) }
            return jobTree.attributes(of: file)
        }
    }

    private static func timestamp(_ time: timespec) -> FileAttributes.Timestamp {
        .init(seconds: UInt64(max(0, time.tv_sec)), nanoseconds: UInt64(max(0, time.tv_nsec)))
    }

    public func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        switch node {
        case .proc(let handle):
            guard flags & LinuxOpenFlags.accessMask == LinuxOpenFlags.readOnly,
                flags & (LinuxOpenFlags.truncate | LinuxOpenFlags.create) == 0
            else { throw NinePError(.readOnlyFileSystem) }
            let entry = handle.entry
            if entry.isSymlink { throw NinePError(.tooManySymbolicLinkLevels, "\(entry.name) is a symbolic link; it is not followed") }
            let path = entry.path
            if Self.readsWithSideEffects.contains(path) {
                logger.info("refused to open /proc/\(path): reading it changes the system")
                throw NinePError(.notPermitted, "/proc/\(path) is not served: reading it changes the system")
            }
            // Charged here, given back by the open file when it closes the descriptor.
            try budget.descriptors.charge(1)
            let fd: Int32
            do {
                fd = try entry.openForReading()
            } catch {
                budget.descriptors.release(1)
                throw error
            }
            if entry.isDirectory { return ProcDirectoryFile(fd: fd, budget: budget) }
            return try ProcSnapshotFile(fd: fd, budget: budget, context: context)
        case .job(let file):
            guard let jobTree else { throw NinePError(.noSuchFileOrDirectory) }
            if flags & (LinuxOpenFlags.truncate | LinuxOpenFlags.create) != 0 && file == nil { throw NinePError(.isDirectory) }
            let opened = try jobTree.open(file, flags: flags, context: context)
            guard let text = opened as? JobTextFile else { return opened }
            return try ChargedFile(text, bytes: text.content.count, account: budget.bytes)
        }
    }

    /// No authentication is needed: answered with ENOENT, which diod's clients (and diod
    /// itself) take to mean "attach without an afid"; EOPNOTSUPP makes them give up.
    public func authenticate(_ request: AttachRequest, context: RequestContext) throws -> any AuthenticationFile {
        throw NinePError(.noSuchFileOrDirectory, "authentication not required")
    }

    public func readlink(_ node: Node, context: RequestContext) throws -> String {
        switch node {
        case .proc(let handle): try handle.entry.linkTarget()
        case .job: throw NinePError(.invalidArgument)
        }
    }
}

