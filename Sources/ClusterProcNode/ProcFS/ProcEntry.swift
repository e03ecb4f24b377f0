#if canImport(Glibc)
import Glibc
#endif
import NineP
import SystemPackage

/// Linux's `O_PATH` and `AT_EMPTY_PATH`, which Glibc's module hides behind `_GNU_SOURCE`.
let openPathOnly: Int32 = 0o10000000
let atEmptyPath: Int32 = 0x1000

/// One file of the exported /proc, held by an `O_PATH|O_NOFOLLOW` descriptor.
///
/// ## How walks stay inside /proc
/// Each step is one `openat(parent, name, O_PATH|O_NOFOLLOW)` relative to the parent's
/// descriptor, never a string path: a symlink (`self`, `PID/cwd`, `PID/root`, `fd/N`) is
/// opened as the link itself and cannot be walked through (ELOOP), a file cannot be walked
/// through (ENOTDIR), `..` is lexical (the parent entry this one was reached from, the root's
/// own at the root), and an entry on another device (a file system mounted inside /proc,
/// such as binfmt_misc) is refused with EXDEV. Holding the parent's descriptor also pins a
/// process's directory: once the process is gone, every open below it fails with ENOENT or
/// ESRCH even if its PID is reused meanwhile.
///
/// The descriptor closes when the last fid (and child entry) holding the entry lets go, and
/// goes back then to the connection's descriptor account it was charged to.
final class ProcEntry: Sendable {
    /// The `O_PATH|O_NOFOLLOW` descriptor.
    let fd: Int32
    /// Where the descriptor was charged; nil for the root, which every connection shares.
    private let account: ResourceAccount?
    /// The entry this one was walked from; nil at the root.
    let parent: ProcEntry?
    /// The name in the parent directory; empty at the root.
    let name: String
    /// `st_mode` when the entry was walked to.
    let mode: UInt32
    let inode: UInt64
    let device: UInt64

    private init(fd: Int32, account: ResourceAccount?, parent: ProcEntry?, name: String, info: stat) {
        self.fd = fd
        self.account = account
        self.parent = parent
        self.name = name
        self.mode = UInt32(info.st_mode)
        self.inode = UInt64(info.st_ino)
        self.device = UInt64(info.st_dev)
    }

    deinit {
        Glibc.close(fd)
        account?.release(1)
    }

    /// Opens the root of the tree.
    /// - Throws: `Errno` when `path` cannot be opened as a directory.
    static func root(path: String) throws -> ProcEntry {
        let fd = Glibc.open(path, openPathOnly | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        do {
            return ProcEntry(fd: fd, account: nil, parent: nil, name: "", info: try Self.status(of: fd))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    var isDirectory: Bool { mode & LinuxMode.typeMask == LinuxMode.directory }
    var isSymlink: Bool { mode & LinuxMode.typeMask == LinuxMode.symlink }
    var root: ProcEntry { parent?.root ?? self }

    /// The qid: the inode (unique within procfs's one superblock) mixed with the device.
    /// Version 0 and type `file` for regular files: Linux v9fs opens such files for direct
    /// I/O, bypassing its page cache (unless mounted with `ignoreqv`), since their content is
    /// made anew at each open.
    var qid: Qid {
        Qid(type: Self.qidType(mode: mode), version: 0, path: Self.qidPath(inode: inode, device: device))
    }

    static func qidPath(inode: UInt64, device: UInt64) -> UInt64 {
        inode ^ (device &* 0x9E37_79B9_7F4A_7C15 & 0xFFFF_0000_0000_0000)
    }

    static func qidType(mode: UInt32) -> QidType {
        switch mode & LinuxMode.typeMask {
        case LinuxMode.directory: .directory
        case LinuxMode.symlink: .symlink
        default: .file
        }
    }

    /// The path below the root, e.g. `1/status`; empty at the root. Lexical, as walks are.
    var path: String {
        guard let parent else { return "" }
        let above = parent.path
        return above.isEmpty ? name : above + "/" + name
    }

    /// One walk step, its descriptor charged to `descriptors`; see the type's documentation
    /// for the rules.
    func walk(_ name: String, descriptors: ResourceAccount) throws -> ProcEntry {
        guard !isSymlink else { throw NinePError(.tooManySymbolicLinkLevels, "\(self.name) is a symbolic link; it is not followed") }
        guard isDirectory else { throw NinePError(.notDirectory) }
        if name == ".." { return parent ?? self }
        guard name != ".", !name.contains("/") else { throw NinePError(.noSuchFileOrDirectory) }
        try descriptors.charge(1)
        let child = openat(fd, name, openPathOnly | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else {
            let error = Errno(rawValue: errno)
            descriptors.release(1)
            throw error
        }
        let info: stat
        do {
            info = try Self.status(of: child)
        } catch {
            Glibc.close(child)
            descriptors.release(1)
            throw error
        }
        guard UInt64(info.st_dev) == device else {
            Glibc.close(child)
            descriptors.release(1)
            throw NinePError(.improperLink, "\(name) is on another file system")
        }
        return ProcEntry(fd: child, account: descriptors, parent: self, name: name, info: info)
    }

    /// The entry's stat(2), the link itself for a symlink.
    func status() throws -> stat {
        try Self.status(of: fd)
    }

    private static func status(of fd: Int32) throws -> stat {
        var info = stat()
        guard fstatat(fd, "", &info, atEmptyPath | AT_SYMLINK_NOFOLLOW) == 0 else { throw Errno(rawValue: errno) }
        return info
    }

    /// A symlink's target text.
    func linkTarget() throws -> String {
        guard isSymlink else { throw NinePError(.invalidArgument, "\(name) is not a symbolic link") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { readlinkat(fd, "", $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        guard count >= 0 else { throw Errno(rawValue: errno) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Opens the entry for reading: a directory relative to itself, a file relative to its
    /// parent (so a vanished process gives ENOENT), checked to be the same inode.
    /// - Returns: a readable descriptor the caller closes.
    func openForReading() throws -> Int32 {
        let fd: Int32
        if isDirectory {
            fd = openat(self.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        } else {
            guard let parent else { throw NinePError(.noSuchFileOrDirectory) }
            // O_NONBLOCK so a file that would wait for data (kmsg) ends its snapshot instead.
            fd = openat(parent.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_ino) == inode, UInt64(info.st_dev) == device else {
            Glibc.close(fd)
            throw NinePError(.noSuchFileOrDirectory, "\(name) was replaced")
        }
        return fd
    }
}
