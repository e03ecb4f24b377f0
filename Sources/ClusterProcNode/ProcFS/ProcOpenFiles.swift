#if canImport(Glibc)
import Glibc
#endif
import NineP
import Synchronization
import SystemPackage

/// An open /proc file: its whole content as reading it gave at open time, served in slices.
///
/// /proc reports size 0 and makes a file's text when it is read, so the content is read at
/// open until end of file, whatever stat says, and every Tread is a slice of that one
/// snapshot: a client's read size or offsets never tear a line. A file larger than the
/// budget's ``ProcBudget/snapshotLimit`` (`pagemap`, `kcore`, a huge `smaps`) keeps its
/// descriptor and is read with `pread` beyond the snapshot.
///
/// The snapshot's bytes are charged to the connection's byte account as they are read (a
/// refusal fails the open with ENOMEM), the kept descriptor to its descriptor account; both
/// go back when the fid is clunked.
final class ProcSnapshotFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    /// The content is read and held in chunks (the last one trimmed), so a large snapshot is
    /// never copied as it grows and its memory is exactly what was charged: a first page,
    /// which most /proc files fit in, then chunks of ``chunkSize``.
    static let firstChunkSize = 4096
    static let chunkSize = 64 * 1024

    private let chunks: [[UInt8]]
    /// Bytes in the snapshot.
    let count: Int
    private let budget: ProcBudget
    private struct Held {
        /// The descriptor of a file longer than the snapshot; -1 otherwise.
        var overflow: Int32
        var bytes: Int
    }
    private let held: Mutex<Held>

    /// Reads the snapshot from `fd`, which the caller has charged to `budget.descriptors`;
    /// it is closed (and given back) here unless the file goes on beyond the snapshot.
    init(fd: Int32, budget: ProcBudget, context: RequestContext) throws {
        var chunks: [[UInt8]] = []
        var total = 0
        var complete = false
        do {
            while total < budget.snapshotLimit && !complete {
                if context.isCancelled { throw NinePError(.interrupted) }
                let size = min(chunks.isEmpty ? Self.firstChunkSize : Self.chunkSize, budget.snapshotLimit - total)
                try budget.bytes.charge(size)
                var chunk = [UInt8](repeating: 0, count: size)
                var filled = 0
                do {
                    while filled < size {
                        let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, size - filled) }
                        if got > 0 {
                            filled += got
                        } else if got == 0 || errno == EAGAIN {
                            complete = true
                            break
                        } else if errno != EINTR {
                            throw Errno(rawValue: errno)
                        }
                    }
                } catch {
                    budget.bytes.release(size)
                    throw error
                }
                if filled < size {
                    budget.bytes.release(size - filled)
                    if filled == 0 { break }
                    chunk = Array(chunk[0..<filled])
                }
                chunks.append(chunk)
                total += filled
            }
        } catch {
            budget.bytes.release(total)
            Glibc.close(fd)
            budget.descriptors.release(1)
            throw error
        }
        self.chunks = chunks
        self.count = total
        self.budget = budget
        if complete {
            Glibc.close(fd)
            budget.descriptors.release(1)
            held = Mutex(Held(overflow: -1, bytes: total))
        } else {
            held = Mutex(Held(overflow: fd, bytes: total))
        }
    }

    deinit {
        close()
    }

    /// The whole snapshot (for tests).
    var content: [UInt8] { chunks.flatMap { $0 } }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        if offset < UInt64(self.count) {
            var position = Int(offset)
            let end = min(self.count, position + count)
            var data: [UInt8] = []
            data.reserveCapacity(end - position)
            while position < end {
                // Every chunk but the last is full.
                let index = position < Self.firstChunkSize ? 0 : 1 + (position - Self.firstChunkSize) / Self.chunkSize
                let chunk = chunks[index]
                let start = index == 0 ? position : (position - Self.firstChunkSize) % Self.chunkSize
                let taken = min(chunk.count - start, end - position)
                data += chunk[start..<start + taken]
                position += taken
            }
            return data
        }
        return try held.withLock { held -> [UInt8] in
            guard held.overflow >= 0, offset <= UInt64(Int64.max) else { return [] }
            var data = [UInt8](repeating: 0, count: count)
            while true {
                let got = data.withUnsafeMutableBytes { pread(held.overflow, $0.baseAddress, $0.count, off_t(offset)) }
                if got >= 0 {
                    data.removeLast(count - got)
                    return data
                }
                if errno == EINTR { continue }
                if errno == EAGAIN { return [] }
                throw Errno(rawValue: errno)
            }
        }
    }

    func close() {
        let (descriptor, bytes) = held.withLock { held -> (Bool, Int) in
            defer { held = Held(overflow: -1, bytes: 0) }
            if held.overflow >= 0 { Glibc.close(held.overflow) }
            return (held.overflow >= 0, held.bytes)
        }
        if descriptor { budget.descriptors.release(1) }
        budget.bytes.release(bytes)
    }
}

/// An open /proc directory: each listing from offset 0 is read anew, as /proc lists it now.
///
/// Its descriptor is charged to the connection's descriptor account (by the caller), and the
/// listing the engine keeps for the fid's reads to its byte account.
final class ProcDirectoryFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    private struct Held {
        var fd: Int32
        /// The bytes charged for the listing the engine holds now.
        var listing = 0
    }
    private let held: Mutex<Held>
    private let budget: ProcBudget

    /// - Parameter fd: a directory descriptor the caller has charged to `budget.descriptors`.
    init(fd: Int32, budget: ProcBudget) {
        self.held = Mutex(Held(fd: fd))
        self.budget = budget
    }

    deinit {
        close()
    }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        throw NinePError(.isDirectory)
    }

    func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
        let items = try budget.withDescriptor { try list() }
        // The engine keeps this listing in place of the one before, until the next listing or
        // the clunk.
        let size = items.reduce(items.count * MemoryLayout<DirectoryItem>.stride) { $0 + ($1.name.utf8.count > 15 ? $1.name.utf8.count : 0) }
        try budget.bytes.charge(size)
        let previous = held.withLock { held -> Int in
            // Closed meanwhile: nothing holds the listing.
            guard held.fd >= 0 else { return size }
            defer { held.listing = size }
            return held.listing
        }
        budget.bytes.release(previous)
        return items
    }

    private func list() throws -> [DirectoryItem] {
        let directory = try held.withLock { held -> Int32 in
            guard held.fd >= 0 else { throw NinePError(.badFileDescriptor) }
            let copy = openat(held.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard copy >= 0 else { throw Errno(rawValue: errno) }
            return copy
        }
        var info = stat()
        guard fstat(directory, &info) == 0 else {
            let error = Errno(rawValue: errno)
            Glibc.close(directory)
            throw error
        }
        guard let stream = fdopendir(directory) else {
            let error = Errno(rawValue: errno)
            Glibc.close(directory)
            throw error
        }
        defer { closedir(stream) }
        var items: [DirectoryItem] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let type = entry.pointee.d_type
            let mode = UInt32(type) << 12
            let qid = Qid(
                type: ProcEntry.qidType(mode: mode), version: 0,
                path: ProcEntry.qidPath(inode: UInt64(entry.pointee.d_ino), device: UInt64(info.st_dev)))
            items.append(DirectoryItem(name: name, qid: qid, type: type))
        }
        return items
    }

    func close() {
        let (descriptor, bytes) = held.withLock { held -> (Bool, Int) in
            defer { held = Held(fd: -1) }
            if held.fd >= 0 { Glibc.close(held.fd) }
            return (held.fd >= 0, held.listing)
        }
        if descriptor { budget.descriptors.release(1) }
        budget.bytes.release(bytes)
    }
}

/// An open file of the job tree whose content was made at open (`ps`, `pids`, `info`), its
/// bytes charged to the connection's byte account until the fid is clunked.
final class ChargedFile: OpenFile {
    private let file: any OpenFile
    private let account: ResourceAccount
    /// The bytes charged; nil once closed.
    private let bytes: Mutex<Int?>

    /// - Throws: ENOMEM when the account refuses `bytes`.
    init(_ file: any OpenFile, bytes: Int, account: ResourceAccount) throws {
        try account.charge(bytes)
        self.file = file
        self.account = account
        self.bytes = Mutex(bytes)
    }

    deinit {
        close()
    }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        try file.read(offset: offset, count: count, context: context)
    }

    func close() {
        let bytes = self.bytes.withLock { bytes in
            defer { bytes = nil }
            return bytes
        }
        guard let bytes else { return }
        account.release(bytes)
        file.close()
    }
}
