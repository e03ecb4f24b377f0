import Logging
#if canImport(Glibc)
import Glibc
#endif
import NineP
import Synchronization
import SystemPackage

/// The family's namespace as one 9P tree: `/<host>/…` is that node's /proc, served on
/// the family's private socket to cps, `cluster-launch exec` and any 9P client.
///
/// Attach names: "" (or "proc") gives the /proc union; "job" gives each node's job tree
/// (`/<host>/ctl`, `pids`, `wait`, `info`, …) and a file `/nodes` with one line per node:
/// `HOST up` or `HOST down SINCE-EPOCH REASON`. Every remote call carries the node's
/// deadline, so a dead or hung node fails its own files with EIO or ETIMEDOUT and never
/// stalls the others.
///
/// A node's replies are checked before they go on: a directory listing is bounded
/// (``DirectoryListing``), a read may bring no more than was asked, an errno that is not
/// Linux's becomes `EIO`, and a symlink may not lead out of its node's directory
/// (``linkTargetStaysHome(_:depth:hosts:)``). A node that breaks these rules fails its own
/// files with `EIO`.
public final class FamilyUnion: FileSystem {
    public let links: [String: NodeLink]
    public let hosts: [String]
    private let rootQid = Qid(type: .directory, path: 1)

    public init(links: [NodeLink]) {
        self.hosts = links.map(\.host)
        self.links = Dictionary(links.map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public enum Node: Sendable {
        case root(job: Bool)
        case nodesFile
        case hostRoot(host: String, job: Bool)
        /// A fid on the node, owned by this node value (clunked on release), `depth` names
        /// below the host's directory.
        case remote(host: String, job: Bool, fid: UInt32, qid: Qid, depth: Int)
        /// A step walked through on the way to a deeper node; holds no remote fid.
        case passed(qid: Qid)
    }

    public func attach(_ request: AttachRequest, context: RequestContext) throws -> Node {
        switch request.aname {
        case "", "/", "proc", "/proc": .root(job: false)
        case "job": .root(job: true)
        default: throw NinePError(.noSuchFileOrDirectory, "no tree \"\(request.aname)\" (use \"\" or \"job\")")
        }
    }

    public func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        try walk(from: node, names: [name], context: context).last!
    }

    public func walk(from node: Node, names: [String], context: RequestContext) throws -> [Node] {
        guard let first = names.first else { return [] }
        switch node {
        case .root(let job):
            if first == ".." { return [node] + (try walk(from: node, names: Array(names.dropFirst()), context: context)) }
            if job && first == "nodes" {
                guard names.count == 1 else { throw NinePError(.notDirectory) }
                return [.nodesFile]
            }
            guard let link = links[first] else { throw NinePError(.noSuchFileOrDirectory, "\(first): no such node in this family") }
            let hostNode = Node.hostRoot(host: link.host, job: job)
            if names.count == 1 { return [hostNode] }
            var rest = try walk(from: hostNode, names: Array(names.dropFirst()), context: context)
            rest.insert(.passed(qid: qid(of: hostNode)), at: 0)
            return rest
        case .hostRoot(let host, let job):
            if first == ".." {
                return [.root(job: job)] + (try walk(from: .root(job: job), names: Array(names.dropFirst()), context: context))
            }
            return try remoteWalk(host: host, job: job, from: nil, depth: 0, names: names)
        case .remote(let host, let job, let fid, _, let depth):
            return try remoteWalk(host: host, job: job, from: fid, depth: depth, names: names)
        case .nodesFile, .passed:
            throw NinePError(.notDirectory)
        }
    }

    private func remoteWalk(host: String, job: Bool, from fid: UInt32?, depth: Int, names: [String]) throws -> [Node] {
        guard let link = links[host] else { throw NinePError(.noSuchFileOrDirectory) }
        let (client, root) = try link.root(job: job)
        let newfid = client.allocateFid()
        let reply: Message
        do {
            reply = try link.call(.twalk(Twalk(fid: fid ?? root.number, newfid: newfid, wnames: names)))
        } catch {
            client.releaseFid(newfid)
            throw error
        }
        guard case .rwalk(let walked) = reply, walked.qids.count <= names.count else {
            client.releaseFid(newfid)
            throw NodeLink.nonsense("\(host): unexpected answer to Twalk")
        }
        guard walked.qids.count == names.count else {
            client.releaseFid(newfid)
            if walked.qids.isEmpty { throw NinePError(.noSuchFileOrDirectory) }
            return walked.qids.map { .passed(qid: $0) }
        }
        var nodes: [Node] = walked.qids.dropLast().map { .passed(qid: $0) }
        let reached = names.reduce(depth) { depth, name in name == ".." ? max(0, depth - 1) : depth + 1 }
        nodes.append(.remote(host: host, job: job, fid: newfid, qid: walked.qids.last!, depth: reached))
        return nodes
    }

    public func qid(of node: Node) -> Qid {
        switch node {
        case .root(let job): Qid(type: .directory, path: job ? 2 : 1)
        case .nodesFile: Qid(type: .file, path: 3)
        case .hostRoot(let host, let job): Qid(type: .directory, path: Self.hash(host) << 1 | (job ? 1 : 0))
        case .remote(_, _, _, let qid, _), .passed(let qid): qid
        }
    }

    public func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        switch node {
        case .root, .hostRoot:
            if case .hostRoot(let host, let job) = node, let link = links[host] {
                // A host directory stands for the node: stat it remotely so a dead node shows.
                let (client, root) = try link.root(job: job)
                _ = client
                return try remoteAttributes(link: link, fid: root.number)
            }
            return FileAttributes(mode: LinuxMode.directory | 0o555, uid: getuid(), gid: getgid(), nlink: 2)
        case .nodesFile:
            return FileAttributes(mode: LinuxMode.regular | 0o444, uid: getuid(), gid: getgid())
        case .remote(let host, _, let fid, _, _):
            guard let link = links[host] else { throw NinePError(.noSuchFileOrDirectory) }
            return try remoteAttributes(link: link, fid: fid)
        case .passed:
            throw NinePError(.badFileDescriptor)
        }
    }

    private func remoteAttributes(link: NodeLink, fid: UInt32) throws -> FileAttributes {
        guard case .rgetattr(let r) = try link.call(.tgetattr(Tgetattr(fid: fid, requestMask: GetattrMask.basic.rawValue))) else {
            throw NodeLink.nonsense("\(link.host): unexpected answer to Tgetattr")
        }
        return FileAttributes(
            mode: r.mode, uid: r.uid, gid: r.gid, nlink: r.nlink, rdev: r.rdev, size: r.size,
            blockSize: r.blksize, blocks: r.blocks,
            atime: .init(seconds: r.atimeSec, nanoseconds: r.atimeNsec),
            mtime: .init(seconds: r.mtimeSec, nanoseconds: r.mtimeNsec),
            ctime: .init(seconds: r.ctimeSec, nanoseconds: r.ctimeNsec))
    }

    public func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        switch node {
        case .root:
            return Listing(items: hosts.map { DirectoryItem(name: $0, qid: qid(of: .hostRoot(host: $0, job: false)), type: DirectoryEntry.typeDirectory) }
                + (node.isJob ? [DirectoryItem(name: "nodes", qid: qid(of: .nodesFile), type: DirectoryEntry.typeRegular)] : []))
        case .nodesFile:
            return Snapshot(bytes: Array(nodesReport().utf8))
        case .hostRoot(let host, let job):
            guard let link = links[host] else { throw NinePError(.noSuchFileOrDirectory) }
            let (client, root) = try link.root(job: job)
            // Open a clone: the host's root fid stays unopened for later walks.
            let clone = client.allocateFid()
            do {
                _ = try link.call(.twalk(Twalk(fid: root.number, newfid: clone, wnames: [])))
            } catch {
                client.releaseFid(clone)
                throw error
            }
            do {
                return try RemoteFile(link: link, fid: clone, ownsFid: true, flags: flags, prefetch: false, context: context)
            } catch {
                client.clunkInBackground(clone)
                throw error
            }
        case .remote(let host, let job, let fid, let qid, _):
            guard let link = links[host] else { throw NinePError(.noSuchFileOrDirectory) }
            // procsrv reads /proc files and the job's snapshot files whole at open: the first
            // read can travel with the open, one round trip to the node instead of two.
            let snapshot = qid.type == .file && (!job || JobControlTree.file(of: qid)?.isSnapshot == true)
            return try RemoteFile(link: link, fid: fid, ownsFid: false, flags: flags, prefetch: snapshot, context: context)
        case .passed:
            throw NinePError(.badFileDescriptor)
        }
    }

    public func readlink(_ node: Node, context: RequestContext) throws -> String {
        guard case .remote(let host, _, let fid, _, let depth) = node, let link = links[host] else { throw NinePError(.invalidArgument) }
        guard case .rreadlink(let r) = try link.call(.treadlink(Treadlink(fid: fid))) else {
            throw NodeLink.nonsense("\(host): unexpected answer to Treadlink")
        }
        guard Self.linkTargetStaysHome(r.target, depth: depth, hosts: Set(hosts)) else {
            throw NodeLink.nonsense("\(host): a symlink leads out of the node's directory")
        }
        return r.target
    }

    /// Whether a node's symlink target may be shown as the node wrote it. The namespace
    /// shows the union at `/proc`, so a link there resolves among every node's files:
    ///
    /// - a relative target is taken component by component from the link's directory and
    ///   must never climb above the node's own directory (`self` → `1234` and `mounts` →
    ///   `self/mounts` stay; `../node03/1` from the node's top would show node03's files
    ///   under this node's name);
    /// - an absolute target (`/usr/bin/sleep`, `/`, `/dev/pts/0`) resolves, as every
    ///   absolute link does, in the reader's own namespace, and is shown as it is, unless it
    ///   names the union's own node directories (`/proc/node03/1`);
    /// - an empty target, one with a NUL or longer than a path may be, is no target.
    ///
    /// - Parameters:
    ///   - target: the link's text.
    ///   - depth: names from the node's directory to the link (a link at `node02/1/cwd` is 2).
    ///   - hosts: the family's node names.
    public static func linkTargetStaysHome(_ target: String, depth: Int, hosts: Set<String>) -> Bool {
        guard !target.isEmpty, target.utf8.count < 4096, !target.utf8.contains(0) else { return false }
        let components = target.split(separator: "/", omittingEmptySubsequences: true)
        if target.hasPrefix("/") {
            var path: [Substring] = []
            for component in components where component != "." {
                if component == ".." { _ = path.popLast() } else { path.append(component) }
            }
            return !(path.count >= 2 && path[0] == "proc" && hosts.contains(String(path[1])))
        }
        var level = depth - 1
        for component in components where component != "." {
            level += component == ".." ? -1 : 1
            if level < 0 { return false }
        }
        return true
    }

    public func release(_ node: Node) {
        guard case .remote(let host, _, let fid, _, _) = node, let link = links[host], let client = link.client else { return }
        client.clunkInBackground(fid)
    }

    /// `/nodes` of the job tree: one line per node.
    public func nodesReport() -> String {
        hosts.map { host -> String in
            switch links[host]?.status ?? .connecting {
            case .up: "\(host) up\n"
            case .connecting: "\(host) connecting\n"
            case .down(let reason, _, let wallClock): "\(host) down \(wallClock) \(String(reason.map { $0 == "\n" ? " " : $0 }))\n"
            }
        }.joined()
    }

    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash >> 2 | 0x100
    }

    // MARK: - Open files

    final class Listing: OpenFile {
        var ioDuration: CallDuration { .immediate }
        let items: [DirectoryItem]
        init(items: [DirectoryItem]) { self.items = items }
        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] { throw NinePError(.isDirectory) }
        func readDirectory(context: RequestContext) throws -> [DirectoryItem] { items }
    }

    final class Snapshot: OpenFile {
        var ioDuration: CallDuration { .immediate }
        let bytes: [UInt8]
        init(bytes: [UInt8]) { self.bytes = bytes }
        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
            guard offset < UInt64(bytes.count) else { return [] }
            return Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
    }

    /// A file or directory opened on the node; reads and writes go through with the
    /// node's deadline, except blocking job files (stdout, wait), which wait until flushed.
    ///
    /// A snapshot file (one procsrv reads whole at open) is read as it is opened, Tlopen and
    /// Tread back to back: the file's contents are fixed from then on, so reads within what
    /// came are answered here, and a reply shorter than asked marks the end of the file.
    final class RemoteFile: OpenFile {
        /// A snapshot read whole with its open is served from memory; one read only in part
        /// goes on to the node for the rest, quickly; anything else is a stream, whose reads
        /// have no deadline (stdout waits for as long as the job runs).
        var ioDuration: CallDuration { prefetchedAll ? .immediate : prefetched != nil ? .bounded : .unbounded }
        let link: NodeLink
        let fid: UInt32
        let ownsFid: Bool
        let iounit: UInt32
        /// The file's first bytes, read with the open.
        let prefetched: [UInt8]?
        /// Whether `prefetched` is the whole file.
        let prefetchedAll: Bool

        init(link: NodeLink, fid: UInt32, ownsFid: Bool, flags: UInt32, prefetch: Bool, context: RequestContext) throws {
            self.link = link
            self.fid = fid
            self.ownsFid = ownsFid
            let open = Message.tlopen(Tlopen(fid: fid, flags: flags))
            if prefetch, flags & LinuxOpenFlags.accessMask == LinuxOpenFlags.readOnly, let client = link.client {
                let count = UInt32(clamping: client.maxIOSize)
                let results = try link.pipeline([open, .tread(Tread(fid: fid, offset: 0, count: count))])
                guard case .rlopen(let r) = try results[0].get() else { throw NodeLink.nonsense("\(link.host): unexpected answer to Tlopen") }
                self.iounit = r.iounit
                if case .success(.rread(let data)) = results[1], data.data.count <= Int(count) {
                    prefetched = data.data
                    prefetchedAll = data.data.count < Int(count)
                } else {
                    // Read again when asked; that read's error (if any) is the real one.
                    prefetched = nil
                    prefetchedAll = false
                }
                return
            }
            guard case .rlopen(let r) = try link.call(open) else {
                throw NodeLink.nonsense("\(link.host): unexpected answer to Tlopen")
            }
            self.iounit = r.iounit
            self.prefetched = nil
            self.prefetchedAll = false
        }

        func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
            if let prefetched, offset < UInt64(prefetched.count) || prefetchedAll {
                guard offset < UInt64(prefetched.count) else { return [] }
                let start = Int(offset)
                // A read that runs past what came goes to the node, unless this is all there is.
                if prefetchedAll || start + count <= prefetched.count {
                    return Array(prefetched[start..<min(prefetched.count, start + count)])
                }
            }
            let asked = UInt32(clamping: count)
            guard case .rread(let r) = try forward(.tread(Tread(fid: fid, offset: offset, count: asked)), context: context),
                r.data.count <= Int(asked)
            else {
                throw NodeLink.nonsense("\(link.host): unexpected answer to Tread")
            }
            return r.data
        }

        func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
            guard case .rwrite(let r) = try link.call(.twrite(Twrite(fid: fid, offset: offset, data: data))), r.count <= data.count else {
                throw NodeLink.nonsense("\(link.host): unexpected answer to Twrite")
            }
            return Int(r.count)
        }

        /// The whole listing, within the node's deadline and ``DirectoryListing``'s bounds.
        func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
            var listing = DirectoryListing()
            let deadline = ContinuousClock.now + link.timeout
            repeat {
                guard case .rreaddir(let r) = try link.call(.treaddir(Treaddir(fid: fid, offset: listing.offset, count: 64 * 1024)), deadline: deadline) else {
                    throw NodeLink.nonsense("\(link.host): unexpected answer to Treaddir")
                }
                do {
                    try listing.take(r.data)
                } catch {
                    throw NinePError(error.code, errno: error.errno, "\(link.host): \(error.message)")
                }
            } while !listing.isComplete
            return listing.entries.map { DirectoryItem(name: $0.name, qid: $0.qid, type: $0.type) }
        }

        /// A read of a file whose qid marks it as a stream (the job's stdout, wait) may block
        /// for as long as the job runs; it has no deadline but ends when flushed.
        private func forward(_ message: Message, context: RequestContext) throws -> Message {
            guard let client = link.client else { return try link.call(message) }
            let reply = ConditionLock<Result<Message, NinePError>?>(nil)
            let tag = client.send(message, deadline: nil) { result in reply.withLock(notify: true) { $0 = result } }
            if let tag { context.onCancel { client.abandon(tag, because: NinePError(.cancelled, errno: .interrupted, "flushed")) } }
            // A /proc read is quick; a stream read waits. Only a dead node fails it early.
            let result = reply.wait(until: { $0 != nil }, deadline: nil) { $0! }!
            return try result.mapError(link.failure).get()
        }

        func close() {
            if ownsFid, let client = link.client { client.clunkInBackground(fid) }
        }
    }
}

extension FamilyUnion.Node {
    var isJob: Bool {
        switch self {
        case .root(let job), .hostRoot(_, let job), .remote(_, let job, _, _, _): job
        default: false
        }
    }
}
