import NineP
import Synchronization

/// Wraps a file system and counts the nodes and open files the engine holds, so a test can
/// see that every node it was given was released and every file it opened was closed.
final class CountingFileSystem<Inner: FileSystem>: FileSystem {
    typealias Node = Inner.Node
    let inner: Inner
    /// Nodes handed out by attach and walk and not yet released.
    let liveNodes = Atomic<Int>(0)
    /// Files opened and not yet closed.
    let openFiles = Atomic<Int>(0)

    init(_ inner: Inner) {
        self.inner = inner
    }

    var callDuration: CallDuration { inner.callDuration }

    func attach(_ request: AttachRequest, context: RequestContext) throws -> Node {
        let node = try inner.attach(request, context: context)
        liveNodes.add(1, ordering: .relaxed)
        return node
    }

    func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        let next = try inner.walk(from: node, name: name, context: context)
        liveNodes.add(1, ordering: .relaxed)
        return next
    }

    func walk(from node: Node, names: [String], context: RequestContext) throws -> [Node] {
        let nodes = try inner.walk(from: node, names: names, context: context)
        liveNodes.add(nodes.count, ordering: .relaxed)
        return nodes
    }

    func qid(of node: Node) -> Qid { inner.qid(of: node) }

    func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        try inner.attributes(of: node, context: context)
    }

    func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        let file = try inner.open(node, flags: flags, context: context)
        openFiles.add(1, ordering: .relaxed)
        return CountedFile(file, counter: self)
    }

    func readlink(_ node: Node, context: RequestContext) throws -> String {
        try inner.readlink(node, context: context)
    }

    func release(_ node: Node) {
        liveNodes.subtract(1, ordering: .relaxed)
        inner.release(node)
    }

    final class CountedFile: OpenFile {
        let file: any OpenFile
        let counter: CountingFileSystem
        let closed = Atomic<Bool>(false)

        init(_ file: any OpenFile, counter: CountingFileSystem) {
            self.file = file
            self.counter = counter
        }

        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
            try file.read(offset: offset, count: count, context: context)
        }

        func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
            try file.readDirectory(context: context)
        }

        var iounit: UInt32 { file.iounit }
        var ioDuration: CallDuration { file.ioDuration }

        func close() {
            // A second close would be an engine bug; count it so the balance shows it.
            if closed.exchange(true, ordering: .relaxed) { counter.openFiles.subtract(1_000_000, ordering: .relaxed) }
            counter.openFiles.subtract(1, ordering: .relaxed)
            file.close()
        }
    }
}
