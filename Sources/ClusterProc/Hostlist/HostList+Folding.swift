extension HostList {
    /// The list written back in the compact bracket form, e.g. `node01,node02,node03,node07` gives
    /// `node[01-03,07]`.
    ///
    /// Hosts are grouped on their last run of digits: hosts sharing the text before and after it and
    /// the padding width fold into one bracket group, numbers sorted and consecutive numbers written
    /// as ranges. A number without leading zeros joins a padded group when it has that group's width
    /// (`node08,node09,node10` gives `node[08-10]`). Groups appear in the order of their first host;
    /// a group of one host is written plain. Parsing the result gives the same set of hosts (not
    /// necessarily in the same order).
    public func folded() -> String {
        var order: [FoldKey] = []
        var groups: [FoldKey: [UInt64]] = [:]
        let split = self.map(NumberedName.init)
        var paddedWidths: Set<FoldKey> = []
        for case let name? in split where name.hasLeadingZero {
            paddedWidths.insert(FoldKey(prefix: name.prefix, suffix: name.suffix, width: name.digitCount))
        }
        var plain: [FoldKey: String] = [:]
        for (host, numbered) in zip(self, split) {
            let key: FoldKey
            if let numbered {
                let candidate = FoldKey(prefix: numbered.prefix, suffix: numbered.suffix, width: numbered.digitCount)
                key = numbered.hasLeadingZero || paddedWidths.contains(candidate)
                    ? candidate
                    : FoldKey(prefix: numbered.prefix, suffix: numbered.suffix, width: 0)
                if groups[key] == nil { order.append(key); plain[key] = host }
                groups[key, default: []].append(numbered.value)
            } else {
                key = FoldKey(prefix: host, suffix: "", width: -1)
                if groups[key] == nil { order.append(key); groups[key] = []; plain[key] = host }
            }
        }
        return order.map { key -> String in
            let values = groups[key] ?? []
            guard values.count > 1 else { return plain[key] ?? key.prefix }
            return key.prefix + "[" + Self.ranges(values.sorted(), width: key.width) + "]" + key.suffix
        }.joined(separator: ",")
    }

    /// `1,2,3,7` as `1-3,7`, each number padded to `width`.
    private static func ranges(_ sorted: [UInt64], width: Int) -> String {
        var parts: [String] = []
        var index = 0
        while index < sorted.count {
            let low = sorted[index]
            var high = low
            while index + 1 < sorted.count, sorted[index + 1] == high + 1 {
                index += 1
                high = sorted[index]
            }
            parts.append(low == high ? padded(low, width: width)
                : padded(low, width: width) + "-" + padded(high, width: width))
            index += 1
        }
        return parts.joined(separator: ",")
    }
}

/// The text around a host's last run of digits; width -1 marks a host that does not fold.
private struct FoldKey: Hashable {
    var prefix: String
    var suffix: String
    var width: Int
}

/// A host name cut at its last run of ASCII digits.
private struct NumberedName {
    var prefix: String
    var suffix: String
    var value: UInt64
    var digitCount: Int
    var hasLeadingZero: Bool

    /// Nil for names with no digits, too many digits, or characters of the list syntax, which are
    /// left as they are.
    init?(_ host: String) {
        // Works on UTF-8 bytes: digits and the syntax characters are ASCII, and no byte of a
        // multi-byte sequence is ASCII, so byte positions found here are character boundaries.
        let utf8 = host.utf8
        var hasNonASCII = false
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: " "), 0x09...0x0D: return nil
            case 0x80...: hasNonASCII = true
            default: continue
            }
        }
        if hasNonASCII, host.unicodeScalars.contains(where: { $0.properties.isWhitespace }) { return nil }
        guard let last = utf8.lastIndex(where: Self.isDigit) else { return nil }
        var first = last
        var value: UInt64 = 0
        var multiplier: UInt64 = 1
        var digitCount = 0
        while true {
            digitCount += 1
            guard digitCount <= 18 else { return nil }
            value += UInt64(utf8[first] - UInt8(ascii: "0")) * multiplier
            multiplier *= 10
            guard first > utf8.startIndex else { break }
            let previous = utf8.index(before: first)
            guard Self.isDigit(utf8[previous]) else { break }
            first = previous
        }
        prefix = String(host[..<first])
        suffix = String(host[utf8.index(after: last)...])
        self.value = value
        self.digitCount = digitCount
        hasLeadingZero = digitCount > 1 && utf8[first] == UInt8(ascii: "0")
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
