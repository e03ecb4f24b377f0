import TestSupport
import Testing

@testable import NineP

/// Every message type, in every dialect it belongs to, survives encode → FrameDecoder →
/// decode with random field values.
@Suite struct WireRoundTripTests {
    @Test func catalogHasEverySixtySixMessageTypes() {
        #expect(MessageCatalog.allTypes.count == 66)
        #expect(Set(MessageCatalog.allTypes).count == 66)
        for type in MessageCatalog.allTypes {
            #expect(Message.name(ofType: type) != nil, "type \(type) has no name")
        }
        let named = (0...255).filter { Message.name(ofType: UInt8($0)) != nil }.map { UInt8($0) }
        #expect(named == MessageCatalog.allTypes)
    }

    @Test(arguments: MessageCatalog.cases)
    func roundTrip(_ wireCase: WireCase) throws {
        var generator = MessageGenerator(seed: UInt64(wireCase.type) << 8 | UInt64(Dialect.allCases.firstIndex(of: wireCase.dialect)!))
        for iteration in 0..<40 {
            let message = generator.message(type: wireCase.type)
            #expect(message.type == wireCase.type)
            let tag: UInt16 = generator.u16()
            let bytes = message.encode(tag: tag, dialect: wireCase.dialect)
            let size = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
            #expect(Int(size) == bytes.count)
            let frame = try singleFrame(bytes)
            #expect(frame.type == wireCase.type)
            #expect(frame.tag == tag)
            let decoded = try Message.decode(frame, dialect: wireCase.dialect)
            #expect(
                decoded == expectedAfterRoundTrip(message, dialect: wireCase.dialect),
                "iteration \(iteration): \(message)")
            // What came back encodes to the very same bytes.
            #expect(decoded.encode(tag: tag, dialect: wireCase.dialect) == bytes)
        }
    }

    // MARK: - Fields that only some dialects carry

    @Test func attachAndAuthCarryNUnameOnlyInUnixAndLinux() throws {
        let attach = Message.tattach(Tattach(fid: 1, afid: Tattach.noFid, uname: "ron", aname: "/", nUname: 1000))
        let auth = Message.tauth(Tauth(afid: 5, uname: "ron", aname: "/", nUname: 1000))
        for message in [attach, auth] {
            let plain = message.encode(tag: 1, dialect: .plain)
            for dialect in [Dialect.unix, .linux] {
                let extended = message.encode(tag: 1, dialect: dialect)
                #expect(extended.count == plain.count + 4)
                #expect(Array(extended.suffix(4)) == [0xe8, 0x03, 0, 0])
                let decoded = try Message.decode(singleFrame(extended), dialect: dialect)
                #expect(decoded == message)
            }
            let decoded = try Message.decode(singleFrame(plain), dialect: .plain)
            switch decoded {
            case .tattach(let m): #expect(m.nUname == Tattach.noUname)
            case .tauth(let m): #expect(m.nUname == Tattach.noUname)
            default: Issue.record("decoded \(decoded)")
            }
        }
    }

    @Test func rerrorCarriesErrnoOnlyInUnix() throws {
        let message = Message.rerror(Rerror(ename: "gone", errno: 2))
        let plain = message.encode(tag: 1, dialect: .plain)
        let unix = message.encode(tag: 1, dialect: .unix)
        #expect(unix.count == plain.count + 4)
        #expect(try Message.decode(singleFrame(plain), dialect: .plain) == .rerror(Rerror(ename: "gone", errno: nil)))
        #expect(try Message.decode(singleFrame(unix), dialect: .unix) == message)
        // A .u Rerror without an errno still has the field on the wire: 0.
        let none = Message.rerror(Rerror(ename: "gone")).encode(tag: 1, dialect: .unix)
        #expect(try Message.decode(singleFrame(none), dialect: .unix) == .rerror(Rerror(ename: "gone", errno: 0)))
    }

    @Test func tcreateCarriesExtensionOnlyInUnix() throws {
        let message = Message.tcreate(Tcreate(fid: 3, name: "l", perm: DirMode.symlink | 0o777, mode: 0, ext: "/tmp"))
        let plain = message.encode(tag: 1, dialect: .plain)
        let unix = message.encode(tag: 1, dialect: .unix)
        #expect(unix.count == plain.count + 2 + 4)
        #expect(try Message.decode(singleFrame(unix), dialect: .unix) == message)
        guard case .tcreate(let decoded) = try Message.decode(singleFrame(plain), dialect: .plain) else {
            Issue.record("not a Tcreate")
            return
        }
        #expect(decoded.ext == "")
        #expect(decoded.name == "l" && decoded.perm == DirMode.symlink | 0o777)
    }

    @Test func statExtensionOnlyInUnix() throws {
        let stat = Stat(
            qid: Qid(type: .symlink, path: 9), mode: DirMode.symlink | 0o777, name: "l", uid: "ron",
            gid: "ron", muid: "ron", extension: "/etc", nUid: 1000, nGid: 100, nMuid: 1000)
        for dialect in Dialect.allCases {
            let bytes = Message.rstat(Rstat(stat: stat)).encode(tag: 1, dialect: dialect)
            guard case .rstat(let decoded) = try Message.decode(singleFrame(bytes), dialect: dialect) else {
                Issue.record("not an Rstat")
                continue
            }
            if dialect == .unix {
                #expect(decoded.stat == stat)
            } else {
                #expect(decoded.stat.extension == "")
                #expect(decoded.stat.nUid == ~0 && decoded.stat.nGid == ~0 && decoded.stat.nMuid == ~0)
                #expect(decoded.stat.name == "l" && decoded.stat.uid == "ron" && decoded.stat.mode == stat.mode)
            }
        }
    }

    @Test func tfsyncWithAndWithoutDatasync() throws {
        let old = Message.tfsync(Tfsync(fid: 4))
        let new = Message.tfsync(Tfsync(fid: 4, datasync: 1))
        #expect(old.encode(tag: 1, dialect: .linux).count == 7 + 4)
        #expect(new.encode(tag: 1, dialect: .linux).count == 7 + 8)
        #expect(try Message.decode(singleFrame(old.encode(tag: 1, dialect: .linux)), dialect: .linux) == old)
        #expect(try Message.decode(singleFrame(new.encode(tag: 1, dialect: .linux)), dialect: .linux) == new)
    }

    // MARK: - Edges of the primitives

    @Test func stringsAtTheLengthLimit() throws {
        let longest = String(repeating: "a", count: 65535)
        let bytes = Message.rreadlink(Rreadlink(target: longest)).encode(tag: 0, dialect: .linux)
        #expect(bytes.count == 7 + 2 + 65535)
        #expect(Array(bytes[7..<9]) == [0xff, 0xff])
        #expect(try Message.decode(singleFrame(bytes), dialect: .linux) == .rreadlink(Rreadlink(target: longest)))
    }

    @Test func overlongStringIsCutToTheLimit() throws {
        let bytes = Message.rreadlink(Rreadlink(target: String(repeating: "b", count: 70000))).encode(tag: 0, dialect: .linux)
        #expect(bytes.count == 7 + 2 + 65535)
        let decoded = try Message.decode(singleFrame(bytes), dialect: .linux)
        #expect(decoded == .rreadlink(Rreadlink(target: String(repeating: "b", count: 65535))))
    }

    @Test func overlongStringIsCutAtACharacterBoundary() throws {
        // 65534 bytes of ASCII and a two-byte "é": the limit falls inside the "é", which must
        // be dropped whole rather than leaving half a character on the wire.
        let target = String(repeating: "c", count: 65534) + "é"
        let bytes = Message.rreadlink(Rreadlink(target: target)).encode(tag: 0, dialect: .linux)
        #expect(bytes.count == 7 + 2 + 65534)
        #expect(Array(bytes[7..<9]) == [0xfe, 0xff])
        let decoded = try Message.decode(singleFrame(bytes), dialect: .linux)
        guard case .rreadlink(let rreadlink) = decoded else {
            Issue.record("not an Rreadlink")
            return
        }
        // Compared by size and last byte: a failure would otherwise print 64 KiB.
        #expect(rreadlink.target.utf8.count == 65534)
        #expect(rreadlink.target.utf8.allSatisfy { $0 == UInt8(ascii: "c") })
    }

    @Test func directoryEntriesRoundTrip() throws {
        var generator = MessageGenerator(seed: 77)
        for _ in 0..<200 {
            let entries = generator.entries()
            let data = MessageGenerator.encode(entries)
            #expect(data.count == entries.reduce(0) { $0 + $1.encodedSize })
            #expect(try DirectoryEntry.parse(data) == entries)
        }
    }

    @Test func invalidUTF8IsRepairedNotTrusted() throws {
        // name "a\xff": the lone 0xff becomes U+FFFD.
        let body = hex("02 00 61 ff")
        let decoded = try Message.decode(Frame(type: Rreadlink.type, tag: 0, body: body), dialect: .linux)
        #expect(decoded == .rreadlink(Rreadlink(target: "a\u{FFFD}")))
    }
}
