import SystemPackage

/// An error from starting, controlling or talking to a supervised job.
///
/// The message names what failed the way a shell would (`cd /x: No such file or directory`,
/// `simulate: command not found`), so it can be shown to a user or returned in a 9P error as is.
public struct JobError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; extensible, compare with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The command was not found on the search path, or cannot be executed.
        public static let commandNotFound = Code("commandNotFound")
        /// The working directory does not exist or cannot be entered.
        public static let badWorkingDirectory = Code("badWorkingDirectory")
        /// `posix_spawn` or setting up the child's pipes failed.
        public static let spawnFailed = Code("spawnFailed")
        /// The job no longer reads its standard input (it exited or closed it), or it was closed here.
        public static let inputClosed = Code("inputClosed")
        /// Writing to the job's standard input failed for another reason.
        public static let inputFailed = Code("inputFailed")
        /// A line written to the `ctl` file could not be understood.
        public static let badControlCommand = Code("badControlCommand")
        /// A job spec (``JobSpec``) could not be decoded or breaks a rule.
        public static let badSpec = Code("badSpec")
        /// The job tree has no job yet: its spec and `start` have not been written.
        public static let notStarted = Code("notStarted")
        /// A signal, `interrupt` or `kill` came before `start`: this job never starts.
        public static let cancelled = Code("cancelled")
        /// `start` came for a job that had already started.
        public static let alreadyStarted = Code("alreadyStarted")
        /// A system call needed for supervision failed.
        public static let systemCallFailed = Code("systemCallFailed")
    }

    /// What kind of failure this is.
    public let code: Code
    /// The system call's error, when one caused this.
    public let errno: Errno?
    /// A message a user can read.
    public let message: String

    init(_ code: Code, _ message: String, errno: Errno? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}
