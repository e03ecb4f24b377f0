import Testing

@testable import NineP

@Suite struct WireDialectTests {
    @Test(arguments: [
        ("9P2000", Dialect.plain), ("9P2000.u", .unix), ("9P2000.L", .linux), ("9P2000.L.foo", .linux),
        ("9P2000.u.bar", .unix), ("9P2000.x", .plain), ("9P2000.Lx", .plain), ("9P2000.ux", .plain),
        ("9P2000.", .plain),
    ])
    func clientVersionSelectsTheDialect(version: String, dialect: Dialect) {
        #expect(Dialect(clientVersion: version) == dialect)
    }

    @Test(arguments: ["9P2001", "", "9P", "9P200", "9p2000", "9P2000L", "9P2000u", "9P1999", "unknown", "9P2000foo"])
    func unknownVersionsAreRefused(version: String) {
        #expect(Dialect(clientVersion: version) == nil)
    }

    @Test func versionStrings() {
        #expect(Dialect.plain.versionString == "9P2000")
        #expect(Dialect.unix.versionString == "9P2000.u")
        #expect(Dialect.linux.versionString == "9P2000.L")
        for dialect in Dialect.allCases {
            #expect(Dialect(clientVersion: dialect.versionString) == dialect)
        }
    }

    @Test(arguments: Dialect.allCases)
    func allowsExactlyTheDialectsMessageSet(dialect: Dialect) {
        for type in 0...255 {
            let type = UInt8(type)
            #expect(
                dialect.allows(type: type) == MessageCatalog.belongs(type, to: dialect),
                "\(Message.name(ofType: type) ?? "type \(type)") in \(dialect.rawValue)")
        }
    }

    @Test func linuxReplacesPlanNineMessages() {
        for type in [Topen.type, Ropen.type, Tcreate.type, Rcreate.type, Tstat.type, Rstat.type, Twstat.type,
            Rwstat.type, Rerror.type]
        {
            #expect(!Dialect.linux.allows(type: type))
            #expect(Dialect.plain.allows(type: type))
            #expect(Dialect.unix.allows(type: type))
        }
        for type in [Rlerror.type, Tlopen.type, Tgetattr.type, Treaddir.type, Tunlinkat.type] {
            #expect(Dialect.linux.allows(type: type))
            #expect(!Dialect.plain.allows(type: type))
            #expect(!Dialect.unix.allows(type: type))
        }
        for type in [Tversion.type, Tauth.type, Tattach.type, Tflush.type, Twalk.type, Tread.type, Twrite.type,
            Tclunk.type, Tremove.type]
        {
            for dialect in Dialect.allCases { #expect(dialect.allows(type: type)) }
        }
    }

    @Test func terrorIsInNoDialect() {
        for dialect in Dialect.allCases { #expect(!dialect.allows(type: 106)) }
    }
}
