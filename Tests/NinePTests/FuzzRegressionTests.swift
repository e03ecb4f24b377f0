import TestSupport
import Testing

@testable import NineP

/// Hostile inputs kept as named cases, as swift-nio-ssh keeps its fuzz results: each must end
/// in a Message or a NinePError and never trap. The decoder fuzz has not yet produced a
/// crasher; when it does, add the input here under a name that says what it exercises.
@Suite struct FuzzRegressionTests {
    private func survives(
        type: UInt8, body: [UInt8], dialect: Dialect, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let verdict = FuzzHarness.check(type: type, body: body, dialect: dialect)
        #expect(verdict == .ok, sourceLocation: sourceLocation)
    }

    private func malformed(
        type: UInt8, body: [UInt8], dialect: Dialect, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        survives(type: type, body: body, dialect: dialect, sourceLocation: sourceLocation)
        #expect(decodeErrorCode(type: type, body: body, dialect: dialect) == .malformedMessage, sourceLocation: sourceLocation)
    }

    @Test func twalkWithNwname65535AndNoNames() {
        malformed(type: Twalk.type, body: hex("01 00 00 00 02 00 00 00 ff ff"), dialect: .linux)
    }

    @Test func twalkWithNwname65535AndOneName() {
        malformed(type: Twalk.type, body: hex("01 00 00 00 02 00 00 00 ff ff 01 00 61"), dialect: .plain)
    }

    @Test func rwalkWithNwqid65535() {
        malformed(type: Rwalk.type, body: hex("ff ff") + [UInt8](repeating: 0, count: 13 * 17), dialect: .linux)
    }

    @Test func rreadClaimingFourGiB() {
        malformed(type: Rread.type, body: hex("ff ff ff ff 00 01 02"), dialect: .linux)
    }

    @Test func twriteClaimingFourGiB() {
        malformed(type: Twrite.type, body: hex("00 00 00 00 | 00 00 00 00 00 00 00 00 | ff ff ff ff"), dialect: .unix)
    }

    @Test func rstatWithBothSizes65535() {
        malformed(type: Rstat.type, body: hex("ff ff ff ff") + [UInt8](repeating: 0, count: 64), dialect: .unix)
    }

    @Test func rstatWhoseOuterSizeCoversTrailingBytes() {
        // n[2] says 53 but the stat inside is 52 bytes long: the extra byte is inside n.
        var body = hex("35 00") + WireGoldenTests.statBytes + [0]
        malformed(type: Rstat.type, body: body, dialect: .plain)
        body[0] = 0x34
        malformed(type: Rstat.type, body: body, dialect: .plain)
    }

    @Test func versionStringOf65535BytesWithFewBehindIt() {
        malformed(type: Tversion.type, body: hex("00 20 00 00 ff ff 39 50"), dialect: .plain)
    }

    @Test func unixRerrorWithoutItsErrno() {
        malformed(type: Rerror.type, body: hex("04 00 67 6f 6e 65 02 00"), dialect: .unix)
    }

    @Test func tfsyncWithPartialDatasync() {
        malformed(type: Tfsync.type, body: hex("01 00 00 00 01 00"), dialect: .linux)
    }

    @Test func tlockClientIdOf65535Bytes() {
        malformed(
            type: Tlock.type,
            body: hex("00 00 00 00 | 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 | ff ff"),
            dialect: .linux)
    }

    @Test func longInvalidUTF8NameIsRepairedAndStillEncodable() throws {
        // 65535 bytes of 0xff: each becomes U+FFFD (three bytes), so the decoded name no longer
        // fits an s[2]; re-encoding must still produce one valid frame.
        let body = hex("ff ff") + [UInt8](repeating: 0xff, count: 65535)
        survives(type: Rreadlink.type, body: body, dialect: .linux)
        let decoded = try Message.decode(Frame(type: Rreadlink.type, tag: 0, body: body), dialect: .linux)
        let again = decoded.encode(tag: 0, dialect: .linux)
        #expect(again.count <= 7 + 2 + 65535)
        guard case .rreadlink(let rreadlink) = try Message.decode(singleFrame(again), dialect: .linux) else {
            Issue.record("not an Rreadlink")
            return
        }
        #expect(rreadlink.target.unicodeScalars.allSatisfy { $0 == "\u{FFFD}" })
        #expect(rreadlink.target.utf8.count == 65535)
    }

    @Test func rreaddirWithTruncatedEntryDecodesButDoesNotParse() throws {
        // Rreaddir's data is opaque to the frame decoder; the entries are checked when parsed.
        let body = hex("05 00 00 00 80 00 00 00 00")
        survives(type: Rreaddir.type, body: body, dialect: .linux)
        guard case .rreaddir(let rreaddir) = try Message.decode(Frame(type: Rreaddir.type, tag: 0, body: body), dialect: .linux)
        else {
            Issue.record("not an Rreaddir")
            return
        }
        #expect(ninePError { () throws(NinePError) in try DirectoryEntry.parse(rreaddir.data) }?.code == .malformedMessage)
    }
}
