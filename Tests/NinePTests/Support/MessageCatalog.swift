import NineP

/// The message types of 9P2000, 9P2000.u and 9P2000.L and the dialects each belongs to,
/// written out from intro(5) and Linux's `include/net/9p/9p.h` independently of the library's
/// own tables, so tests can check those tables against it.
enum MessageCatalog {
    /// Plan 9's message set (intro(5)); Terror (106) is illegal and absent.
    static let plan9Types: [UInt8] = [
        100, 101, 102, 103, 104, 105, 107, 108, 109, 110, 111, 112, 113, 114, 115,
        116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,
    ]
    /// The 9P2000.L additions (9p.h): Rlerror 7, statfs 8, lopen 12, lcreate 14, symlink 16,
    /// mknod 18, rename 20, readlink 22, getattr 24, setattr 26, xattrwalk 30, xattrcreate 32,
    /// readdir 40, fsync 50, lock 52, getlock 54, link 70, mkdir 72, renameat 74, unlinkat 76.
    static let linuxOnlyTypes: [UInt8] = [
        7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
        30, 31, 32, 33, 40, 41, 50, 51, 52, 53, 54, 55, 70, 71, 72, 73, 74, 75, 76, 77,
    ]
    /// What 9P2000.L keeps of Plan 9's set (diod's protocol.md): version, flush, walk, read,
    /// write, clunk, remove, and .u's auth and attach. Rerror is replaced by Rlerror; open,
    /// create, stat and wstat by lopen, lcreate, getattr and setattr.
    static let plan9TypesKeptByLinux: [UInt8] = [
        100, 101, 102, 103, 104, 105, 108, 109, 110, 111, 116, 117, 118, 119, 120, 121, 122, 123,
    ]

    static let allTypes: [UInt8] = (plan9Types + linuxOnlyTypes).sorted()

    static func dialects(for type: UInt8) -> [Dialect] {
        var result: [Dialect] = []
        if plan9Types.contains(type) { result += [.plain, .unix] }
        if linuxOnlyTypes.contains(type) || plan9TypesKeptByLinux.contains(type) { result.append(.linux) }
        return result
    }

    static func belongs(_ type: UInt8, to dialect: Dialect) -> Bool {
        dialects(for: type).contains(dialect)
    }

    /// Every (type, dialect) pair that exists on the wire.
    static let cases: [WireCase] = allTypes.flatMap { type in
        dialects(for: type).map { WireCase(type: type, dialect: $0) }
    }
}

/// One message type spoken in one dialect; the argument of the parameterised tests.
struct WireCase: Sendable, Hashable, CustomStringConvertible {
    var type: UInt8
    var dialect: Dialect

    var description: String {
        "\(Message.name(ofType: type) ?? "type \(type)") in \(dialect.rawValue)"
    }
}
