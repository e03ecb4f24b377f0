/// A failure to reach a node or to run something on it over SSH.
public struct SSHError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; extensible, compare with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The client configuration could not be read or applied.
        public static let config = Code("config")
        /// The TCP connection or the SSH handshake failed.
        public static let connectFailed = Code("connectFailed")
        /// The host key is unknown, changed, or could not be checked.
        public static let hostKey = Code("hostKey")
        /// The server accepted none of our keys.
        public static let authDenied = Code("authDenied")
        /// Opening a channel, starting a command or moving data on it failed.
        public static let channel = Code("channel")
        /// A deadline passed.
        public static let timeout = Code("timeout")
        /// A file transfer failed.
        public static let sftp = Code("sftp")
        /// The session or channel was closed, or its connection was lost.
        public static let closed = Code("closed")
        /// A local system call failed.
        public static let system = Code("system")
    }

    /// What kind of failure.
    public let code: Code
    /// The host as the user typed it.
    public let host: String
    /// What went wrong, in words a user can act on.
    public let message: String
    /// libssh's own account of the failure (`ssh_get_error`), if it had one.
    public let libsshMessage: String?
    /// For a failure to connect: the step that failed, the address, port and user tried,
    /// and libssh's text, in one line (what `-v` shows).
    public let account: String?

    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - host: the host as typed.
    ///   - message: what went wrong.
    ///   - libsshMessage: libssh's message, if any.
    ///   - account: the step, address and user tried, for a failure to connect.
    public init(_ code: Code, host: String, _ message: String, libsshMessage: String? = nil, account: String? = nil) {
        self.code = code
        self.host = host
        self.message = message
        self.libsshMessage = libsshMessage.flatMap { $0.isEmpty ? nil : $0 }
        self.account = account
    }

    public var description: String {
        var text = "\(host): \(message)"
        if let libsshMessage, !message.contains(libsshMessage) { text += " (\(libsshMessage))" }
        return text
    }
}
