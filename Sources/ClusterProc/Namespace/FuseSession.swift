import CFuse3
import Glibc
import Logging
import NineP
import Synchronization
import SystemPackage

/// A read-only FUSE file system mounted with libfuse's low-level API and served by
/// `fuse_session_loop_mt` on a thread of its own, so a request that blocks in the file
/// system never holds up the others.
///
/// The session owns the inode table (path ↔ inode number, with the kernel's lookup counts;
/// `forget` drops entries) and snapshots directory listings at `opendir`. Every file is
/// opened with `direct_io`, because /proc-like files report size 0 and the kernel would
/// otherwise read nothing. Attribute and entry timeouts are short since /proc changes.
/// Write-like operations are absent and the mount is read-only. The kernel checks every
/// access against the modes and owners the file system reports (`default_permissions`).
///
/// This is the only file that imports `CFuse3`.
public final class FuseSession: Sendable {
    private let state: FuseSessionState
    private let mounted: Mutex<MountedSession?>
    private let logger: Logger

    /// Creates a session for a file system; nothing is mounted yet.
    /// - Parameters:
    ///   - fileSystem: what to serve.
    ///   - timeout: seconds the kernel may cache attributes and names (0 disables caching).
    ///   - logger: where requests that fail are logged, at debug level.
    public init(fileSystem: some FuseFileSystem, timeout: Double = 1, logger: Logger) {
        self.state = FuseSessionState(fileSystem: fileSystem, timeout: timeout, logger: logger)
        self.mounted = Mutex(nil)
        self.logger = logger
    }

    /// Mounts the file system read-only at `mountpoint` and starts serving it.
    ///
    /// The mount is made with mount(2) directly on a `/dev/fuse` descriptor handed to
    /// libfuse as `/dev/fd/N`, so libfuse never runs `fusermount3`: the caller needs
    /// `CAP_SYS_ADMIN` in the user namespace owning its mount namespace (root, or the
    /// "root" of a user namespace it created).
    /// - Parameters:
    ///   - mountpoint: an existing directory.
    ///   - name: the mount's source and subtype (`fuse.NAME` in mountinfo).
    /// - Throws: ``NamespaceError`` with code `fuseUnavailable`, `mountFailed` or
    ///   `fuseSessionFailed`.
    public func mount(at mountpoint: String, name: String = "cluster-proc") throws {
        try mounted.withLock { mounted in
            precondition(mounted == nil, "FuseSession mounted twice")
            mounted = try MountedSession.mount(at: mountpoint, name: name, state: state, logger: logger)
        }
    }

    /// Unmounts (lazily, so a busy mount still goes), ends the session and waits for its
    /// loop to finish.
    /// - Parameter seconds: how long to wait for the loop; it ends once the last user of
    ///   the mount has let go.
    /// - Returns: whether the loop finished (otherwise it ends when the process exits).
    @discardableResult
    public func unmount(waitingUpTo seconds: Double = 5) -> Bool {
        guard let session = mounted.withLock({ mounted -> MountedSession? in
            defer { mounted = nil }
            return mounted
        }) else { return true }
        return session.unmount(waitingUpTo: seconds, logger: logger)
    }

    deinit {
        _ = mounted.withLock { $0 }?.unmount(waitingUpTo: 1, logger: logger)
    }
}

// MARK: - A live mount

/// The libfuse session pointer, used only by the loop thread and by unmount after the
/// loop has ended.
private struct SessionPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What a mount being set up holds: the `/dev/fuse` descriptor, the session, the userdata
/// reference and the mount itself. It is their one owner until ``handOver()``: on an error
/// path, whatever it still holds is given back when it goes away.
private struct MountSetup: ~Copyable {
    let mountpoint: String
    /// Ours until `fuse_session_mount` takes it over (then -1).
    var fd: Int32 = -1
    var session: OpaquePointer?
    var userdata: Unmanaged<FuseSessionState>?
    var mounted = false

    init(mountpoint: String) {
        self.mountpoint = mountpoint
    }

    /// The mount is complete: its parts now belong to the ``MountedSession``.
    mutating func handOver() {
        fd = -1
        session = nil
        userdata = nil
        mounted = false
    }

    deinit {
        if mounted { _ = umount2(mountpoint, Int32(MNT_DETACH)) }
        if let session { fuse_session_destroy(session) }
        userdata?.release()
        if fd >= 0 { _ = close(fd) }
    }
}

/// One mounted session: its pointer, mount point, and the loop thread's completion.
private struct MountedSession: Sendable {
    let session: SessionPointer
    let mountpoint: String
    let userdata: Unmanaged<FuseSessionState>
    /// Set by the loop thread when `fuse_session_loop_mt` has returned.
    let loopDone: ConditionLock<Bool>


    static func mount(at mountpoint: String, name: String, state: FuseSessionState, logger: Logger) throws
        -> MountedSession
    {
        var setup = MountSetup(mountpoint: mountpoint)
        setup.fd = Glibc.open("/dev/fuse", O_RDWR | O_CLOEXEC)
        if setup.fd < 0 {
            let error = Errno(rawValue: errno)
            throw NamespaceError(.fuseUnavailable, fuseDeviceProblem(error), cause: error)
        }
        let fd = setup.fd
        var info = stat()
        if stat(mountpoint, &info) != 0 {
            throw NamespaceError(.mountFailed, "cannot stat mount point \(mountpoint)", cause: Errno(rawValue: errno))
        }
        // The session exists before the mount: once /proc is covered, nothing may read it
        // until the loop serves.
        var ops = FuseSessionState.makeOperations()
        let userdata = Unmanaged.passRetained(state)
        setup.userdata = userdata
        let created: OpaquePointer? = name.withCString { program in
            var argv: [UnsafeMutablePointer<CChar>?] = [strdup(program), nil]
            defer { free(argv[0]) }
            return argv.withUnsafeMutableBufferPointer { argv in
                var args = fuse_args(argc: 1, argv: argv.baseAddress, allocated: 0)
                return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, userdata.toOpaque())
            }
        }
        guard let session = created else {
            throw NamespaceError(.fuseSessionFailed, "fuse_session_new failed")
        }
        setup.session = session
        let rootMode = String(UInt32(info.st_mode) & 0o170000, radix: 8)
        // allow_other lets every process of the namespace in (a command may switch users);
        // default_permissions has the kernel check each one against the modes and owners
        // the file system reports, so a process that became another user reads only what
        // that user may read on the node.
        let options = "fd=\(fd),rootmode=\(rootMode),user_id=\(getuid()),group_id=\(getgid()),allow_other,default_permissions"
        let flags = UInt(MS_RDONLY) | UInt(MS_NOSUID) | UInt(MS_NODEV)
        if Glibc.mount(name, mountpoint, "fuse.\(name)", flags, options) != 0 {
            throw NamespaceError(.mountFailed, "cannot mount FUSE at \(mountpoint)", cause: Errno(rawValue: errno))
        }
        setup.mounted = true
        logger.debug("mounted FUSE", metadata: ["mountpoint": "\(mountpoint)", "options": "\(options)"])

        // libfuse takes an already mounted descriptor as "/dev/fd/N" and then never calls
        // fusermount3; fuse_session_destroy closes it.
        if fuse_session_mount(session, "/dev/fd/\(fd)") != 0 {
            throw NamespaceError(.fuseSessionFailed, "fuse_session_mount refused /dev/fd/\(fd)")
        }
        setup.fd = -1

        let mounted = MountedSession(
            session: SessionPointer(raw: session), mountpoint: mountpoint, userdata: userdata,
            loopDone: ConditionLock(false))
        try mounted.startLoopThread()
        setup.handOver()
        return mounted
    }

    private func startLoopThread() throws {
        try startThread(name: "fuse-loop", stackSize: 8 << 20) { [session, loopDone] in
            let config = fuse_loop_cfg_create()
            fuse_loop_cfg_set_clone_fd(config, 0)
            fuse_loop_cfg_set_max_threads(config, 64)
            _ = fuse_session_loop_mt(session.raw, config)
            fuse_loop_cfg_destroy(config)
            loopDone.withLock(notify: true) { $0 = true }
        }
    }

    func unmount(waitingUpTo seconds: Double, logger: Logger) -> Bool {
        if umount2(mountpoint, Int32(MNT_DETACH)) != 0 {
            logger.debug("umount failed", metadata: ["mountpoint": "\(mountpoint)", "errno": "\(Errno(rawValue: errno))"])
        }
        // Once nothing uses the detached mount the kernel ends the connection and every
        // worker's read returns ENODEV, which ends the loop.
        fuse_session_exit(session.raw)
        let deadline = ContinuousClock.now + .nanoseconds(Int64(seconds * 1_000_000_000))
        guard loopDone.wait(until: { $0 }, deadline: deadline, { _ in }) != nil else {
            logger.warning("FUSE loop still running after unmount", metadata: ["mountpoint": "\(mountpoint)"])
            return false
        }
        fuse_session_destroy(session.raw)
        userdata.release()
        logger.debug("FUSE session ended", metadata: ["mountpoint": "\(mountpoint)"])
        return true
    }
}

/// Says in words why `/dev/fuse` cannot be opened.
func fuseDeviceProblem(_ error: Errno) -> String {
    var info = stat()
    guard stat("/dev/fuse", &info) == 0 else {
        return "/dev/fuse is missing: this kernel has no FUSE, or the device node was not created"
    }
    if error == .permissionDenied || error == .notPermitted {
        let mode = String(UInt32(info.st_mode) & 0o777, radix: 8)
        return "/dev/fuse is mode 0\(mode): FUSE mounts are root-only on this machine; distributions ship it 0666"
    }
    return "cannot open /dev/fuse"
}

// MARK: - State the C callbacks reach through userdata

/// A path's place in the inode table.
private struct InodeEntry {
    var path: [String]
    var lookups: UInt64
}

/// Inode numbers assigned per path; an entry lives while the kernel holds lookups on it.
private struct InodeTable {
    static let root: UInt64 = 1  // FUSE_ROOT_ID
    private var entries: [UInt64: InodeEntry] = [InodeTable.root: InodeEntry(path: [], lookups: 1)]
    private var numbers: [[String]: UInt64] = [[]: InodeTable.root]
    private var next: UInt64 = 2

    func path(of inode: UInt64) -> [String]? { entries[inode]?.path }

    func inode(of path: [String]) -> UInt64? { numbers[path] }

    /// Counts one lookup of `path`, giving it a number if it has none.
    mutating func remember(_ path: [String]) -> UInt64 {
        if let inode = numbers[path] {
            entries[inode]!.lookups += 1
            return inode
        }
        let inode = next
        next += 1
        entries[inode] = InodeEntry(path: path, lookups: 1)
        numbers[path] = inode
        return inode
    }

    mutating func forget(_ inode: UInt64, _ count: UInt64) {
        guard inode != InodeTable.root, var entry = entries[inode] else { return }
        entry.lookups -= min(count, entry.lookups)
        if entry.lookups == 0 {
            entries[inode] = nil
            numbers[entry.path] = nil
        } else {
            entries[inode] = entry
        }
    }

    var count: Int { entries.count }
}

/// A directory listing taken at opendir, so offsets stay stable across readdir calls.
private struct DirectoryListing {
    var path: [String]
    var entries: [TreeEntry]
}

/// Everything a callback needs; reached through the session's userdata.
final class FuseSessionState: Sendable {
    let fileSystem: any FuseFileSystem
    let timeout: Double
    let logger: Logger
    private let inodes = Mutex(InodeTable())
    private let listings = Mutex<(next: UInt64, open: [UInt64: DirectoryListing])>((1, [:]))

    init(fileSystem: some FuseFileSystem, timeout: Double, logger: Logger) {
        self.fileSystem = fileSystem
        self.timeout = timeout
        self.logger = logger
    }

    /// Number of inodes the kernel currently holds (root included).
    var inodeCount: Int { inodes.withLock { $0.count } }

    static func of(_ request: fuse_req_t?) -> FuseSessionState {
        Unmanaged<FuseSessionState>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }

    static func makeOperations() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.lookup = { request, parent, name in
            FuseSessionState.of(request).lookup(request, parent: parent, name: String(cString: name!))
        }
        ops.forget = { request, inode, count in
            FuseSessionState.of(request).inodes.withLock { $0.forget(inode, count) }
            fuse_reply_none(request)
        }
        ops.forget_multi = { request, count, forgets in
            FuseSessionState.of(request).inodes.withLock { table in
                for item in UnsafeBufferPointer(start: forgets, count: count) {
                    table.forget(item.ino, item.nlookup)
                }
            }
            fuse_reply_none(request)
        }
        ops.getattr = { request, inode, _ in
            FuseSessionState.of(request).getattr(request, inode: inode)
        }
        ops.readlink = { request, inode in
            FuseSessionState.of(request).readlink(request, inode: inode)
        }
        ops.opendir = { request, inode, info in
            FuseSessionState.of(request).opendir(request, inode: inode, info: info!)
        }
        ops.readdir = { request, inode, size, offset, info in
            FuseSessionState.of(request).readdir(request, inode: inode, size: size, offset: offset, info: info!)
        }
        ops.releasedir = { request, _, info in
            let handle = info!.pointee.fh
            _ = FuseSessionState.of(request).listings.withLock { $0.open.removeValue(forKey: handle) }
            fuse_reply_err(request, 0)
        }
        ops.open = { request, inode, info in
            FuseSessionState.of(request).open(request, inode: inode, info: info!)
        }
        ops.read = { request, _, size, offset, info in
            FuseSessionState.of(request).read(request, size: size, offset: offset, info: info!)
        }
        ops.release = { request, _, info in
            FuseSessionState.of(request).fileSystem.release(handle: info!.pointee.fh)
            fuse_reply_err(request, 0)
        }
        ops.statfs = { request, _ in
            var info = statvfs()
            info.f_bsize = 4096
            info.f_frsize = 4096
            info.f_namemax = 255
            fuse_reply_statfs(request, &info)
        }
        return ops
    }

    // MARK: Requests

    private func caller(_ request: fuse_req_t?) -> FuseCaller {
        let context = fuse_req_ctx(request)!.pointee
        return FuseCaller(tid: context.pid, uid: context.uid, gid: context.gid)
    }

    private func fail(_ request: fuse_req_t?, _ error: any Error, _ what: String, _ path: [String]) {
        // A FileError's errno is always one the kernel takes; an errno it refuses would leave
        // the caller waiting for ever.
        let code = (error as? FileError)?.errno ?? EIO
        if code != ENOENT {
            logger.debug(
                "FUSE request failed",
                metadata: ["op": "\(what)", "path": "\(path.joined(separator: "/"))", "error": "\(error)"])
        }
        fuse_reply_err(request, code)
    }

    private func path(_ request: fuse_req_t?, _ inode: UInt64) -> [String]? {
        if let path = inodes.withLock({ $0.path(of: inode) }) { return path }
        fuse_reply_err(request, ESTALE)
        return nil
    }

    private func stat(_ attributes: TreeAttributes, inode: UInt64) -> stat {
        var info = Glibc.stat()
        info.st_ino = __ino_t(inode)
        info.st_mode = mode_t(attributes.mode)
        info.st_nlink = __nlink_t(attributes.nlink)
        info.st_uid = attributes.uid
        info.st_gid = attributes.gid
        info.st_size = __off_t(clamping: attributes.size)
        info.st_blksize = 4096
        info.st_blocks = __blkcnt_t(clamping: attributes.size / 512 + (attributes.size % 512 == 0 ? 0 : 1))
        let nanoseconds = (0..<1_000_000_000).contains(attributes.mtime.nanoseconds) ? attributes.mtime.nanoseconds : 0
        let time = timespec(tv_sec: Int(attributes.mtime.seconds), tv_nsec: Int(nanoseconds))
        info.st_mtim = time
        info.st_ctim = time
        info.st_atim = time
        return info
    }

    fileprivate func lookup(_ request: fuse_req_t?, parent: UInt64, name: String) {
        guard let parentPath = path(request, parent) else { return }
        let path = parentPath + [name]
        do {
            let attributes = try fileSystem.attributes(of: path, caller: caller(request))
            let inode = inodes.withLock { $0.remember(path) }
            var entry = fuse_entry_param()
            entry.ino = inode
            entry.generation = 1
            entry.attr = stat(attributes, inode: inode)
            entry.attr_timeout = timeout
            entry.entry_timeout = timeout
            if fuse_reply_entry(request, &entry) != 0 {
                // The kernel never saw the entry, so it will never forget it.
                inodes.withLock { $0.forget(inode, 1) }
            }
        } catch {
            fail(request, error, "lookup", path)
        }
    }

    fileprivate func getattr(_ request: fuse_req_t?, inode: UInt64) {
        guard let path = path(request, inode) else { return }
        do {
            var info = stat(try fileSystem.attributes(of: path, caller: caller(request)), inode: inode)
            fuse_reply_attr(request, &info, timeout)
        } catch {
            fail(request, error, "getattr", path)
        }
    }

    fileprivate func readlink(_ request: fuse_req_t?, inode: UInt64) {
        guard let path = path(request, inode) else { return }
        do {
            fuse_reply_readlink(request, try fileSystem.linkTarget(of: path, caller: caller(request)))
        } catch {
            fail(request, error, "readlink", path)
        }
    }

    fileprivate func opendir(_ request: fuse_req_t?, inode: UInt64, info: UnsafeMutablePointer<fuse_file_info>) {
        guard let path = path(request, inode) else { return }
        do {
            let entries = try fileSystem.entries(of: path, caller: caller(request))
            let listing = DirectoryListing(
                path: path,
                entries: [TreeEntry(name: ".", kind: .directory), TreeEntry(name: "..", kind: .directory)]
                    + entries)
            let handle = listings.withLock { listings in
                let handle = listings.next
                listings.next += 1
                listings.open[handle] = listing
                return handle
            }
            info.pointee.fh = handle
            if fuse_reply_open(request, info) != 0 {
                _ = listings.withLock { $0.open.removeValue(forKey: handle) }
            }
        } catch {
            fail(request, error, "opendir", path)
        }
    }

    fileprivate func readdir(
        _ request: fuse_req_t?, inode: UInt64, size: Int, offset: off_t, info: UnsafeMutablePointer<fuse_file_info>
    ) {
        guard let listing = listings.withLock({ $0.open[info.pointee.fh] }) else {
            fuse_reply_err(request, EBADF)
            return
        }
        let start = max(0, Int(offset))
        guard start < listing.entries.count else {
            fuse_reply_buf(request, nil, 0)
            return
        }
        // Inode numbers in a listing are hints; names the kernel never looked up get
        // libfuse's "unknown" number.
        let numbers: [UInt64] = inodes.withLock { table in
            listing.entries[start...].map { entry in
                switch entry.name {
                case ".": return inode
                case "..": return table.inode(of: Array(listing.path.dropLast())) ?? InodeTable.root
                default: return table.inode(of: listing.path + [entry.name]) ?? 0xffff_ffff
                }
            }
        }
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        defer { buffer.deallocate() }
        var used = 0
        for (index, entry) in listing.entries[start...].enumerated() {
            var info = Glibc.stat()
            info.st_ino = __ino_t(numbers[index])
            info.st_mode = mode_t(entry.kind.typeBits)
            let needed = fuse_add_direntry(request, buffer + used, size - used, entry.name, &info, off_t(start + index + 1))
            if needed > size - used { break }
            used += needed
        }
        fuse_reply_buf(request, buffer, used)
    }

    fileprivate func open(_ request: fuse_req_t?, inode: UInt64, info: UnsafeMutablePointer<fuse_file_info>) {
        guard let path = path(request, inode) else { return }
        guard info.pointee.flags & O_ACCMODE == O_RDONLY else {
            fuse_reply_err(request, EROFS)
            return
        }
        do {
            let handle = try fileSystem.open(path, caller: caller(request))
            info.pointee.fh = handle
            info.pointee.direct_io = 1
            info.pointee.keep_cache = 0
            if fuse_reply_open(request, info) != 0 {
                fileSystem.release(handle: handle)
            }
        } catch {
            fail(request, error, "open", path)
        }
    }

    fileprivate func read(_ request: fuse_req_t?, size: Int, offset: off_t, info: UnsafeMutablePointer<fuse_file_info>) {
        do {
            let bytes = try fileSystem.read(handle: info.pointee.fh, offset: UInt64(max(0, offset)), count: size)
            // More than asked for is a reply the kernel cannot take.
            guard bytes.count <= size else { throw FileError(.ioError) }
            bytes.withUnsafeBytes { raw in
                _ = fuse_reply_buf(request, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
            }
        } catch {
            fail(request, error, "read", [])
        }
    }
}
