import TestSupport
import NineP

/// Makes random messages of any type: random fields, with zero and maximum integers, empty,
/// multi-byte and long strings favoured.
struct MessageGenerator {
    var rng: SplitMix64
    /// The longest string (in UTF-8 bytes) and data field to generate.
    var maxStringBytes: Int
    var maxDataBytes: Int

    init(seed: UInt64, maxStringBytes: Int = Int(UInt16.max), maxDataBytes: Int = 16384) {
        rng = SplitMix64(seed: seed)
        self.maxStringBytes = maxStringBytes
        self.maxDataBytes = maxDataBytes
    }

    /// A small generator for fuzzing: short strings and data keep each input cheap.
    static func small(seed: UInt64) -> MessageGenerator {
        MessageGenerator(seed: seed, maxStringBytes: 40, maxDataBytes: 64)
    }

    mutating func u8() -> UInt8 { rng.edgy() }
    mutating func u16() -> UInt16 { rng.edgy() }
    mutating func u32() -> UInt32 { rng.edgy() }
    mutating func u64() -> UInt64 { rng.edgy() }

    private static let scalarRanges: [ClosedRange<UInt32>] = [
        0x20...0x7E, 0x00...0x1F, 0xA0...0x24F, 0x391...0x3C9, 0x4E00...0x4FFF, 0x1F600...0x1F64F,
    ]

    /// A string of at most `limit` UTF-8 bytes: empty, short mixed-script, or long ASCII
    /// (sometimes exactly `limit` bytes).
    mutating func string(limit: Int? = nil) -> String {
        let limit = min(limit ?? maxStringBytes, maxStringBytes)
        switch rng.below(10) {
        case 0:
            return ""
        case 1:
            let count = rng.oneIn(2) ? limit : rng.below(limit + 1)
            return String(repeating: "x", count: count)
        default:
            var result = ""
            var bytes = 0
            let target = rng.below(min(limit, 48) + 1)
            while bytes < target {
                let range = rng.element(of: Self.scalarRanges)
                let value = range.lowerBound + UInt32(rng.below(Int(range.upperBound - range.lowerBound) + 1))
                guard let scalar = Unicode.Scalar(value) else { continue }
                let width = String(scalar).utf8.count
                if bytes + width > limit { break }
                result.unicodeScalars.append(scalar)
                bytes += width
            }
            return result
        }
    }

    mutating func data() -> [UInt8] {
        switch rng.below(6) {
        case 0: return []
        case 1: return rng.bytes(count: maxDataBytes)
        default: return rng.bytes(count: rng.below(maxDataBytes + 1))
        }
    }

    mutating func qid() -> Qid {
        Qid(type: QidType(rawValue: u8()), version: u32(), path: u64())
    }

    /// A stat whose strings together stay within the 65535 bytes a stat's `size[2]` can count.
    mutating func stat() -> Stat {
        let each = min(maxStringBytes, 12_000)
        return Stat(
            type: u16(), dev: u32(), qid: qid(), mode: u32(), atime: u32(), mtime: u32(),
            length: u64(), name: string(limit: each), uid: string(limit: each),
            gid: string(limit: each), muid: string(limit: each), extension: string(limit: each),
            nUid: u32(), nGid: u32(), nMuid: u32())
    }

    mutating func names(max: Int) -> [String] {
        let count = rng.oneIn(4) ? max : rng.below(max + 1)
        return (0..<count).map { _ in string(limit: 255) }
    }

    mutating func entries() -> [DirectoryEntry] {
        (0..<rng.below(6)).map { _ in
            DirectoryEntry(qid: qid(), offset: u64(), type: u8(), name: string(limit: 255))
        }
    }

    /// A random message of the given type (one of ``MessageCatalog/allTypes``).
    mutating func message(type: UInt8) -> Message {
        switch type {
        case Tversion.type: .tversion(Tversion(msize: u32(), version: string()))
        case Rversion.type: .rversion(Rversion(msize: u32(), version: string()))
        case Tauth.type: .tauth(Tauth(afid: u32(), uname: string(), aname: string(), nUname: u32()))
        case Rauth.type: .rauth(Rauth(aqid: qid()))
        case Tattach.type:
            .tattach(Tattach(fid: u32(), afid: u32(), uname: string(), aname: string(), nUname: u32()))
        case Rattach.type: .rattach(Rattach(qid: qid()))
        case Rerror.type: .rerror(Rerror(ename: string(), errno: rng.oneIn(3) ? nil : u32()))
        case Tflush.type: .tflush(Tflush(oldtag: u16()))
        case Rflush.type: .rflush(Rflush())
        case Rlerror.type: .rlerror(Rlerror(ecode: u32()))
        case Twalk.type: .twalk(Twalk(fid: u32(), newfid: u32(), wnames: names(max: Twalk.maxNames)))
        case Rwalk.type: .rwalk(Rwalk(qids: (0..<(rng.oneIn(4) ? 16 : rng.below(17))).map { _ in qid() }))
        case Topen.type: .topen(Topen(fid: u32(), mode: u8()))
        case Ropen.type: .ropen(Ropen(qid: qid(), iounit: u32()))
        case Tcreate.type:
            .tcreate(Tcreate(fid: u32(), name: string(), perm: u32(), mode: u8(), ext: string()))
        case Rcreate.type: .rcreate(Rcreate(qid: qid(), iounit: u32()))
        case Tclunk.type: .tclunk(Tclunk(fid: u32()))
        case Rclunk.type: .rclunk(Rclunk())
        case Tremove.type: .tremove(Tremove(fid: u32()))
        case Rremove.type: .rremove(Rremove())
        case Tlopen.type: .tlopen(Tlopen(fid: u32(), flags: u32()))
        case Rlopen.type: .rlopen(Rlopen(qid: qid(), iounit: u32()))
        case Tlcreate.type:
            .tlcreate(Tlcreate(fid: u32(), name: string(), flags: u32(), mode: u32(), gid: u32()))
        case Rlcreate.type: .rlcreate(Rlcreate(qid: qid(), iounit: u32()))
        case Tread.type: .tread(Tread(fid: u32(), offset: u64(), count: u32()))
        case Rread.type: .rread(Rread(data: data()))
        case Twrite.type: .twrite(Twrite(fid: u32(), offset: u64(), data: data()))
        case Rwrite.type: .rwrite(Rwrite(count: u32()))
        case Treaddir.type: .treaddir(Treaddir(fid: u32(), offset: u64(), count: u32()))
        case Rreaddir.type:
            .rreaddir(Rreaddir(data: rng.oneIn(3) ? data() : Self.encode(entries())))
        case Tfsync.type: .tfsync(Tfsync(fid: u32(), datasync: rng.oneIn(2) ? nil : u32()))
        case Rfsync.type: .rfsync(Rfsync())
        case Tstat.type: .tstat(Tstat(fid: u32()))
        case Rstat.type: .rstat(Rstat(stat: stat()))
        case Twstat.type: .twstat(Twstat(fid: u32(), stat: stat()))
        case Rwstat.type: .rwstat(Rwstat())
        case Tgetattr.type: .tgetattr(Tgetattr(fid: u32(), requestMask: u64()))
        case Rgetattr.type:
            .rgetattr(
                Rgetattr(
                    valid: u64(), qid: qid(), mode: u32(), uid: u32(), gid: u32(), nlink: u64(),
                    rdev: u64(), size: u64(), blksize: u64(), blocks: u64(), atimeSec: u64(),
                    atimeNsec: u64(), mtimeSec: u64(), mtimeNsec: u64(), ctimeSec: u64(),
                    ctimeNsec: u64(), btimeSec: u64(), btimeNsec: u64(), gen: u64(), dataVersion: u64()))
        case Tsetattr.type:
            .tsetattr(
                Tsetattr(
                    fid: u32(), valid: u32(), mode: u32(), uid: u32(), gid: u32(), size: u64(),
                    atimeSec: u64(), atimeNsec: u64(), mtimeSec: u64(), mtimeNsec: u64()))
        case Rsetattr.type: .rsetattr(Rsetattr())
        case Tstatfs.type: .tstatfs(Tstatfs(fid: u32()))
        case Rstatfs.type:
            .rstatfs(
                Rstatfs(
                    type: u32(), bsize: u32(), blocks: u64(), bfree: u64(), bavail: u64(), files: u64(),
                    ffree: u64(), fsid: u64(), namelen: u32()))
        case Tsymlink.type: .tsymlink(Tsymlink(fid: u32(), name: string(), target: string(), gid: u32()))
        case Rsymlink.type: .rsymlink(Rsymlink(qid: qid()))
        case Tmknod.type:
            .tmknod(Tmknod(dfid: u32(), name: string(), mode: u32(), major: u32(), minor: u32(), gid: u32()))
        case Rmknod.type: .rmknod(Rmknod(qid: qid()))
        case Trename.type: .trename(Trename(fid: u32(), dfid: u32(), name: string()))
        case Rrename.type: .rrename(Rrename())
        case Treadlink.type: .treadlink(Treadlink(fid: u32()))
        case Rreadlink.type: .rreadlink(Rreadlink(target: string()))
        case Tlink.type: .tlink(Tlink(dfid: u32(), fid: u32(), name: string()))
        case Rlink.type: .rlink(Rlink())
        case Tmkdir.type: .tmkdir(Tmkdir(dfid: u32(), name: string(), mode: u32(), gid: u32()))
        case Rmkdir.type: .rmkdir(Rmkdir(qid: qid()))
        case Trenameat.type:
            .trenameat(Trenameat(oldDirFid: u32(), oldname: string(), newDirFid: u32(), newname: string()))
        case Rrenameat.type: .rrenameat(Rrenameat())
        case Tunlinkat.type: .tunlinkat(Tunlinkat(dirFid: u32(), name: string(), flags: u32()))
        case Runlinkat.type: .runlinkat(Runlinkat())
        case Txattrwalk.type: .txattrwalk(Txattrwalk(fid: u32(), newfid: u32(), name: string()))
        case Rxattrwalk.type: .rxattrwalk(Rxattrwalk(size: u64()))
        case Txattrcreate.type:
            .txattrcreate(Txattrcreate(fid: u32(), name: string(), attrSize: u64(), flags: u32()))
        case Rxattrcreate.type: .rxattrcreate(Rxattrcreate())
        case Tlock.type:
            .tlock(
                Tlock(
                    fid: u32(), type: u8(), flags: u32(), start: u64(), length: u64(), procId: u32(),
                    clientId: string()))
        case Rlock.type: .rlock(Rlock(status: u8()))
        case Tgetlock.type:
            .tgetlock(
                Tgetlock(fid: u32(), type: u8(), start: u64(), length: u64(), procId: u32(), clientId: string()))
        case Rgetlock.type:
            .rgetlock(Rgetlock(type: u8(), start: u64(), length: u64(), procId: u32(), clientId: string()))
        default: fatalError("no message of type \(type)")
        }
    }

    static func encode(_ entries: [DirectoryEntry]) -> [UInt8] {
        var writer = WireWriter()
        for entry in entries { entry.write(to: &writer) }
        return writer.bytes
    }
}

/// What a message looks like after a trip through a dialect: fields the dialect does not
/// carry come back as their defaults (`n_uname` ~0, no Rerror errno, empty extension,
/// stat ids ~0), and .u's Rerror always carries an errno (0 when none was given).
func expectedAfterRoundTrip(_ message: Message, dialect: Dialect) -> Message {
    func stat(_ stat: Stat) -> Stat {
        guard dialect != .unix else { return stat }
        var stat = stat
        stat.extension = ""
        stat.nUid = ~0
        stat.nGid = ~0
        stat.nMuid = ~0
        return stat
    }
    switch message {
    case .tauth(var m) where dialect == .plain:
        m.nUname = Tattach.noUname
        return .tauth(m)
    case .tattach(var m) where dialect == .plain:
        m.nUname = Tattach.noUname
        return .tattach(m)
    case .rerror(var m):
        m.errno = dialect == .unix ? (m.errno ?? 0) : nil
        return .rerror(m)
    case .tcreate(var m) where dialect != .unix:
        m.ext = ""
        return .tcreate(m)
    case .rstat(var m):
        m.stat = stat(m.stat)
        return .rstat(m)
    case .twstat(var m):
        m.stat = stat(m.stat)
        return .twstat(m)
    default:
        return message
    }
}

/// Splits encoded bytes into exactly one frame, failing loudly otherwise.
func singleFrame(_ bytes: [UInt8]) throws -> Frame {
    var decoder = FrameDecoder(maxSize: .max)
    decoder.append(bytes)
    guard let frame = try decoder.nextFrame() else { throw TestFailure("no whole frame in \(bytes.count) bytes") }
    guard decoder.bufferedBytes == 0 else { throw TestFailure("\(decoder.bufferedBytes) bytes left over") }
    return frame
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
