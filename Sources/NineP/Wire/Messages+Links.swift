// Messages of 9P: symlinks, links, nodes, directories and renames.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Tsymlink tag[2] fid[4] name[s] target[s] gid[4]`
///
/// 9P2000.L: creates the symlink `name` → `target` in the directory `fid`.
public struct Tsymlink: NinePMessage {
    public static let type: UInt8 = 16

    public var fid: UInt32
    public var name: String
    public var target: String
    public var gid: UInt32

    public init(fid: UInt32, name: String, target: String, gid: UInt32) {
        self.fid = fid
        self.name = name
        self.target = target
        self.gid = gid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let target = reader.readString() else { return nil }
        guard let gid = reader.readUInt32() else { return nil }
        self.init(fid: fid, name: name, target: target, gid: gid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeString(name)
        writer.writeString(target)
        writer.writeUInt32(gid)
    }
}

/// `size[4] Rsymlink tag[2] qid[13]`
///
/// 9P2000.L: the new symlink's qid.
public struct Rsymlink: NinePMessage {
    public static let type: UInt8 = 17

    public var qid: Qid

    public init(qid: Qid) {
        self.qid = qid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        self.init(qid: qid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
    }
}

/// `size[4] Tmknod tag[2] dfid[4] name[s] mode[4] major[4] minor[4] gid[4]`
///
/// 9P2000.L: creates a device node, FIFO or socket `name` in the directory `dfid`.
public struct Tmknod: NinePMessage {
    public static let type: UInt8 = 18

    public var dfid: UInt32
    public var name: String
    public var mode: UInt32
    public var major: UInt32
    public var minor: UInt32
    public var gid: UInt32

    public init(dfid: UInt32, name: String, mode: UInt32, major: UInt32, minor: UInt32, gid: UInt32) {
        self.dfid = dfid
        self.name = name
        self.mode = mode
        self.major = major
        self.minor = minor
        self.gid = gid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let dfid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let mode = reader.readUInt32() else { return nil }
        guard let major = reader.readUInt32() else { return nil }
        guard let minor = reader.readUInt32() else { return nil }
        guard let gid = reader.readUInt32() else { return nil }
        self.init(dfid: dfid, name: name, mode: mode, major: major, minor: minor, gid: gid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(dfid)
        writer.writeString(name)
        writer.writeUInt32(mode)
        writer.writeUInt32(major)
        writer.writeUInt32(minor)
        writer.writeUInt32(gid)
    }
}

/// `size[4] Rmknod tag[2] qid[13]`
///
/// 9P2000.L: the new node's qid.
public struct Rmknod: NinePMessage {
    public static let type: UInt8 = 19

    public var qid: Qid

    public init(qid: Qid) {
        self.qid = qid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        self.init(qid: qid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
    }
}

/// `size[4] Trename tag[2] fid[4] dfid[4] name[s]`
///
/// 9P2000.L: renames the file `fid` to `name` in the directory `dfid`.
public struct Trename: NinePMessage {
    public static let type: UInt8 = 20

    public var fid: UInt32
    public var dfid: UInt32
    public var name: String

    public init(fid: UInt32, dfid: UInt32, name: String) {
        self.fid = fid
        self.dfid = dfid
        self.name = name
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let dfid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        self.init(fid: fid, dfid: dfid, name: name)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt32(dfid)
        writer.writeString(name)
    }
}

/// `size[4] Rrename tag[2]`
///
/// 9P2000.L.
public struct Rrename: NinePMessage {
    public static let type: UInt8 = 21

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Treadlink tag[2] fid[4]`
///
/// 9P2000.L: asks for the target of the symlink `fid`.
public struct Treadlink: NinePMessage {
    public static let type: UInt8 = 22

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

/// `size[4] Rreadlink tag[2] target[s]`
///
/// 9P2000.L: the symlink's target text.
public struct Rreadlink: NinePMessage {
    public static let type: UInt8 = 23

    public var target: String

    public init(target: String) {
        self.target = target
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let target = reader.readString() else { return nil }
        self.init(target: target)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeString(target)
    }
}

/// `size[4] Tlink tag[2] dfid[4] fid[4] name[s]`
///
/// 9P2000.L: creates the hard link `name` in the directory `dfid` to the file `fid`.
public struct Tlink: NinePMessage {
    public static let type: UInt8 = 70

    public var dfid: UInt32
    public var fid: UInt32
    public var name: String

    public init(dfid: UInt32, fid: UInt32, name: String) {
        self.dfid = dfid
        self.fid = fid
        self.name = name
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let dfid = reader.readUInt32() else { return nil }
        guard let fid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        self.init(dfid: dfid, fid: fid, name: name)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(dfid)
        writer.writeUInt32(fid)
        writer.writeString(name)
    }
}

/// `size[4] Rlink tag[2]`
///
/// 9P2000.L.
public struct Rlink: NinePMessage {
    public static let type: UInt8 = 71

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Tmkdir tag[2] dfid[4] name[s] mode[4] gid[4]`
///
/// 9P2000.L: creates the directory `name` in the directory `dfid`.
public struct Tmkdir: NinePMessage {
    public static let type: UInt8 = 72

    public var dfid: UInt32
    public var name: String
    public var mode: UInt32
    public var gid: UInt32

    public init(dfid: UInt32, name: String, mode: UInt32, gid: UInt32) {
        self.dfid = dfid
        self.name = name
        self.mode = mode
        self.gid = gid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let dfid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let mode = reader.readUInt32() else { return nil }
        guard let gid = reader.readUInt32() else { return nil }
        self.init(dfid: dfid, name: name, mode: mode, gid: gid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(dfid)
        writer.writeString(name)
        writer.writeUInt32(mode)
        writer.writeUInt32(gid)
    }
}

/// `size[4] Rmkdir tag[2] qid[13]`
///
/// 9P2000.L: the new directory's qid.
public struct Rmkdir: NinePMessage {
    public static let type: UInt8 = 73

    public var qid: Qid

    public init(qid: Qid) {
        self.qid = qid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let qid = reader.readQid() else { return nil }
        self.init(qid: qid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(qid)
    }
}

/// `size[4] Trenameat tag[2] old_dir_fid[4] oldname[s] new_dir_fid[4] newname[s]`
///
/// 9P2000.L: renames `oldname` in `oldDirFid` to `newname` in `newDirFid`.
public struct Trenameat: NinePMessage {
    public static let type: UInt8 = 74

    public var oldDirFid: UInt32
    public var oldname: String
    public var newDirFid: UInt32
    public var newname: String

    public init(oldDirFid: UInt32, oldname: String, newDirFid: UInt32, newname: String) {
        self.oldDirFid = oldDirFid
        self.oldname = oldname
        self.newDirFid = newDirFid
        self.newname = newname
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let oldDirFid = reader.readUInt32() else { return nil }
        guard let oldname = reader.readString() else { return nil }
        guard let newDirFid = reader.readUInt32() else { return nil }
        guard let newname = reader.readString() else { return nil }
        self.init(oldDirFid: oldDirFid, oldname: oldname, newDirFid: newDirFid, newname: newname)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(oldDirFid)
        writer.writeString(oldname)
        writer.writeUInt32(newDirFid)
        writer.writeString(newname)
    }
}

/// `size[4] Rrenameat tag[2]`
///
/// 9P2000.L.
public struct Rrenameat: NinePMessage {
    public static let type: UInt8 = 75

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Tunlinkat tag[2] dir_fid[4] name[s] flags[4]`
///
/// 9P2000.L: removes `name` from the directory `dirFid` (`flags` may hold AT_REMOVEDIR).
public struct Tunlinkat: NinePMessage {
    public static let type: UInt8 = 76

    public var dirFid: UInt32
    public var name: String
    public var flags: UInt32

    public init(dirFid: UInt32, name: String, flags: UInt32) {
        self.dirFid = dirFid
        self.name = name
        self.flags = flags
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let dirFid = reader.readUInt32() else { return nil }
        guard let name = reader.readString() else { return nil }
        guard let flags = reader.readUInt32() else { return nil }
        self.init(dirFid: dirFid, name: name, flags: flags)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(dirFid)
        writer.writeString(name)
        writer.writeUInt32(flags)
    }
}

/// `size[4] Runlinkat tag[2]`
///
/// 9P2000.L.
public struct Runlinkat: NinePMessage {
    public static let type: UInt8 = 77

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}
