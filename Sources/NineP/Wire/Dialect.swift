/// The 9P dialect a connection speaks, chosen by Tversion.
public enum Dialect: String, Sendable, Hashable, CaseIterable {
    /// 9P2000, as Plan 9 speaks it.
    case plain = "9P2000"
    /// 9P2000.u: Unix extensions (numeric ids, errno, symlinks and devices in stat).
    case unix = "9P2000.u"
    /// 9P2000.L: Linux's message set (getattr, readdir, lopen, Rlerror, …).
    case linux = "9P2000.L"

    /// The version string of Tversion and Rversion.
    public var versionString: String { rawValue }

    /// The dialect a client's version string asks for, as version(5) says: the string must
    /// start with "9P2000"; a known suffix selects the extension, anything after a further
    /// period is ignored.
    public init?(clientVersion: String) {
        guard clientVersion.hasPrefix("9P2000") else { return nil }
        let rest = clientVersion.dropFirst("9P2000".count)
        if rest.isEmpty {
            self = .plain
            return
        }
        guard rest.first == "." else { return nil }
        // The extension is the whole component after the first period: "9P2000.L.foo" is .L,
        // but "9P2000.Lx" is an unknown extension of 9P2000 and gets plain 9P2000.
        switch rest.dropFirst().split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first {
        case "L": self = .linux
        case "u": self = .unix
        default: self = .plain
        }
    }

    /// Whether the message type belongs to this dialect's message set.
    public func allows(type: UInt8) -> Bool {
        // Message.name knows every type of the three dialects and nothing else (no Terror).
        guard Message.name(ofType: type) != nil else { return false }
        switch self {
        case .plain, .unix: return type >= 100 && type <= 127
        case .linux:
            // .L keeps version, auth, attach, flush, walk, read, write, clunk and remove,
            // and replaces the rest with its own messages (Rerror with Rlerror).
            switch type {
            case Topen.type, Ropen.type, Tcreate.type, Rcreate.type, Tstat.type, Rstat.type,
                Twstat.type, Rwstat.type, Rerror.type:
                return false
            default: return true
            }
        }
    }
}

/// What every 9P message struct provides.
public protocol NinePMessage: Sendable, Hashable {
    /// The message type byte.
    static var type: UInt8 { get }
    /// Reads the body; nil when it is short.
    init?(from reader: inout WireReader, dialect: Dialect)
    /// Writes the body.
    func write(to writer: inout WireWriter, dialect: Dialect)
}
