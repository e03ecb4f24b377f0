// Small byte-level helpers shared by the /proc parsers. Everything returns nil on bad input;
// nothing traps.

enum ProcBytes {
    /// Splits on ASCII whitespace (space, tab, newline), dropping empty pieces.
    static func fields<C: Collection>(_ bytes: C) -> [C.SubSequence] where C.Element == UInt8 {
        bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D })
    }

    static func int64<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
        var it = bytes.makeIterator()
        guard var c = it.next() else { return nil }
        var negative = false
        if c == UInt8(ascii: "-") {
            negative = true
            guard let n = it.next() else { return nil }
            c = n
        }
        var value: Int64 = 0
        while true {
            guard c >= 0x30, c <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(c - 0x30))
            if o1 || o2 { return nil }
            value = a
            guard let n = it.next() else { break }
            c = n
        }
        return negative ? -value : value
    }

    static func uint64<C: Collection>(_ bytes: C) -> UInt64? where C.Element == UInt8 {
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for c in bytes {
            guard c >= 0x30, c <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
            if o1 || o2 { return nil }
            value = a
        }
        return value
    }

    /// A non-negative decimal such as `12345.67` from /proc/uptime or /proc/loadavg.
    static func double<C: Collection>(_ bytes: C) -> Double? where C.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count < 64,
              bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }) else { return nil }
        return Double(String(decoding: bytes, as: UTF8.self))
    }

    /// The lines of a `Key:  value...` file as (key, rest) pairs.
    /// The values of the `Key:` lines of a /proc status file whose key is one of `keys`, in
    /// file order, without making a string of every line.
    static func values(of keys: [StaticString], in bytes: [UInt8], _ body: (Int, ArraySlice<UInt8>) throws -> Void) rethrows {
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            if let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) {
                let key = bytes[start..<colon]
                for (index, wanted) in keys.enumerated() where wanted.utf8CodeUnitCount == key.count {
                    let matches = wanted.withUTF8Buffer { $0.elementsEqual(key) }
                    if matches {
                        try body(index, bytes[(colon + 1)..<end])
                        break
                    }
                }
            }
            start = end + 1
        }
    }

    static func keyed(_ bytes: [UInt8]) -> [(key: Substring, value: ArraySlice<UInt8>)] {
        var result: [(key: Substring, value: ArraySlice<UInt8>)] = []
        for line in bytes.split(separator: 0x0A) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let key = Substring(String(decoding: line[line.startIndex..<colon], as: UTF8.self))
            result.append((key, line[(colon + 1)...]))
        }
        return result
    }

    /// Text made safe to print the way procps does in a UTF-8 locale: printable ASCII and
    /// printable multibyte characters are kept, control characters, invalid sequences and
    /// non-printable characters become `?` (one per byte of an invalid sequence).
    static func printable<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        // Most text is printable ASCII already: taken as it is.
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: bytes, as: UTF8.self) }
        let array = Array(bytes)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < array.count {
            let b = array[i]
            if b < 0x80 {
                out.append(b >= 0x20 && b < 0x7F ? Unicode.Scalar(b) : "?")
                i += 1
                continue
            }
            let length: Int
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: length = 0
            }
            if length > 0, i + length <= array.count,
               let scalar = decode(array[i..<(i + length)]) {
                out.append(isPrintable(scalar) ? scalar : "?")
                i += length
            } else {
                out.append("?")
                i += 1
            }
        }
        return String(out)
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> Unicode.Scalar? {
        var decoder = UTF8()
        var it = bytes.makeIterator()
        guard case .scalarValue(let scalar) = decoder.decode(&it) else { return nil }
        // The whole slice must be exactly one scalar.
        guard scalar.utf8.count == bytes.count else { return nil }
        return scalar
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .surrogate, .unassigned, .privateUse, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }
}
