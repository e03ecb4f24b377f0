/// An error from parsing /proc contents or from a `cps` column, sort or format specification.
///
/// `description` is a single line fit to print after the program's name, as `ps` does
/// (`unknown column 'foo'`).
public struct StatusError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// `/proc/PID/stat` could not be parsed.
        public static let malformedStat = Code("malformedStat")
        /// `/proc/PID/status` could not be parsed.
        public static let malformedStatus = Code("malformedStatus")
        /// A node-wide file (`uptime`, `meminfo`, `stat`, `loadavg`) could not be parsed.
        public static let malformedNodeFile = Code("malformedNodeFile")
        /// A column name that no format knows.
        public static let unknownColumn = Code("unknownColumn")
        /// A sort key that no column knows.
        public static let unknownSortKey = Code("unknownSortKey")
        /// A column or sort specification that is not well formed.
        public static let badSpecification = Code("badSpecification")
    }

    /// The kind of failure.
    public let code: Code
    /// One line for a human.
    public let message: String

    /// Creates an error with a code and a one-line message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
