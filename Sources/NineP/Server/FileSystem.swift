import SystemPackage

/// A file tree that ``ServerConnection`` serves over 9P.
///
/// A concrete server implements the reading calls; the mutating ones default to
/// `EROFS`, so a read-only server writes nothing to refuse them. Calls may block (a remote
/// node, a process's output): the engine runs them on a pool of threads of its own, never on
/// the Swift concurrency pool, and calls that touch different fids run concurrently. A file
/// system says how long its calls may take (``callDuration``, ``OpenFile/ioDuration``): the
/// engine serves immediate ones on the thread that read the request, without a hand-off,
/// and keeps threads for bounded calls that unbounded ones (a stream waiting for data) can
/// never all take. A call
/// that can block for long should watch ``RequestContext/isCancelled`` or register
/// ``RequestContext/onCancel(_:)`` so that Tflush and a closed connection end it.
///
/// Errors thrown are mapped once, in the engine: a ``NinePError`` keeps its errno and
/// message, an `Errno` becomes that errno, anything else `EIO`.
/// How long a file system call may take, which decides where the engine runs it.
public enum CallDuration: Sendable, Hashable {
    /// Answers at once (local state, a quick system call): served on the reading thread.
    case immediate
    /// May wait, but for a bounded time (a remote call with a deadline): a pool thread.
    case bounded
    /// May wait for as long as it likes (a job's output, its exit): a pool thread of a
    /// budget of its own, so that such calls never hold every thread.
    case unbounded
}

public protocol FileSystem: Sendable {
    /// What a fid stands for: a path, an inode, a remote fid.
    associatedtype Node: Sendable

    /// How long calls on nodes (attach, walk, open, attributes, clunk…) may take. Default
    /// ``CallDuration/bounded``: they run on the pool. A file system answering from local
    /// state or quick system calls says ``CallDuration/immediate``.
    var callDuration: CallDuration { get }

    /// Binds a new fid to the root of the tree named `aname`.
    func attach(_ request: AttachRequest, context: RequestContext) throws -> Node

    /// Walks one step from `node`. `name` is never empty and holds neither `/` nor NUL; `..`
    /// is passed on and must not climb above the root.
    func walk(from node: Node, name: String, context: RequestContext) throws -> Node

    /// Walks several steps; the default walks one name at a time. A server that can walk a
    /// path in one go (a proxy) overrides it. Returns the nodes reached; fewer than `names`
    /// when a later step failed (the first step's failure is thrown).
    func walk(from node: Node, names: [String], context: RequestContext) throws -> [Node]

    /// The qid of a node.
    func qid(of node: Node) -> Qid

    /// The node's attributes, as stat(2) gives them.
    func attributes(of node: Node, context: RequestContext) throws -> FileAttributes

    /// Opens a node. `flags` are Linux open(2) flags (Topen's Plan 9 modes are translated).
    func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile

    /// A symlink's target text.
    func readlink(_ node: Node, context: RequestContext) throws -> String

    /// File system statistics, as statfs(2).
    func statistics(of node: Node, context: RequestContext) throws -> Rstatfs

    /// Called exactly once for every node that attach, walk or create returned, when no fid
    /// stands for it any more (clunked, replaced, or the connection ended). A clone walk
    /// (Twalk with no names) makes a second fid stand for the same node, without a call to
    /// walk, so a node that owns something (a remote fid) is never released twice.
    func release(_ node: Node)

    /// An authentication file for Tauth; the default answers that no authentication is needed
    /// (errno `ENOENT`, text "authentication not required", as diod does).
    func authenticate(_ request: AttachRequest, context: RequestContext) throws -> any AuthenticationFile

    /// Whether Tattach may name no authentication fid. Default true.
    var allowsUnauthenticatedAttach: Bool { get }

    // MARK: - Mutating calls (default: read-only file system)

    func create(in directory: Node, name: String, flags: UInt32, mode: UInt32, gid: UInt32, context: RequestContext) throws -> (Node, any OpenFile)
    func makeDirectory(in directory: Node, name: String, mode: UInt32, gid: UInt32, context: RequestContext) throws -> Qid
    func makeSymlink(in directory: Node, name: String, target: String, gid: UInt32, context: RequestContext) throws -> Qid
    func makeNode(in directory: Node, name: String, mode: UInt32, major: UInt32, minor: UInt32, gid: UInt32, context: RequestContext) throws -> Qid
    func link(_ node: Node, into directory: Node, name: String, context: RequestContext) throws
    func rename(_ node: Node, into directory: Node, name: String, context: RequestContext) throws
    func rename(from directory: Node, oldName: String, to newDirectory: Node, newName: String, context: RequestContext) throws
    func unlink(in directory: Node, name: String, flags: UInt32, context: RequestContext) throws
    func remove(_ node: Node, context: RequestContext) throws
    func setAttributes(of node: Node, _ request: Tsetattr, context: RequestContext) throws
    func writeStat(of node: Node, _ stat: Stat, context: RequestContext) throws
}

/// An open file of a ``FileSystem``.
public protocol OpenFile: AnyObject, Sendable {
    /// How long reads and writes may take. Default ``CallDuration/bounded``; a stream that
    /// waits for data is ``CallDuration/unbounded``.
    var ioDuration: CallDuration { get }
    /// Reads up to `count` bytes at `offset`; an empty result is end of file.
    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8]
    /// Writes at `offset`; the default refuses (read-only).
    func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int
    /// The entries of an open directory; called when a client reads from offset 0.
    func readDirectory(context: RequestContext) throws -> [DirectoryItem]
    /// The iounit to report; 0 lets the client use msize.
    var iounit: UInt32 { get }
    /// Called once when the fid is clunked or the connection ends.
    func close()
}

/// The file of a Tauth fid: the client and the file system talk through reads and writes
/// until ``isAuthenticated``.
public protocol AuthenticationFile: OpenFile {
    var isAuthenticated: Bool { get }
    /// The user the authentication proved, checked against Tattach's uname.
    var user: String { get }
}

/// What Tauth and Tattach say about the user and the tree they want.
public struct AttachRequest: Sendable, Hashable {
    public var uname: String
    public var aname: String
    /// 9P2000.u and .L numeric user id; nil when not sent.
    public var numericUser: UInt32?

    public init(uname: String, aname: String, numericUser: UInt32?) {
        self.uname = uname
        self.aname = aname
        self.numericUser = numericUser
    }
}

/// One entry of a directory listing.
public struct DirectoryItem: Sendable, Hashable {
    public var name: String
    public var qid: Qid
    /// readdir(3)'s `d_type`.
    public var type: UInt8

    public init(name: String, qid: Qid, type: UInt8) {
        self.name = name
        self.qid = qid
        self.type = type
    }
}

/// A file's attributes, the common ground of Rgetattr and the 9P2000 stat.
public struct FileAttributes: Sendable, Hashable {
    /// Linux `st_mode`: file type and permission bits.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var nlink: UInt64
    public var rdev: UInt64
    public var size: UInt64
    public var blockSize: UInt64
    public var blocks: UInt64
    public var atime: Timestamp
    public var mtime: Timestamp
    public var ctime: Timestamp
    /// Names for 9P2000's string ids; the numbers are used when nil.
    public var userName: String?
    public var groupName: String?

    public struct Timestamp: Sendable, Hashable {
        public var seconds: UInt64
        public var nanoseconds: UInt64
        public init(seconds: UInt64, nanoseconds: UInt64 = 0) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
    }

    public init(
        mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, nlink: UInt64 = 1, rdev: UInt64 = 0,
        size: UInt64 = 0, blockSize: UInt64 = 4096, blocks: UInt64 = 0,
        atime: Timestamp = .init(seconds: 0), mtime: Timestamp = .init(seconds: 0),
        ctime: Timestamp = .init(seconds: 0), userName: String? = nil, groupName: String? = nil
    ) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.nlink = nlink
        self.rdev = rdev
        self.size = size
        self.blockSize = blockSize
        self.blocks = blocks
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.userName = userName
        self.groupName = groupName
    }

    public var isDirectory: Bool { mode & LinuxMode.typeMask == LinuxMode.directory }
    public var isSymlink: Bool { mode & LinuxMode.typeMask == LinuxMode.symlink }

    /// The qid type the file type implies.
    public var qidType: QidType {
        switch mode & LinuxMode.typeMask {
        case LinuxMode.directory: .directory
        case LinuxMode.symlink: .symlink
        default: .file
        }
    }

    /// readdir(3)'s `d_type` for this file type.
    public var directoryEntryType: UInt8 {
        UInt8(truncatingIfNeeded: (mode & LinuxMode.typeMask) >> 12)
    }
}

extension FileSystem {
    public var callDuration: CallDuration { .bounded }

    public func walk(from node: Node, names: [String], context: RequestContext) throws -> [Node] {
        var nodes: [Node] = []
        var current = node
        for name in names {
            do {
                current = try walk(from: current, name: name, context: context)
            } catch {
                if nodes.isEmpty { throw error }
                return nodes
            }
            nodes.append(current)
        }
        return nodes
    }

    public func readlink(_ node: Node, context: RequestContext) throws -> String {
        throw NinePError(.invalidArgument)
    }

    public func statistics(of node: Node, context: RequestContext) throws -> Rstatfs {
        // V9FS_MAGIC, as Linux reports for a 9p mount.
        Rstatfs(type: 0x0102_1997, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, fsid: 0, namelen: 255)
    }

    public func release(_ node: Node) {}

    public func authenticate(_ request: AttachRequest, context: RequestContext) throws -> any AuthenticationFile {
        // Plan 9 clients look for this text; diod's clients (libnpclient) take only ENOENT
        // (or no errno) in Rlerror to mean "go on and attach without an afid", as diod answers.
        throw NinePError(.noSuchFileOrDirectory, "authentication not required")
    }

    public var allowsUnauthenticatedAttach: Bool { true }

    public func create(in directory: Node, name: String, flags: UInt32, mode: UInt32, gid: UInt32, context: RequestContext) throws -> (Node, any OpenFile) {
        throw NinePError(.readOnlyFileSystem)
    }
    public func makeDirectory(in directory: Node, name: String, mode: UInt32, gid: UInt32, context: RequestContext) throws -> Qid {
        throw NinePError(.readOnlyFileSystem)
    }
    public func makeSymlink(in directory: Node, name: String, target: String, gid: UInt32, context: RequestContext) throws -> Qid {
        throw NinePError(.readOnlyFileSystem)
    }
    public func makeNode(in directory: Node, name: String, mode: UInt32, major: UInt32, minor: UInt32, gid: UInt32, context: RequestContext) throws -> Qid {
        throw NinePError(.readOnlyFileSystem)
    }
    public func link(_ node: Node, into directory: Node, name: String, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
    public func rename(_ node: Node, into directory: Node, name: String, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
    public func rename(from directory: Node, oldName: String, to newDirectory: Node, newName: String, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
    public func unlink(in directory: Node, name: String, flags: UInt32, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
    public func remove(_ node: Node, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
    public func setAttributes(of node: Node, _ request: Tsetattr, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
    public func writeStat(of node: Node, _ stat: Stat, context: RequestContext) throws {
        throw NinePError(.readOnlyFileSystem)
    }
}

extension OpenFile {
    public var ioDuration: CallDuration { .bounded }
    public func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
        throw NinePError(.readOnlyFileSystem)
    }
    public func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
        throw NinePError(.notDirectory)
    }
    public var iounit: UInt32 { 0 }
    public func close() {}
}
