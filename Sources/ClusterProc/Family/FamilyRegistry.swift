#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A running family as its launcher records it: `cluster-launch list` shows these, and
/// `exec`, `shell`, `cps` find the family's socket through them.
public struct FamilyRecord: Sendable, Hashable {
    /// Short and typed by users: the launcher's PID.
    public var id: String
    public var pid: Int32
    /// Field 22 of the launcher's `/proc/PID/stat`, so a reused PID is not taken for it.
    public var startTime: UInt64
    public var socket: String
    public var hosts: [String]
    public var command: String
    /// Seconds since the epoch.
    public var started: Int

    public init(id: String, pid: Int32, startTime: UInt64, socket: String, hosts: [String], command: String, started: Int) {
        self.id = id
        self.pid = pid
        self.startTime = startTime
        self.socket = socket
        self.hosts = hosts
        self.command = command
        self.started = started
    }

    var text: String {
        let fields: [(String, String)] = [
            ("id", id), ("pid", "\(pid)"), ("starttime", "\(startTime)"), ("socket", socket),
            ("hosts", hosts.joined(separator: ",")), ("command", command), ("started", "\(started)"),
        ]
        return fields.map { "\($0.0)=\($0.1.map { $0 == "\n" ? " " : $0 }.reduce(into: "") { $0.append($1) })\n" }.joined()
    }

    init?(text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard let id = fields["id"], let pid = fields["pid"].flatMap({ Int32($0) }),
            let startTime = fields["starttime"].flatMap({ UInt64($0) }), let socket = fields["socket"],
            let hosts = fields["hosts"], let command = fields["command"],
            let started = fields["started"].flatMap({ Int($0) })
        else { return nil }
        self.init(
            id: id, pid: pid, startTime: startTime, socket: socket,
            hosts: hosts.split(separator: ",").map(String.init), command: command, started: started)
    }

    /// Whether the launcher that wrote the record still runs.
    public var isAlive: Bool {
        FamilyRegistry.startTime(of: pid) == startTime
    }
}

/// The families of this user: records and sockets under a private directory
/// (`$XDG_RUNTIME_DIR/cluster-proc` or `/tmp/cluster-proc-UID`, mode 0700).
public enum FamilyRegistry {
    /// Set in the environment of everything the launcher starts locally.
    public static let familyVariable = "CLUSTER_PROC_FAMILY"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The user's private runtime directory for cluster-proc, created 0700 if absent.
    /// - Throws: when it exists but belongs to someone else or is open to others.
    public static func runtimeDirectory(environment: [String: String]) throws -> String {
        let uid = getuid()
        var base = "/tmp/cluster-proc-\(uid)"
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            var info = stat()
            if stat(runtime, &info) == 0, info.st_uid == uid, info.st_mode & S_IFMT == S_IFDIR {
                base = "\(runtime)/cluster-proc"
            }
        }
        for path in [base, "\(base)/families"] {
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw Failure("cannot create \(path): \(Errno(rawValue: errno))")
            }
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == uid else {
                throw Failure("\(path) is not a directory of uid \(uid); refusing to use it")
            }
            guard info.st_mode & 0o077 == 0 else {
                throw Failure("\(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); expected 0700")
            }
        }
        return base
    }

    /// Writes the record (atomically) and returns its path.
    public static func register(_ record: FamilyRecord, environment: [String: String]) throws -> String {
        let directory = "\(try runtimeDirectory(environment: environment))/families"
        let path = "\(directory)/\(record.id)"
        let temporary = "\(path).tmp"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure("cannot write \(temporary): \(Errno(rawValue: errno))") }
        let bytes = Array(record.text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        Glibc.close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure("cannot write \(path): \(Errno(rawValue: errno))")
        }
        return path
    }

    public static func unregister(_ record: FamilyRecord, environment: [String: String]) {
        guard let directory = try? runtimeDirectory(environment: environment) else { return }
        unlink("\(directory)/families/\(record.id)")
        unlink(record.socket)
    }

    /// The running families, oldest first; records of launchers that died are removed.
    public static func list(environment: [String: String]) -> [FamilyRecord] {
        guard let base = try? runtimeDirectory(environment: environment) else { return [] }
        let directory = "\(base)/families"
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var records: [FamilyRecord] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !name.hasPrefix("."), !name.hasSuffix(".tmp") else { continue }
            let path = "\(directory)/\(name)"
            guard let text = readSmallFile(path), let record = FamilyRecord(text: text) else { continue }
            if record.isAlive {
                records.append(record)
            } else {
                unlink(path)
                unlink(record.socket)
            }
        }
        return records.sorted { ($0.started, $0.id) < ($1.started, $1.id) }
    }

    /// The family meant by `id`, or by the environment, or the only one running.
    /// - Throws: a one-line message when there is none, or several and no choice.
    public static func find(_ id: String?, environment: [String: String]) throws -> FamilyRecord {
        let families = list(environment: environment)
        if let wanted = id ?? environment[familyVariable] {
            guard let record = families.first(where: { $0.id == wanted }) else {
                throw Failure("no running family with id \(wanted) (see cluster-launch list)")
            }
            return record
        }
        switch families.count {
        case 0: throw Failure("no family is running (start one with cluster-launch -n HOSTS -- COMMAND)")
        case 1: return families[0]
        default:
            throw Failure("\(families.count) families are running (\(families.map(\.id).joined(separator: ", "))): name one")
        }
    }

    /// Field 22 (start time) of `/proc/PID/stat`, or nil when there is no such process.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let text = readSmallFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // Fields after the command start at field 3; the start time is field 22.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            data += buffer[0..<count]
            if data.count > 1 << 20 { break }
        }
        return String(decoding: data, as: UTF8.self)
    }
}
