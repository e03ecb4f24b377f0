// Messages of 9P: extended attributes.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Txattrwalk tag[2] fid[4] newfid[4] name[s]`
///
/// 9P2000.L: binds `newfid` to the extended attribute `name` of `fid` (all names when empty).
public struct Txattrwalk: NinePMessage {
    public static let type: UInt8 = 30

    public var fid: UInt32
    public var newfid: UInt32
    public var name: String

    public init(fid: UInt32, newfid: UInt32, name: String) {
        self.fid = fid
        self.newfid = newfid
        self.name = name
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let newfid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        self.init(fid: fid, newfid: newfid, name: name)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt32(newfid)
        writer.writeString(name)
    }
}

/// `size[4] Rxattrwalk tag[2] size[8]`
///
/// 9P2000.L: the attribute's size; its value is then read through `newfid`.
public struct Rxattrwalk: NinePMessage {
    public static let type: UInt8 = 31

    public var size: UInt64

    public init(size: UInt64) {
        self.size = size
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let size = reader.readUInt64() else { return nil }
        self.init(size: size)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt64(size)
    }
}

/// `size[4] Txattrcreate tag[2] fid[4] name[s] attr_size[8] flags[4]`
///
/// 9P2000.L: prepares `fid` to receive the value of attribute `name` by writes.
public struct Txattrcreate: NinePMessage {
    public static let type: UInt8 = 32

    public var fid: UInt32
    public var name: String
    public var attrSize: UInt64
    public var flags: UInt32

    public init(fid: UInt32, name: String, attrSize: UInt64, flags: UInt32) {
        self.fid = fid
        self.name = name
        self.attrSize = attrSize
        self.flags = flags
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let attrSize = reader.readUInt64() else { return nil }
        guard let flags = reader.readUInt32() else { return nil }
        self.init(fid: fid, name: name, attrSize: attrSize, flags: flags)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeString(name)
        writer.writeUInt64(attrSize)
        writer.writeUInt32(flags)
    }
}

/// `size[4] Rxattrcreate tag[2]`
///
/// 9P2000.L.
public struct Rxattrcreate: NinePMessage {
    public static let type: UInt8 = 33

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}
