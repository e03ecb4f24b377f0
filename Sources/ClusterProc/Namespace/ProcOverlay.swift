import Glibc
import SystemPackage

/// The file system mounted over `/proc` in the family's namespace: the local /proc,
/// unchanged, beside one directory per host of a ``RemoteTree``.
///
/// Every entry of the real local /proc (read from a private bind of it at `realProc`) is a
/// symbolic link into that bind: `/proc/1234` → `<realProc>/1234`, `/proc/meminfo` →
/// `<realProc>/meminfo`. So `ps`, `top` and `ls -l /proc/1234/fd` read the real procfs, with
/// its permissions, after one extra link. `self` and `thread-self` cannot point into the
/// bind (there they would name the server), so their text is computed per caller from the
/// requesting thread: `self` is the caller's tgid (`"1234"`, as procfs says it) and
/// `thread-self` is `"<tgid>/task/<tid>"`. `readlink /proc/self` is thus unchanged.
///
/// Host directories are served by the tree with paths `[host, …]`. Host names are never
/// numeric and must not clash with a local entry.
public struct ProcOverlay: FuseFileSystem {
    /// Where the real procfs is bound, e.g. `/tmp/cluster-proc-1000/realproc`.
    public let realProc: String
    /// The hosts shown as directories, in listing order.
    public let hosts: [String]
    private let hostSet: Set<String>
    private let tree: any RemoteTree

    /// Creates the overlay.
    /// - Parameters:
    ///   - realProc: a directory where the real procfs is mounted.
    ///   - tree: the backend of the host directories.
    ///   - hosts: the host directories to show.
    /// - Throws: ``NamespaceError`` with code `invalidHostName` when a host is empty,
    ///   numeric, contains "/", is "self"/"thread-self", repeats, or names an entry of
    ///   the local /proc.
    public init(realProc: String, tree: some RemoteTree, hosts: [String]) throws {
        self.realProc = realProc
        self.tree = tree
        self.hosts = hosts
        self.hostSet = Set(hosts)
        guard hostSet.count == hosts.count else {
            throw NamespaceError(.invalidHostName, "a host is listed twice: \(hosts)")
        }
        for host in hosts {
            if host.isEmpty || host == "." || host == ".." || host.contains("/") || host.utf8.count > 255 {
                throw NamespaceError(.invalidHostName, "\"\(host)\" is not a valid directory name")
            }
            if host.allSatisfy(\.isASCIIDigit) || host == "self" || host == "thread-self" {
                throw NamespaceError(.invalidHostName, "host \"\(host)\" would shadow a process directory of /proc")
            }
            var info = stat()
            if lstat("\(realProc)/\(host)", &info) == 0 {
                throw NamespaceError(.invalidHostName, "host \"\(host)\" clashes with /proc/\(host)")
            }
        }
    }

    private static let root = TreeAttributes(kind: .directory, permissions: 0o555, nlink: 2)
    private static let selfLink = TreeAttributes(kind: .symlink, permissions: 0o777)

    public func attributes(of path: [String], caller: FuseCaller) throws -> TreeAttributes {
        guard let first = path.first else { return Self.root }
        if hostSet.contains(first) { return try tree.lookup(path) }
        guard path.count == 1 else { throw FileError.notFound }
        if first == "self" || first == "thread-self" { return Self.selfLink }
        var info = stat()
        if lstat("\(realProc)/\(first)", &info) != 0 { throw FileError(errno: errno) }
        return TreeAttributes(
            kind: .symlink, permissions: 0o777, size: UInt64(realProc.utf8.count + 1 + first.utf8.count),
            uid: info.st_uid, gid: info.st_gid,
            mtime: FileTime(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec)))
    }

    public func entries(of path: [String], caller: FuseCaller) throws -> [TreeEntry] {
        guard let first = path.first else { return try localEntries() + hosts.map { TreeEntry(name: $0, kind: .directory) } }
        guard hostSet.contains(first) else { throw FileError.notDirectory }
        return try tree.readdir(path)
    }

    public func linkTarget(of path: [String], caller: FuseCaller) throws -> String {
        guard let first = path.first else { throw FileError.invalid }
        if hostSet.contains(first) { return try tree.readlink(path) }
        guard path.count == 1 else { throw FileError.notFound }
        switch first {
        case "self":
            return String(try threadGroup(of: caller.tid))
        case "thread-self":
            return "\(try threadGroup(of: caller.tid))/task/\(caller.tid)"
        default:
            return "\(realProc)/\(first)"
        }
    }

    public func open(_ path: [String], caller: FuseCaller) throws -> UInt64 {
        guard let first = path.first else { throw FileError(.isDirectory) }
        guard hostSet.contains(first) else { throw FileError.notFound }
        return try tree.open(path)
    }

    public func read(handle: UInt64, offset: UInt64, count: Int) throws -> [UInt8] {
        try tree.read(handle: handle, offset: offset, count: count)
    }

    public func release(handle: UInt64) {
        tree.release(handle: handle)
    }

    // MARK: - The real /proc

    /// Every entry of the real /proc, each shown as a link.
    private func localEntries() throws -> [TreeEntry] {
        guard let stream = opendir(realProc) else { throw FileError(errno: errno) }
        defer { closedir(stream) }
        var entries: [TreeEntry] = []
        while let entry = Glibc.readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." || hostSet.contains(name) { continue }
            entries.append(TreeEntry(name: name, kind: .symlink))
        }
        return entries
    }

    /// The thread group (process) id of a thread, from the `Tgid:` line of its status.
    func threadGroup(of tid: Int32) throws -> Int32 {
        guard tid > 0 else { throw FileError.notFound }
        do {
            return try readThreadGroup(of: tid)
        } catch let error as Errno {
            throw FileError(error)
        }
    }

    private func readThreadGroup(of tid: Int32) throws -> Int32 {
        let fd = try FileDescriptor.open("\(realProc)/\(tid)/status", .readOnly, options: .closeOnExec)
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > 64 * 1024 { break }
        }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Tgid:") {
            if let tgid = Int32(String(line.dropFirst(5).filter { $0 != " " && $0 != "\t" })) { return tgid }
        }
        throw FileError.notFound
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
