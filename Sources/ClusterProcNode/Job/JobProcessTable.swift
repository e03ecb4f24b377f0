import Glibc

/// A process of a job's family, identified by PID and start time together, so a PID the
/// kernel has since given to another process is never taken for it.
public struct FamilyMember: Hashable, Sendable, CustomStringConvertible {
    /// The process ID.
    public let pid: Int32
    /// Field 22 of `/proc/PID/stat`: clock ticks after boot at which the process started.
    public let startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    public var description: String { "\(pid)@\(startTime)" }

    /// Whether this very process still exists (a zombie not yet reaped counts as existing).
    public var exists: Bool {
        JobProcessTable.entry(pid: pid)?.startTime == startTime
    }
}

/// Reads the process table from `/proc/*/stat`.
enum JobProcessTable {
    /// The parts of `/proc/PID/stat` that supervision needs.
    struct Entry: Sendable, Equatable {
        var pid: Int32
        var state: Character
        var parentPID: Int32
        var processGroup: Int32
        var session: Int32
        var startTime: UInt64

        var member: FamilyMember { FamilyMember(pid: pid, startTime: startTime) }
        var isZombie: Bool { state == "Z" || state == "X" }
    }

    /// Every process visible in /proc now. Processes that vanish while being read are left out.
    static func snapshot() -> [Int32: Entry] {
        var table: [Int32: Entry] = [:]
        guard let directory = opendir("/proc") else { return table }
        defer { closedir(directory) }
        while let item = readdir(directory) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let entry = entry(pid: pid) else { continue }
            table[pid] = entry
        }
        return table
    }

    /// One process's stat line, parsed; nil when it does not exist (any more).
    static func entry(pid: Int32) -> Entry? {
        guard let bytes = readFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
        return parseStat(bytes)
    }

    /// Parses a `/proc/PID/stat` line. The command name (field 2) may hold spaces and
    /// parentheses, so the fields after it are found from the last `)`.
    static func parseStat(_ bytes: [UInt8]) -> Entry? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")),
              let pid = Int32(String(decoding: bytes.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self))
        else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " ")).map {
            String(decoding: $0, as: UTF8.self)
        }
        // fields[0] is field 3 (state); field N is fields[N - 3].
        guard fields.count > 19, let state = fields[0].first,
              let parent = Int32(fields[1]), let group = Int32(fields[2]), let session = Int32(fields[3]),
              let start = UInt64(fields[19].trimmingSuffixNewline)
        else { return nil }
        return Entry(pid: pid, state: state, parentPID: parent, processGroup: group, session: session, startTime: start)
    }

    /// Whether `/proc/PID/environ` holds exactly `variable` (`NAME=value`).
    static func environment(of pid: Int32, contains variable: String) -> Bool {
        guard let bytes = readFile("/proc/\(pid)/environ", limit: 1 << 20) else { return false }
        let wanted = Array(variable.utf8)
        return bytes.split(separator: 0, omittingEmptySubsequences: true).contains { $0.elementsEqual(wanted) }
    }

    /// Reads up to `limit` bytes of a file; nil when it cannot be opened.
    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }
}

extension String {
    fileprivate var trimmingSuffixNewline: Substring {
        self[...].drop { _ in false }.prefix { $0 != "\n" }
    }
}
