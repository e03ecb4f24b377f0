import SystemPackage

/// Why entering the family's namespace, mounting or serving its /proc failed.
public struct NamespaceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, extensible without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// `/dev/fuse` is missing or cannot be opened by this user.
        public static let fuseUnavailable = Code("fuseUnavailable")
        /// The kernel refused a user namespace (disabled, or limit reached).
        public static let userNamespacesUnavailable = Code("userNamespacesUnavailable")
        /// The process already runs more than one thread, so it cannot enter a user namespace.
        public static let multithreaded = Code("multithreaded")
        /// A mount, bind or unmount failed.
        public static let mountFailed = Code("mountFailed")
        /// unshare or writing the id maps failed for another reason.
        public static let unshareFailed = Code("unshareFailed")
        /// A host name would clash with an entry of the local /proc, or is not a valid name.
        public static let invalidHostName = Code("invalidHostName")
        /// The command could not be started.
        public static let spawnFailed = Code("spawnFailed")
        /// libfuse refused to set up the session.
        public static let fuseSessionFailed = Code("fuseSessionFailed")
    }

    /// What went wrong.
    public let code: Code
    /// The failing system call's errno, when there was one.
    public let cause: Errno?
    private let message: String

    init(_ code: Code, _ message: String, cause: Errno? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The exit status for this failure, as `env` and `nsenter` give it: 127 when the command
    /// was not found, 126 when it was found but could not be run, 125 when the namespace
    /// itself failed.
    public var exitStatus: Int32 {
        guard code == .spawnFailed, let cause else { return 125 }
        return cause == .noSuchFileOrDirectory ? 127 : 126
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
