import SystemPackage

/// An error of the 9P library: a malformed frame, a protocol violation, a closed connection,
/// a deadline, or an error the peer replied with.
///
/// On the wire an error becomes Rlerror's errno (9P2000.L), Rerror's string and errno (.u) or
/// Rerror's string (9P2000); ``errno`` and ``message`` carry both sides of that mapping.
public struct NinePError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; extensible.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }

        /// A frame or message that does not parse: short, inconsistent, or with trailing bytes.
        public static let malformedMessage = Code("malformed message")
        /// A frame larger than the negotiated msize.
        public static let messageTooLarge = Code("message too large")
        /// A message type this library does not know, or that the dialect does not allow.
        public static let unknownMessageType = Code("unknown message type")
        /// The peer broke the protocol's rules (tag reuse, unexpected reply, bad version).
        public static let protocolViolation = Code("protocol violation")
        /// The connection ended; every call still pending fails with this.
        public static let connectionClosed = Code("connection closed")
        /// A call's deadline passed.
        public static let timedOut = Code("timed out")
        /// The call was cancelled (and flushed on the wire).
        public static let cancelled = Code("cancelled")
        /// A file system error: carries an errno and a message, on the wire and off it.
        public static let fileSystem = Code("file system error")

        public var description: String { name }
    }

    public var code: Code
    /// The Linux errno that stands for this error on the wire.
    public var errno: Errno
    /// A human-readable message (Rerror's `ename`).
    public var message: String

    public init(_ code: Code, errno: Errno, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    /// A file system error with the errno's usual text, e.g. "No such file or directory".
    public init(_ errno: Errno, _ message: String? = nil) {
        self.init(.fileSystem, errno: errno, message ?? Self.text(for: errno))
    }

    public static func malformed(_ message: String) -> NinePError {
        NinePError(.malformedMessage, errno: .protocolError, message)
    }

    public static func violation(_ message: String) -> NinePError {
        NinePError(.protocolViolation, errno: .protocolError, message)
    }

    public static func closed(_ message: String = "connection closed") -> NinePError {
        NinePError(.connectionClosed, errno: .ioError, message)
    }

    public static func timedOut(_ message: String = "timed out") -> NinePError {
        NinePError(.timedOut, errno: .timedOut, message)
    }

    public var description: String { message }

    /// The errno text as strerror gives it (Linux's wording), used as Rerror's string.
    public static func text(for errno: Errno) -> String {
        switch errno {
        case .noSuchFileOrDirectory: "No such file or directory"
        case .permissionDenied: "Permission denied"
        case .notPermitted: "Operation not permitted"
        case .readOnlyFileSystem: "Read-only file system"
        case .badFileDescriptor: "Bad file descriptor"
        case .invalidArgument: "Invalid argument"
        case .notDirectory: "Not a directory"
        case .isDirectory: "Is a directory"
        case .ioError: "Input/output error"
        case .timedOut: "Connection timed out"
        case .noFunction: "Function not implemented"
        case .notSupported: "Operation not supported"
        case .fileExists: "File exists"
        case .tooManyOpenFiles: "Too many open files"
        case .protocolError: "Protocol error"
        case .fileNameTooLong: "File name too long"
        case .noSuchProcess: "No such process"
        case .resourceBusy: "Device or resource busy"
        case .noData: "No data available"
        case .badMessage: "Bad message"
        case .tooManySymbolicLinkLevels: "Too many levels of symbolic links"
        default: errno.description
        }
    }

    /// The errno a Plan 9 or .u error string most likely stands for, for Rerror without errno.
    public static func errno(forMessage message: String) -> Errno {
        let table: [(String, Errno)] = [
            ("No such file", .noSuchFileOrDirectory), ("does not exist", .noSuchFileOrDirectory),
            ("file not found", .noSuchFileOrDirectory), ("Permission denied", .permissionDenied),
            ("permission denied", .permissionDenied), ("Read-only", .readOnlyFileSystem),
            ("read-only", .readOnlyFileSystem), ("not a directory", .notDirectory),
            ("Not a directory", .notDirectory), ("is a directory", .isDirectory),
            ("Is a directory", .isDirectory), ("unknown fid", .badFileDescriptor),
            ("timed out", .timedOut), ("not permitted", .notPermitted),
        ]
        for (needle, errno) in table where message.contains(needle) { return errno }
        return .ioError
    }
}
