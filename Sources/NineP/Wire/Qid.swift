/// The server's unique identification of a file: `qid[13]` = `type[1] version[4] path[8]`.
public struct Qid: Sendable, Hashable, CustomStringConvertible {
    public var type: QidType
    /// Changes whenever the file changes; 0 for files whose content is not cached by version
    /// (synthetic files such as /proc's, whose content is made anew at each open).
    public var version: UInt32
    /// Unique among the files of the server's tree.
    public var path: UInt64

    public init(type: QidType, version: UInt32 = 0, path: UInt64) {
        self.type = type
        self.version = version
        self.path = path
    }

    public var description: String {
        "(\(String(path, radix: 16)) \(version) \(type))"
    }
}

/// The file type bits of a qid, the high byte of a 9P2000 mode.
public struct QidType: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let file = QidType([])
    public static let directory = QidType(rawValue: 0x80)
    public static let appendOnly = QidType(rawValue: 0x40)
    public static let exclusive = QidType(rawValue: 0x20)
    public static let mount = QidType(rawValue: 0x10)
    public static let auth = QidType(rawValue: 0x08)
    public static let temporary = QidType(rawValue: 0x04)
    /// 9P2000.u and .L.
    public static let symlink = QidType(rawValue: 0x02)
    /// 9P2000.u and .L: a hard link.
    public static let link = QidType(rawValue: 0x01)

    public var description: String {
        if contains(.directory) { return "d" }
        if contains(.symlink) { return "L" }
        if contains(.auth) { return "A" }
        if contains(.appendOnly) { return "a" }
        return ""
    }
}
