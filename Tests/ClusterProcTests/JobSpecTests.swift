import Testing
@testable import ClusterProcNode

/// The job spec's encoding: bytes round-trip exactly, and anything malformed is a clear
/// error, never a trap or a large allocation.
@Suite struct JobSpecTests {
    static let awkward = JobSpec(
        argv: [Array("printf".utf8), Array(1...255), [], [0xff, 0xfe], Array("a'b\"c\n$(x)".utf8)],
        environment: [Array("A=".utf8), Array("B=x=y".utf8), [0x43, 0x3d, 0xff]],
        workingDirectory: Array("/tmp/a b".utf8) + [0xfe], readsInput: false)

    @Test func roundTripsEveryByte() throws {
        let encoded = try Self.awkward.encoded()
        #expect(encoded.starts(with: JobSpec.magic))
        #expect(try JobSpec(decoding: encoded) == Self.awkward)
        let plain = JobSpec(argv: [Array("true".utf8)])
        #expect(try JobSpec(decoding: try plain.encoded()) == plain)
        let line = JobSpec(argv: ["sh", "-c", "cd /tmp && pwd"].map { Array($0.utf8) }, runsInLoginShell: true)
        #expect(try JobSpec(decoding: try line.encoded()) == line)
    }

    @Test func everyTruncationIsRefused() throws {
        let encoded = try Self.awkward.encoded()
        for length in 0..<encoded.count {
            let error = try #require(throws: JobError.self) { try JobSpec(decoding: Array(encoded.prefix(length))) }
            #expect(error.code == .badSpec)
            #expect(error.message.hasPrefix("job spec: "))
        }
        let trailing = try #require(throws: JobError.self) { try JobSpec(decoding: encoded + [0]) }
        #expect(trailing.message.contains("after the end"))
    }

    /// Little-endian words, as the spec has them.
    static func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    @Test(arguments: [
        ([UInt8]("CPJ2".utf8) + [0], "does not start with"),
        (JobSpec.magic + [4], "unknown flags 4"),
        (JobSpec.magic + [0] + u32(0) + u32(0xffff_ffff), "more than 65536 arguments"),
        (JobSpec.magic + [0] + u32(0) + u32(60000), "truncated in the arguments"),
        (JobSpec.magic + [0] + u32(0) + u32(1) + u32(0xffff_fff0), "longer than 131071 bytes"),
        (JobSpec.magic + [0] + u32(5000), "longer than 4095 bytes"),
        (JobSpec.magic + [0] + u32(0) + u32(0) + u32(0), "no command given"),
        (JobSpec.magic + [0] + u32(0) + u32(1) + u32(2) + [0x61, 0] + u32(0), "argument 0 holds a NUL byte"),
        (JobSpec.magic + [0] + u32(0) + u32(1) + u32(1) + [0x61] + u32(1) + u32(2) + [0x41, 0x42], "environment entry 0 is not NAME=VALUE"),
        (JobSpec.magic + [0] + u32(0) + u32(1) + u32(1) + [0x61] + u32(1) + u32(2) + [0x3d, 0x42], "environment entry 0 is not NAME=VALUE"),
        (JobSpec.magic + [0] + u32(2) + [0x2f, 0] + u32(1) + u32(1) + [0x61] + u32(0), "working directory holds a NUL byte"),
    ] as [([UInt8], String)])
    func malformedSpecsAreNamed(bytes: [UInt8], problem: String) throws {
        let error = try #require(throws: JobError.self) { try JobSpec(decoding: bytes) }
        #expect(error.code == .badSpec)
        #expect(error.message.contains(problem), "\(error.message)")
    }

    @Test func limitsHoldOnBothSides() throws {
        let long = JobSpec(argv: [Array(repeating: 0x61, count: JobSpec.maximumWordLength + 1)])
        #expect(throws: JobError.self) { try long.encoded() }
        let many = JobSpec(argv: Array(repeating: Array("x".utf8), count: JobSpec.maximumWords + 1))
        #expect(throws: JobError.self) { try many.encoded() }
        let large = JobSpec(argv: Array(repeating: Array(repeating: 0x61, count: 100_000), count: 22))
        let error = try #require(throws: JobError.self) { try large.encoded() }
        #expect(error.message.contains("at most \(JobSpec.maximumSize)"))
        #expect(throws: JobError.self) { try JobSpec(decoding: Array(repeating: 0, count: JobSpec.maximumSize + 1)) }
    }

    /// Random and mutated input: an error or a spec, never a trap.
    @Test func randomAndMutatedBytesNeverTrap() throws {
        var generator = SystemRandomNumberGenerator()
        let encoded = try Self.awkward.encoded()
        for round in 0..<2000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if round % 4 == 0 { bytes = JobSpec.magic + bytes }
            } else {
                bytes = encoded
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            if let spec = try? JobSpec(decoding: bytes) {
                #expect(try JobSpec(decoding: try spec.encoded()) == spec)
            }
        }
    }

    @Test func environmentEntriesReplaceTheBaseByName() {
        let spec = JobSpec(argv: [Array("true".utf8)], environment: ["PATH=/x", "A=1", "A=2"].map { Array($0.utf8) })
        let merged = spec.environment(over: ["HOME=/h", "PATH=/usr/bin", "AB=3"].map { Array($0.utf8) })
        #expect(merged.map { String(decoding: $0, as: UTF8.self) } == ["HOME=/h", "AB=3", "PATH=/x", "A=2"])
    }
}
