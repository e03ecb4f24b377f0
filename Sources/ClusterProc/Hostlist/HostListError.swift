/// An error in a host list expression, a host file, or the selection of hosts a user asked for.
///
/// The ``description`` is one line meant for the user: it names the offending text.
public struct HostListError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The expression (or an item of it) was empty, e.g. `a,,b` or a trailing comma.
        public static let emptyItem = Code("emptyItem")
        /// A `[` without its `]`, a `]` without its `[`, or brackets nested.
        public static let unbalancedBrackets = Code("unbalancedBrackets")
        /// `[]` or an empty element inside brackets, e.g. `[1,,3]`.
        public static let emptyBrackets = Code("emptyBrackets")
        /// A bracket element that is not a number or a range of numbers.
        public static let nonNumericRange = Code("nonNumericRange")
        /// A range whose start is above its end, e.g. `[5-1]`.
        public static let reversedRange = Code("reversedRange")
        /// The list would hold more hosts than the limit allows.
        public static let tooManyHosts = Code("tooManyHosts")
        /// A character that cannot be part of a host name (whitespace, control characters).
        public static let invalidCharacter = Code("invalidCharacter")
        /// A host file (or standard input) could not be read.
        public static let unreadableFile = Code("unreadableFile")
        /// A host count with no allocation to take hosts from.
        public static let noAllocation = Code("noAllocation")
        /// A host count of zero or larger than the allocation.
        public static let badCount = Code("badCount")
        /// Nothing was selected, or everything was excluded.
        public static let noHosts = Code("noHosts")
        /// A groups file line that is not `name: hosts`, an unknown `@group`, or groups nested too deep.
        public static let badGroup = Code("badGroup")
        /// A `/regex/` that is not a regular expression.
        public static let badPattern = Code("badPattern")
    }

    /// What kind of problem it is.
    public let code: Code
    /// The one-line message for the user.
    public let message: String

    /// Makes an error of the given kind with a message for the user.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// The same error with `context` (a file name and line, say) put in front of the message.
    func prefixed(by context: String) -> HostListError {
        HostListError(code, "\(context): \(message)")
    }
}
