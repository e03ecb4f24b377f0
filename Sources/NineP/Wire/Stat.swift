/// The 9P2000 directory entry, `stat(5)`, with the fields 9P2000.u adds.
///
/// `size[2] type[2] dev[4] qid[13] mode[4] atime[4] mtime[4] length[8] name[s] uid[s] gid[s]
/// muid[s]`, and in 9P2000.u `extension[s] n_uid[4] n_gid[4] n_muid[4]`.
public struct Stat: Sendable, Hashable {
    public var type: UInt16
    public var dev: UInt32
    public var qid: Qid
    /// Permission bits in the low 9 bits, `DM*` file type bits in the high ones.
    public var mode: UInt32
    public var atime: UInt32
    public var mtime: UInt32
    public var length: UInt64
    public var name: String
    public var uid: String
    public var gid: String
    public var muid: String
    /// 9P2000.u: a symlink's target, or a device's `b|c major minor`.
    public var `extension`: String
    public var nUid: UInt32
    public var nGid: UInt32
    public var nMuid: UInt32

    public init(
        type: UInt16 = 0, dev: UInt32 = 0, qid: Qid, mode: UInt32, atime: UInt32 = 0,
        mtime: UInt32 = 0, length: UInt64 = 0, name: String, uid: String = "", gid: String = "",
        muid: String = "", extension: String = "", nUid: UInt32 = ~0, nGid: UInt32 = ~0,
        nMuid: UInt32 = ~0
    ) {
        self.type = type
        self.dev = dev
        self.qid = qid
        self.mode = mode
        self.atime = atime
        self.mtime = mtime
        self.length = length
        self.name = name
        self.uid = uid
        self.gid = gid
        self.muid = muid
        self.extension = `extension`
        self.nUid = nUid
        self.nGid = nGid
        self.nMuid = nMuid
    }

    /// A stat whose every field says "don't touch", as Twstat uses it.
    public static var dontTouch: Stat {
        Stat(
            type: ~0, dev: ~0, qid: Qid(type: QidType(rawValue: ~0), version: ~0, path: ~0),
            mode: ~0, atime: ~0, mtime: ~0, length: ~0, name: "")
    }
}

/// The `DM*` bits of a 9P2000 mode.
public enum DirMode {
    public static let directory: UInt32 = 0x8000_0000
    public static let appendOnly: UInt32 = 0x4000_0000
    public static let exclusive: UInt32 = 0x2000_0000
    public static let mount: UInt32 = 0x1000_0000
    public static let auth: UInt32 = 0x0800_0000
    public static let temporary: UInt32 = 0x0400_0000
    /// 9P2000.u.
    public static let symlink: UInt32 = 0x0200_0000
    /// 9P2000.u: a hard link; Tcreate's extension names the fid of the file to link to.
    public static let link: UInt32 = 0x0100_0000
    public static let device: UInt32 = 0x0080_0000
    public static let namedPipe: UInt32 = 0x0020_0000
    public static let socket: UInt32 = 0x0010_0000
    public static let setuid: UInt32 = 0x0008_0000
    public static let setgid: UInt32 = 0x0004_0000
}
