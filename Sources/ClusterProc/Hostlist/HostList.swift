/// An ordered list of host names without duplicates, as HPC users write them on command lines.
///
/// The syntax is the one pdsh, ClusterShell and SLURM share: items separated by commas, each item a
/// host name that may hold bracketed numeric ranges, e.g. `node[01-16,20],login1`. Several bracket
/// groups in one item give their cartesian product in order (`rack[1-2]-node[01-04]` is rack1-node01,
/// rack1-node02, …, rack2-node04). Zero padding is kept exactly as written: a range takes its width
/// from its start (`[08-10]` is 08, 09, 10; `[8-10]` is 8, 9, 10) and a single value is kept verbatim.
///
/// The first occurrence of a host wins; later duplicates are dropped. ``folded()`` writes a list back
/// in the compact form.
public struct HostList: Sendable, Equatable, RandomAccessCollection, CustomStringConvertible {
    /// The largest number of hosts an expression may expand to unless a caller says otherwise.
    public static let defaultLimit = 1_000_000

    private var names: [String]
    private var members: Set<String>

    /// An empty host list.
    public init() {
        names = []
        members = []
    }

    /// A host list of the given names, in order, duplicates dropped.
    ///
    /// The names are taken as they are, not parsed: a name holding `[`, `]`, `,` or whitespace would
    /// not survive a trip through ``folded()`` and ``init(parsing:limit:)``.
    public init(_ hosts: some Sequence<String>) {
        self.init()
        for host in hosts { append(host) }
    }

    /// Parses a host list expression such as `node[01-16,20],login1`.
    ///
    /// - Parameters:
    ///   - expression: comma-separated items, each a host name with optional bracketed ranges.
    ///     Whitespace around items is ignored.
    ///   - limit: the most hosts the expression may expand to; checked before any name is made.
    /// - Throws: ``HostListError`` for unbalanced or nested brackets, empty items or brackets,
    ///   non-numeric or reversed ranges, characters that cannot be in a host name, or an expansion
    ///   beyond `limit`.
    public init(parsing expression: String, limit: Int = HostList.defaultLimit) throws(HostListError) {
        let limit = Swift.min(Swift.max(limit, 0), Int.max / 4)  // keeps the sums below from overflowing
        let items = HostListParser.splitItems(Array(expression.unicodeScalars))
        var parsed: [HostListParser.Item] = []
        var total = 0
        for (position, raw) in items.enumerated() {
            let text = HostListParser.trimmed(raw)
            if text.isEmpty {
                let what = items.count == 1 ? "empty host list" : "empty item (number \(position + 1))"
                throw HostListError(.emptyItem, "\(what) in host list \"\(expression)\"")
            }
            let item = try HostListParser.parseItem(text)
            let count = item.count(limit: limit)
            total += count  // both are at most limit + 1, so this cannot overflow
            if count > limit || total > limit {
                throw HostListError(
                    .tooManyHosts,
                    "host list \"\(HostListParser.abbreviated(expression))\" expands to more than \(limit) hosts")
            }
            parsed.append(item)
        }
        self.init()
        names.reserveCapacity(total)
        for item in parsed {
            item.expand { append($0) }
        }
    }

    /// Adds `host` at the end unless it is already present; tells whether it was added.
    @discardableResult
    mutating func append(_ host: String) -> Bool {
        guard members.insert(host).inserted else { return false }
        names.append(host)
        return true
    }

    // MARK: - Collection

    public var startIndex: Int { names.startIndex }
    public var endIndex: Int { names.endIndex }
    public subscript(position: Int) -> String { names[position] }

    /// Whether `host` is in the list (in constant time).
    public func contains(_ host: String) -> Bool { members.contains(host) }

    // MARK: - Set operations, order kept

    /// The hosts of this list that are not in `other`, in this list's order (pdsh's `-x`).
    public func subtracting(_ other: HostList) -> HostList {
        HostList(names.filter { !other.contains($0) })
    }

    /// This list followed by the hosts of `other` that it does not already hold.
    public func union(_ other: HostList) -> HostList {
        var result = self
        result.formUnion(other)
        return result
    }

    /// Appends the hosts of `other` that this list does not already hold.
    public mutating func formUnion(_ other: some Sequence<String>) {
        for host in other { append(host) }
    }

    /// The hosts as an array, in order.
    public var hosts: [String] { names }

    /// The folded form, as ``folded()`` gives it.
    public var description: String { folded() }

    public static func == (lhs: HostList, rhs: HostList) -> Bool { lhs.names == rhs.names }
}

// MARK: - Parsing

enum HostListParser {
    /// One element between brackets: a range of numbers written with a padding width, or a value
    /// kept exactly as written.
    enum Element {
        case range(low: UInt64, high: UInt64, width: Int)
        case verbatim(String)

        var count: Int {
            switch self {
            case .verbatim: return 1
            case .range(let low, let high, _):
                let span = high - low
                return span >= UInt64(Int.max) ? Int.max : Int(span) + 1
            }
        }
    }

    enum Segment {
        case literal(String)
        case group([Element])
    }

    struct Item {
        var segments: [Segment]

        /// The number of names this item expands to, or `limit + 1` if it is more than `limit`.
        func count(limit: Int) -> Int {
            var product = 1
            for case .group(let elements) in segments {
                var sum = 0
                for element in elements {
                    let (added, overflow) = sum.addingReportingOverflow(element.count)
                    sum = overflow ? Int.max : added
                }
                let (multiplied, overflow) = product.multipliedReportingOverflow(by: sum)
                product = overflow ? Int.max : multiplied
                if product > limit { return limit + 1 }
            }
            return min(product, limit + 1)
        }

        /// Calls `body` with each name in order: the first bracket group varies slowest.
        func expand(_ body: (String) -> Void) {
            var prefixes = [""]
            for segment in segments {
                switch segment {
                case .literal(let text):
                    for index in prefixes.indices { prefixes[index] += text }
                case .group(let elements):
                    var next: [String] = []
                    for prefix in prefixes {
                        for element in elements {
                            switch element {
                            case .verbatim(let text):
                                next.append(prefix + text)
                            case .range(let low, let high, let width):
                                var value = low
                                while true {
                                    next.append(prefix + padded(value, width: width))
                                    if value == high { break }
                                    value += 1
                                }
                            }
                        }
                    }
                    prefixes = next
                }
            }
            prefixes.forEach(body)
        }
    }

    /// Splits at commas outside brackets. Brackets are only counted here; ``parseItem(_:)`` checks them.
    static func splitItems(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var items: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        var depth = 0
        for scalar in scalars {
            switch scalar {
            case "[": depth += 1
            case "]": depth = max(0, depth - 1)
            case "," where depth == 0:
                items.append(current)
                current = []
                continue
            default: break
            }
            current.append(scalar)
        }
        items.append(current)
        return items
    }

    static func trimmed(_ scalars: some BidirectionalCollection<Unicode.Scalar>) -> [Unicode.Scalar] {
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return [] }
        return Array(scalars[first...last])
    }

    static func parseItem(_ item: [Unicode.Scalar]) throws(HostListError) -> Item {
        let itemText = string(item)
        var segments: [Segment] = []
        var literal = String.UnicodeScalarView()
        var index = 0
        while index < item.count {
            let scalar = item[index]
            switch scalar {
            case "[":
                guard let close = item[(index + 1)...].firstIndex(where: { $0 == "[" || $0 == "]" }),
                      item[close] == "]"
                else {
                    let nested = item[(index + 1)...].first(where: { $0 == "[" || $0 == "]" }) == "["
                    throw HostListError(
                        .unbalancedBrackets,
                        nested ? "nested '[' in \"\(abbreviated(itemText))\""
                            : "unmatched '[' in \"\(abbreviated(itemText))\"")
                }
                if !literal.isEmpty {
                    segments.append(.literal(String(literal)))
                    literal = String.UnicodeScalarView()
                }
                segments.append(.group(try parseGroup(Array(item[(index + 1)..<close]), item: itemText)))
                index = close + 1
                continue
            case "]":
                throw HostListError(.unbalancedBrackets, "unmatched ']' in \"\(abbreviated(itemText))\"")
            default:
                if scalar.properties.isWhitespace || scalar.properties.generalCategory == .control {
                    throw HostListError(
                        .invalidCharacter,
                        "invalid character \(scalar.escaped(asASCII: true).debugDescription) in host name \"\(abbreviated(itemText))\"")
                }
                literal.append(scalar)
            }
            index += 1
        }
        if !literal.isEmpty { segments.append(.literal(String(literal))) }
        return Item(segments: segments)
    }

    static func parseGroup(_ body: [Unicode.Scalar], item: String) throws(HostListError) -> [Element] {
        if trimmed(body).isEmpty {
            throw HostListError(.emptyBrackets, "empty brackets in \"\(abbreviated(item))\"")
        }
        var elements: [Element] = []
        for raw in body.split(separator: ",", omittingEmptySubsequences: false) {
            let element = trimmed(raw)
            if element.isEmpty {
                throw HostListError(.emptyBrackets, "empty range element in \"\(abbreviated(item))\"")
            }
            let text = string(element)
            let bounds = element.split(separator: "-", omittingEmptySubsequences: false).map { trimmed($0) }
            guard bounds.count <= 2, bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isDigit) }) else {
                throw HostListError(.nonNumericRange, "range \"\(abbreviated(text))\" is not numeric in \"\(abbreviated(item))\"")
            }
            if bounds.count == 1 {
                elements.append(.verbatim(string(bounds[0])))
                continue
            }
            guard let low = number(bounds[0]), let high = number(bounds[1]) else {
                throw HostListError(.nonNumericRange, "range \"\(abbreviated(text))\" has a number too large in \"\(abbreviated(item))\"")
            }
            guard low <= high else {
                throw HostListError(.reversedRange, "reversed range \"\(abbreviated(text))\" in \"\(abbreviated(item))\"")
            }
            let width = bounds[0].count > 1 && bounds[0].first == "0" ? bounds[0].count : 0
            elements.append(.range(low: low, high: high, width: width))
        }
        return elements
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= 0x30 && scalar.value <= 0x39 }

    /// The value of a run of ASCII digits, or nil past 18 digits (well inside `UInt64`).
    static func number(_ digits: some Collection<Unicode.Scalar>) -> UInt64? {
        guard digits.count <= 18 else { return nil }
        var value: UInt64 = 0
        for digit in digits { value = value * 10 + UInt64(digit.value - 0x30) }
        return value
    }

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Keeps error messages one readable line even for enormous input.
    static func abbreviated(_ text: String, limit: Int = 80) -> String {
        guard text.unicodeScalars.count > limit else { return text }
        return string(text.unicodeScalars.prefix(limit)) + "…"
    }
}

/// `value` in decimal, zero-padded on the left to `width` digits.
func padded(_ value: UInt64, width: Int) -> String {
    let digits = String(value)
    guard digits.utf8.count < width else { return digits }
    return String(repeating: "0", count: width - digits.utf8.count) + digits
}
