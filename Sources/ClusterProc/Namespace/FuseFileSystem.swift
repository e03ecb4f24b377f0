/// Who made a FUSE request: the kernel reports the calling thread and its credentials.
public struct FuseCaller: Sendable, Hashable {
    /// The calling thread's id (a tid, equal to the pid for a process's main thread).
    public var tid: Int32
    /// The caller's effective user id.
    public var uid: UInt32
    /// The caller's effective group id.
    public var gid: UInt32

    /// Creates a caller.
    public init(tid: Int32, uid: UInt32, gid: UInt32) {
        self.tid = tid
        self.uid = uid
        self.gid = gid
    }
}

/// A read-only, path-addressed file system that ``FuseSession`` serves to the kernel.
///
/// Paths are components below the mount point (`[]` is the root). The session keeps the
/// inode table and directory snapshots; the file system only answers questions about paths.
/// Calls come from several FUSE worker threads at once and may block.
public protocol FuseFileSystem: Sendable {
    /// Returns the attributes of `path`; called for lookups and getattr alike.
    /// - Throws: ``FileError``.
    func attributes(of path: [String], caller: FuseCaller) throws -> TreeAttributes

    /// Lists the directory at `path`, without "." and "..".
    /// - Throws: ``FileError``.
    func entries(of path: [String], caller: FuseCaller) throws -> [TreeEntry]

    /// Returns the target of the symbolic link at `path`; may differ per caller.
    /// - Throws: ``FileError``.
    func linkTarget(of path: [String], caller: FuseCaller) throws -> String

    /// Opens the regular file at `path` for reading.
    /// - Returns: a handle the session passes back to ``read(handle:offset:count:)``.
    /// - Throws: ``FileError``.
    func open(_ path: [String], caller: FuseCaller) throws -> UInt64

    /// Reads up to `count` bytes at `offset` of an open handle.
    /// - Throws: ``FileError``.
    func read(handle: UInt64, offset: UInt64, count: Int) throws -> [UInt8]

    /// Closes a handle.
    func release(handle: UInt64)
}
