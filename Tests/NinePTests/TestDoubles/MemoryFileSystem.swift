import NineP
import Synchronization
import SystemPackage

/// A small read-only tree held in memory, for serving real 9P clients in tests: files,
/// directories and symlinks, plus a file whose read blocks until cancelled (for Tflush).
final class MemoryFileSystem: FileSystem {
    indirect enum Entry: Sendable {
        case file([UInt8])
        case directory([String: Entry])
        case symlink(String)
        /// Blocks a reader until the request is flushed or the connection closes.
        case blocking
    }

    struct Node: Sendable {
        var path: [String]
        var entry: Entry
        var qidPath: UInt64
    }

    let root: Entry
    let released = Atomic<Int>(0)

    /// Everything but the blocking file answers at once, unless the test says otherwise (to
    /// serve as a remote tree would).
    let callDuration: CallDuration

    init(_ root: [String: Entry], callDuration: CallDuration = .immediate) {
        self.root = .directory(root)
        self.callDuration = callDuration
    }

    func attach(_ request: AttachRequest, context: RequestContext) throws -> Node {
        Node(path: [], entry: root, qidPath: Self.hash([]))
    }

    func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        if name == ".." {
            let parent = Array(node.path.dropLast())
            return try parent.reduce(Node(path: [], entry: root, qidPath: Self.hash([]))) { try walk(from: $0, name: $1, context: context) }
        }
        guard case .directory(let children) = node.entry else { throw NinePError(.notDirectory) }
        guard let child = children[name] else { throw NinePError(.noSuchFileOrDirectory) }
        return Node(path: node.path + [name], entry: child, qidPath: Self.hash(node.path + [name]))
    }

    func qid(of node: Node) -> Qid {
        switch node.entry {
        case .directory: Qid(type: .directory, path: node.qidPath)
        case .symlink: Qid(type: .symlink, path: node.qidPath)
        default: Qid(type: .file, path: node.qidPath)
        }
    }

    func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        switch node.entry {
        case .directory(let children): FileAttributes(mode: LinuxMode.directory | 0o755, nlink: UInt64(2 + children.count), userName: "root", groupName: "root")
        case .file(let data): FileAttributes(mode: LinuxMode.regular | 0o644, size: UInt64(data.count), userName: "root", groupName: "root")
        case .symlink(let target): FileAttributes(mode: LinuxMode.symlink | 0o777, size: UInt64(target.utf8.count), userName: "root", groupName: "root")
        case .blocking: FileAttributes(mode: LinuxMode.regular | 0o444, userName: "root", groupName: "root")
        }
    }

    func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        guard flags & LinuxOpenFlags.accessMask == LinuxOpenFlags.readOnly else { throw NinePError(.readOnlyFileSystem) }
        return Opened(node: node, fileSystem: self)
    }

    func readlink(_ node: Node, context: RequestContext) throws -> String {
        guard case .symlink(let target) = node.entry else { throw NinePError(.invalidArgument) }
        return target
    }

    func release(_ node: Node) {
        released.add(1, ordering: .relaxed)
    }

    static func hash(_ path: [String]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.joined(separator: "/").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }

    final class Opened: OpenFile {
        let node: Node
        let fileSystem: MemoryFileSystem
        init(node: Node, fileSystem: MemoryFileSystem) {
            self.node = node
            self.fileSystem = fileSystem
        }

        var ioDuration: CallDuration {
            if case .blocking = node.entry { return .unbounded }
            return .immediate
        }

        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
            switch node.entry {
            case .file(let data):
                guard offset < UInt64(data.count) else { return [] }
                let start = Int(offset)
                return Array(data[start..<min(data.count, start + count)])
            case .blocking:
                let done = ConditionLock(false)
                context.onCancel { done.withLock(notify: true) { $0 = true } }
                _ = done.wait(until: { $0 }) { _ in }
                throw NinePError(.interrupted)
            default:
                throw NinePError(.isDirectory)
            }
        }

        func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
            guard case .directory(let children) = node.entry else { throw NinePError(.notDirectory) }
            return try children.keys.sorted().map { name in
                let child = try fileSystem.walk(from: node, name: name, context: context)
                let attributes = try fileSystem.attributes(of: child, context: context)
                return DirectoryItem(name: name, qid: fileSystem.qid(of: child), type: attributes.directoryEntryType)
            }
        }
    }
}

/// A connected pair of Unix sockets as two streams.
func socketPair() throws -> (FileDescriptorStream, FileDescriptorStream) {
    var fds: [Int32] = [-1, -1]
    #if canImport(Glibc)
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw Errno(rawValue: errno) }
    #endif
    return (
        try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[0])),
        try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[1]))
    )
}

#if canImport(Glibc)
import Glibc
#endif
