import TestSupport
import Testing

@testable import NineP

#if canImport(Glibc)
    import Glibc
#endif

/// Throws a million random, mutated and hostile frames at the decoder. Every one must end in
/// a Message or a NinePError; nothing may trap. Replay a failure with the seed it prints:
/// `NINEP_FUZZ_SEED=<seed> swift test --filter FuzzDecoderTests`. `NINEP_FUZZ_FRAMES` sets the
/// number of inputs (default 1,000,000).
@Suite struct FuzzDecoderTests {
    /// One input, described only when it breaks something.
    enum FuzzInput: CustomStringConvertible {
        case body(UInt8, [UInt8])
        case stream([UInt8])

        var description: String {
            switch self {
            case .body(let type, let body): "type \(type) body \(hexString(body))"
            case .stream(let bytes): "stream \(hexString(bytes))"
            }
        }
    }

    static var frameCount: Int {
        ProcessInfoShim.environment("NINEP_FUZZ_FRAMES").flatMap { Int($0) } ?? 1_000_000
    }

    /// Valid bodies of every type in every dialect, to mutate.
    static func corpus(seed: UInt64) -> [(wireCase: WireCase, body: [UInt8])] {
        var generator = MessageGenerator.small(seed: seed)
        var corpus: [(WireCase, [UInt8])] = []
        for wireCase in MessageCatalog.cases {
            for _ in 0..<6 {
                let bytes = generator.message(type: wireCase.type).encode(tag: 1, dialect: wireCase.dialect)
                corpus.append((wireCase, Array(bytes[7...])))
            }
        }
        return corpus
    }

    /// Bodies with absurd counts and lengths in the places counts and lengths live.
    static let hostileBodies: [(UInt8, [UInt8])] = [
        (Twalk.type, hex("01 00 00 00 02 00 00 00 ff ff")),  // nwname 65535
        (Twalk.type, hex("01 00 00 00 02 00 00 00 ff ff 01 00 61")),
        (Twalk.type, hex("01 00 00 00 02 00 00 00 11 00")),  // nwname 17
        (Rwalk.type, hex("ff ff")),  // nwqid 65535
        (Rwalk.type, hex("11 00")),
        (Rread.type, hex("ff ff ff ff")),  // count 2^32-1
        (Rreaddir.type, hex("ff ff ff 7f")),
        (Twrite.type, hex("00 00 00 00 | 00 00 00 00 00 00 00 00 | ff ff ff ff")),
        (Rstat.type, hex("ff ff ff ff")),  // n and size 65535
        (Twstat.type, hex("00 00 00 00 | ff ff | ff ff")),
        (Tversion.type, hex("00 20 00 00 ff ff")),  // version[s] of 65535 bytes
        (Rerror.type, hex("ff ff")),
        (Tattach.type, hex("00 00 00 00 ff ff ff ff ff ff")),
        (Rreadlink.type, hex("ff ff")),
        (Tlock.type, hex("00 00 00 00 | 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 | ff ff")),
    ]

    @Test func decoderSurvivesAMillionHostileFrames() {
        let seed = fuzzSeed()
        let count = Self.frameCount
        print("FuzzDecoderTests: seed \(seed), \(count) frames")
        var rng = SplitMix64(seed: seed)
        let corpus = Self.corpus(seed: seed)
        let knownTypes = MessageCatalog.allTypes
        let started = ContinuousClock.now

        for iteration in 0..<count {
            let dialect = Dialect.allCases[rng.below(3)]
            let verdict: FuzzHarness.Verdict
            let input: FuzzInput
            let pick = corpus[rng.below(corpus.count)]
            var body = pick.body
            let type = pick.wireCase.type
            switch rng.below(10) {
            case 0:  // random body, mostly of a known type
                let randomType = rng.oneIn(8) ? UInt8(truncatingIfNeeded: rng.next()) : rng.element(of: knownTypes)
                body = rng.bytes(count: rng.below(49))
                input = .body(randomType, body)
                verdict = FuzzHarness.check(type: randomType, body: body, dialect: dialect)
            case 1:  // raw random stream
                let stream = rng.bytes(count: rng.below(41))
                input = .stream(stream)
                verdict = FuzzHarness.check(stream: stream, maxSize: 256, dialect: dialect)
            case 2:  // bit flips
                if !body.isEmpty {
                    for _ in 0...rng.below(4) { body[rng.below(body.count)] ^= 1 << UInt8(rng.below(8)) }
                }
                input = .body(type, body)
                verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
            case 3:  // truncation
                body = Array(body.prefix(rng.below(body.count + 1)))
                input = .body(type, body)
                verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
            case 4:  // extension
                body += rng.bytes(count: 1 + rng.below(8))
                input = .body(type, body)
                verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
            case 5:  // hostile values over a valid body
                if body.count >= 2 {
                    let at = rng.below(body.count - 1)
                    let values: [[UInt8]] = [[0xff, 0xff], [0, 0], [0x10, 0], [0x11, 0], [0xfe, 0xff], [0xff, 0x7f]]
                    let value = rng.element(of: values)
                    body[at] = value[0]
                    body[at + 1] = value[1]
                    if body.count >= at + 4 && rng.oneIn(2) {
                        body[at + 2] = value[1]
                        body[at + 3] = value[1]
                    }
                }
                input = .body(type, body)
                verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
            case 6:  // hostile templates with a random tail
                let (hostileType, hostile) = rng.element(of: Self.hostileBodies)
                body = hostile + rng.bytes(count: rng.below(24))
                input = .body(hostileType, body)
                verdict = FuzzHarness.check(type: hostileType, body: body, dialect: dialect)
            case 7:  // a whole frame, flipped anywhere (size, type and tag included), as a stream
                var writer = WireWriter()
                writer.writeUInt32(UInt32(7 + body.count))
                writer.writeUInt8(type)
                writer.writeUInt16(UInt16(truncatingIfNeeded: iteration))
                writer.writeBytes(body)
                var stream = writer.bytes
                for _ in 0...rng.below(3) { stream[rng.below(stream.count)] ^= 1 << UInt8(rng.below(8)) }
                if rng.oneIn(2) { stream += stream }
                input = .stream(stream)
                verdict = FuzzHarness.check(stream: stream, maxSize: UInt32(64 + rng.below(256)), dialect: dialect)
            case 8:  // splice two valid bodies
                let other = corpus[rng.below(corpus.count)].body
                body = Array(body.prefix(rng.below(body.count + 1))) + Array(other.suffix(rng.below(other.count + 1)))
                input = .body(type, body)
                verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
            default:  // a valid body read in whatever dialect was drawn
                input = .body(type, body)
                verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
            }
            if case .broken(let why) = verdict {
                Issue.record(
                    "seed \(seed) iteration \(iteration) dialect \(dialect.rawValue): \(why)\ninput: \(input)")
                return
            }
        }
        print("FuzzDecoderTests: \(count) frames in \(ContinuousClock.now - started)")
    }
}
