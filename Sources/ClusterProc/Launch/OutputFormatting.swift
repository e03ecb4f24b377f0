// How the launcher prints what the nodes write: line by line with a host prefix (pdsh style),
// gathered and grouped by identical output (`dshbak -c` style), and a one-line summary of failures.
// Output is bytes throughout: nothing here decodes it, so invalid UTF-8 passes through unchanged.

// MARK: - Lines

/// Cuts one byte stream (say one host's stdout) into lines as its chunks arrive.
///
/// Lines come back without their newline. A partial last line is kept until the rest arrives or
/// ``finish()`` is called. A line is kept whole, as clush keeps it, up to ``maximumLineLength``;
/// a longer one is handed out in pieces of that length, so a node writing without newlines
/// cannot make the launcher hold unbounded memory.
public struct LineAssembler: Sendable {
    /// The default bound on a line, 16 MiB: the bound on one host's gathered output (`-b`).
    public static let defaultMaximumLineLength = OutputGatherer.defaultMaximumBytesPerHost

    /// The longest line handed out; longer lines come out in pieces this long.
    public let maximumLineLength: Int
    private var partial: [UInt8] = []

    /// Makes an assembler with nothing pending.
    /// - Parameter maximumLineLength: the longest line handed out in one piece (at least 1).
    public init(maximumLineLength: Int = LineAssembler.defaultMaximumLineLength) {
        self.maximumLineLength = max(1, maximumLineLength)
    }

    /// The number of bytes of an unfinished line held back.
    public var pendingByteCount: Int { partial.count }

    /// Takes the next chunk of the stream and returns the lines it completes, in order.
    public mutating func append(_ chunk: some Sequence<UInt8>) -> [[UInt8]] {
        let bytes = Array(chunk)
        var lines: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let room = maximumLineLength - partial.count
            // One byte past the room: a line exactly maximumLineLength long still ends at its newline.
            let windowEnd = min(bytes.count, index + room + 1)
            if let newline = bytes[index..<windowEnd].firstIndex(of: UInt8(ascii: "\n")) {
                partial += bytes[index..<newline]
                lines.append(partial)
                partial = []
                index = newline + 1
            } else if bytes.count - index > room {
                partial += bytes[index..<(index + room)]
                lines.append(partial)
                partial = []
                index += room
            } else {
                partial += bytes[index...]
                index = bytes.count
            }
        }
        return lines
    }

    /// Ends the stream: returns the unfinished last line, if any, and forgets it.
    public mutating func finish() -> [UInt8]? {
        defer { partial = [] }
        return partial.isEmpty ? nil : partial
    }
}

/// `host: line` and a newline, as pdsh prints a node's line.
public func prefixed(host: String, line: some Sequence<UInt8>) -> [UInt8] {
    var output = Array(host.utf8)
    output += [UInt8(ascii: ":"), UInt8(ascii: " ")]
    output += line
    output.append(UInt8(ascii: "\n"))
    return output
}

/// The line and a newline, with no host prefix (pdsh's `-N`).
public func unprefixed(line: some Sequence<UInt8>) -> [UInt8] {
    var output = Array(line)
    output.append(UInt8(ascii: "\n"))
    return output
}

/// Whether the launcher labels each line with its host.
public enum LineLabelling: Sendable, Hashable {
    /// `host: line` (the default).
    case hostPrefix
    /// The line alone (`-N`).
    case none

    /// The line as it is printed, newline included.
    public func render(host: String, line: some Sequence<UInt8>) -> [UInt8] {
        switch self {
        case .hostPrefix: return prefixed(host: host, line: line)
        case .none: return unprefixed(line: line)
        }
    }
}

// MARK: - Gathering (-b)

/// Hosts whose whole output was the same, and that output.
public struct OutputGroup: Sendable, Equatable {
    /// The hosts, in the order the gatherer knew them.
    public var hosts: HostList
    /// The output they all wrote.
    public var output: [UInt8]
}

/// Collects each host's whole output, then prints hosts with identical output once, as `dshbak -c`
/// does: a line of dashes, the folded host list, a line of dashes, then the output.
///
/// Hosts that wrote nothing are left out, as dshbak leaves them out. A host's output beyond
/// ``maximumBytesPerHost`` is dropped and marked as truncated.
public struct OutputGatherer: Sendable {
    /// The default bound on one host's gathered output, 16 MiB.
    public static let defaultMaximumBytesPerHost = 16 * 1024 * 1024

    /// The most bytes kept for one host.
    public let maximumBytesPerHost: Int
    private var order: [String] = []
    private var outputs: [String: [UInt8]] = [:]
    private var truncated: Set<String> = []

    /// Makes an empty gatherer.
    /// - Parameters:
    ///   - hosts: hosts in the order groups should follow (usually the selected host list); hosts
    ///     not named here follow in the order they first write.
    ///   - maximumBytesPerHost: the most bytes kept for one host.
    public init(hosts: [String] = [], maximumBytesPerHost: Int = OutputGatherer.defaultMaximumBytesPerHost) {
        self.maximumBytesPerHost = max(0, maximumBytesPerHost)
        for host in hosts where outputs[host] == nil {
            order.append(host)
            outputs[host] = []
        }
    }

    /// Adds bytes `host` wrote.
    public mutating func append(_ bytes: some Sequence<UInt8>, from host: String) {
        if outputs[host] == nil {
            order.append(host)
            outputs[host] = []
        }
        guard !truncated.contains(host) else { return }
        let room = maximumBytesPerHost - (outputs[host]?.count ?? 0)
        var kept = 0
        for byte in bytes {
            if kept == room {
                truncated.insert(host)
                break
            }
            outputs[host, default: []].append(byte)
            kept += 1
        }
    }

    /// The hosts with output grouped by identical output; groups in the order of their first host.
    public func groups() -> [OutputGroup] {
        var groups: [OutputGroup] = []
        var groupIndex: [[UInt8]: Int] = [:]
        for host in order {
            guard var output = outputs[host], !output.isEmpty else { continue }
            if output.last != UInt8(ascii: "\n") { output.append(UInt8(ascii: "\n")) }
            if truncated.contains(host) {
                output += Array("[output truncated after \(maximumBytesPerHost) bytes]\n".utf8)
            }
            if let index = groupIndex[output] {
                groups[index].hosts.formUnion([host])
            } else {
                groupIndex[output] = groups.count
                groups.append(OutputGroup(hosts: HostList([host]), output: output))
            }
        }
        return groups
    }

    /// All groups as `dshbak -c` prints them.
    public func rendered() -> [UInt8] {
        var text: [UInt8] = []
        for group in groups() {
            let header = group.hosts.folded()
            let rule = Array(repeating: UInt8(ascii: "-"), count: max(16, header.utf8.count)) + [UInt8(ascii: "\n")]
            text += rule
            text += Array(header.utf8)
            text.append(UInt8(ascii: "\n"))
            text += rule
            text += group.output
        }
        return text
    }
}

// MARK: - Failures

/// Why a node did not finish its part of the job cleanly.
public enum HostFailure: Hashable, Sendable, CustomStringConvertible {
    /// The job exited with a non-zero status.
    case exited(status: Int32)
    /// The job was killed by a signal (Linux numbering).
    case signalled(Int32)
    /// The node could not be reached (connection or authentication failed).
    case unreachable
    /// The node did not answer within its deadline.
    case timedOut
    /// The connection to the node broke while the job ran.
    case connectionLost
    /// Anything else, said in a few words.
    case other(String)

    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .signalled(let signal):
            if let name = Self.signalNames[signal] { return "killed by signal \(signal) (SIG\(name))" }
            return "killed by signal \(signal)"
        case .unreachable: return "unreachable"
        case .timedOut: return "timed out"
        case .connectionLost: return "connection lost"
        case .other(let text): return text
        }
    }

    private static let signalNames: [Int32: String] = [
        1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL",
        10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM", 24: "XCPU", 25: "XFSZ",
    ]
}

/// One line naming the failed nodes, hosts with the same failure folded together, e.g.
/// `cluster-launch: node[03,07]: exited with status 1; node05: unreachable`.
///
/// Failures appear in the order each first occurs in `failures`.
/// - Parameters:
///   - failures: each failed host and why; a host named twice counts once, first failure wins.
///   - program: the name the line starts with.
/// - Returns: the line without a newline, or nil when nothing failed.
public func failureSummary(_ failures: some Sequence<(host: String, failure: HostFailure)>,
                           program: String = "cluster-launch") -> String? {
    var order: [HostFailure] = []
    var hosts: [HostFailure: HostList] = [:]
    var seen: Set<String> = []
    for (host, failure) in failures where seen.insert(host).inserted {
        if hosts[failure] == nil { order.append(failure) }
        hosts[failure, default: HostList()].formUnion([host])
    }
    guard !order.isEmpty else { return nil }
    let parts = order.map { failure in "\(hosts[failure]?.folded() ?? ""): \(failure)" }
    return "\(program): " + parts.joined(separator: "; ")
}
