#if canImport(Glibc)
import Glibc
#endif

/// Everything `cps` needs of a node in one file: the node's `uptime`, `meminfo`, `stat` and
/// `loadavg`, and each process's `stat`, `status`, `cmdline`, `wchan` and `cgroup`, read at
/// one moment.
///
/// `cps` reads it as the job tree's `ps` file: one round trip per node instead of several per
/// process. The content is exactly the /proc files' bytes, so `cps` computes every column as
/// it would from /proc itself. Encoding: a sequence of entries, each a header line
/// `NAME LENGTH\n` followed by LENGTH bytes, where NAME is `uptime`, `meminfo`, `stat`,
/// `loadavg`, `family` (the job's PIDs, one a line, when taken by a job's procsrv),
/// `omitted` (how many processes did not fit, when some did not) or `PID/FILE`.
///
/// A snapshot holds at most ``maximumBytes``, and each file at most ``maximumFileBytes`` (a
/// longer one, such as a huge command line, is cut there), so many processes or a few with
/// enormous command lines cannot make procsrv's memory grow without bound: processes beyond
/// the limit are left out and counted in `omitted`.
public enum ProcessSnapshot {
    /// The per-process files a snapshot holds.
    public static let processFiles = ["stat", "status", "cmdline", "wchan", "cgroup"]
    static let nodeFiles = ["uptime", "meminfo", "stat", "loadavg"]
    /// The most bytes in one snapshot.
    public static let maximumBytes = 16 << 20
    /// The most bytes of one file in a snapshot.
    public static let maximumFileBytes = 256 << 10

    /// One process's files; a file the process did not let us read is absent.
    public struct Process: Sendable, Equatable {
        public var pid: Int32
        public var files: [String: [UInt8]]
    }

    /// A decoded snapshot.
    public struct Decoded: Sendable, Equatable {
        public var node: [String: [UInt8]]
        public var processes: [Process]
    }

    public struct MalformedSnapshot: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads the snapshot from the /proc at `proc`. A process that exits meanwhile is left out.
    public static func capture(proc: String = "/proc", family: [Int32]? = nil, limit: Int = maximumBytes) -> [UInt8] {
        capture(proc: proc, family: family.map { pids in { _ in pids } }, limit: limit)
    }

    /// Reads the snapshot; `family` is given every process's `stat` as read for the snapshot
    /// and returns the job's PIDs, so that finding the family reads /proc no second time.
    static func capture(proc: String = "/proc", family: (([Int32: [UInt8]]) -> [Int32])?, limit: Int = maximumBytes) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 * 1024)
        for name in nodeFiles {
            if let bytes = readWhole("\(proc)/\(name)") { append(name, bytes, to: &out) }
        }
        var stats: [Int32: [UInt8]] = [:]
        var omitted = 0
        // Room kept for the family and omitted entries, which come last.
        let reserve = 64 << 10
        for pid in pids(proc) {
            // Every stat is kept for the family, even a left-out process's.
            guard let stat = readWhole("\(proc)/\(pid)/stat") else { continue }
            stats[pid] = stat
            guard out.count < limit - reserve else {
                omitted += 1
                continue
            }
            var entries = [("\(pid)/stat", stat)]
            for file in processFiles.dropFirst() {
                if let bytes = readWhole("\(proc)/\(pid)/\(file)") { entries.append(("\(pid)/\(file)", bytes)) }
            }
            let size = entries.reduce(0) { $0 + $1.0.utf8.count + 22 + $1.1.count }
            guard out.count + size <= limit - reserve else {
                omitted += 1
                continue
            }
            for (name, bytes) in entries { append(name, bytes, to: &out) }
        }
        if let family {
            // The family's PIDs are few; a family too large to list is cut like any file.
            let pids = Array(family(stats).map { "\($0)\n" }.joined().utf8.prefix(reserve / 2))
            append("family", pids, to: &out)
        }
        if omitted > 0 { append("omitted", Array("\(omitted)\n".utf8), to: &out) }
        return out
    }

    /// Decodes a snapshot.
    /// - Throws: ``MalformedSnapshot`` when a header or a length does not fit.
    public static func decode(_ bytes: [UInt8]) throws(MalformedSnapshot) -> Decoded {
        var node: [String: [UInt8]] = [:]
        var processes: [Process] = []
        var slot: [Int32: Int] = [:]
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].firstIndex(of: 0x0A) else {
                throw MalformedSnapshot(description: "snapshot header without an end at byte \(index)")
            }
            // NAME LENGTH: the name has no space, the length only digits.
            guard let space = bytes[index..<newline].firstIndex(of: 0x20), space > index, space + 1 < newline,
                  let length = decimal(bytes[(space + 1)..<newline]), newline + 1 + length <= bytes.count
            else {
                throw MalformedSnapshot(description: "bad snapshot header at byte \(index)")
            }
            let name = bytes[index..<space]
            let content = Array(bytes[(newline + 1)..<(newline + 1 + length)])
            index = newline + 1 + length
            if let slash = name.firstIndex(of: UInt8(ascii: "/")) {
                guard let number = decimal(name[..<slash]), let pid = Int32(exactly: number) else {
                    throw MalformedSnapshot(description: "bad entry name \(String(decoding: name, as: UTF8.self))")
                }
                let file = String(decoding: name[(slash + 1)...], as: UTF8.self)
                if let at = slot[pid] {
                    processes[at].files[file] = content
                } else {
                    slot[pid] = processes.count
                    processes.append(Process(pid: pid, files: [file: content]))
                }
            } else {
                node[String(decoding: name, as: UTF8.self)] = content
            }
        }
        return Decoded(node: node, processes: processes)
    }

    /// A non-negative decimal number of at most 18 digits.
    private static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= 0x30, digit <= 0x39 else { return nil }
            value = value * 10 + Int(digit - 0x30)
        }
        return value
    }

    private static func append(_ name: String, _ bytes: [UInt8], to out: inout [UInt8]) {
        out += Array("\(name) \(bytes.count)\n".utf8)
        out += bytes
    }

    private static func pids(_ proc: String) -> [Int32] {
        guard let dir = opendir(proc) else { return [] }
        defer { closedir(dir) }
        var pids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = Int32(name) { pids.append(pid) }
        }
        return pids.sorted()
    }

    /// The whole file, whatever size /proc reports; nil when it cannot be read.
    static func readWhole(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return data.isEmpty ? nil : data
            }
            if count == 0 { return data }
            data += buffer[0..<min(count, maximumFileBytes - data.count)]
            if data.count >= maximumFileBytes { return data }
        }
    }
}
