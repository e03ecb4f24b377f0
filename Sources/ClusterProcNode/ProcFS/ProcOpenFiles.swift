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
/// snapshot: a client's read size or offsets never tear a line. A file larger than
/// ``snapshotLimit`` (`pagemap`, `kcore`) keeps its descriptor and is read with `pread`
/// beyond the snapshot.
final class ProcSnapshotFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    /// The most bytes read into memory at open.
    static let snapshotLimit = 32 << 20

    let content: [UInt8]
    /// The descriptor of a file longer than the snapshot; -1 otherwise.
    private let overflow: Mutex<Int32>

    init(fd: Int32, context: RequestContext) throws {
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var complete = false
        do {
            while content.count < Self.snapshotLimit {
                if context.isCancelled { throw NinePError(.interrupted) }
                let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    content += chunk[0..<count]
                    continue
                }
                if count == 0 || errno == EAGAIN {
                    complete = true
                    break
                }
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.content = content
        if complete {
            Glibc.close(fd)
            overflow = Mutex(-1)
        } else {
            overflow = Mutex(fd)
        }
    }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        if offset < UInt64(content.count) {
            let start = Int(offset)
            return Array(content[start..<min(content.count, start + count)])
        }
        return try overflow.withLock { fd -> [UInt8] in
            guard fd >= 0, offset <= UInt64(Int64.max) else { return [] }
            var data = [UInt8](repeating: 0, count: count)
            while true {
                let got = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
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
        overflow.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}

/// An open /proc directory: each listing from offset 0 is read anew, as /proc lists it now.
final class ProcDirectoryFile: OpenFile {
    var ioDuration: CallDuration { .immediate }
    private let fd: Mutex<Int32>

    init(fd: Int32) {
        self.fd = Mutex(fd)
    }

    func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        throw NinePError(.isDirectory)
    }

    func readDirectory(context: RequestContext) throws -> [DirectoryItem] {
        let directory = try fd.withLock { fd -> Int32 in
            guard fd >= 0 else { throw NinePError(.badFileDescriptor) }
            let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
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
        fd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}
