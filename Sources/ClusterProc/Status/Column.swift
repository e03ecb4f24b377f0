#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything beyond the records themselves that formatting needs: each node's figures,
/// the time "now" for start-time columns, and where user names come from.
public struct StatusContext: Sendable {
    /// Node figures by host name; a host without an entry shows zero elapsed time and CPU.
    public var nodes: [String: NodeInfo]
    /// Seconds since the epoch, for `start`, `stime`.
    public var now: Int64
    /// User and group name lookups.
    public var users: UserNames
    /// %CPU over a watch's refresh interval, which `pcpu` shows instead of the lifetime
    /// average for the processes it has.
    public var intervalCPU: [ProcessKey: Double]

    /// Creates a context.
    public init(nodes: [String: NodeInfo], now: Int64 = Int64(time(nil)), users: UserNames = .shared,
                intervalCPU: [ProcessKey: Double] = [:]) {
        self.nodes = nodes
        self.now = now
        self.users = users
        self.intervalCPU = intervalCPU
    }
}

/// How a column's text is placed in its width, after procps's `CF_*` justification flags.
public enum ColumnJustification: Sendable {
    /// Numbers: padded on the left.
    case right
    /// Short text: padded on the right.
    case left
    /// User and group names: left, cut to the width with a trailing `+` when too long.
    case user
    /// wchan: left, cut to the width.
    case wchan
    /// Commands: left, may run past the width (and are never cut as the last column).
    case unlimited
}

/// A value of one column for one process: its number or text, for sorting and JSON.
public enum CellValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)

    /// Orders numbers numerically and text by bytes; numbers sort before text.
    static func compare(_ a: CellValue, _ b: CellValue) -> Int {
        switch (a, b) {
        case let (.integer(x), .integer(y)): return x < y ? -1 : (x > y ? 1 : 0)
        case let (.real(x), .real(y)): return x < y ? -1 : (x > y ? 1 : 0)
        case let (.integer(x), .real(y)): return Double(x) < y ? -1 : (Double(x) > y ? 1 : 0)
        case let (.real(x), .integer(y)): return x < Double(y) ? -1 : (x > Double(y) ? 1 : 0)
        case let (.text(x), .text(y)):
            return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : (x == y ? 0 : 1)
        case (.text, _): return 1
        case (_, .text): return -1
        }
    }
}

/// What a column shows; several procps names (aliases) share one field.
enum ColumnField: Sendable, Hashable {
    case host, pid, ppid, pgid, sid, tpgid
    case euser, ruser, euid, ruid, egroup, rgroup, egid, rgid
    case stat, state, flags
    case pcpu, c, pmem, rss, vsz, sz
    case etime, etimes, time, times, bsdtime
    case nlwp, psr, wchan, comm, args, tty
    case lwp, minflt, majflt, rtprio, policy, sched, cgroup
    case nice, pri, opri, priority
    case start, stime, lstart
    case nop
}

/// One column of `cps` output: a procps format specifier with its header and width.
public struct Column: Sendable, Equatable {
    /// The name it was asked for by (`pcpu`, `%cpu`, `host`...).
    public var key: String
    /// The header printed above it (may be empty).
    public var header: String
    /// Its width before growing to fit.
    public var width: Int
    /// How text is placed.
    public var justification: ColumnJustification
    let field: ColumnField

    /// Looks up a procps column name (case-sensitive, as ps) or `host`.
    /// - Returns: nil for an unknown name.
    public init?(named key: String) {
        guard let d = Column.table[key] else { return nil }
        self.key = key
        self.header = d.header
        self.width = d.width
        self.justification = d.justification
        self.field = d.field
    }

    /// Whether the value is a number (JSON number, right-aligned).
    var isNumeric: Bool {
        switch field {
        case .host, .euser, .ruser, .egroup, .rgroup, .stat, .state, .etime, .time, .bsdtime,
             .wchan, .comm, .args, .tty, .start, .stime, .lstart, .nop, .flags, .policy, .cgroup:
            return false
        default:
            return true
        }
    }

    // MARK: - The table

    private struct Definition {
        var header: String
        var width: Int
        var justification: ColumnJustification
        var field: ColumnField
    }

    /// Names, headers and widths as procps-ng 4.0.2's `format_array` (Debian 12; checked
    /// against its `ps`: e.g. `vsz` is 6 wide there). PID-like widths are 5,
    /// procps's width for `pid_max` 32768; they grow to fit larger PIDs.
    private static let table: [String: Definition] = {
        var t: [String: Definition] = [:]
        func add(_ names: [String], _ header: String, _ width: Int, _ j: ColumnJustification, _ f: ColumnField) {
            for n in names { t[n] = Definition(header: header, width: width, justification: j, field: f) }
        }
        add(["host"], "HOST", 4, .left, .host)
        add(["%cpu", "pcpu"], "%CPU", 4, .right, .pcpu)
        add(["%mem", "pmem"], "%MEM", 4, .right, .pmem)
        add(["args", "command"], "COMMAND", 27, .unlimited, .args)
        add(["cmd"], "CMD", 27, .unlimited, .args)
        add(["comm", "ucomm"], "COMMAND", 15, .unlimited, .comm)
        add(["ucmd"], "CMD", 15, .unlimited, .comm)
        add(["c"], "C", 2, .right, .c)
        add(["time", "cputime"], "TIME", 8, .right, .time)
        add(["times", "cputimes"], "TIME", 8, .right, .times)
        add(["bsdtime"], "TIME", 6, .right, .bsdtime)
        add(["etime"], "ELAPSED", 11, .right, .etime)
        add(["etimes"], "ELAPSED", 7, .right, .etimes)
        add(["egid"], "EGID", 5, .right, .egid)
        add(["gid"], "GID", 5, .right, .egid)
        add(["rgid"], "RGID", 5, .right, .rgid)
        add(["egroup"], "EGROUP", 8, .user, .egroup)
        add(["group"], "GROUP", 8, .user, .egroup)
        add(["rgroup"], "RGROUP", 8, .user, .rgroup)
        add(["euid"], "EUID", 5, .right, .euid)
        add(["uid"], "UID", 5, .right, .euid)
        add(["ruid"], "RUID", 5, .right, .ruid)
        add(["euser"], "EUSER", 8, .user, .euser)
        add(["user", "uname"], "USER", 8, .user, .euser)
        add(["uid_hack"], "UID", 8, .user, .euser)
        add(["ruser"], "RUSER", 8, .user, .ruser)
        add(["f", "flag", "flags"], "F", 1, .right, .flags)
        add(["ni", "nice"], "NI", 3, .right, .nice)
        add(["nlwp"], "NLWP", 4, .right, .nlwp)
        add(["thcount"], "THCNT", 5, .right, .nlwp)
        add(["pgid"], "PGID", 5, .right, .pgid)
        add(["pgrp"], "PGRP", 5, .right, .pgid)
        add(["pid"], "PID", 5, .right, .pid)
        add(["tgid"], "TGID", 5, .right, .pid)
        add(["ppid"], "PPID", 5, .right, .ppid)
        add(["tpgid"], "TPGID", 5, .right, .tpgid)
        add(["sess", "session"], "SESS", 5, .right, .sid)
        add(["sid"], "SID", 5, .right, .sid)
        add(["pri"], "PRI", 3, .right, .pri)
        add(["opri", "intpri"], "PRI", 3, .right, .opri)
        add(["priority"], "PRI", 3, .right, .priority)
        add(["psr"], "PSR", 3, .right, .psr)
        add(["cpu"], "CPU", 3, .right, .psr)
        add(["rss", "rssize"], "RSS", 5, .right, .rss)
        add(["rsz"], "RSZ", 5, .right, .rss)
        add(["vsz", "vsize"], "VSZ", 6, .right, .vsz)
        add(["sz"], "SZ", 5, .right, .sz)
        add(["s", "state"], "S", 1, .left, .state)
        add(["stat"], "STAT", 4, .left, .stat)
        add(["start"], "STARTED", 8, .right, .start)
        add(["start_time"], "START", 5, .right, .stime)
        add(["stime"], "STIME", 5, .right, .stime)
        add(["lstart"], "STARTED", 24, .right, .lstart)
        add(["tname", "tty8"], "TTY", 8, .left, .tty)
        add(["tt", "tty"], "TT", 8, .left, .tty)
        add(["wchan"], "WCHAN", 6, .wchan, .wchan)
        // A process is shown as its main thread (its LWP is its PID), or with -L each thread.
        add(["lwp"], "LWP", 5, .right, .lwp)
        add(["tid"], "TID", 5, .right, .lwp)
        add(["spid"], "SPID", 5, .right, .lwp)
        add(["min_flt"], "MINFL", 6, .right, .minflt)
        add(["minflt"], "MINFLT", 6, .right, .minflt)
        add(["maj_flt"], "MAJFL", 6, .right, .majflt)
        add(["majflt"], "MAJFLT", 6, .right, .majflt)
        add(["rtprio"], "RTPRIO", 6, .right, .rtprio)
        add(["policy"], "POL", 3, .left, .policy)
        add(["class"], "CLS", 3, .left, .policy)
        add(["cls"], "CLS", 3, .right, .policy)
        add(["sched"], "SCH", 3, .right, .sched)
        add(["cgroup"], "CGROUP", 27, .unlimited, .cgroup)
        add(["addr"], "ADDR", 4, .right, .nop)
        add(["addr_1"], "ADDR", 1, .left, .nop)
        return t
    }()

    /// Every column name this build knows, sorted.
    public static var knownNames: [String] { table.keys.sorted() }

    // MARK: - Values

    /// The text of this column for `record`, before justification, and the value it sorts by.
    func cell(_ r: ProcessRecord, _ context: StatusContext) -> (text: String, value: CellValue) {
        let node = context.nodes[r.host]
        let hz = UInt64(max(1, node?.clockTicks ?? NodeInfo.localClockTicks))
        let pageSize = node?.pageSize ?? NodeInfo.localPageSize
        // procps: elapsed ticks are uptime ticks (truncated) minus start ticks, when positive.
        let elapsedTicks: Double = {
            guard let node else { return 0 }
            let t = Double(node.bootTicks) - Double(r.startTicks)
            return t > 0 ? t : 0
        }()
        let cpuTicks = Saturating.add(r.utime, r.stime)
        // procps computes `(utime + stime) * 100.0f / t`: a float product, then a double quotient.
        let lifetime: Double = elapsedTicks > 0 ? Double(Float(cpuTicks) * Float(100)) / elapsedTicks : 0
        let utilization = context.intervalCPU.isEmpty ? lifetime : context.intervalCPU[r.key] ?? lifetime
        func int(_ v: some BinaryInteger) -> (String, CellValue) {
            (String(v), .integer(Int64(clamping: v)))
        }
        func text(_ s: String) -> (String, CellValue) { (s, .text(s)) }
        func startSeconds() -> Int64 {
            Saturating.add(node?.bootTime(now: context.now) ?? context.now, Int64(clamping: r.startTicks / hz))
        }
        switch field {
        case .host: return text(r.host)
        case .pid: return int(r.pid)
        case .ppid: return int(r.ppid)
        case .pgid: return int(r.pgid)
        case .sid: return int(r.sid)
        case .tpgid: return int(r.tpgid)
        case .euid: return r.euid.map { int($0) } ?? text("?")
        case .ruid: return r.uid.map { int($0) } ?? text("?")
        case .egid: return r.egid.map { int($0) } ?? text("?")
        case .rgid: return r.gid.map { int($0) } ?? text("?")
        case .euser: return text(r.euid.map { context.users.user($0) } ?? "?")
        case .ruser: return text(r.uid.map { context.users.user($0) } ?? "?")
        case .egroup: return text(r.egid.map { context.users.group($0) } ?? "?")
        case .rgroup: return text(r.gid.map { context.users.group($0) } ?? "?")
        case .state: return text(String(r.state))
        case .stat: return text(Column.statLetters(r))
        case .flags:
            let v = (r.flags >> 6) & 7
            return (String(v, radix: 8), .integer(Int64(clamping: r.flags)))
        case .pcpu:
            let permille = min(Saturating.uint64(utilization * 10), 4_000_000_000)
            let s = permille > 999 ? String(permille / 10) : "\(permille / 10).\(permille % 10)"
            return (s, .real(Double(permille) / 10))
        case .c:
            let v = min(Saturating.uint64(utilization), 99)
            return int(v)
        case .pmem:
            let total = node?.memTotalKiB ?? 0
            let rss = r.rssKiB(pageSize: pageSize)
            let permille = total > 0 ? min(Saturating.multiply(rss, 1000) / total, 999) : 0
            let s = (permille / 10 < 10 ? " " : "") + "\(permille / 10).\(permille % 10)"
            return (s, .real(Double(permille) / 10))
        case .rss: return int(r.rssKiB(pageSize: pageSize))
        case .vsz: return int(r.vszKiB)
        case .sz: return int(r.vszKiB / UInt64(max(1, pageSize / 1024)))
        case .etime:
            let seconds = Saturating.uint64(elapsedTicks / Double(hz))
            return (Column.formatElapsed(seconds), .integer(Int64(clamping: seconds)))
        case .etimes: return int(Saturating.uint64(elapsedTicks / Double(hz)))
        case .time:
            let seconds = Saturating.uint64(Double(cpuTicks) / Double(hz))
            return (Column.formatCPUTime(seconds), .integer(Int64(clamping: seconds)))
        case .times: return int(Saturating.uint64(Double(cpuTicks) / Double(hz)))
        case .bsdtime:
            let u = cpuTicks / hz
            let s = Column.pad(String(u / 60), 3) + ":" + (u % 60 < 10 ? "0" : "") + String(u % 60)
            return (s, .integer(Int64(clamping: cpuTicks)))
        case .nlwp: return int(r.nlwp)
        case .psr: return int(r.processor)
        case .wchan: return text(r.wchan)
        case .comm: return text(r.state == "Z" ? r.comm + " <defunct>" : r.comm)
        case .args:
            // procps marks a zombie's bracketed name as defunct.
            if r.state == "Z" && r.args == "[\(r.comm)]" { return text(r.args + " <defunct>") }
            return text(r.args)
        case .tty: return text(Column.ttyName(r.ttyNumber))
        case .nice:
            // Only SCHED_OTHER and SCHED_BATCH have a nice value.
            if r.policy != 0 && r.policy != 3 { return ("-", .integer(r.nice)) }
            return int(r.nice)
        case .pri: return int(Saturating.subtract(39, r.priority))
        case .opri: return int(Saturating.add(60, r.priority))
        case .priority: return int(r.priority)
        case .start:
            let t = startSeconds()
            let f = Saturating.add(t, 86_400) > context.now ? "%H:%M:%S" : "  %b %d"
            return (Column.strftime(f, t), .integer(Int64(clamping: r.startTicks)))
        case .stime:
            return (Column.stime(startSeconds(), now: context.now), .integer(Int64(clamping: r.startTicks)))
        case .lstart:
            return (Column.strftime("%a %b %e %H:%M:%S %Y", startSeconds()), .integer(Int64(clamping: r.startTicks)))
        case .lwp: return int(r.lwp)
        case .minflt: return int(r.minorFaults)
        case .majflt: return int(r.majorFaults)
        case .rtprio:
            // procps: SCHED_OTHER has no real-time priority.
            return r.policy == 0 ? ("-", .integer(0)) : int(r.rtPriority)
        case .policy: return (Column.policyName(r.policy), .integer(r.policy))
        case .sched: return int(r.policy)
        case .cgroup: return text(r.cgroup)
        case .nop: return ("-", .text("-"))
        }
    }

    // MARK: - Formatting rules

    /// procps's `stat`: the state letter and its modifiers `<`, `N`, `L`, `s`, `l`, `+`.
    static func statLetters(_ r: ProcessRecord) -> String {
        var s = String(r.state)
        if r.nice < 0 { s += "<" }
        if r.nice > 0 { s += "N" }
        if r.vmLockedKiB != 0 { s += "L" }
        if r.sid == r.pid { s += "s" }
        if r.nlwp > 1 { s += "l" }
        if r.pgid == r.tpgid { s += "+" }
        return s
    }

    /// procps's `pr_class`: the scheduling policy's short name.
    static func policyName(_ policy: Int64) -> String {
        switch policy {
        case 0: return "TS"
        case 1: return "FF"
        case 2: return "RR"
        case 3: return "B"
        case 4: return "ISO"
        case 5: return "IDL"
        case 6: return "DLN"
        case 7...9: return "#\(policy)"
        default: return "?"
        }
    }

    /// Elapsed time as `[[dd-]hh:]mm:ss` (procps `etime`).
    public static func formatElapsed(_ seconds: UInt64) -> String {
        let ss = seconds % 60, mm = (seconds / 60) % 60, hh = (seconds / 3600) % 24, dd = seconds / 86_400
        var s = ""
        if dd > 0 { s += "\(dd)-" }
        if dd > 0 || hh > 0 { s += two(hh) + ":" }
        return s + two(mm) + ":" + two(ss)
    }

    /// CPU time as `[dd-]hh:mm:ss` (procps `time`).
    public static func formatCPUTime(_ seconds: UInt64) -> String {
        let ss = seconds % 60, mm = (seconds / 60) % 60, hh = (seconds / 3600) % 24, dd = seconds / 86_400
        return (dd > 0 ? "\(dd)-" : "") + two(hh) + ":" + two(mm) + ":" + two(ss)
    }

    /// procps's `dev_to_tty` for the devices whose names follow from their numbers; `?` otherwise.
    static func ttyName(_ nr: Int32) -> String {
        if nr == 0 { return "?" }
        let dev = UInt32(bitPattern: nr)
        let major = (dev >> 8) & 0xFFF
        let minor = (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
        switch major {
        case 136...143: return "pts/\((major - 136) * 256 + minor)"
        case 4: return minor < 64 ? "tty\(minor)" : "ttyS\(minor - 64)"
        case 5 where minor == 1: return "console"
        default: return "?"
        }
    }

    static func stime(_ t: Int64, now: Int64) -> String {
        var nowTm = tm(), procTm = tm()
        var n = time_t(now), p = time_t(t)
        guard localtime_r(&n, &nowTm) != nil, localtime_r(&p, &procTm) != nil else { return "" }
        var f = "%H:%M"
        if nowTm.tm_yday != procTm.tm_yday { f = "%b%d" }
        if nowTm.tm_year != procTm.tm_year { f = "%Y" }
        return strftime(f, t)
    }

    static func strftime(_ format: String, _ t: Int64) -> String {
        var value = time_t(t)
        var broken = tm()
        guard localtime_r(&value, &broken) != nil else { return "" }
        var buffer = [CChar](repeating: 0, count: 128)
        let n = Glibc.strftime(&buffer, buffer.count, format, &broken)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func two(_ v: UInt64) -> String { v < 10 ? "0\(v)" : String(v) }

    static func pad(_ s: String, _ width: Int) -> String {
        let count = StatusTable.width(s)
        return count >= width ? s : StatusTable.spaces(width - count) + s
    }
}
