import Synchronization
import SystemPackage

/// A fid the client holds on a server, with the qid it stands for.
public struct RemoteFid: Sendable, Hashable {
    public let number: UInt32
    public let qid: Qid

    public init(number: UInt32, qid: Qid) {
        self.number = number
        self.qid = qid
    }
}

extension NinePClient {
    /// Attaches to the tree `aname` as `uname`.
    public func attach(
        uname: String, aname: String = "", numericUser: UInt32? = nil, authFid: UInt32 = Tattach.noFid,
        deadline: ContinuousClock.Instant? = nil
    ) async throws(NinePError) -> RemoteFid {
        let fid = allocateFid()
        let request = Tattach(fid: fid, afid: authFid, uname: uname, aname: aname, nUname: numericUser ?? Tattach.noUname)
        do throws(NinePError) {
            guard case .rattach(let reply) = try await call(.tattach(request), deadline: deadline) else {
                throw NinePError.violation("unexpected answer to Tattach")
            }
            return RemoteFid(number: fid, qid: reply.qid)
        } catch {
            releaseFid(fid)
            throw error
        }
    }

    /// Walks from `fid` through `names` to a new fid (a clone when `names` is empty). Paths
    /// longer than 16 names take several walks.
    /// - Throws: the error of the first step, or `ENOENT` when the walk stopped short.
    public func walk(_ fid: RemoteFid, _ names: [String], deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> RemoteFid {
        var current = fid
        var remaining = names[...]
        var first = true
        repeat {
            let step = Array(remaining.prefix(Twalk.maxNames))
            remaining = remaining.dropFirst(step.count)
            let newfid = allocateFid()
            do throws(NinePError) {
                let reply = try await call(.twalk(Twalk(fid: current.number, newfid: newfid, wnames: step)), deadline: deadline)
                guard case .rwalk(let walked) = reply else { throw NinePError.violation("unexpected answer to Twalk") }
                guard walked.qids.count <= step.count else {
                    throw NinePError.violation("Rwalk with \(walked.qids.count) qids for \(step.count) names")
                }
                guard walked.qids.count == step.count else {
                    throw NinePError(.noSuchFileOrDirectory, "\(step[walked.qids.count]): No such file or directory")
                }
                let next = RemoteFid(number: newfid, qid: walked.qids.last ?? current.qid)
                if !first { try? await clunk(current) }
                current = next
                first = false
            } catch {
                releaseFid(newfid)
                if !first { try? await clunk(current) }
                throw error
            }
        } while !remaining.isEmpty
        return current
    }

    /// Opens a fid for reading (or with other Linux open flags in 9P2000.L).
    /// - Returns: the iounit (0: use ``maxIOSize``).
    @discardableResult
    public func open(_ fid: RemoteFid, flags: UInt32 = LinuxOpenFlags.readOnly, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> UInt32 {
        switch dialect {
        case .linux:
            guard case .rlopen(let reply) = try await call(.tlopen(Tlopen(fid: fid.number, flags: flags)), deadline: deadline) else {
                throw NinePError.violation("unexpected answer to Tlopen")
            }
            return reply.iounit
        case .plain, .unix:
            let mode: UInt8 = flags & LinuxOpenFlags.accessMask == LinuxOpenFlags.readWrite ? OpenMode.readWrite : (flags & LinuxOpenFlags.accessMask == LinuxOpenFlags.writeOnly ? OpenMode.write : OpenMode.read)
            guard case .ropen(let reply) = try await call(.topen(Topen(fid: fid.number, mode: mode)), deadline: deadline) else {
                throw NinePError.violation("unexpected answer to Topen")
            }
            return reply.iounit
        }
    }

    /// Reads up to `count` bytes at `offset` (at most one message's worth).
    public func read(_ fid: RemoteFid, offset: UInt64, count: Int, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> [UInt8] {
        let count = UInt32(clamping: min(count, maxIOSize))
        guard case .rread(let reply) = try await call(.tread(Tread(fid: fid.number, offset: offset, count: count)), deadline: deadline) else {
            throw NinePError.violation("unexpected answer to Tread")
        }
        return reply.data
    }

    /// Reads an open file from `offset` to its end, whatever size it reports (a /proc file
    /// reports 0).
    public func readAll(_ fid: RemoteFid, from offset: UInt64 = 0, limit: Int = 1 << 30, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> [UInt8] {
        var data: [UInt8] = []
        var offset = offset
        while data.count < limit {
            let chunk = try await read(fid, offset: offset, count: maxIOSize, deadline: deadline)
            if chunk.isEmpty { break }
            data += chunk
            offset += UInt64(chunk.count)
        }
        return data
    }

    /// Writes `data` at `offset`, in as many messages as it takes.
    public func write(_ fid: RemoteFid, offset: UInt64 = 0, data: [UInt8], deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> Int {
        var written = 0
        repeat {
            let piece = Array(data[written..<min(data.count, written + maxIOSize)])
            guard case .rwrite(let reply) = try await call(.twrite(Twrite(fid: fid.number, offset: offset + UInt64(written), data: piece)), deadline: deadline) else {
                throw NinePError.violation("unexpected answer to Twrite")
            }
            if reply.count == 0 { break }
            written += Int(reply.count)
        } while written < data.count
        return written
    }

    /// Lists an open directory: Treaddir in 9P2000.L, stat records in 9P2000 and .u.
    public func readDirectory(_ fid: RemoteFid, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        switch dialect {
        case .linux:
            var listing = DirectoryListing()
            repeat {
                let request = Treaddir(fid: fid.number, offset: listing.offset, count: UInt32(maxIOSize))
                guard case .rreaddir(let reply) = try await call(.treaddir(request), deadline: deadline) else {
                    throw NinePError.violation("unexpected answer to Treaddir")
                }
                try listing.take(reply.data)
            } while !listing.isComplete
            entries = listing.entries
        case .plain, .unix:
            for stat in try await readDirectoryStats(fid, deadline: deadline) {
                let type: UInt8 =
                    stat.mode & DirMode.directory != 0 ? DirectoryEntry.typeDirectory
                    : stat.mode & DirMode.symlink != 0 ? DirectoryEntry.typeSymlink : DirectoryEntry.typeRegular
                entries.append(DirectoryEntry(qid: stat.qid, offset: 0, type: type, name: stat.name))
            }
        }
        return entries
    }

    /// Reads an open directory as 9P2000 stat records.
    public func readDirectoryStats(_ fid: RemoteFid, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> [Stat] {
        let data = try await readAll(fid, deadline: deadline)
        var reader = WireReader(data)
        var stats: [Stat] = []
        while reader.readableBytes > 0 {
            guard let stat = reader.readStat(dialect: dialect) else { throw NinePError.malformed("directory data holds a truncated stat") }
            stats.append(stat)
        }
        return stats
    }

    /// The attributes of a fid (9P2000.L).
    public func getattr(_ fid: RemoteFid, mask: GetattrMask = .basic, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> Rgetattr {
        guard case .rgetattr(let reply) = try await call(.tgetattr(Tgetattr(fid: fid.number, requestMask: mask.rawValue)), deadline: deadline) else {
            throw NinePError.violation("unexpected answer to Tgetattr")
        }
        return reply
    }

    /// The stat of a fid (9P2000 and .u).
    public func stat(_ fid: RemoteFid, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> Stat {
        guard case .rstat(let reply) = try await call(.tstat(Tstat(fid: fid.number)), deadline: deadline) else {
            throw NinePError.violation("unexpected answer to Tstat")
        }
        return reply.stat
    }

    /// A symlink's target: Treadlink in 9P2000.L, the stat extension in 9P2000.u.
    public func readlink(_ fid: RemoteFid, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> String {
        switch dialect {
        case .linux:
            guard case .rreadlink(let reply) = try await call(.treadlink(Treadlink(fid: fid.number)), deadline: deadline) else {
                throw NinePError.violation("unexpected answer to Treadlink")
            }
            return reply.target
        case .unix:
            return try await stat(fid, deadline: deadline).extension
        case .plain:
            throw NinePError(.notSupported, "9P2000 has no symlinks")
        }
    }

    /// Forgets a fid; its number is reused afterwards.
    public func clunk(_ fid: RemoteFid, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) {
        defer { releaseFid(fid.number) }
        _ = try await call(.tclunk(Tclunk(fid: fid.number)), deadline: deadline)
    }

    /// Reads a whole file by path from `root` in one round trip for a small file: walk,
    /// open and the first read are sent back to back (our server runs requests on one fid in
    /// order; with a server that does not, a failed open or read is repeated after the walk),
    /// then the fid is clunked without waiting.
    /// - Parameter limit: the most bytes the file may have; a longer one is an error, so a
    ///   server that sends without end costs bounded memory.
    /// - Throws: ``NinePError``; `EFBIG` when the file is longer than `limit`.
    public func readFile(_ root: RemoteFid, path: [String], limit: Int = 1 << 30, deadline: ContinuousClock.Instant? = nil) async throws(NinePError) -> [UInt8] {
        let data = try await readWholeFile(root, path: path, limit: limit, deadline: deadline)
        guard data.count <= limit else {
            throw NinePError(.fileSystem, errno: .fileTooLarge, "\(path.joined(separator: "/")): longer than \(limit) bytes")
        }
        return data
    }

    private func readWholeFile(_ root: RemoteFid, path: [String], limit: Int, deadline: ContinuousClock.Instant?) async throws(NinePError) -> [UInt8] {
        // One byte past the limit tells a file at the limit from a longer one.
        let readLimit = limit < Int.max ? limit + 1 : limit
        if path.count > Twalk.maxNames {
            let fid = try await walk(root, path, deadline: deadline)
            defer { clunkInBackground(fid.number) }
            try await open(fid, deadline: deadline)
            return try await readAll(fid, limit: readLimit, deadline: deadline)
        }
        let fid = allocateFid()
        let openMessage: Message =
            dialect == .linux
            ? .tlopen(Tlopen(fid: fid, flags: LinuxOpenFlags.readOnly)) : .topen(Topen(fid: fid, mode: OpenMode.read))
        let count = UInt32(maxIOSize)
        // Sent in this order, back to back: the server runs them in order on the new fid.
        let results = await pipeline(
            [.twalk(Twalk(fid: root.number, newfid: fid, wnames: path)), openMessage, .tread(Tread(fid: fid, offset: 0, count: count))],
            deadline: deadline)
        let (walkResult, openResult, readResult) = (results[0], results[1], results[2])
        guard case .success(.rwalk(let walk)) = walkResult, walk.qids.count == path.count else {
            releaseFid(fid)
            if case .failure(let error) = walkResult { throw error }
            throw NinePError(.noSuchFileOrDirectory, "\(path.joined(separator: "/")): No such file or directory")
        }
        defer { clunkInBackground(fid) }
        let walked = RemoteFid(number: fid, qid: walk.qids.last ?? root.qid)
        // 9P promises no order between requests in flight, and some servers (diod) run them
        // concurrently: the open or the read may have run before the walk made the fid. Once
        // the walk is answered, a failed open or read is tried again in order; its error then
        // is the real one.
        if case .failure = openResult {
            try await open(walked, deadline: deadline)
            return try await readAll(walked, limit: readLimit, deadline: deadline)
        }
        guard case .success(.rread(let reply)) = readResult else {
            if case .success = readResult { throw NinePError.violation("unexpected answer to Tread") }
            return try await readAll(walked, limit: readLimit, deadline: deadline)
        }
        var data = reply.data
        if data.count > 0 && data.count < readLimit {
            data += try await readAll(walked, from: UInt64(data.count), limit: readLimit - data.count, deadline: deadline)
        }
        return data
    }

    /// Sends Tclunk and frees the fid number when the answer comes.
    public func clunkInBackground(_ fid: UInt32) {
        send(.tclunk(Tclunk(fid: fid))) { [self] _ in releaseFid(fid) }
    }
}

/// A directory read with Treaddir, reply by reply, that a server cannot make endless.
///
/// Each reply's entries are taken and the read goes on from the last entry's offset until a
/// reply is empty. A server whose offsets come back to one already used (a read that does
/// not advance) or whose listing passes its bounds (by default ``maxEntries`` entries and
/// ``maxBytes`` bytes) fails
/// the read with `EIO`, so a hostile or broken server costs bounded time and memory. Entries
/// whose name no file can have (empty, `/` or NUL in it, longer than 255 bytes) are dropped.
public struct DirectoryListing: Sendable {
    /// Most entries one listing may hold: a node's /proc has one per process.
    public static let maxEntries = 1 << 18
    /// Most bytes of Rreaddir data one listing may take.
    public static let maxBytes = 32 << 20

    /// The entries so far, in the server's order.
    public private(set) var entries: [DirectoryEntry] = []
    /// The offset to ask for next.
    public private(set) var offset: UInt64 = 0
    /// Whether the server has said the listing is at its end (an empty reply).
    public private(set) var isComplete = false
    private var bytes = 0
    private var offsets: Set<UInt64> = [0]
    private let entryLimit: Int
    private let byteLimit: Int

    /// - Parameters:
    ///   - maxEntries: the most entries the listing may hold.
    ///   - maxBytes: the most bytes of Rreaddir data it may take.
    public init(maxEntries: Int = DirectoryListing.maxEntries, maxBytes: Int = DirectoryListing.maxBytes) {
        self.entryLimit = maxEntries
        self.byteLimit = maxBytes
    }

    /// Takes the data of one Rreaddir.
    /// - Throws: ``NinePError`` (`EIO`) when the data does not parse, the read does not
    ///   advance, or the listing grows past its bounds.
    public mutating func take(_ data: [UInt8]) throws(NinePError) {
        let batch: [DirectoryEntry]
        do {
            batch = try DirectoryEntry.parse(data)
        } catch {
            throw Self.refused("a directory reply does not parse: \(error.message)")
        }
        guard let last = batch.last else {
            isComplete = true
            return
        }
        bytes += data.count
        guard bytes <= byteLimit, entries.count + batch.count <= entryLimit else {
            throw Self.refused("a directory listing passes \(entryLimit) entries or \(byteLimit) bytes")
        }
        guard offsets.insert(last.offset).inserted else {
            throw Self.refused("a directory read does not advance (offset \(last.offset) again)")
        }
        entries += batch.filter { Self.isFileName($0.name) }
        offset = last.offset
    }

    /// Whether a name from a server can name a file: not empty, no `/` or NUL, at most
    /// 255 bytes ("." and ".." are names a listing may hold).
    public static func isFileName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && !name.utf8.contains(0x2F) && !name.utf8.contains(0)
    }

    private static func refused(_ message: String) -> NinePError {
        NinePError(.protocolViolation, errno: .ioError, message)
    }
}

extension NinePClient {
    /// Sends several requests back to back, in order, and awaits all their answers.
    public func pipeline(_ messages: [Message], deadline: ContinuousClock.Instant? = nil) async -> [Result<Message, NinePError>] {
        final class Collector: Sendable {
            let state: Mutex<(results: [Result<Message, NinePError>?], resumed: Bool)>
            let done: @Sendable ([Result<Message, NinePError>]) -> Void
            init(count: Int, done: @escaping @Sendable ([Result<Message, NinePError>]) -> Void) {
                state = Mutex((Array(repeating: nil, count: count), false))
                self.done = done
            }
            func set(_ index: Int, _ result: Result<Message, NinePError>) {
                let finished = state.withLock { state -> [Result<Message, NinePError>]? in
                    state.results[index] = result
                    guard !state.resumed, state.results.allSatisfy({ $0 != nil }) else { return nil }
                    state.resumed = true
                    return state.results.map { $0! }
                }
                if let finished { done(finished) }
            }
        }
        guard !messages.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let collector = Collector(count: messages.count) { continuation.resume(returning: $0) }
            for (index, message) in messages.enumerated() {
                send(message, deadline: deadline) { collector.set(index, $0) }
            }
        }
    }
}
