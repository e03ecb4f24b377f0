import SystemPackage

/// Why shared-key authentication could not be set up or did not succeed.
public struct AuthenticationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; extensible.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }

        /// The key file is missing, not a regular file, another user's, open to group or others, or too short.
        public static let unusableKeyFile = Code("unusable key file")
        /// The server refused our proof: the keys differ, or the exchange was out of order.
        public static let rejected = Code("rejected")
        /// The server's answer did not prove that it holds the key: an impostor, or another key.
        public static let serverNotProven = Code("server not proven")
        /// The server answered the exchange with something that does not follow the protocol.
        public static let malformedExchange = Code("malformed exchange")

        public var description: String { name }
    }

    public var code: Code
    /// The system call's error, when one caused this.
    public var errno: Errno?
    private var message: String

    public init(_ code: Code, _ message: String, errno: Errno? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}
