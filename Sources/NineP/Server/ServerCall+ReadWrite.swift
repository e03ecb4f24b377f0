// Topen, Tlopen, Tread, Twrite, Treaddir: open files and their data (open(5), read(5)).
extension ServerCall {
    /// open(5): the mode is recorded and enforced by Tread and Twrite; "it is illegal to
    /// write a directory, truncate it, or attempt to remove it on close".
    func open(_ m: Topen, _ fs: FS) throws -> Outcome {
        let (held, entry) = try node(m.fid)
        guard entry.open == nil else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is already open") }
        let access = OpenAccess(accessBits: UInt32(m.mode))
        let truncate = m.mode & OpenMode.truncate != 0
        let removeOnClose = m.mode & OpenMode.removeOnClose != 0
        if fs.qid(of: held.node).type.contains(.directory), access != .read || truncate || removeOnClose {
            throw NinePError(.isDirectory, "a directory opens for reading only (no write, truncate or remove on close)")
        }
        var flags: UInt32 =
            switch access {
            case .read: LinuxOpenFlags.readOnly
            case .write: LinuxOpenFlags.writeOnly
            case .readWrite: LinuxOpenFlags.readWrite
            }
        if truncate { flags |= LinuxOpenFlags.truncate }
        let file = try fs.open(held.node, flags: flags, context: context)
        let qid = fs.qid(of: held.node)
        return .reply(
            .ropen(Ropen(qid: qid, iounit: file.iounit)),
            .opened(Fid(m.fid), file, access, isDirectory: qid.type.contains(.directory), removeOnClose: removeOnClose))
    }

    func lopen(_ m: Tlopen, _ fs: FS) throws -> Outcome {
        let (held, entry) = try node(m.fid)
        guard entry.open == nil else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is already open") }
        let access = OpenAccess(accessBits: m.flags & LinuxOpenFlags.accessMask)
        if fs.qid(of: held.node).type.contains(.directory), access != .read {
            throw NinePError(.isDirectory)
        }
        let file = try fs.open(held.node, flags: m.flags, context: context)
        let qid = fs.qid(of: held.node)
        return .reply(
            .rlopen(Rlopen(qid: qid, iounit: file.iounit)),
            .opened(Fid(m.fid), file, access, isDirectory: qid.type.contains(.directory), removeOnClose: false))
    }

    /// The most data a reply may carry: msize less Rread's header.
    private var ioLimit: Int { Int(msize) - 11 }

    func read(_ m: Tread, _ fs: FS) throws -> Outcome {
        let entry = try entry(m.fid)
        let count = min(Int(m.count), ioLimit)
        switch entry.kind {
        case .auth(let file):
            return .reply(.rread(Rread(data: Array(try file.read(offset: m.offset, count: count, context: context).prefix(count)))))
        case .xattr(let value):
            let start = Int(clamping: min(m.offset, UInt64(value.count)))
            return .reply(.rread(Rread(data: Array(value[start..<min(value.count, start + count)]))))
        case .node(let held):
            guard let file = entry.open else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is not open") }
            guard entry.access?.mayRead == true else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is not open for reading") }
            if entry.isDirectory {
                guard dialect != .linux else { throw NinePError(.isDirectory, "use Treaddir to read a directory") }
                let (data, cursor) = try directoryStats(held.node, entry, file, offset: m.offset, count: count, fs)
                return .reply(.rread(Rread(data: data)), .cursor(Fid(m.fid), cursor))
            }
            var data = try file.read(offset: m.offset, count: count, context: context)
            if data.count > count { data.removeLast(data.count - count) }
            return .reply(.rread(Rread(data: data)))
        }
    }

    func write(_ m: Twrite, _ fs: FS) throws -> Outcome {
        let entry = try entry(m.fid)
        let file: any OpenFile
        switch entry.kind {
        case .auth(let auth): file = auth
        case .xattr: throw NinePError(.badFileDescriptor, "fid \(m.fid) is not open for writing")
        case .node:
            guard let open = entry.open else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is not open") }
            guard entry.access?.mayWrite == true else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is not open for writing") }
            file = open
        }
        let written = try file.write(offset: m.offset, data: m.data, context: context)
        return .reply(.rwrite(Rwrite(count: UInt32(clamping: min(written, m.data.count)))))
    }

    /// Treaddir (9P2000.L): the listing is taken at offset 0; each entry's offset is its
    /// index plus one.
    func readdir(_ m: Treaddir, _ fs: FS) throws -> Outcome {
        let entry = try entry(m.fid)
        guard let file = entry.open else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is not open") }
        guard entry.isDirectory else { throw NinePError(.notDirectory) }
        let count = min(Int(m.count), ioLimit)
        var cursor = entry.cursor
        if m.offset == 0 {
            cursor = DirectoryCursor(items: try file.readDirectory(context: context))
        }
        var writer = WireWriter(reservingCapacity: count)
        var index = Int(clamping: m.offset)
        while index < cursor.items.count {
            let item = cursor.items[index]
            let dirent = DirectoryEntry(qid: item.qid, offset: UInt64(index + 1), type: item.type, name: item.name)
            guard writer.bytes.count + dirent.encodedSize <= count else { break }
            dirent.write(to: &writer)
            index += 1
        }
        return .reply(.rreaddir(Rreaddir(data: writer.bytes)), .cursor(Fid(m.fid), cursor))
    }

    /// 9P2000 and .u read a directory as packed stat records; an offset must be 0 or where
    /// the previous read ended.
    private func directoryStats(
        _ directory: FS.Node, _ entry: ServerFid<FS>, _ file: any OpenFile, offset: UInt64, count: Int, _ fs: FS
    ) throws -> ([UInt8], DirectoryCursor) {
        var cursor = entry.cursor
        if offset == 0 {
            cursor = DirectoryCursor(items: try file.readDirectory(context: context))
        } else if offset != cursor.byteOffset {
            throw NinePError(.invalidArgument, "directory read at offset \(offset), expected \(cursor.byteOffset)")
        }
        var writer = WireWriter(reservingCapacity: count)
        while cursor.index < cursor.items.count {
            let item = cursor.items[cursor.index]
            guard let child = try? fs.walk(from: directory, name: item.name, context: context) else {
                cursor.index += 1
                continue
            }
            defer { fs.release(child) }
            guard let stat = try? stat(of: child, name: item.name, fs) else {
                cursor.index += 1
                continue
            }
            var one = WireWriter()
            one.writeStat(stat, dialect: dialect)
            guard writer.bytes.count + one.bytes.count <= count else {
                if writer.bytes.isEmpty { throw NinePError(.invalidArgument, "read count \(count) is too small for a directory entry") }
                break
            }
            writer.writeBytes(one.bytes)
            cursor.index += 1
        }
        cursor.byteOffset += UInt64(writer.bytes.count)
        return (writer.bytes, cursor)
    }
}
