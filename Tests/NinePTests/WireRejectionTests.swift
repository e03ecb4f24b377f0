import TestSupport
import Testing

@testable import NineP

/// Bodies that do not parse end in a NinePError with the right code, never a trap.
@Suite struct WireRejectionTests {
    @Test func unknownTypesAreRejected() {
        for type in 0...255 where !MessageCatalog.allTypes.contains(UInt8(type)) {
            for dialect in Dialect.allCases {
                #expect(
                    decodeErrorCode(type: UInt8(type), body: [], dialect: dialect) == .unknownMessageType,
                    "type \(type)")
                #expect(
                    decodeErrorCode(type: UInt8(type), body: [1, 2, 3, 4, 5], dialect: dialect) == .unknownMessageType)
            }
        }
    }

    @Test func terrorIsNotAMessage() {
        // intro(5): "there is no Terror".
        #expect(decodeErrorCode(type: 106, body: hex("04 00 67 6f 6e 65"), dialect: .plain) == .unknownMessageType)
    }

    /// Every proper prefix of every valid body fails with malformedMessage, both through
    /// Message.decode and through a frame whose size says that prefix.
    @Test(arguments: MessageCatalog.cases)
    func everyPrefixOfABodyIsMalformed(_ wireCase: WireCase) throws {
        var generator = MessageGenerator(seed: UInt64(wireCase.type) * 31 + 7, maxStringBytes: 24, maxDataBytes: 40)
        for _ in 0..<6 {
            let message = generator.message(type: wireCase.type)
            let body = Array(message.encode(tag: 1, dialect: wireCase.dialect)[7...])
            for length in 0..<body.count {
                let prefix = Array(body[..<length])
                if case .tfsync(let m) = message, m.datasync != nil, length == 4 {
                    // Tfsync without datasync is the older, valid form.
                    let decoded = try Message.decode(Frame(type: Tfsync.type, tag: 1, body: prefix), dialect: .linux)
                    #expect(decoded == .tfsync(Tfsync(fid: m.fid)))
                    continue
                }
                #expect(
                    decodeErrorCode(type: wireCase.type, body: prefix, dialect: wireCase.dialect) == .malformedMessage,
                    "\(message) cut to \(length) of \(body.count) bytes")
                var writer = WireWriter()
                writer.writeUInt32(UInt32(7 + length))
                writer.writeUInt8(wireCase.type)
                writer.writeUInt16(1)
                writer.writeBytes(prefix)
                let frame = try singleFrame(writer.bytes)
                #expect(ninePError { () throws(NinePError) in try Message.decode(frame, dialect: wireCase.dialect) }?.code == .malformedMessage)
            }
        }
    }

    @Test(arguments: MessageCatalog.cases)
    func trailingBytesAreMalformed(_ wireCase: WireCase) {
        var generator = MessageGenerator(seed: UInt64(wireCase.type) * 17 + 3, maxStringBytes: 24, maxDataBytes: 40)
        for extra in [[UInt8(0)], [0xff, 0xff], [1, 2, 3]] {
            let message = generator.message(type: wireCase.type)
            var body = Array(message.encode(tag: 1, dialect: wireCase.dialect)[7...])
            if case .tfsync(let m) = message, m.datasync == nil, extra.count >= 4 { continue }
            body += extra
            #expect(
                decodeErrorCode(type: wireCase.type, body: body, dialect: wireCase.dialect) == .malformedMessage,
                "\(message) with \(extra.count) extra bytes")
        }
    }

    // MARK: - Stat sizes

    /// n[2] stat[n] of WireGoldenTests' stat: n=52, the stat's own size=50.
    static let statField = hex("34 00") + WireGoldenTests.statBytes

    @Test func statFieldParsesWhenSizesAgree() throws {
        let decoded = try Message.decode(Frame(type: Rstat.type, tag: 0, body: Self.statField), dialect: .plain)
        #expect(decoded == .rstat(Rstat(stat: WireGoldenTests.stat)))
    }

    @Test(arguments: [-2, -1, 1, 2])
    func statWhoseOuterSizeDisagreesIsMalformed(delta: Int) {
        var body = Self.statField
        body[0] = UInt8(52 + delta)
        if delta > 0 { body += [UInt8](repeating: 0, count: delta) }
        #expect(decodeErrorCode(type: Rstat.type, body: body, dialect: .plain) == .malformedMessage)
        #expect(decodeErrorCode(type: Twstat.type, body: hex("01 00 00 00") + body, dialect: .plain) == .malformedMessage)
    }

    @Test(arguments: [-2, -1, 1, 2])
    func statWhoseInnerSizeDisagreesIsMalformed(delta: Int) {
        var body = Self.statField
        body[2] = UInt8(50 + delta)
        #expect(decodeErrorCode(type: Rstat.type, body: body, dialect: .plain) == .malformedMessage)
        // Even when n[2] is adjusted to match the inner size and the bytes are there.
        body[0] = UInt8(52 + delta)
        if delta > 0 { body += [UInt8](repeating: 0, count: delta) }
        #expect(decodeErrorCode(type: Rstat.type, body: body, dialect: .plain) == .malformedMessage)
    }

    @Test func plainStatIsMalformedInUnix() {
        // A .u peer expects extension and numeric ids inside the stat's size.
        #expect(decodeErrorCode(type: Rstat.type, body: Self.statField, dialect: .unix) == .malformedMessage)
    }

    @Test func statFieldWithHugeSizesIsMalformed() {
        #expect(decodeErrorCode(type: Rstat.type, body: hex("ff ff ff ff"), dialect: .plain) == .malformedMessage)
        var body = Self.statField
        body[2] = 0xff
        body[3] = 0xff
        #expect(decodeErrorCode(type: Rstat.type, body: body, dialect: .plain) == .malformedMessage)
    }

    // MARK: - Counts

    static func rwalkBody(count: UInt16, qids: Int) -> [UInt8] {
        var writer = WireWriter()
        writer.writeUInt16(count)
        for i in 0..<qids { writer.writeQid(Qid(type: .directory, version: 0, path: UInt64(i))) }
        return writer.bytes
    }

    @Test func rwalkWithSixteenQidsIsFine() throws {
        let decoded = try Message.decode(Frame(type: Rwalk.type, tag: 0, body: Self.rwalkBody(count: 16, qids: 16)), dialect: .linux)
        guard case .rwalk(let rwalk) = decoded else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(rwalk.qids.count == 16)
    }

    @Test(arguments: [UInt16(17), 100, 0xffff])
    func rwalkWithMoreThanSixteenQidsIsMalformed(count: UInt16) {
        for available in [17, Int(min(count, 200))] {
            #expect(
                decodeErrorCode(type: Rwalk.type, body: Self.rwalkBody(count: count, qids: available), dialect: .linux)
                    == .malformedMessage)
        }
    }

    @Test func rwalkCountLargerThanTheBodyIsMalformed() {
        #expect(decodeErrorCode(type: Rwalk.type, body: Self.rwalkBody(count: 3, qids: 2), dialect: .plain) == .malformedMessage)
    }

    static func twalkBody(count: UInt16, names: [String]) -> [UInt8] {
        var writer = WireWriter()
        writer.writeUInt32(1)
        writer.writeUInt32(2)
        writer.writeUInt16(count)
        for name in names { writer.writeString(name) }
        return writer.bytes
    }

    @Test(arguments: [UInt16(3), 17, 1000, 0xffff])
    func twalkCountLargerThanTheBodyIsMalformed(count: UInt16) {
        let body = Self.twalkBody(count: count, names: ["a", "b"])
        #expect(decodeErrorCode(type: Twalk.type, body: body, dialect: .plain) == .malformedMessage)
    }

    @Test func twalkNamesWithHugeLengthsAreMalformed() {
        // nwname=1, wname length 0xffff with two bytes behind it.
        #expect(decodeErrorCode(type: Twalk.type, body: hex("01 00 00 00 02 00 00 00 01 00 ff ff 61 62"), dialect: .plain) == .malformedMessage)
    }

    @Test func countedDataLongerThanTheBodyIsMalformed() {
        #expect(decodeErrorCode(type: Rread.type, body: hex("ff ff ff ff 00"), dialect: .linux) == .malformedMessage)
        #expect(decodeErrorCode(type: Rread.type, body: hex("05 00 00 00 01 02 03 04"), dialect: .linux) == .malformedMessage)
        #expect(decodeErrorCode(type: Rreaddir.type, body: hex("00 00 00 80"), dialect: .linux) == .malformedMessage)
        #expect(
            decodeErrorCode(type: Twrite.type, body: hex("01 00 00 00 | 00 00 00 00 00 00 00 00 | ff ff ff ff"), dialect: .linux)
                == .malformedMessage)
    }

    @Test func truncatedDirectoryEntryIsAnError() throws {
        let data = MessageGenerator.encode([
            DirectoryEntry(qid: Qid(type: .file, path: 1), offset: 1, type: 8, name: "status")
        ])
        for length in 1..<data.count {
            #expect(
                ninePError { () throws(NinePError) in try DirectoryEntry.parse(Array(data[..<length])) }?.code
                    == .malformedMessage)
        }
        #expect(try DirectoryEntry.parse([]) == [])
    }
}
