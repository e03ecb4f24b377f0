/// A small seeded generator (SplitMix64) so every generated or fuzzed input can be
/// reproduced from the seed a failing test prints.
public struct SplitMix64: RandomNumberGenerator {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value below `bound` (bound > 0); the slight modulo bias does not matter here.
    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// True one time in `n`.
    public mutating func oneIn(_ n: Int) -> Bool {
        below(n) == 0
    }

    /// An integer that is zero, the maximum, or random, favouring the edges.
    public mutating func edgy<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) -> T {
        switch below(8) {
        case 0: 0
        case 1: .max
        case 2: T(truncatingIfNeeded: below(4))
        default: T(truncatingIfNeeded: next())
        }
    }

    /// Random bytes.
    public mutating func bytes(count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var word: UInt64 = 0
        for i in 0..<count {
            if i % 8 == 0 { word = next() }
            result.append(UInt8(truncatingIfNeeded: word >> (8 * (i % 8))))
        }
        return result
    }

    public mutating func element<C: Collection>(of collection: C) -> C.Element where C.Index == Int {
        collection[collection.startIndex + below(collection.count)]
    }
}

/// The seed for a randomised test: `NINEP_FUZZ_SEED` when set (to replay a failure),
/// otherwise a fresh one.
public func fuzzSeed() -> UInt64 {
    if let text = ProcessInfoShim.environment("NINEP_FUZZ_SEED"), let seed = UInt64(text) {
        return seed
    }
    return UInt64.random(in: 0...UInt64.max)
}

/// Environment access without pulling Foundation into the test target.
public enum ProcessInfoShim {
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
