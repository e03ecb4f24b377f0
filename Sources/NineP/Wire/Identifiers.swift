/// A fid: the client's 32-bit name for a file on one connection (intro(5)).
public struct Fid: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// NOFID: Tattach's afid when there is no authentication.
    public static let none = Fid(~0)

    public var description: String { "\(rawValue)" }
}

/// A tag: the client's 16-bit name for a request in flight (intro(5)).
public struct Tag: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// NOTAG: the tag of Tversion.
    public static let none = Tag(0xFFFF)

    public var description: String { "\(rawValue)" }
}
