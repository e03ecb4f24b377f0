// Messages of 9P: walk, open, create, clunk and remove.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Twalk tag[2] fid[4] newfid[4] nwname[2] nwname*(wname[s])`
///
/// walk(5): walks `fid` through up to 16 names to `newfid` (which may equal `fid`).
public struct Twalk: NinePMessage {
    public static let type: UInt8 = 110
    /// The most names one walk may carry.
    public static let maxNames = 16

    public var fid: UInt32
    public var newfid: UInt32
    public var wnames: [String]

    public init(fid: UInt32, newfid: UInt32, wnames: [String]) {
        self.fid = fid
        self.newfid = newfid
        self.wnames = wnames
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let newfid = reader.readUInt32() else { return nil }
        guard let wnames = reader.readStrings() else { return nil }
        self.init(fid: fid, newfid: newfid, wnames: wnames)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt32(newfid)
        writer.writeStrings(wnames)
    }
}

/// `size[4] Rwalk tag[2] nwqid[2] nwqid*(wqid[13])`
///
/// walk(5): one qid per name walked; fewer than asked means the walk stopped there.
public struct Rwalk: NinePMessage {
    public static let type: UInt8 = 111

    public var qids: [Qid]

    public init(qids: [Qid]) {
        self.qids = qids
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qids = reader.readQids() else { return nil }
        self.init(qids: qids)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQids(qids)
    }
}

/// `size[4] Topen tag[2] fid[4] mode[1]`
///
/// open(5): opens `fid` for I/O with a Plan 9 mode (OREAD, OWRITE, ORDWR, OEXEC, OTRUNC, ORCLOSE).
public struct Topen: NinePMessage {
    public static let type: UInt8 = 112

    public var fid: UInt32
    public var mode: UInt8

    public init(fid: UInt32, mode: UInt8) {
        self.fid = fid
        self.mode = mode
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let mode = reader.readUInt8() else { return nil }
        self.init(fid: fid, mode: mode)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt8(mode)
    }
}

/// `size[4] Ropen tag[2] qid[13] iounit[4]`
///
/// open(5): the opened file's qid and the largest I/O that needs no splitting (0: msize-24).
public struct Ropen: NinePMessage {
    public static let type: UInt8 = 113

    public var qid: Qid
    public var iounit: UInt32

    public init(qid: Qid, iounit: UInt32) {
        self.qid = qid
        self.iounit = iounit
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        guard let iounit = reader.readUInt32() else { return nil }
        self.init(qid: qid, iounit: iounit)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
        writer.writeUInt32(iounit)
    }
}

/// `size[4] Tcreate tag[2] fid[4] name[s] perm[4] mode[1] extension[s]`
///
/// open(5): creates `name` in the directory `fid`. 9P2000.u adds the extension (symlink target,
/// device).
public struct Tcreate: NinePMessage {
    public static let type: UInt8 = 114

    public var fid: UInt32
    public var name: String
    public var perm: UInt32
    public var mode: UInt8
    public var ext: String

    public init(fid: UInt32, name: String, perm: UInt32, mode: UInt8, ext: String = "") {
        self.fid = fid
        self.name = name
        self.perm = perm
        self.mode = mode
        self.ext = ext
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let perm = reader.readUInt32() else { return nil }
        guard let mode = reader.readUInt8() else { return nil }
        var ext = ""
        if dialect == .unix {
            guard let value = reader.readString() else { return nil }
            ext = value
        }
        self.init(fid: fid, name: name, perm: perm, mode: mode, ext: ext)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeString(name)
        writer.writeUInt32(perm)
        writer.writeUInt8(mode)
        if dialect == .unix { writer.writeString(ext) }
    }
}

/// `size[4] Rcreate tag[2] qid[13] iounit[4]`
///
/// open(5): the created file's qid and iounit.
public struct Rcreate: NinePMessage {
    public static let type: UInt8 = 115

    public var qid: Qid
    public var iounit: UInt32

    public init(qid: Qid, iounit: UInt32) {
        self.qid = qid
        self.iounit = iounit
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        guard let iounit = reader.readUInt32() else { return nil }
        self.init(qid: qid, iounit: iounit)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
        writer.writeUInt32(iounit)
    }
}

/// `size[4] Tclunk tag[2] fid[4]`
///
/// clunk(5): forgets `fid`.
public struct Tclunk: NinePMessage {
    public static let type: UInt8 = 120

    public var fid: UInt32

    public init(fid: UInt32) {
        self.fid = fid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        self.init(fid: fid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
    }
}

/// `size[4] Rclunk tag[2]`
///
/// clunk(5).
public struct Rclunk: NinePMessage {
    public static let type: UInt8 = 121

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Tremove tag[2] fid[4]`
///
/// remove(5): removes the file and clunks `fid`, whether or not the removal succeeds.
public struct Tremove: NinePMessage {
    public static let type: UInt8 = 122

    public var fid: UInt32

    public init(fid: UInt32) {
        self.fid = fid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        self.init(fid: fid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
    }
}

/// `size[4] Rremove tag[2]`
///
/// remove(5).
public struct Rremove: NinePMessage {
    public static let type: UInt8 = 123

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Tlopen tag[2] fid[4] flags[4]`
///
/// 9P2000.L: opens `fid` with Linux open(2) flags.
public struct Tlopen: NinePMessage {
    public static let type: UInt8 = 12

    public var fid: UInt32
    public var flags: UInt32

    public init(fid: UInt32, flags: UInt32) {
        self.fid = fid
        self.flags = flags
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let flags = reader.readUInt32() else { return nil }
        self.init(fid: fid, flags: flags)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt32(flags)
    }
}

/// `size[4] Rlopen tag[2] qid[13] iounit[4]`
///
/// 9P2000.L: the opened file's qid and iounit.
public struct Rlopen: NinePMessage {
    public static let type: UInt8 = 13

    public var qid: Qid
    public var iounit: UInt32

    public init(qid: Qid, iounit: UInt32) {
        self.qid = qid
        self.iounit = iounit
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        guard let iounit = reader.readUInt32() else { return nil }
        self.init(qid: qid, iounit: iounit)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
        writer.writeUInt32(iounit)
    }
}

/// `size[4] Tlcreate tag[2] fid[4] name[s] flags[4] mode[4] gid[4]`
///
/// 9P2000.L: creates and opens `name` in the directory `fid`, which then stands for the new file.
public struct Tlcreate: NinePMessage {
    public static let type: UInt8 = 14

    public var fid: UInt32
    public var name: String
    public var flags: UInt32
    public var mode: UInt32
    public var gid: UInt32

    public init(fid: UInt32, name: String, flags: UInt32, mode: UInt32, gid: UInt32) {
        self.fid = fid
        self.name = name
        self.flags = flags
        self.mode = mode
        self.gid = gid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let flags = reader.readUInt32() else { return nil }
        guard let mode = reader.readUInt32() else { return nil }
        guard let gid = reader.readUInt32() else { return nil }
        self.init(fid: fid, name: name, flags: flags, mode: mode, gid: gid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeString(name)
        writer.writeUInt32(flags)
        writer.writeUInt32(mode)
        writer.writeUInt32(gid)
    }
}

/// `size[4] Rlcreate tag[2] qid[13] iounit[4]`
///
/// 9P2000.L: the created file's qid and iounit.
public struct Rlcreate: NinePMessage {
    public static let type: UInt8 = 15

    public var qid: Qid
    public var iounit: UInt32

    public init(qid: Qid, iounit: UInt32) {
        self.qid = qid
        self.iounit = iounit
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        guard let iounit = reader.readUInt32() else { return nil }
        self.init(qid: qid, iounit: iounit)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
        writer.writeUInt32(iounit)
    }
}
