import NineP
import Synchronization
import SystemPackage

/// The family's union seen through its socket, as the FUSE overlay wants it: blocking,
/// path-based calls whose errors carry an errno.
///
/// It connects on first use, so a caller can build it before entering a namespace (where
/// no thread may exist yet) and use it after.
public final class FamilyTree: RemoteTree {
    public let socket: String
    public let timeout: Duration
    private let state = Mutex<State>(State())

    struct State {
        var client: NinePClient?
        var root: RemoteFid?
        var handles: [UInt64: OpenFile] = [:]
        var nextHandle: UInt64 = 1
    }

    /// A file opened on the union, with what came with its open.
    struct OpenFile {
        var fid: UInt32
        /// The file's first bytes, read with the open.
        var prefetched: [UInt8]
        /// Whether `prefetched` is the whole file (the read brought less than asked).
        var complete: Bool
    }

    /// - Parameters:
    ///   - timeout: deadline of one call; the union's own per-node deadline is shorter, so a
    ///     dead node shows as that node's EIO or ETIMEDOUT first.
    public init(socket: String, timeout: Duration = .seconds(15)) {
        self.socket = socket
        self.timeout = timeout
    }

    private func connection() throws -> (NinePClient, RemoteFid) {
        if let (client, root) = state.withLock({ state in state.client.flatMap { c in state.root.map { (c, $0) } } }), !client.isClosed {
            return (client, root)
        }
        do {
            let stream = try NinePAddress.unix(path: socket).connect()
            let client = try NinePClient.connect(over: stream, timeout: timeout)
            let fid = client.allocateFid()
            let reply = try client.callBlocking(.tattach(Tattach(fid: fid, afid: Tattach.noFid, uname: Launcher.currentUser(), aname: "")), deadline: .now + timeout)
            guard case .rattach(let r) = reply else { throw FileError(.ioError) }
            let root = RemoteFid(number: fid, qid: r.qid)
            state.withLock { state in
                state.client = client
                state.root = root
            }
            return (client, root)
        } catch let error as NinePError {
            throw FileError(error.errno)
        }
    }

    private func call(_ message: Message, deadline: ContinuousClock.Instant? = nil) throws -> Message {
        let (client, _) = try connection()
        do {
            return try client.callBlocking(message, deadline: deadline ?? .now + timeout)
        } catch {
            throw FileError(error.errno)
        }
    }

    /// Walks to `path` on a new fid; the caller clunks it.
    private func walk(_ path: [String]) throws -> (NinePClient, UInt32) {
        let (client, root) = try connection()
        var from = root.number
        var remaining = path[...]
        var owned: UInt32?
        repeat {
            let step = Array(remaining.prefix(Twalk.maxNames))
            remaining = remaining.dropFirst(step.count)
            let newfid = client.allocateFid()
            let reply: Message
            do {
                reply = try call(.twalk(Twalk(fid: from, newfid: newfid, wnames: step)))
            } catch {
                client.releaseFid(newfid)
                if let owned { client.clunkInBackground(owned) }
                throw error
            }
            guard case .rwalk(let r) = reply, r.qids.count == step.count else {
                client.releaseFid(newfid)
                if let owned { client.clunkInBackground(owned) }
                throw FileError(.noSuchFileOrDirectory)
            }
            if let owned { client.clunkInBackground(owned) }
            owned = newfid
            from = newfid
        } while !remaining.isEmpty
        return (client, owned!)
    }

    public func lookup(_ path: [String]) throws -> TreeAttributes {
        try getattr(path)
    }

    public func getattr(_ path: [String]) throws -> TreeAttributes {
        let (client, fid) = try walk(path)
        defer { client.clunkInBackground(fid) }
        guard case .rgetattr(let r) = try call(.tgetattr(Tgetattr(fid: fid, requestMask: GetattrMask.basic.rawValue))) else {
            throw FileError(.ioError)
        }
        let kind: FileKind =
            switch r.mode & LinuxMode.typeMask {
            case LinuxMode.directory: .directory
            case LinuxMode.symlink: .symlink
            default: .regular
            }
        return TreeAttributes(
            kind: kind, permissions: r.mode & 0o7777, size: r.size, nlink: UInt32(clamping: r.nlink),
            uid: r.uid, gid: r.gid,
            mtime: FileTime(seconds: Int64(clamping: r.mtimeSec), nanoseconds: r.mtimeNsec < 1_000_000_000 ? Int64(r.mtimeNsec) : 0))
    }

    public func readdir(_ path: [String]) throws -> [TreeEntry] {
        let (client, fid) = try walk(path)
        defer { client.clunkInBackground(fid) }
        _ = try call(.tlopen(Tlopen(fid: fid, flags: LinuxOpenFlags.readOnly | LinuxOpenFlags.directory)))
        // One deadline for the whole listing, however many replies it takes.
        let deadline = ContinuousClock.now + timeout
        var listing = DirectoryListing()
        repeat {
            let request = Treaddir(fid: fid, offset: listing.offset, count: UInt32(client.maxIOSize))
            guard case .rreaddir(let r) = try call(.treaddir(request), deadline: deadline) else { throw FileError(.ioError) }
            do { try listing.take(r.data) } catch { throw FileError(error.errno) }
        } while !listing.isComplete
        return listing.entries.filter { $0.name != "." && $0.name != ".." }.map { entry in
            let kind: FileKind =
                entry.type == DirectoryEntry.typeDirectory ? .directory : entry.type == DirectoryEntry.typeSymlink ? .symlink : .regular
            return TreeEntry(name: entry.name, kind: kind)
        }
    }

    public func readlink(_ path: [String]) throws -> String {
        let (client, fid) = try walk(path)
        defer { client.clunkInBackground(fid) }
        guard case .rreadlink(let r) = try call(.treadlink(Treadlink(fid: fid))) else { throw FileError(.ioError) }
        return r.target
    }

    /// Walks, opens and reads the file in one round trip to the union (Twalk, Tlopen and
    /// Tread back to back; the union runs a fid's requests in order). The union's node files
    /// are snapshots taken at open (procsrv reads a /proc file whole when it is opened), so
    /// what came with the open is the file, and reads within it are answered here; a file
    /// longer than one read goes on from the union.
    public func open(_ path: [String]) throws -> UInt64 {
        guard path.count <= Twalk.maxNames else {
            let (client, fid) = try walk(path)
            return try open(client: client, fid: fid, path: path, from: nil)
        }
        let (client, root) = try connection()
        return try open(client: client, fid: client.allocateFid(), path: path, from: root.number)
    }

    /// Sends a walk from `from` to `fid` (none when nil: `fid` is walked already), then
    /// Tlopen and Tread of `fid`, and keeps the file open under a new handle.
    private func open(client: NinePClient, fid: UInt32, path: [String], from: UInt32?) throws -> UInt64 {
        let count = UInt32(clamping: client.maxIOSize)
        let walking = from != nil
        let chain = from.map { [Message.twalk(Twalk(fid: $0, newfid: fid, wnames: path))] } ?? []
        let results = client.pipelineBlocking(
            chain + [.tlopen(Tlopen(fid: fid, flags: LinuxOpenFlags.readOnly)), .tread(Tread(fid: fid, offset: 0, count: count))],
            deadline: .now + timeout)
        let (walked, opened, read) = (walking ? results[0] : nil, results[results.count - 2], results[results.count - 1])
        if let walked {
            switch walked {
            case .success(.rwalk(let r)) where r.qids.count == path.count:
                break
            case .failure(let error):
                // The walk's error is the real one; the open and read of a fid never made
                // failed after it.
                client.releaseFid(fid)
                throw FileError(error.errno)
            default:
                // A short walk: a name is not there, and the fid was never made.
                client.releaseFid(fid)
                throw FileError(.noSuchFileOrDirectory)
            }
        }
        guard case .success(.rlopen) = opened else {
            client.clunkInBackground(fid)
            if case .failure(let error) = opened { throw FileError(error.errno) }
            throw FileError(.ioError)
        }
        var file = OpenFile(fid: fid, prefetched: [], complete: false)
        if case .success(.rread(let r)) = read, r.data.count <= Int(count) {
            file.prefetched = r.data
            file.complete = r.data.count < Int(count)
        }
        return state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.handles[handle] = file
            return handle
        }
    }

    public func read(handle: UInt64, offset: UInt64, count: Int) throws -> [UInt8] {
        guard let file = state.withLock({ $0.handles[handle] }) else { throw FileError(.badFileDescriptor) }
        if offset < UInt64(file.prefetched.count) || file.complete {
            guard offset < UInt64(file.prefetched.count) else { return [] }
            let start = Int(offset)
            if file.complete || start + count <= file.prefetched.count {
                return Array(file.prefetched[start..<min(file.prefetched.count, start + count)])
            }
        }
        let asked = UInt32(clamping: count)
        guard case .rread(let r) = try call(.tread(Tread(fid: file.fid, offset: offset, count: asked))), r.data.count <= Int(asked) else {
            throw FileError(.ioError)
        }
        return r.data
    }

    public func release(handle: UInt64) {
        guard let fid = state.withLock({ $0.handles.removeValue(forKey: handle)?.fid }) else { return }
        state.withLock { $0.client }?.clunkInBackground(fid)
    }
}
