/// One process of one node, as read from its /proc files: the raw figures, parsed but not
/// yet formatted. Columns turn a record into text the way procps does.
///
/// Text fields (`comm`, `args`, `wchan`) are stored already made printable as procps shows
/// them: control characters and invalid UTF-8 become `?`.
public struct ProcessRecord: Sendable, Equatable {
    /// The node the process runs on.
    public var host: String
    public var pid: Int32
    /// The thread shown (`cps -L`): the PID itself for a process.
    public var lwp: Int32
    public var ppid: Int32
    public var pgid: Int32
    /// Session ID.
    public var sid: Int32
    /// Foreground process group of the controlling terminal, -1 when none.
    public var tpgid: Int32
    /// `tty_nr` of the controlling terminal (major and minor packed as the kernel does), 0 when none.
    public var ttyNumber: Int32
    /// Real, effective user and group IDs from `status`; nil when `status` was not read.
    public var uid: UInt32?
    public var euid: UInt32?
    public var gid: UInt32?
    public var egid: UInt32?
    /// State letter: R, S, D, Z, T, t, X, I...
    public var state: Character
    /// Kernel `PF_*` flags (field 9).
    public var flags: UInt64
    public var nice: Int64
    /// Kernel priority (field 18).
    public var priority: Int64
    /// Scheduling policy (field 41), 0 when the kernel does not report it.
    public var policy: Int64
    /// Real-time priority (field 40), 0 for the policies that have none.
    public var rtPriority: Int64
    /// Minor and major page faults (fields 10 and 12).
    public var minorFaults: UInt64
    public var majorFaults: UInt64
    /// Number of threads.
    public var nlwp: Int64
    /// CPU last run on (field 39).
    public var processor: Int32
    /// User and system CPU time in clock ticks.
    public var utime: UInt64
    public var stime: UInt64
    /// Start time after boot in clock ticks.
    public var startTicks: UInt64
    /// Virtual size in bytes (field 23).
    public var vsizeBytes: UInt64
    /// Resident set in pages (field 24).
    public var rssPages: Int64
    /// `VmRSS`, `VmSize` and `VmLck` from `status` in KiB, when present (kernel threads have none).
    public var vmRSSKiB: UInt64?
    public var vmSizeKiB: UInt64?
    public var vmLockedKiB: UInt64
    /// Whether `status` was read; without it memory figures come from `stat`.
    public var hasStatus: Bool
    /// The command name (field 2).
    public var comm: String
    /// The command line with NULs as spaces; `[comm]` when empty, as procps shows kernel threads.
    public var args: String
    /// Where the process sleeps in the kernel: `-` when running or unknown to the kernel,
    /// `?` when not read.
    public var wchan: String
    /// The control groups not at their root, as procps shows them (`4:memory:/job`, comma
    /// separated); `-` when every one is at its root or the file was not read.
    public var cgroup: String

    /// Parses a process's /proc files.
    /// - Parameters:
    ///   - host: the node's name.
    ///   - pid: the process ID (the directory name); must agree with `stat`.
    ///   - stat: contents of `/proc/PID/stat`.
    ///   - status: contents of `/proc/PID/status`, or nil.
    ///   - cmdline: contents of `/proc/PID/cmdline` (may be empty).
    ///   - wchan: contents of `/proc/PID/wchan`, or nil.
    ///   - cgroup: contents of `/proc/PID/cgroup`, or nil.
    /// - Throws: `StatusError` with code `.malformedStat` or `.malformedStatus`.
    public init(host: String, pid: Int32, stat: [UInt8], status: [UInt8]?, cmdline: [UInt8], wchan: [UInt8]?, cgroup: [UInt8]? = nil) throws {
        func bad(_ why: String) -> StatusError {
            StatusError(.malformedStat, "malformed /proc/\(pid)/stat: \(why)")
        }
        // comm may hold spaces and ')' itself: it runs from the first '(' to the last ')'.
        guard let open = stat.firstIndex(of: UInt8(ascii: "(")),
              let close = stat.lastIndex(of: UInt8(ascii: ")")), open < close else {
            throw bad("no command name")
        }
        guard let statPid = ProcBytes.int64(stat[..<open].filter { $0 != 0x20 }), statPid == Int64(pid) else {
            throw bad("pid does not match")
        }
        let rest = ProcBytes.fields(stat[(close + 1)...])
        // rest[0] is field 3 (state); field n is rest[n - 3].
        guard rest.count >= 22 else { throw bad("too few fields") }
        func signed(_ n: Int) throws -> Int64 {
            guard n - 3 < rest.count else { return 0 }
            guard let v = ProcBytes.int64(rest[n - 3]) else { throw bad("field \(n) is not a number") }
            return v
        }
        func unsigned(_ n: Int) throws -> UInt64 {
            guard n - 3 < rest.count else { return 0 }
            guard let v = ProcBytes.uint64(rest[n - 3]) else { throw bad("field \(n) is not a number") }
            return v
        }
        func int32(_ n: Int) throws -> Int32 {
            let v = try signed(n)
            guard let r = Int32(exactly: v) else { throw bad("field \(n) out of range") }
            return r
        }
        guard rest[0].count == 1, let letter = rest[0].first,
              letter >= UInt8(ascii: "A"), letter <= UInt8(ascii: "z") else {
            throw bad("bad state")
        }
        self.host = host
        self.pid = pid
        self.lwp = pid
        self.comm = ProcBytes.printable(stat[(open + 1)..<close])
        self.state = Character(Unicode.Scalar(letter))
        self.ppid = try int32(4)
        self.pgid = try int32(5)
        self.sid = try int32(6)
        self.ttyNumber = try int32(7)
        self.tpgid = try int32(8)
        self.flags = try unsigned(9)
        self.minorFaults = try unsigned(10)
        self.majorFaults = try unsigned(12)
        self.utime = try unsigned(14)
        self.stime = try unsigned(15)
        self.priority = try signed(18)
        self.nice = try signed(19)
        self.nlwp = try signed(20)
        self.startTicks = try unsigned(22)
        self.vsizeBytes = try unsigned(23)
        self.rssPages = try signed(24)
        self.processor = try int32(39)
        self.rtPriority = try signed(40)
        self.policy = try signed(41)

        var uid: UInt32?, euid: UInt32?, gid: UInt32?, egid: UInt32?
        var vmRSSKiB: UInt64?, vmSizeKiB: UInt64?, vmLockedKiB: UInt64 = 0
        self.hasStatus = status != nil
        if let status {
            func badStatus(_ key: Substring) -> StatusError {
                StatusError(.malformedStatus, "malformed /proc/\(pid)/status: \(key)")
            }
            let keys: [StaticString] = ["Uid", "Gid", "VmRSS", "VmSize", "VmLck"]
            try ProcBytes.values(of: keys, in: status) { index, value in
                let key = Substring("\(keys[index])")
                switch index {
                case 0, 1:
                    let ids = ProcBytes.fields(value).prefix(2).map { ProcBytes.uint64($0).flatMap { UInt32(exactly: $0) } }
                    guard ids.count >= 2, let real = ids[0], let effective = ids[1] else { throw badStatus(key) }
                    if index == 0 { uid = real; euid = effective } else { gid = real; egid = effective }
                default:
                    guard let kib = ProcBytes.fields(value).first.flatMap({ ProcBytes.uint64($0) }) else {
                        throw badStatus(key)
                    }
                    if index == 2 { vmRSSKiB = kib } else if index == 3 { vmSizeKiB = kib } else { vmLockedKiB = kib }
                }
            }
        }
        self.uid = uid
        self.euid = euid
        self.gid = gid
        self.egid = egid
        self.vmRSSKiB = vmRSSKiB
        self.vmSizeKiB = vmSizeKiB
        self.vmLockedKiB = vmLockedKiB

        // procps turns NULs and newlines into spaces after dropping trailing NULs.
        var line = cmdline[...]
        while let last = line.last, last == 0 { line = line.dropLast() }
        if line.isEmpty {
            self.args = "[\(comm)]"
        } else {
            self.args = ProcBytes.printable(line.map { $0 == 0 || $0 == 0x0A ? 0x20 : $0 })
        }

        self.wchan = Self.wchanName(wchan)
        self.cgroup = Self.cgroupText(cgroup)
    }

    /// procps's `fill_cgroup_cvt`: the file's lines, less those whose path is a root (ends in
    /// `/`), made printable and joined by commas; `-` when none is left.
    static func cgroupText(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "-" }
        let groups = bytes.split(whereSeparator: { $0 == 0x0A || $0 == 0 })
            .filter { $0.last != UInt8(ascii: "/") }
            .map { ProcBytes.printable($0) }
        return groups.isEmpty ? "-" : groups.joined(separator: ",")
    }

    /// procps's `lookup_wchan`: "0" means running, and `sys_`/`do_`/leading `_` are dropped.
    static func wchanName(_ bytes: [UInt8]?) -> String {
        guard let bytes, !bytes.isEmpty else { return "?" }
        var text = ProcBytes.printable(bytes.prefix(63))
        if text == "0" { return "-" }
        if text.hasPrefix("sys_") {
            text.removeFirst(4)
        } else if text.hasPrefix("do_") {
            text.removeFirst(3)
        } else {
            while text.first == "_" { text.removeFirst() }
        }
        return text
    }

    /// Resident set in KiB: `VmRSS` when known, else pages of `stat` times the page size.
    func rssKiB(pageSize: Int) -> UInt64 {
        if let vmRSSKiB { return vmRSSKiB }
        if !hasStatus { return Saturating.multiply(UInt64(max(0, rssPages)), UInt64(max(0, pageSize / 1024))) }
        return 0
    }

    /// Virtual size in KiB: `VmSize` when known, else field 23.
    var vszKiB: UInt64 {
        if let vmSizeKiB { return vmSizeKiB }
        if !hasStatus { return vsizeBytes / 1024 }
        return 0
    }

}
