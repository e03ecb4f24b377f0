import Glibc
import SystemPackage

/// A ``RemoteTree`` that serves real directories of this machine, read-only: each host
/// name maps to a directory, so `["hostA", "x", "y"]` is `<directory of hostA>/x/y`.
///
/// Symbolic links are returned as links, never followed. As the family's trees hold only
/// directories, regular files and links, any other file (a FIFO, a socket, a device) is
/// shown as a regular file of size 0 whose reads read it: a FIFO thus gives a backend
/// whose open and read block until someone writes, as a hung node would.
public struct LocalDirectoryTree: RemoteTree {
    /// Host name → directory.
    public let directories: [String: String]

    /// Creates a tree.
    /// - Parameter directories: host name → absolute path of the directory shown for it.
    public init(directories: [String: String]) {
        self.directories = directories
    }

    private func localPath(_ path: [String]) throws -> String {
        guard let host = path.first, let directory = directories[host] else { throw FileError.notFound }
        for component in path.dropFirst() where component.isEmpty || component == "." || component == ".."
            || component.contains("/")
        {
            throw FileError.notFound
        }
        return ([directory] + path.dropFirst()).joined(separator: "/")
    }

    public func getattr(_ path: [String]) throws -> TreeAttributes {
        if path.isEmpty {
            return TreeAttributes(kind: .directory, permissions: 0o555, nlink: 2)
        }
        var info = stat()
        if lstat(try localPath(path), &info) != 0 { throw FileError(errno: errno) }
        let kind: FileKind
        var size = UInt64(max(0, info.st_size))
        switch UInt32(info.st_mode) & 0o170000 {
        case 0o040000: kind = .directory
        case 0o120000: kind = .symlink
        case 0o100000: kind = .regular
        default:
            kind = .regular
            size = 0
        }
        return TreeAttributes(
            kind: kind, permissions: UInt32(info.st_mode), size: size, nlink: UInt32(clamping: info.st_nlink),
            uid: info.st_uid, gid: info.st_gid,
            mtime: FileTime(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec)))
    }

    public func readdir(_ path: [String]) throws -> [TreeEntry] {
        if path.isEmpty {
            return directories.keys.sorted().map { TreeEntry(name: $0, kind: .directory) }
        }
        let directory = try localPath(path)
        guard let stream = opendir(directory) else { throw FileError(errno: errno) }
        defer { closedir(stream) }
        var entries: [TreeEntry] = []
        while let entry = Glibc.readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let kind: FileKind
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symlink
            case Int32(DT_UNKNOWN): kind = (try? getattr(path + [name]).kind) ?? .regular
            default: kind = .regular
            }
            entries.append(TreeEntry(name: name, kind: kind))
        }
        return entries
    }

    public func readlink(_ path: [String]) throws -> String {
        let local = try localPath(path)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = Glibc.readlink(local, &buffer, buffer.count - 1)
        if count < 0 { throw FileError(errno: errno) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func open(_ path: [String]) throws -> UInt64 {
        let local = try localPath(path)
        while true {
            let fd = Glibc.open(local, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 { return UInt64(fd) }
            if errno != EINTR { throw FileError(errno: errno) }
        }
    }

    public func read(handle: UInt64, offset: UInt64, count: Int) throws -> [UInt8] {
        let fd = FileDescriptor(rawValue: Int32(truncatingIfNeeded: handle))
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do {
                initialized = try fd.read(fromAbsoluteOffset: Int64(offset), into: UnsafeMutableRawBufferPointer(buffer))
            } catch Errno.illegalSeek {
                // Pipes cannot seek; their bytes come in order.
                do {
                    initialized = try fd.read(into: UnsafeMutableRawBufferPointer(buffer))
                } catch let error as Errno {
                    initialized = 0
                    throw FileError(error)
                }
            } catch let error as Errno {
                initialized = 0
                throw FileError(error)
            }
        }
    }

    public func release(handle: UInt64) {
        try? FileDescriptor(rawValue: Int32(truncatingIfNeeded: handle)).close()
    }
}
