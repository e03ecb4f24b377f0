#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// A real directory exported read-only: files are read with `pread`, directories listed with
/// `readdir`, symlinks returned as symlinks and never followed, and `..` at the root stays at
/// the root. Attributes are `lstat(2)`'s.
///
/// Every step of a walk is checked with `lstat`, and a walk never goes on from anything but
/// a directory, so a symlink inside the tree cannot lead out of it. The export is meant for
/// trees nobody hostile rearranges while they are served (a directory swapped for a symlink
/// between a walk and an open would be followed).
public struct DirectoryFileSystem: FileSystem {
    public var callDuration: CallDuration { .immediate }
    /// A file of the tree: its path below the root and what `lstat` said when it was reached.
    public struct Node: Sendable {
        public var components: [String]
        var mode: UInt32
        var inode: UInt64
    }

    /// The exported directory.
    public let root: String

    /// - Throws: `Errno` when `root` is not a directory that can be examined.
    public init(root: String) throws {
        var info = stat()
        guard lstat(root, &info) == 0 else { throw Errno(rawValue: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw Errno.notDirectory }
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    func path(of node: Node) -> String {
        node.components.isEmpty ? root : root + "/" + node.components.joined(separator: "/")
    }

    func examine(_ components: [String]) throws -> Node {
        var node = Node(components: components, mode: 0, inode: 0)
        var info = stat()
        guard lstat(path(of: node), &info) == 0 else { throw Errno(rawValue: errno) }
        node.mode = info.st_mode
        node.inode = UInt64(info.st_ino)
        return node
    }

    public func attach(_ request: AttachRequest, context: RequestContext) throws -> Node {
        try examine([])
    }

    public func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        guard node.mode & S_IFMT == S_IFDIR else { throw Errno.notDirectory }
        if name == ".." { return try examine(Array(node.components.dropLast())) }
        return try examine(node.components + [name])
    }

    public func qid(of node: Node) -> Qid {
        let type: QidType =
            switch node.mode & S_IFMT {
            case S_IFDIR: .directory
            case S_IFLNK: .symlink
            default: .file
            }
        return Qid(type: type, path: node.inode)
    }

    public func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        var info = stat()
        guard lstat(path(of: node), &info) == 0 else { throw Errno(rawValue: errno) }
        func time(_ spec: timespec) -> FileAttributes.Timestamp {
            .init(seconds: UInt64(max(0, spec.tv_sec)), nanoseconds: UInt64(max(0, spec.tv_nsec)))
        }
        return FileAttributes(
            mode: info.st_mode, uid: info.st_uid, gid: info.st_gid, nlink: UInt64(info.st_nlink),
            rdev: UInt64(info.st_rdev), size: UInt64(max(0, info.st_size)), blockSize: UInt64(max(0, info.st_blksize)),
            blocks: UInt64(max(0, info.st_blocks)), atime: time(info.st_atim), mtime: time(info.st_mtim),
            ctime: time(info.st_ctim))
    }

    public func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        guard flags & LinuxOpenFlags.accessMask == LinuxOpenFlags.readOnly,
            flags & (LinuxOpenFlags.create | LinuxOpenFlags.truncate) == 0
        else { throw Errno.readOnlyFileSystem }
        guard node.mode & S_IFMT != S_IFLNK else { throw Errno.tooManySymbolicLinkLevels }
        let fd = Glibc.open(path(of: node), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        return OpenedFile(fd: fd, isDirectory: node.mode & S_IFMT == S_IFDIR)
    }

    public func readlink(_ node: Node, context: RequestContext) throws -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBytes { Glibc.readlink(path(of: node), $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        guard count >= 0 else { throw Errno(rawValue: errno) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// An open file or directory of the export.
    final class OpenedFile: OpenFile {
        var ioDuration: CallDuration { .immediate }
        let fd: Int32
        let isDirectory: Bool

        init(fd: Int32, isDirectory: Bool) {
            self.fd = fd
            self.isDirectory = isDirectory
        }

        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
            guard !isDirectory else { throw Errno.isDirectory }
            guard offset <= UInt64(Int64.max) else { return [] }
            var data = [UInt8](repeating: 0, count: max(0, count))
            let got = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard got >= 0 else { throw Errno(rawValue: errno) }
            data.removeLast(data.count - got)
            return data
        }

        func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
            guard isDirectory else { throw Errno.notDirectory }
            // A directory stream of its own, so the listing always starts at the beginning.
            let copy = dup(fd)
            guard copy >= 0 else { throw Errno(rawValue: errno) }
            guard let stream = fdopendir(copy) else {
                let error = Errno(rawValue: errno)
                Glibc.close(copy)
                throw error
            }
            defer { closedir(stream) }
            rewinddir(stream)
            var items: [DirectoryItem] = []
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let type = entry.pointee.d_type
                let qidType: QidType = type == DirectoryEntry.typeDirectory ? .directory : type == DirectoryEntry.typeSymlink ? .symlink : .file
                items.append(DirectoryItem(name: name, qid: Qid(type: qidType, path: UInt64(entry.pointee.d_ino)), type: type))
            }
            return items
        }

        func close() {
            Glibc.close(fd)
        }
    }
}
