// Messages of 9P: stat, wstat, getattr, setattr and statfs.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Tstat tag[2] fid[4]`
///
/// stat(5): asks for the directory entry of `fid`.
public struct Tstat: NinePMessage {
    public static let type: UInt8 = 124

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

/// `size[4] Rstat tag[2] stat[n]`
///
/// stat(5): the directory entry, behind its own `n[2]`.
public struct Rstat: NinePMessage {
    public static let type: UInt8 = 125

    public var stat: Stat

    public init(stat: Stat) {
        self.stat = stat
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let stat = reader.readStatField(dialect: dialect) else { return nil }
        self.init(stat: stat)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeStatField(stat, dialect: dialect)
    }
}

/// `size[4] Twstat tag[2] fid[4] stat[n]`
///
/// stat(5): changes the directory entry; "don't touch" values leave a field alone.
public struct Twstat: NinePMessage {
    public static let type: UInt8 = 126

    public var fid: UInt32
    public var stat: Stat

    public init(fid: UInt32, stat: Stat) {
        self.fid = fid
        self.stat = stat
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let stat = reader.readStatField(dialect: dialect) else { return nil }
        self.init(fid: fid, stat: stat)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeStatField(stat, dialect: dialect)
    }
}

/// `size[4] Rwstat tag[2]`
///
/// stat(5).
public struct Rwstat: NinePMessage {
    public static let type: UInt8 = 127

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Tgetattr tag[2] fid[4] request_mask[8]`
///
/// 9P2000.L: asks for the attributes in `requestMask` (the `P9_GETATTR_*` bits).
public struct Tgetattr: NinePMessage {
    public static let type: UInt8 = 24

    public var fid: UInt32
    public var requestMask: UInt64

    public init(fid: UInt32, requestMask: UInt64) {
        self.fid = fid
        self.requestMask = requestMask
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let requestMask = reader.readUInt64() else { return nil }
        self.init(fid: fid, requestMask: requestMask)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt64(requestMask)
    }
}

/// `size[4] Rgetattr tag[2] valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8] size[8] blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8] ctime_sec[8] ctime_nsec[8] btime_sec[8] btime_nsec[8] gen[8] data_version[8]`
///
/// 9P2000.L: the attributes; `valid` says which are meaningful.
public struct Rgetattr: NinePMessage {
    public static let type: UInt8 = 25

    public var valid: UInt64
    public var qid: Qid
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var nlink: UInt64
    public var rdev: UInt64
    public var size: UInt64
    public var blksize: UInt64
    public var blocks: UInt64
    public var atimeSec: UInt64
    public var atimeNsec: UInt64
    public var mtimeSec: UInt64
    public var mtimeNsec: UInt64
    public var ctimeSec: UInt64
    public var ctimeNsec: UInt64
    public var btimeSec: UInt64
    public var btimeNsec: UInt64
    public var gen: UInt64
    public var dataVersion: UInt64

    public init(valid: UInt64, qid: Qid, mode: UInt32, uid: UInt32, gid: UInt32, nlink: UInt64, rdev: UInt64, size: UInt64, blksize: UInt64, blocks: UInt64, atimeSec: UInt64, atimeNsec: UInt64, mtimeSec: UInt64, mtimeNsec: UInt64, ctimeSec: UInt64, ctimeNsec: UInt64, btimeSec: UInt64, btimeNsec: UInt64, gen: UInt64, dataVersion: UInt64) {
        self.valid = valid
        self.qid = qid
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.nlink = nlink
        self.rdev = rdev
        self.size = size
        self.blksize = blksize
        self.blocks = blocks
        self.atimeSec = atimeSec
        self.atimeNsec = atimeNsec
        self.mtimeSec = mtimeSec
        self.mtimeNsec = mtimeNsec
        self.ctimeSec = ctimeSec
        self.ctimeNsec = ctimeNsec
        self.btimeSec = btimeSec
        self.btimeNsec = btimeNsec
        self.gen = gen
        self.dataVersion = dataVersion
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let valid = reader.readUInt64() else { return nil }
        guard let qid = reader.readQid() else { return nil }
        guard let mode = reader.readUInt32() else { return nil }
        guard let uid = reader.readUInt32() else { return nil }
        guard let gid = reader.readUInt32() else { return nil }
        guard let nlink = reader.readUInt64() else { return nil }
        guard let rdev = reader.readUInt64() else { return nil }
        guard let size = reader.readUInt64() else { return nil }
        guard let blksize = reader.readUInt64() else { return nil }
        guard let blocks = reader.readUInt64() else { return nil }
        guard let atimeSec = reader.readUInt64() else { return nil }
        guard let atimeNsec = reader.readUInt64() else { return nil }
        guard let mtimeSec = reader.readUInt64() else { return nil }
        guard let mtimeNsec = reader.readUInt64() else { return nil }
        guard let ctimeSec = reader.readUInt64() else { return nil }
        guard let ctimeNsec = reader.readUInt64() else { return nil }
        guard let btimeSec = reader.readUInt64() else { return nil }
        guard let btimeNsec = reader.readUInt64() else { return nil }
        guard let gen = reader.readUInt64() else { return nil }
        guard let dataVersion = reader.readUInt64() else { return nil }
        self.init(valid: valid, qid: qid, mode: mode, uid: uid, gid: gid, nlink: nlink, rdev: rdev, size: size, blksize: blksize, blocks: blocks, atimeSec: atimeSec, atimeNsec: atimeNsec, mtimeSec: mtimeSec, mtimeNsec: mtimeNsec, ctimeSec: ctimeSec, ctimeNsec: ctimeNsec, btimeSec: btimeSec, btimeNsec: btimeNsec, gen: gen, dataVersion: dataVersion)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt64(valid)
        writer.writeQid(qid)
        writer.writeUInt32(mode)
        writer.writeUInt32(uid)
        writer.writeUInt32(gid)
        writer.writeUInt64(nlink)
        writer.writeUInt64(rdev)
        writer.writeUInt64(size)
        writer.writeUInt64(blksize)
        writer.writeUInt64(blocks)
        writer.writeUInt64(atimeSec)
        writer.writeUInt64(atimeNsec)
        writer.writeUInt64(mtimeSec)
        writer.writeUInt64(mtimeNsec)
        writer.writeUInt64(ctimeSec)
        writer.writeUInt64(ctimeNsec)
        writer.writeUInt64(btimeSec)
        writer.writeUInt64(btimeNsec)
        writer.writeUInt64(gen)
        writer.writeUInt64(dataVersion)
    }
}

/// `size[4] Tsetattr tag[2] fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8]`
///
/// 9P2000.L: sets the attributes that `valid` names (the `P9_SETATTR_*` bits).
public struct Tsetattr: NinePMessage {
    public static let type: UInt8 = 26

    public var fid: UInt32
    public var valid: UInt32
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: UInt64
    public var atimeSec: UInt64
    public var atimeNsec: UInt64
    public var mtimeSec: UInt64
    public var mtimeNsec: UInt64

    public init(fid: UInt32, valid: UInt32, mode: UInt32, uid: UInt32, gid: UInt32, size: UInt64, atimeSec: UInt64, atimeNsec: UInt64, mtimeSec: UInt64, mtimeNsec: UInt64) {
        self.fid = fid
        self.valid = valid
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atimeSec = atimeSec
        self.atimeNsec = atimeNsec
        self.mtimeSec = mtimeSec
        self.mtimeNsec = mtimeNsec
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let valid = reader.readUInt32() else { return nil }
        guard let mode = reader.readUInt32() else { return nil }
        guard let uid = reader.readUInt32() else { return nil }
        guard let gid = reader.readUInt32() else { return nil }
        guard let size = reader.readUInt64() else { return nil }
        guard let atimeSec = reader.readUInt64() else { return nil }
        guard let atimeNsec = reader.readUInt64() else { return nil }
        guard let mtimeSec = reader.readUInt64() else { return nil }
        guard let mtimeNsec = reader.readUInt64() else { return nil }
        self.init(fid: fid, valid: valid, mode: mode, uid: uid, gid: gid, size: size, atimeSec: atimeSec, atimeNsec: atimeNsec, mtimeSec: mtimeSec, mtimeNsec: mtimeNsec)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt32(valid)
        writer.writeUInt32(mode)
        writer.writeUInt32(uid)
        writer.writeUInt32(gid)
        writer.writeUInt64(size)
        writer.writeUInt64(atimeSec)
        writer.writeUInt64(atimeNsec)
        writer.writeUInt64(mtimeSec)
        writer.writeUInt64(mtimeNsec)
    }
}

/// `size[4] Rsetattr tag[2]`
///
/// 9P2000.L.
public struct Rsetattr: NinePMessage {
    public static let type: UInt8 = 27

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Tstatfs tag[2] fid[4]`
///
/// 9P2000.L: asks for the file system's statistics, as statfs(2).
public struct Tstatfs: NinePMessage {
    public static let type: UInt8 = 8

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

/// `size[4] Rstatfs tag[2] type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8] fsid[8] namelen[4]`
///
/// 9P2000.L: file system statistics.
public struct Rstatfs: NinePMessage {
    public static let type: UInt8 = 9

    public var type: UInt32
    public var bsize: UInt32
    public var blocks: UInt64
    public var bfree: UInt64
    public var bavail: UInt64
    public var files: UInt64
    public var ffree: UInt64
    public var fsid: UInt64
    public var namelen: UInt32

    public init(type: UInt32, bsize: UInt32, blocks: UInt64, bfree: UInt64, bavail: UInt64, files: UInt64, ffree: UInt64, fsid: UInt64, namelen: UInt32) {
        self.type = type
        self.bsize = bsize
        self.blocks = blocks
        self.bfree = bfree
        self.bavail = bavail
        self.files = files
        self.ffree = ffree
        self.fsid = fsid
        self.namelen = namelen
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let type = reader.readUInt32() else { return nil }
        guard let bsize = reader.readUInt32() else { return nil }
        guard let blocks = reader.readUInt64() else { return nil }
        guard let bfree = reader.readUInt64() else { return nil }
        guard let bavail = reader.readUInt64() else { return nil }
        guard let files = reader.readUInt64() else { return nil }
        guard let ffree = reader.readUInt64() else { return nil }
        guard let fsid = reader.readUInt64() else { return nil }
        guard let namelen = reader.readUInt32() else { return nil }
        self.init(type: type, bsize: bsize, blocks: blocks, bfree: bfree, bavail: bavail, files: files, ffree: ffree, fsid: fsid, namelen: namelen)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(type)
        writer.writeUInt32(bsize)
        writer.writeUInt64(blocks)
        writer.writeUInt64(bfree)
        writer.writeUInt64(bavail)
        writer.writeUInt64(files)
        writer.writeUInt64(ffree)
        writer.writeUInt64(fsid)
        writer.writeUInt32(namelen)
    }
}
