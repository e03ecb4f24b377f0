import SystemPackage

/// The kind of a node in a tree the namespace shows. The family's trees are /proc-like:
/// directories, regular files and symbolic links, nothing else.
public enum FileKind: Sendable, Hashable {
    case directory
    case regular
    case symlink

    /// The `S_IFMT` bits of this kind.
    public var typeBits: UInt32 {
        switch self {
        case .directory: return 0o040000
        case .regular: return 0o100000
        case .symlink: return 0o120000
        }
    }

    /// The `d_type` value readdir reports for this kind.
    public var directoryEntryType: UInt8 {
        switch self {
        case .directory: return 4  // DT_DIR
        case .regular: return 8  // DT_REG
        case .symlink: return 10  // DT_LNK
        }
    }
}

/// A point in time as seconds and nanoseconds since the epoch.
public struct FileTime: Sendable, Hashable {
    /// Whole seconds since 1970-01-01 UTC.
    public var seconds: Int64
    /// Nanoseconds past `seconds`, 0..<1_000_000_000.
    public var nanoseconds: Int64

    /// Creates a time from seconds and nanoseconds since the epoch.
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

/// The attributes of one node: what `stat` shows of it.
public struct TreeAttributes: Sendable, Hashable {
    /// Directory, regular file or symbolic link.
    public var kind: FileKind
    /// Permission bits (the low 12 bits of `st_mode`).
    public var permissions: UInt32
    /// Size in bytes; /proc files report 0 and are read until end of file.
    public var size: UInt64
    /// Number of hard links.
    public var nlink: UInt32
    /// Owner's user id.
    public var uid: UInt32
    /// Owner's group id.
    public var gid: UInt32
    /// Last modification.
    public var mtime: FileTime

    /// `st_mode`: file type bits and permissions.
    public var mode: UInt32 { kind.typeBits | (permissions & 0o7777) }

    /// Creates attributes.
    /// - Parameters:
    ///   - kind: directory, regular file or symbolic link.
    ///   - permissions: permission bits; bits above 0o7777 are ignored.
    ///   - size: size in bytes.
    ///   - nlink: number of hard links.
    ///   - uid: owner.
    ///   - gid: group.
    ///   - mtime: last modification.
    public init(
        kind: FileKind, permissions: UInt32, size: UInt64 = 0, nlink: UInt32 = 1,
        uid: UInt32 = 0, gid: UInt32 = 0, mtime: FileTime = FileTime(seconds: 0)
    ) {
        self.kind = kind
        self.permissions = permissions & 0o7777
        self.size = size
        self.nlink = nlink
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
    }
}

/// One entry of a directory listing.
public struct TreeEntry: Sendable, Hashable {
    /// The entry's name, never "." or "..", never containing "/".
    public var name: String
    /// What the entry is.
    public var kind: FileKind

    /// Creates an entry.
    public init(name: String, kind: FileKind) {
        self.name = name
        self.kind = kind
    }
}

/// A failed file operation, carrying the errno the kernel hands to the caller
/// (`ENOENT`, `EACCES`, `ETIMEDOUT` for a node past its deadline, …).
///
/// The errno is always one the kernel takes from a FUSE server: a value from a node or a
/// backend outside Linux's errnos (0, negative, 512–999 which the kernel refuses so that
/// the caller would wait for ever, or anything larger) becomes `EIO`.
public struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The errno value, within ``errnos``.
    public private(set) var errno: Int32

    /// Linux's errno values, `EPERM` (1) to `EHWPOISON` (133).
    public static let errnos: ClosedRange<Int32> = 1...133

    /// `errno` when it is one of Linux's, else `EIO`.
    public static func kernelErrno(_ errno: Int32) -> Int32 {
        errnos.contains(errno) ? errno : Errno.ioError.rawValue
    }

    /// Creates an error from a raw errno value (`EIO` for one that is not Linux's).
    public init(errno: Int32) {
        self.errno = Self.kernelErrno(errno)
    }

    /// Creates an error from a swift-system `Errno` (`EIO` for one that is not Linux's).
    public init(_ errno: Errno) {
        self.init(errno: errno.rawValue)
    }

    public var description: String { "\(Errno(rawValue: errno))" }

    /// No such file or directory.
    public static let notFound = FileError(.noSuchFileOrDirectory)
    /// Operation on something that is not a directory.
    public static let notDirectory = FileError(.notDirectory)
    /// Invalid argument, e.g. readlink of something that is not a symbolic link.
    public static let invalid = FileError(.invalidArgument)
    /// The node did not answer within its deadline.
    public static let timedOut = FileError(.timedOut)
}

/// The backend of the node directories `/proc/<host>/…`: a read-only tree addressed by
/// paths whose first component is the host, e.g. `["node02", "4242", "status"]`.
///
/// Calls block and are made from FUSE worker threads, several at once; each may take up
/// to the implementation's deadline and then fails with ``FileError/timedOut``, so one
/// dead node never holds up another. Errors other than ``FileError`` become `EIO`.
public protocol RemoteTree: Sendable {
    /// Resolves `path` afresh (a walk) and returns its attributes.
    /// - Throws: ``FileError`` (`ENOENT` when it does not exist).
    func lookup(_ path: [String]) throws -> TreeAttributes

    /// Returns the attributes of `path`, which a lookup found before.
    /// - Throws: ``FileError``.
    func getattr(_ path: [String]) throws -> TreeAttributes

    /// Lists the directory at `path`, without "." and "..".
    /// - Throws: ``FileError`` (`ENOTDIR` for a file).
    func readdir(_ path: [String]) throws -> [TreeEntry]

    /// Returns the target of the symbolic link at `path`, unresolved.
    /// - Throws: ``FileError`` (`EINVAL` when it is not a link).
    func readlink(_ path: [String]) throws -> String

    /// Opens the file at `path` for reading.
    /// - Returns: a handle for ``read(handle:offset:count:)`` and ``release(handle:)``.
    /// - Throws: ``FileError``.
    func open(_ path: [String]) throws -> UInt64

    /// Reads up to `count` bytes at `offset`; fewer (or none) at end of file.
    /// - Throws: ``FileError``.
    func read(handle: UInt64, offset: UInt64, count: Int) throws -> [UInt8]

    /// Closes a handle `open` returned. Never fails.
    func release(handle: UInt64)
}

extension RemoteTree {
    /// By default a lookup is a getattr.
    public func lookup(_ path: [String]) throws -> TreeAttributes {
        try getattr(path)
    }
}
