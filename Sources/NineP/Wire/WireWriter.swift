/// Writes 9P's little-endian primitives into a growing byte array.
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func writeInteger<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        for i in 0..<MemoryLayout<T>.size {
            bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i)))
        }
    }

    public mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }
    public mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    public mutating func writeUInt32(_ value: UInt32) {
        writeUInt16(UInt16(truncatingIfNeeded: value))
        writeUInt16(UInt16(truncatingIfNeeded: value >> 16))
    }

    public mutating func writeUInt64(_ value: UInt64) {
        writeUInt32(UInt32(truncatingIfNeeded: value))
        writeUInt32(UInt32(truncatingIfNeeded: value >> 32))
    }

    public mutating func writeBytes<C: Collection>(_ data: C) where C.Element == UInt8 {
        bytes.append(contentsOf: data)
    }

    /// Writes `s[2]`. A string longer than 65535 bytes of UTF-8 cannot be said in 9P; it is cut
    /// to fit rather than trapping, at a character boundary so the peer gets valid UTF-8.
    public mutating func writeString(_ string: String) {
        let utf8 = string.utf8
        var length = utf8.count
        if length > Int(UInt16.max) {
            length = Int(UInt16.max)
            // Back off over continuation bytes (10xxxxxx) to the start of the cut character.
            let index = utf8.index(utf8.startIndex, offsetBy: length)
            var cut = index
            while cut > utf8.startIndex && utf8[cut] & 0xC0 == 0x80 { utf8.formIndex(before: &cut) }
            length = utf8.distance(from: utf8.startIndex, to: cut)
        }
        writeUInt16(UInt16(length))
        bytes.append(contentsOf: utf8.prefix(length))
    }

    /// Writes `count[4] data[count]`.
    public mutating func writeCountedData(_ data: [UInt8]) {
        writeUInt32(UInt32(truncatingIfNeeded: data.count))
        bytes.append(contentsOf: data)
    }

    public mutating func writeQid(_ qid: Qid) {
        writeUInt8(qid.type.rawValue)
        writeUInt32(qid.version)
        writeUInt64(qid.path)
    }

    public mutating func writeQids(_ qids: [Qid]) {
        writeUInt16(UInt16(truncatingIfNeeded: qids.count))
        for qid in qids { writeQid(qid) }
    }

    public mutating func writeStrings(_ strings: [String]) {
        writeUInt16(UInt16(truncatingIfNeeded: strings.count))
        for string in strings { writeString(string) }
    }

    /// Writes one stat record with its `size[2]`.
    public mutating func writeStat(_ stat: Stat, dialect: Dialect) {
        let sizeIndex = bytes.count
        writeUInt16(0)
        writeUInt16(stat.type)
        writeUInt32(stat.dev)
        writeQid(stat.qid)
        writeUInt32(stat.mode)
        writeUInt32(stat.atime)
        writeUInt32(stat.mtime)
        writeUInt64(stat.length)
        writeString(stat.name)
        writeString(stat.uid)
        writeString(stat.gid)
        writeString(stat.muid)
        if dialect == .unix {
            writeString(stat.extension)
            writeUInt32(stat.nUid)
            writeUInt32(stat.nGid)
            writeUInt32(stat.nMuid)
        }
        patchUInt16(UInt16(truncatingIfNeeded: bytes.count - sizeIndex - 2), at: sizeIndex)
    }

    /// Writes a stat as Rstat and Twstat carry it: `n[2]` then the stat.
    public mutating func writeStatField(_ stat: Stat, dialect: Dialect) {
        let outerIndex = bytes.count
        writeUInt16(0)
        writeStat(stat, dialect: dialect)
        patchUInt16(UInt16(truncatingIfNeeded: bytes.count - outerIndex - 2), at: outerIndex)
    }

    mutating func patchUInt16(_ value: UInt16, at index: Int) {
        bytes[index] = UInt8(truncatingIfNeeded: value)
        bytes[index + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    mutating func patchUInt32(_ value: UInt32, at index: Int) {
        for i in 0..<4 { bytes[index + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}
