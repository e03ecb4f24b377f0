// Messages of 9P: read, write, readdir and fsync.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Tread tag[2] fid[4] offset[8] count[4]`
///
/// read(5): reads up to `count` bytes at `offset`.
public struct Tread: NinePMessage {
    public static let type: UInt8 = 116

    public var fid: UInt32
    public var offset: UInt64
    public var count: UInt32

    public init(fid: UInt32, offset: UInt64, count: UInt32) {
        self.fid = fid
        self.offset = offset
        self.count = count
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let offset = reader.readUInt64() else { return nil }
        guard let count = reader.readUInt32() else { return nil }
        self.init(fid: fid, offset: offset, count: count)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt64(offset)
        writer.writeUInt32(count)
    }
}

/// `size[4] Rread tag[2] count[4] data[count]`
///
/// read(5): the bytes read; none at end of file.
public struct Rread: NinePMessage {
    public static let type: UInt8 = 117

    public var data: [UInt8]

    public init(data: [UInt8]) {
        self.data = data
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let data = reader.readCountedData() else { return nil }
        self.init(data: data)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeCountedData(data)
    }
}

/// `size[4] Twrite tag[2] fid[4] offset[8] count[4] data[count]`
///
/// read(5): writes `data` at `offset`.
public struct Twrite: NinePMessage {
    public static let type: UInt8 = 118

    public var fid: UInt32
    public var offset: UInt64
    public var data: [UInt8]

    public init(fid: UInt32, offset: UInt64, data: [UInt8]) {
        self.fid = fid
        self.offset = offset
        self.data = data
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let offset = reader.readUInt64() else { return nil }
        guard let data = reader.readCountedData() else { return nil }
        self.init(fid: fid, offset: offset, data: data)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt64(offset)
        writer.writeCountedData(data)
    }
}

/// `size[4] Rwrite tag[2] count[4]`
///
/// read(5): how many bytes were written.
public struct Rwrite: NinePMessage {
    public static let type: UInt8 = 119

    public var count: UInt32

    public init(count: UInt32) {
        self.count = count
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let count = reader.readUInt32() else { return nil }
        self.init(count: count)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(count)
    }
}

/// `size[4] Treaddir tag[2] fid[4] offset[8] count[4]`
///
/// 9P2000.L: reads directory entries from `offset` (a cookie from an earlier entry; 0 for the
/// start).
public struct Treaddir: NinePMessage {
    public static let type: UInt8 = 40

    public var fid: UInt32
    public var offset: UInt64
    public var count: UInt32

    public init(fid: UInt32, offset: UInt64, count: UInt32) {
        self.fid = fid
        self.offset = offset
        self.count = count
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let offset = reader.readUInt64() else { return nil }
        guard let count = reader.readUInt32() else { return nil }
        self.init(fid: fid, offset: offset, count: count)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt64(offset)
        writer.writeUInt32(count)
    }
}

/// `size[4] Rreaddir tag[2] count[4] data[count]`
///
/// 9P2000.L: packed directory entries, each `qid[13] offset[8] type[1] name[s]`.
public struct Rreaddir: NinePMessage {
    public static let type: UInt8 = 41

    public var data: [UInt8]

    public init(data: [UInt8]) {
        self.data = data
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let data = reader.readCountedData() else { return nil }
        self.init(data: data)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeCountedData(data)
    }
}

/// `size[4] Tfsync tag[2] fid[4] datasync[4]?`
///
/// 9P2000.L: flushes the file to stable storage. Newer Linux clients append `datasync[4]`.
public struct Tfsync: NinePMessage {
    public static let type: UInt8 = 50

    public var fid: UInt32
    public var datasync: UInt32?

    public init(fid: UInt32, datasync: UInt32? = nil) {
        self.fid = fid
        self.datasync = datasync
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        let datasync = reader.readableBytes >= 4 ? reader.readUInt32() : nil
        self.init(fid: fid, datasync: datasync)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        if let datasync { writer.writeUInt32(datasync) }
    }
}

/// `size[4] Rfsync tag[2]`
///
/// 9P2000.L.
public struct Rfsync: NinePMessage {
    public static let type: UInt8 = 51

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}
