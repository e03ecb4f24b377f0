// Records and constants of 9P2000.L that live inside message data rather than as messages.

/// One entry of Rreaddir's data: `qid[13] offset[8] type[1] name[s]`.
public struct DirectoryEntry: Sendable, Hashable {
    public var qid: Qid
    /// The cookie to pass to Treaddir to continue after this entry.
    public var offset: UInt64
    /// The `d_type` of readdir(3): `DT_DIR`, `DT_REG`, `DT_LNK`, …
    public var type: UInt8
    public var name: String

    public init(qid: Qid, offset: UInt64, type: UInt8, name: String) {
        self.qid = qid
        self.offset = offset
        self.type = type
        self.name = name
    }

    /// The bytes this entry takes in Rreaddir's data.
    public var encodedSize: Int { 13 + 8 + 1 + 2 + name.utf8.count }

    public func write(to writer: inout WireWriter) {
        writer.writeQid(qid)
        writer.writeUInt64(offset)
        writer.writeUInt8(type)
        writer.writeString(name)
    }

    /// Parses Rreaddir's data into entries.
    /// - Throws: ``NinePError`` when an entry is truncated.
    public static func parse(_ data: [UInt8]) throws(NinePError) -> [DirectoryEntry] {
        var reader = WireReader(data)
        var entries: [DirectoryEntry] = []
        while reader.readableBytes > 0 {
            guard let qid = reader.readQid(), let offset = reader.readUInt64(),
                let type = reader.readUInt8(), let name = reader.readString()
            else { throw .malformed("Rreaddir entry is truncated") }
            entries.append(DirectoryEntry(qid: qid, offset: offset, type: type, name: name))
        }
        return entries
    }

    /// The `d_type` values of readdir(3).
    public static let typeUnknown: UInt8 = 0
    public static let typeFIFO: UInt8 = 1
    public static let typeCharacterDevice: UInt8 = 2
    public static let typeDirectory: UInt8 = 4
    public static let typeBlockDevice: UInt8 = 6
    public static let typeRegular: UInt8 = 8
    public static let typeSymlink: UInt8 = 10
    public static let typeSocket: UInt8 = 12
}

/// The `request_mask` and `valid` bits of Tgetattr and Rgetattr (`P9_GETATTR_*`).
public struct GetattrMask: OptionSet, Sendable, Hashable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let mode = GetattrMask(rawValue: 0x0000_0001)
    public static let nlink = GetattrMask(rawValue: 0x0000_0002)
    public static let uid = GetattrMask(rawValue: 0x0000_0004)
    public static let gid = GetattrMask(rawValue: 0x0000_0008)
    public static let rdev = GetattrMask(rawValue: 0x0000_0010)
    public static let atime = GetattrMask(rawValue: 0x0000_0020)
    public static let mtime = GetattrMask(rawValue: 0x0000_0040)
    public static let ctime = GetattrMask(rawValue: 0x0000_0080)
    public static let ino = GetattrMask(rawValue: 0x0000_0100)
    public static let size = GetattrMask(rawValue: 0x0000_0200)
    public static let blocks = GetattrMask(rawValue: 0x0000_0400)
    public static let btime = GetattrMask(rawValue: 0x0000_0800)
    public static let gen = GetattrMask(rawValue: 0x0000_1000)
    public static let dataVersion = GetattrMask(rawValue: 0x0000_2000)
    /// Everything stat(2) returns.
    public static let basic = GetattrMask(rawValue: 0x0000_07ff)
    public static let all = GetattrMask(rawValue: 0x0000_3fff)
}

/// The open(2) flags Tlopen and Tlcreate carry, in Linux's numbering (which is the wire's,
/// whatever the host's).
public enum LinuxOpenFlags {
    public static let readOnly: UInt32 = 0o0
    public static let writeOnly: UInt32 = 0o1
    public static let readWrite: UInt32 = 0o2
    public static let accessMask: UInt32 = 0o3
    public static let create: UInt32 = 0o100
    public static let exclusive: UInt32 = 0o200
    public static let truncate: UInt32 = 0o1000
    public static let append: UInt32 = 0o2000
    public static let directory: UInt32 = 0o200000
}

/// Plan 9 open modes of Topen and Tcreate.
public enum OpenMode {
    public static let read: UInt8 = 0
    public static let write: UInt8 = 1
    public static let readWrite: UInt8 = 2
    public static let execute: UInt8 = 3
    public static let truncate: UInt8 = 0x10
    public static let removeOnClose: UInt8 = 0x40
}

/// Linux `st_mode` file type bits, as 9P2000.L carries them.
public enum LinuxMode {
    public static let typeMask: UInt32 = 0o170000
    public static let socket: UInt32 = 0o140000
    public static let symlink: UInt32 = 0o120000
    public static let regular: UInt32 = 0o100000
    public static let blockDevice: UInt32 = 0o060000
    public static let directory: UInt32 = 0o040000
    public static let characterDevice: UInt32 = 0o020000
    public static let fifo: UInt32 = 0o010000
}
