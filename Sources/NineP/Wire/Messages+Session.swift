// Messages of 9P: version, auth, attach, error and flush.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Tversion tag[2] msize[4] version[s]`
///
/// version(5): negotiates msize and the dialect; aborts all outstanding I/O and clunks every fid.
public struct Tversion: NinePMessage {
    public static let type: UInt8 = 100
    /// The tag Tversion must carry.
    public static let noTag: UInt16 = ~0

    public var msize: UInt32
    public var version: String

    public init(msize: UInt32, version: String) {
        self.msize = msize
        self.version = version
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let msize = reader.readUInt32() else { return nil }
        guard let version = reader.readString() else { return nil }
        self.init(msize: msize, version: version)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(msize)
        writer.writeString(version)
    }
}

/// `size[4] Rversion tag[2] msize[4] version[s]`
///
/// version(5): the server's msize (never more than the client's) and dialect, or `unknown`.
public struct Rversion: NinePMessage {
    public static let type: UInt8 = 101

    public var msize: UInt32
    public var version: String

    public init(msize: UInt32, version: String) {
        self.msize = msize
        self.version = version
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let msize = reader.readUInt32() else { return nil }
        guard let version = reader.readString() else { return nil }
        self.init(msize: msize, version: version)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(msize)
        writer.writeString(version)
    }
}

/// `size[4] Tauth tag[2] afid[4] uname[s] aname[s] n_uname[4]`
///
/// attach(5): asks for an authentication fid. 9P2000.u and .L add `n_uname`.
public struct Tauth: NinePMessage {
    public static let type: UInt8 = 102
    /// The `afid` of an attach made without authentication.
    public static let noFid: UInt32 = ~0

    public var afid: UInt32
    public var uname: String
    public var aname: String
    public var nUname: UInt32

    public init(afid: UInt32, uname: String, aname: String, nUname: UInt32 = Tattach.noUname) {
        self.afid = afid
        self.uname = uname
        self.aname = aname
        self.nUname = nUname
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let afid = reader.readUInt32() else { return nil }
        guard let uname = reader.readString() else { return nil }
        guard let aname = reader.readString() else { return nil }
        var nUname = Tattach.noUname
        if dialect != .plain {
            guard let value = reader.readUInt32() else { return nil }
            nUname = value
        }
        self.init(afid: afid, uname: uname, aname: aname, nUname: nUname)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(afid)
        writer.writeString(uname)
        writer.writeString(aname)
        if dialect != .plain { writer.writeUInt32(nUname) }
    }
}

/// `size[4] Rauth tag[2] aqid[13]`
///
/// attach(5): the qid of the authentication file.
public struct Rauth: NinePMessage {
    public static let type: UInt8 = 103

    public var aqid: Qid

    public init(aqid: Qid) {
        self.aqid = aqid
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let aqid = reader.readQid() else { return nil }
        self.init(aqid: aqid)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeQid(aqid)
    }
}

/// `size[4] Tattach tag[2] fid[4] afid[4] uname[s] aname[s] n_uname[4]`
///
/// attach(5): introduces a user to the server and binds `fid` to the root of `aname`. 9P2000.u and
/// .L add `n_uname`.
public struct Tattach: NinePMessage {
    public static let type: UInt8 = 104
    /// The `n_uname` a client sends when it names the user only by `uname`.
    public static let noUname: UInt32 = ~0
    /// The `afid` of an attach made without authentication.
    public static let noFid: UInt32 = ~0

    public var fid: UInt32
    public var afid: UInt32
    public var uname: String
    public var aname: String
    public var nUname: UInt32

    public init(fid: UInt32, afid: UInt32, uname: String, aname: String, nUname: UInt32 = Tattach.noUname) {
        self.fid = fid
        self.afid = afid
        self.uname = uname
        self.aname = aname
        self.nUname = nUname
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let afid = reader.readUInt32() else { return nil }
        guard let uname = reader.readString() else { return nil }
        guard let aname = reader.readString() else { return nil }
        var nUname = Tattach.noUname
        if dialect != .plain {
            guard let value = reader.readUInt32() else { return nil }
            nUname = value
        }
        self.init(fid: fid, afid: afid, uname: uname, aname: aname, nUname: nUname)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt32(afid)
        writer.writeString(uname)
        writer.writeString(aname)
        if dialect != .plain { writer.writeUInt32(nUname) }
    }
}

/// `size[4] Rattach tag[2] qid[13]`
///
/// attach(5): the qid of the root.
public struct Rattach: NinePMessage {
    public static let type: UInt8 = 105

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

/// `size[4] Rerror tag[2] ename[s] errno[4]`
///
/// error(5): a request failed. 9P2000.u adds the Unix errno.
public struct Rerror: NinePMessage {
    public static let type: UInt8 = 107

    public var ename: String
    public var errno: UInt32?

    public init(ename: String, errno: UInt32? = nil) {
        self.ename = ename
        self.errno = errno
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let ename = reader.readString() else { return nil }
        var errno: UInt32?
        if dialect == .unix {
            guard let value = reader.readUInt32() else { return nil }
            errno = value
        }
        self.init(ename: ename, errno: errno)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeString(ename)
        if dialect == .unix { writer.writeUInt32(errno ?? 0) }
    }
}

/// `size[4] Tflush tag[2] oldtag[2]`
///
/// flush(5): aborts the request tagged `oldtag`.
public struct Tflush: NinePMessage {
    public static let type: UInt8 = 108

    public var oldtag: UInt16

    public init(oldtag: UInt16) {
        self.oldtag = oldtag
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let oldtag = reader.readUInt16() else { return nil }
        self.init(oldtag: oldtag)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt16(oldtag)
    }
}

/// `size[4] Rflush tag[2]`
///
/// flush(5): `oldtag` is no longer in flight; its reply, if any, came first.
public struct Rflush: NinePMessage {
    public static let type: UInt8 = 109

    public init() {
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        _ = reader
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        _ = writer
    }
}

/// `size[4] Rlerror tag[2] ecode[4]`
///
/// 9P2000.L: a request failed with a Linux errno.
public struct Rlerror: NinePMessage {
    public static let type: UInt8 = 7

    public var ecode: UInt32

    public init(ecode: UInt32) {
        self.ecode = ecode
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let ecode = reader.readUInt32() else { return nil }
        self.init(ecode: ecode)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(ecode)
    }
}
