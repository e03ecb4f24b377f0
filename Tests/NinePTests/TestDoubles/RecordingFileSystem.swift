import NineP
import Synchronization

/// A small writable tree that records what the engine asks of it, for the conformance tests
/// of create, remove and open modes: which calls reached the file system, with what.
final class RecordingFileSystem: FileSystem {
    enum Kind: Sendable, Equatable {
        case file, directory
        case symlink(String)
        case special(mode: UInt32, major: UInt32, minor: UInt32)
    }

    typealias Node = [String]

    struct State {
        var files: [[String]: Kind] = [[]: .directory, ["dir"]: .directory, ["file"]: .file]
        var calls: [String] = []
    }

    let state = Mutex(State())

    init(extra: [[String]: Kind] = [:]) {
        state.withLock { state in
            for (path, kind) in extra { state.files[path] = kind }
        }
    }

    var callDuration: CallDuration { .immediate }
    var calls: [String] { state.withLock { $0.calls } }

    private func record(_ call: String) {
        state.withLock { $0.calls.append(call) }
    }

    private func kind(_ path: [String]) throws -> Kind {
        guard let kind = state.withLock({ $0.files[path] }) else { throw NinePError(.noSuchFileOrDirectory) }
        return kind
    }

    func attach(_ request: AttachRequest, context: RequestContext) throws -> Node { [] }

    func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        let next = name == ".." ? Array(node.dropLast()) : node + [name]
        _ = try kind(next)
        return next
    }

    func qid(of node: Node) -> Qid {
        let kind = state.withLock { $0.files[node] }
        var type: QidType = .file
        if kind == .directory { type = .directory }
        if case .symlink = kind { type = .symlink }
        return Qid(type: type, path: MemoryFileSystem.hash(node))
    }

    func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        switch try kind(node) {
        case .file: FileAttributes(mode: LinuxMode.regular | 0o644, userName: "u", groupName: "g")
        case .directory: FileAttributes(mode: LinuxMode.directory | 0o755, userName: "u", groupName: "g")
        case .symlink(let target): FileAttributes(mode: LinuxMode.symlink | 0o777, size: UInt64(target.utf8.count), userName: "u", groupName: "g")
        case .special(let mode, _, _): FileAttributes(mode: mode, userName: "u", groupName: "g")
        }
    }

    func readlink(_ node: Node, context: RequestContext) throws -> String {
        guard case .symlink(let target) = try kind(node) else { throw NinePError(.invalidArgument) }
        return target
    }

    func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        _ = try kind(node)
        record("open \(node.joined(separator: "/")) \(flags & LinuxOpenFlags.accessMask)")
        return Opened(path: node, fileSystem: self)
    }

    func create(in directory: Node, name: String, flags: UInt32, mode: UInt32, gid: UInt32, context: RequestContext) throws -> (Node, any OpenFile) {
        record("create \(name)")
        state.withLock { $0.files[directory + [name]] = .file }
        return (directory + [name], Opened(path: directory + [name], fileSystem: self))
    }

    func makeDirectory(in directory: Node, name: String, mode: UInt32, gid: UInt32, context: RequestContext) throws -> Qid {
        record("mkdir \(name)")
        state.withLock { $0.files[directory + [name]] = .directory }
        return qid(of: directory + [name])
    }

    func makeSymlink(in directory: Node, name: String, target: String, gid: UInt32, context: RequestContext) throws -> Qid {
        record("symlink \(name) -> \(target)")
        state.withLock { $0.files[directory + [name]] = .symlink(target) }
        return qid(of: directory + [name])
    }

    func makeNode(in directory: Node, name: String, mode: UInt32, major: UInt32, minor: UInt32, gid: UInt32, context: RequestContext) throws -> Qid {
        record("mknod \(name) \(String(mode & LinuxMode.typeMask, radix: 8)) \(major) \(minor)")
        state.withLock { $0.files[directory + [name]] = .special(mode: mode, major: major, minor: minor) }
        return qid(of: directory + [name])
    }

    func link(_ node: Node, into directory: Node, name: String, context: RequestContext) throws {
        record("link \(name) -> \(node.joined(separator: "/"))")
        let kind = try kind(node)
        state.withLock { $0.files[directory + [name]] = kind }
    }

    func remove(_ node: Node, context: RequestContext) throws {
        record("remove \(node.joined(separator: "/"))")
        state.withLock { $0.files[node] = nil }
    }

    final class Opened: OpenFile {
        let path: [String]
        let fileSystem: RecordingFileSystem
        init(path: [String], fileSystem: RecordingFileSystem) {
            self.path = path
            self.fileSystem = fileSystem
        }

        var ioDuration: CallDuration { .immediate }

        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] { [] }

        func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
            fileSystem.record("write \(path.joined(separator: "/")) \(data.count)")
            return data.count
        }

        func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
            let children = fileSystem.state.withLock { state in
                state.files.keys.filter { $0.count == path.count + 1 && Array($0.prefix(path.count)) == path }.map { $0.last! }
            }
            return children.sorted().map { DirectoryItem(name: $0, qid: fileSystem.qid(of: path + [$0]), type: 0) }
        }
    }
}
