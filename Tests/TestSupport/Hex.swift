/// Bytes written as hex in a test, with any spaces, newlines and `|` separators between them
/// for readability: `hex("15 00 00 00 | 64")`.
public func hex(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { $0.properties.isASCIIHexDigit }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var bytes: [UInt8] = []
    var iterator = digits.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        bytes.append(UInt8(String(high) + String(low), radix: 16)!)
    }
    return bytes
}

/// Bytes as lower-case hex, spaced by default (for failure messages).
public func hexString(_ bytes: [UInt8], separator: String = " ") -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: separator)
}
