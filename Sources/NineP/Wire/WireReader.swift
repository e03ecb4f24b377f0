/// Reads 9P's little-endian primitives from a message body.
///
/// Every read returns nil on short input and leaves the reader where it was, so a caller can
/// tell "not enough bytes" from a value without tracking positions itself.
public struct WireReader {
    let bytes: [UInt8]
    /// The index of the next byte to read.
    public private(set) var readerIndex: Int
    let endIndex: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.readerIndex = bytes.startIndex
        self.endIndex = bytes.endIndex
    }

    /// Bytes not yet read.
    public var readableBytes: Int { endIndex - readerIndex }

    // Concrete little-endian reads: the generic path costs witness-table calls per byte in
    // debug builds, where the decoder fuzz runs.
    public mutating func readUInt8() -> UInt8? {
        guard readerIndex < endIndex else { return nil }
        defer { readerIndex += 1 }
        return bytes[readerIndex]
    }

    public mutating func readUInt16() -> UInt16? {
        guard readableBytes >= 2 else { return nil }
        defer { readerIndex += 2 }
        return UInt16(bytes[readerIndex]) | UInt16(bytes[readerIndex + 1]) << 8
    }

    public mutating func readUInt32() -> UInt32? {
        guard readableBytes >= 4 else { return nil }
        defer { readerIndex += 4 }
        let i = readerIndex
        return UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
    }

    public mutating func readUInt64() -> UInt64? {
        guard readableBytes >= 8 else { return nil }
        let low = UInt64(readUInt32()!)
        let high = UInt64(readUInt32()!)
        return low | high << 32
    }

    /// Reads `count` raw bytes.
    public mutating func readBytes(count: Int) -> [UInt8]? {
        guard count >= 0, readableBytes >= count else { return nil }
        defer { readerIndex += count }
        return Array(bytes[readerIndex..<readerIndex + count])
    }

    /// Reads `s[2]`: a length and that many bytes of UTF-8 (invalid sequences are repaired,
    /// so a hostile peer cannot make a name that breaks later string handling).
    public mutating func readString() -> String? {
        let start = readerIndex
        guard let length = readUInt16() else { return nil }
        guard readableBytes >= Int(length) else {
            readerIndex = start
            return nil
        }
        defer { readerIndex += Int(length) }
        return String(decoding: bytes[readerIndex..<readerIndex + Int(length)], as: UTF8.self)
    }

    /// Reads `count[4] data[count]`.
    public mutating func readCountedData() -> [UInt8]? {
        let start = readerIndex
        guard let count = readUInt32() else { return nil }
        guard let data = readBytes(count: Int(count)) else {
            readerIndex = start
            return nil
        }
        return data
    }

    /// Reads `qid[13]`.
    public mutating func readQid() -> Qid? {
        let start = readerIndex
        guard let type = readUInt8(), let version = readUInt32(), let path = readUInt64() else {
            readerIndex = start
            return nil
        }
        return Qid(type: QidType(rawValue: type), version: version, path: path)
    }

    /// Reads `n[2] n*(qid[13])`; more than 16 qids is malformed.
    public mutating func readQids() -> [Qid]? {
        let start = readerIndex
        guard let count = readUInt16(), Int(count) <= Twalk.maxNames, readableBytes >= Int(count) * 13 else {
            readerIndex = start
            return nil
        }
        var qids: [Qid] = []
        qids.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let qid = readQid() else {
                readerIndex = start
                return nil
            }
            qids.append(qid)
        }
        return qids
    }

    /// Reads `n[2] n*(s[2])`. The count is bounded by what the body can hold, not trusted.
    public mutating func readStrings() -> [String]? {
        let start = readerIndex
        guard let count = readUInt16(), readableBytes >= Int(count) * 2 else {
            readerIndex = start
            return nil
        }
        var strings: [String] = []
        strings.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let string = readString() else {
                readerIndex = start
                return nil
            }
            strings.append(string)
        }
        return strings
    }

    /// Reads a stat as it appears in Rstat and Twstat: `n[2]` followed by the stat, whose own
    /// `size[2]` must agree with `n`.
    public mutating func readStatField(dialect: Dialect) -> Stat? {
        let start = readerIndex
        guard let outer = readUInt16(), readableBytes >= Int(outer),
            let stat = readStat(dialect: dialect), readerIndex - start == Int(outer) + 2
        else {
            readerIndex = start
            return nil
        }
        return stat
    }

    /// Reads one stat record (`size[2]` and what it counts), as found in Rstat and in the data
    /// of a directory read in 9P2000 and 9P2000.u.
    public mutating func readStat(dialect: Dialect) -> Stat? {
        let start = readerIndex
        func fail() -> Stat? {
            readerIndex = start
            return nil
        }
        guard let size = readUInt16(), readableBytes >= Int(size) else { return fail() }
        let end = readerIndex + Int(size)
        guard let type = readUInt16(), let dev = readUInt32(), let qid = readQid(),
            let mode = readUInt32(), let atime = readUInt32(), let mtime = readUInt32(),
            let length = readUInt64(), let name = readString(), let uid = readString(),
            let gid = readString(), let muid = readString()
        else { return fail() }
        var stat = Stat(
            type: type, dev: dev, qid: qid, mode: mode, atime: atime, mtime: mtime,
            length: length, name: name, uid: uid, gid: gid, muid: muid)
        if dialect == .unix {
            guard let ext = readString(), let nUid = readUInt32(), let nGid = readUInt32(),
                let nMuid = readUInt32()
            else { return fail() }
            stat.extension = ext
            stat.nUid = nUid
            stat.nGid = nGid
            stat.nMuid = nMuid
        }
        guard readerIndex == end else { return fail() }
        return stat
    }
}
