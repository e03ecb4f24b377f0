/// Every message of 9P2000, 9P2000.u and 9P2000.L, as one value.
///
/// Which fields a message carries on the wire depends on the dialect negotiated by Tversion
/// (`n_uname`, Rerror's errno, Tcreate's extension, the stat extension); the values here
/// hold the union of them.
public enum Message: Sendable, Hashable {
    case tversion(Tversion)
    case rversion(Rversion)
    case tauth(Tauth)
    case rauth(Rauth)
    case tattach(Tattach)
    case rattach(Rattach)
    case rerror(Rerror)
    case tflush(Tflush)
    case rflush(Rflush)
    case rlerror(Rlerror)
    case twalk(Twalk)
    case rwalk(Rwalk)
    case topen(Topen)
    case ropen(Ropen)
    case tcreate(Tcreate)
    case rcreate(Rcreate)
    case tclunk(Tclunk)
    case rclunk(Rclunk)
    case tremove(Tremove)
    case rremove(Rremove)
    case tlopen(Tlopen)
    case rlopen(Rlopen)
    case tlcreate(Tlcreate)
    case rlcreate(Rlcreate)
    case tread(Tread)
    case rread(Rread)
    case twrite(Twrite)
    case rwrite(Rwrite)
    case treaddir(Treaddir)
    case rreaddir(Rreaddir)
    case tfsync(Tfsync)
    case rfsync(Rfsync)
    case tstat(Tstat)
    case rstat(Rstat)
    case twstat(Twstat)
    case rwstat(Rwstat)
    case tgetattr(Tgetattr)
    case rgetattr(Rgetattr)
    case tsetattr(Tsetattr)
    case rsetattr(Rsetattr)
    case tstatfs(Tstatfs)
    case rstatfs(Rstatfs)
    case tsymlink(Tsymlink)
    case rsymlink(Rsymlink)
    case tmknod(Tmknod)
    case rmknod(Rmknod)
    case trename(Trename)
    case rrename(Rrename)
    case treadlink(Treadlink)
    case rreadlink(Rreadlink)
    case tlink(Tlink)
    case rlink(Rlink)
    case tmkdir(Tmkdir)
    case rmkdir(Rmkdir)
    case trenameat(Trenameat)
    case rrenameat(Rrenameat)
    case tunlinkat(Tunlinkat)
    case runlinkat(Runlinkat)
    case txattrwalk(Txattrwalk)
    case rxattrwalk(Rxattrwalk)
    case txattrcreate(Txattrcreate)
    case rxattrcreate(Rxattrcreate)
    case tlock(Tlock)
    case rlock(Rlock)
    case tgetlock(Tgetlock)
    case rgetlock(Rgetlock)

    /// The message type byte.
    public var type: UInt8 {
        switch self {
        case .tversion: Tversion.type
        case .rversion: Rversion.type
        case .tauth: Tauth.type
        case .rauth: Rauth.type
        case .tattach: Tattach.type
        case .rattach: Rattach.type
        case .rerror: Rerror.type
        case .tflush: Tflush.type
        case .rflush: Rflush.type
        case .rlerror: Rlerror.type
        case .twalk: Twalk.type
        case .rwalk: Rwalk.type
        case .topen: Topen.type
        case .ropen: Ropen.type
        case .tcreate: Tcreate.type
        case .rcreate: Rcreate.type
        case .tclunk: Tclunk.type
        case .rclunk: Rclunk.type
        case .tremove: Tremove.type
        case .rremove: Rremove.type
        case .tlopen: Tlopen.type
        case .rlopen: Rlopen.type
        case .tlcreate: Tlcreate.type
        case .rlcreate: Rlcreate.type
        case .tread: Tread.type
        case .rread: Rread.type
        case .twrite: Twrite.type
        case .rwrite: Rwrite.type
        case .treaddir: Treaddir.type
        case .rreaddir: Rreaddir.type
        case .tfsync: Tfsync.type
        case .rfsync: Rfsync.type
        case .tstat: Tstat.type
        case .rstat: Rstat.type
        case .twstat: Twstat.type
        case .rwstat: Rwstat.type
        case .tgetattr: Tgetattr.type
        case .rgetattr: Rgetattr.type
        case .tsetattr: Tsetattr.type
        case .rsetattr: Rsetattr.type
        case .tstatfs: Tstatfs.type
        case .rstatfs: Rstatfs.type
        case .tsymlink: Tsymlink.type
        case .rsymlink: Rsymlink.type
        case .tmknod: Tmknod.type
        case .rmknod: Rmknod.type
        case .trename: Trename.type
        case .rrename: Rrename.type
        case .treadlink: Treadlink.type
        case .rreadlink: Rreadlink.type
        case .tlink: Tlink.type
        case .rlink: Rlink.type
        case .tmkdir: Tmkdir.type
        case .rmkdir: Rmkdir.type
        case .trenameat: Trenameat.type
        case .rrenameat: Rrenameat.type
        case .tunlinkat: Tunlinkat.type
        case .runlinkat: Runlinkat.type
        case .txattrwalk: Txattrwalk.type
        case .rxattrwalk: Rxattrwalk.type
        case .txattrcreate: Txattrcreate.type
        case .rxattrcreate: Rxattrcreate.type
        case .tlock: Tlock.type
        case .rlock: Rlock.type
        case .tgetlock: Tgetlock.type
        case .rgetlock: Rgetlock.type
        }
    }

    /// Writes the body (everything after `size[4] type[1] tag[2]`).
    public func writeBody(to writer: inout WireWriter, dialect: Dialect) {
        switch self {
        case .tversion(let m): m.write(to: &writer, dialect: dialect)
        case .rversion(let m): m.write(to: &writer, dialect: dialect)
        case .tauth(let m): m.write(to: &writer, dialect: dialect)
        case .rauth(let m): m.write(to: &writer, dialect: dialect)
        case .tattach(let m): m.write(to: &writer, dialect: dialect)
        case .rattach(let m): m.write(to: &writer, dialect: dialect)
        case .rerror(let m): m.write(to: &writer, dialect: dialect)
        case .tflush(let m): m.write(to: &writer, dialect: dialect)
        case .rflush(let m): m.write(to: &writer, dialect: dialect)
        case .rlerror(let m): m.write(to: &writer, dialect: dialect)
        case .twalk(let m): m.write(to: &writer, dialect: dialect)
        case .rwalk(let m): m.write(to: &writer, dialect: dialect)
        case .topen(let m): m.write(to: &writer, dialect: dialect)
        case .ropen(let m): m.write(to: &writer, dialect: dialect)
        case .tcreate(let m): m.write(to: &writer, dialect: dialect)
        case .rcreate(let m): m.write(to: &writer, dialect: dialect)
        case .tclunk(let m): m.write(to: &writer, dialect: dialect)
        case .rclunk(let m): m.write(to: &writer, dialect: dialect)
        case .tremove(let m): m.write(to: &writer, dialect: dialect)
        case .rremove(let m): m.write(to: &writer, dialect: dialect)
        case .tlopen(let m): m.write(to: &writer, dialect: dialect)
        case .rlopen(let m): m.write(to: &writer, dialect: dialect)
        case .tlcreate(let m): m.write(to: &writer, dialect: dialect)
        case .rlcreate(let m): m.write(to: &writer, dialect: dialect)
        case .tread(let m): m.write(to: &writer, dialect: dialect)
        case .rread(let m): m.write(to: &writer, dialect: dialect)
        case .twrite(let m): m.write(to: &writer, dialect: dialect)
        case .rwrite(let m): m.write(to: &writer, dialect: dialect)
        case .treaddir(let m): m.write(to: &writer, dialect: dialect)
        case .rreaddir(let m): m.write(to: &writer, dialect: dialect)
        case .tfsync(let m): m.write(to: &writer, dialect: dialect)
        case .rfsync(let m): m.write(to: &writer, dialect: dialect)
        case .tstat(let m): m.write(to: &writer, dialect: dialect)
        case .rstat(let m): m.write(to: &writer, dialect: dialect)
        case .twstat(let m): m.write(to: &writer, dialect: dialect)
        case .rwstat(let m): m.write(to: &writer, dialect: dialect)
        case .tgetattr(let m): m.write(to: &writer, dialect: dialect)
        case .rgetattr(let m): m.write(to: &writer, dialect: dialect)
        case .tsetattr(let m): m.write(to: &writer, dialect: dialect)
        case .rsetattr(let m): m.write(to: &writer, dialect: dialect)
        case .tstatfs(let m): m.write(to: &writer, dialect: dialect)
        case .rstatfs(let m): m.write(to: &writer, dialect: dialect)
        case .tsymlink(let m): m.write(to: &writer, dialect: dialect)
        case .rsymlink(let m): m.write(to: &writer, dialect: dialect)
        case .tmknod(let m): m.write(to: &writer, dialect: dialect)
        case .rmknod(let m): m.write(to: &writer, dialect: dialect)
        case .trename(let m): m.write(to: &writer, dialect: dialect)
        case .rrename(let m): m.write(to: &writer, dialect: dialect)
        case .treadlink(let m): m.write(to: &writer, dialect: dialect)
        case .rreadlink(let m): m.write(to: &writer, dialect: dialect)
        case .tlink(let m): m.write(to: &writer, dialect: dialect)
        case .rlink(let m): m.write(to: &writer, dialect: dialect)
        case .tmkdir(let m): m.write(to: &writer, dialect: dialect)
        case .rmkdir(let m): m.write(to: &writer, dialect: dialect)
        case .trenameat(let m): m.write(to: &writer, dialect: dialect)
        case .rrenameat(let m): m.write(to: &writer, dialect: dialect)
        case .tunlinkat(let m): m.write(to: &writer, dialect: dialect)
        case .runlinkat(let m): m.write(to: &writer, dialect: dialect)
        case .txattrwalk(let m): m.write(to: &writer, dialect: dialect)
        case .rxattrwalk(let m): m.write(to: &writer, dialect: dialect)
        case .txattrcreate(let m): m.write(to: &writer, dialect: dialect)
        case .rxattrcreate(let m): m.write(to: &writer, dialect: dialect)
        case .tlock(let m): m.write(to: &writer, dialect: dialect)
        case .rlock(let m): m.write(to: &writer, dialect: dialect)
        case .tgetlock(let m): m.write(to: &writer, dialect: dialect)
        case .rgetlock(let m): m.write(to: &writer, dialect: dialect)
        }
    }

    /// Reads a body of the given type; nil when the body is short or the type unknown.
    static func readBody(type: UInt8, from reader: inout WireReader, dialect: Dialect) -> Message? {
        switch type {
        case Tversion.type: Tversion(from: &reader, dialect: dialect).map(Message.tversion)
        case Rversion.type: Rversion(from: &reader, dialect: dialect).map(Message.rversion)
        case Tauth.type: Tauth(from: &reader, dialect: dialect).map(Message.tauth)
        case Rauth.type: Rauth(from: &reader, dialect: dialect).map(Message.rauth)
        case Tattach.type: Tattach(from: &reader, dialect: dialect).map(Message.tattach)
        case Rattach.type: Rattach(from: &reader, dialect: dialect).map(Message.rattach)
        case Rerror.type: Rerror(from: &reader, dialect: dialect).map(Message.rerror)
        case Tflush.type: Tflush(from: &reader, dialect: dialect).map(Message.tflush)
        case Rflush.type: Rflush(from: &reader, dialect: dialect).map(Message.rflush)
        case Rlerror.type: Rlerror(from: &reader, dialect: dialect).map(Message.rlerror)
        case Twalk.type: Twalk(from: &reader, dialect: dialect).map(Message.twalk)
        case Rwalk.type: Rwalk(from: &reader, dialect: dialect).map(Message.rwalk)
        case Topen.type: Topen(from: &reader, dialect: dialect).map(Message.topen)
        case Ropen.type: Ropen(from: &reader, dialect: dialect).map(Message.ropen)
        case Tcreate.type: Tcreate(from: &reader, dialect: dialect).map(Message.tcreate)
        case Rcreate.type: Rcreate(from: &reader, dialect: dialect).map(Message.rcreate)
        case Tclunk.type: Tclunk(from: &reader, dialect: dialect).map(Message.tclunk)
        case Rclunk.type: Rclunk(from: &reader, dialect: dialect).map(Message.rclunk)
        case Tremove.type: Tremove(from: &reader, dialect: dialect).map(Message.tremove)
        case Rremove.type: Rremove(from: &reader, dialect: dialect).map(Message.rremove)
        case Tlopen.type: Tlopen(from: &reader, dialect: dialect).map(Message.tlopen)
        case Rlopen.type: Rlopen(from: &reader, dialect: dialect).map(Message.rlopen)
        case Tlcreate.type: Tlcreate(from: &reader, dialect: dialect).map(Message.tlcreate)
        case Rlcreate.type: Rlcreate(from: &reader, dialect: dialect).map(Message.rlcreate)
        case Tread.type: Tread(from: &reader, dialect: dialect).map(Message.tread)
        case Rread.type: Rread(from: &reader, dialect: dialect).map(Message.rread)
        case Twrite.type: Twrite(from: &reader, dialect: dialect).map(Message.twrite)
        case Rwrite.type: Rwrite(from: &reader, dialect: dialect).map(Message.rwrite)
        case Treaddir.type: Treaddir(from: &reader, dialect: dialect).map(Message.treaddir)
        case Rreaddir.type: Rreaddir(from: &reader, dialect: dialect).map(Message.rreaddir)
        case Tfsync.type: Tfsync(from: &reader, dialect: dialect).map(Message.tfsync)
        case Rfsync.type: Rfsync(from: &reader, dialect: dialect).map(Message.rfsync)
        case Tstat.type: Tstat(from: &reader, dialect: dialect).map(Message.tstat)
        case Rstat.type: Rstat(from: &reader, dialect: dialect).map(Message.rstat)
        case Twstat.type: Twstat(from: &reader, dialect: dialect).map(Message.twstat)
        case Rwstat.type: Rwstat(from: &reader, dialect: dialect).map(Message.rwstat)
        case Tgetattr.type: Tgetattr(from: &reader, dialect: dialect).map(Message.tgetattr)
        case Rgetattr.type: Rgetattr(from: &reader, dialect: dialect).map(Message.rgetattr)
        case Tsetattr.type: Tsetattr(from: &reader, dialect: dialect).map(Message.tsetattr)
        case Rsetattr.type: Rsetattr(from: &reader, dialect: dialect).map(Message.rsetattr)
        case Tstatfs.type: Tstatfs(from: &reader, dialect: dialect).map(Message.tstatfs)
        case Rstatfs.type: Rstatfs(from: &reader, dialect: dialect).map(Message.rstatfs)
        case Tsymlink.type: Tsymlink(from: &reader, dialect: dialect).map(Message.tsymlink)
        case Rsymlink.type: Rsymlink(from: &reader, dialect: dialect).map(Message.rsymlink)
        case Tmknod.type: Tmknod(from: &reader, dialect: dialect).map(Message.tmknod)
        case Rmknod.type: Rmknod(from: &reader, dialect: dialect).map(Message.rmknod)
        case Trename.type: Trename(from: &reader, dialect: dialect).map(Message.trename)
        case Rrename.type: Rrename(from: &reader, dialect: dialect).map(Message.rrename)
        case Treadlink.type: Treadlink(from: &reader, dialect: dialect).map(Message.treadlink)
        case Rreadlink.type: Rreadlink(from: &reader, dialect: dialect).map(Message.rreadlink)
        case Tlink.type: Tlink(from: &reader, dialect: dialect).map(Message.tlink)
        case Rlink.type: Rlink(from: &reader, dialect: dialect).map(Message.rlink)
        case Tmkdir.type: Tmkdir(from: &reader, dialect: dialect).map(Message.tmkdir)
        case Rmkdir.type: Rmkdir(from: &reader, dialect: dialect).map(Message.rmkdir)
        case Trenameat.type: Trenameat(from: &reader, dialect: dialect).map(Message.trenameat)
        case Rrenameat.type: Rrenameat(from: &reader, dialect: dialect).map(Message.rrenameat)
        case Tunlinkat.type: Tunlinkat(from: &reader, dialect: dialect).map(Message.tunlinkat)
        case Runlinkat.type: Runlinkat(from: &reader, dialect: dialect).map(Message.runlinkat)
        case Txattrwalk.type: Txattrwalk(from: &reader, dialect: dialect).map(Message.txattrwalk)
        case Rxattrwalk.type: Rxattrwalk(from: &reader, dialect: dialect).map(Message.rxattrwalk)
        case Txattrcreate.type: Txattrcreate(from: &reader, dialect: dialect).map(Message.txattrcreate)
        case Rxattrcreate.type: Rxattrcreate(from: &reader, dialect: dialect).map(Message.rxattrcreate)
        case Tlock.type: Tlock(from: &reader, dialect: dialect).map(Message.tlock)
        case Rlock.type: Rlock(from: &reader, dialect: dialect).map(Message.rlock)
        case Tgetlock.type: Tgetlock(from: &reader, dialect: dialect).map(Message.tgetlock)
        case Rgetlock.type: Rgetlock(from: &reader, dialect: dialect).map(Message.rgetlock)
        default: nil
        }
    }

    /// The names of the message types, for logs and errors.
    public static func name(ofType type: UInt8) -> String? {
        switch type {
        case 100: "Tversion"
        case 101: "Rversion"
        case 102: "Tauth"
        case 103: "Rauth"
        case 104: "Tattach"
        case 105: "Rattach"
        case 107: "Rerror"
        case 108: "Tflush"
        case 109: "Rflush"
        case 7: "Rlerror"
        case 110: "Twalk"
        case 111: "Rwalk"
        case 112: "Topen"
        case 113: "Ropen"
        case 114: "Tcreate"
        case 115: "Rcreate"
        case 120: "Tclunk"
        case 121: "Rclunk"
        case 122: "Tremove"
        case 123: "Rremove"
        case 12: "Tlopen"
        case 13: "Rlopen"
        case 14: "Tlcreate"
        case 15: "Rlcreate"
        case 116: "Tread"
        case 117: "Rread"
        case 118: "Twrite"
        case 119: "Rwrite"
        case 40: "Treaddir"
        case 41: "Rreaddir"
        case 50: "Tfsync"
        case 51: "Rfsync"
        case 124: "Tstat"
        case 125: "Rstat"
        case 126: "Twstat"
        case 127: "Rwstat"
        case 24: "Tgetattr"
        case 25: "Rgetattr"
        case 26: "Tsetattr"
        case 27: "Rsetattr"
        case 8: "Tstatfs"
        case 9: "Rstatfs"
        case 16: "Tsymlink"
        case 17: "Rsymlink"
        case 18: "Tmknod"
        case 19: "Rmknod"
        case 20: "Trename"
        case 21: "Rrename"
        case 22: "Treadlink"
        case 23: "Rreadlink"
        case 70: "Tlink"
        case 71: "Rlink"
        case 72: "Tmkdir"
        case 73: "Rmkdir"
        case 74: "Trenameat"
        case 75: "Rrenameat"
        case 76: "Tunlinkat"
        case 77: "Runlinkat"
        case 30: "Txattrwalk"
        case 31: "Rxattrwalk"
        case 32: "Txattrcreate"
        case 33: "Rxattrcreate"
        case 52: "Tlock"
        case 53: "Rlock"
        case 54: "Tgetlock"
        case 55: "Rgetlock"
        default: nil
        }
    }
}
