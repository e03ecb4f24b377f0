/// A process (or, with `-L`, a thread) as a watch tells it apart from one refresh to the
/// next: a PID that the kernel gave again to a new process starts afresh.
public struct ProcessKey: Hashable, Sendable {
    public var host: String
    /// The thread (the PID for a process).
    public var id: Int32
    /// Start time after boot, in clock ticks.
    public var start: UInt64
}

extension ProcessRecord {
    /// What tells this process apart across refreshes.
    public var key: ProcessKey { ProcessKey(host: host, id: lwp, start: startTicks) }
}

/// A node's CPU time over an interval, in percent of all its CPUs' time: user (with nice),
/// system (with interrupts) and idle (with I/O wait). Steal and the rest make up what is left.
public struct CPUSplit: Sendable, Equatable {
    public var user: Double
    public var system: Double
    public var idle: Double
}

/// The figures of the refresh interval, as top computes them: a process's %CPU is the CPU
/// ticks it used since the previous refresh over the ticks that passed (top's
/// `tics_diff * 100 / (Hertz * elapsed)`), so one busy core shows 100 and ten seconds of
/// sleep after an hour of work shows 0, where ps's lifetime average would still show much.
/// The time that passed is each node's own (its `/proc/uptime`), so clocks need not agree.
public struct IntervalCPU: Sendable {
    private var ticks: [ProcessKey: UInt64] = [:]
    private var uptimes: [String: Double] = [:]
    private var nodeTicks: [String: NodeTicks] = [:]
    /// %CPU over the last interval of each process seen in both samples (or started between
    /// them); a process missing here has no interval yet and shows its lifetime average.
    public private(set) var percent: [ProcessKey: Double] = [:]
    /// Each node's CPU over the last interval.
    public private(set) var nodes: [String: CPUSplit] = [:]

    public init() {}

    /// Takes the next sample: the rows read, each node's figures and `/proc/stat`.
    public mutating func update(records: [ProcessRecord], nodes infos: [String: NodeInfo], stats: [String: [UInt8]]) {
        var nextTicks: [ProcessKey: UInt64] = [:]
        var nextPercent: [ProcessKey: Double] = [:]
        for record in records {
            let key = record.key
            let used = Saturating.add(record.utime, record.stime)
            nextTicks[key] = used
            guard let info = infos[record.host], let before = uptimes[record.host], info.uptime > before else { continue }
            let hz = Double(info.clockTicks)
            let elapsedTicks = (info.uptime - before) * hz
            let previous: UInt64
            if let seen = ticks[key] {
                previous = seen
            } else if Double(record.startTicks) >= before * hz {
                previous = 0  // started within the interval: all its time is the interval's
            } else {
                continue  // not read last time (newly selected): no interval of its own yet
            }
            let delta = used >= previous ? used - previous : 0
            nextPercent[key] = Double(delta) * 100 / elapsedTicks
        }
        var nextNodeTicks: [String: NodeTicks] = [:]
        var nextNodes: [String: CPUSplit] = [:]
        for (host, stat) in stats {
            guard let now = NodeTicks(stat: stat) else { continue }
            nextNodeTicks[host] = now
            if let before = nodeTicks[host], let split = now.split(since: before) { nextNodes[host] = split }
        }
        ticks = nextTicks
        percent = nextPercent
        nodeTicks = nextNodeTicks
        nodes = nextNodes
        uptimes = infos.mapValues(\.uptime)
    }
}

/// The `cpu` line of `/proc/stat`, in clock ticks.
struct NodeTicks: Sendable, Equatable {
    var user: UInt64
    var system: UInt64
    var idle: UInt64
    var total: UInt64

    /// Parses the first `cpu ` line: user nice system idle iowait irq softirq steal …
    /// (guest time is counted in user already, so it is left out of the total).
    init?(stat: [UInt8]) {
        guard let line = stat.split(separator: 0x0A).first(where: { $0.starts(with: "cpu ".utf8) }) else { return nil }
        let values = ProcBytes.fields(line).dropFirst().prefix(8).map { ProcBytes.uint64($0) }
        guard values.count >= 4, values.allSatisfy({ $0 != nil }) else { return nil }
        let v = values.map { $0 ?? 0 } + Array(repeating: 0, count: 8 - values.count)
        user = Saturating.add(v[0], v[1])
        system = Saturating.add(v[2], Saturating.add(v[5], v[6]))
        idle = Saturating.add(v[3], v[4])
        total = v.reduce(UInt64(0)) { Saturating.add($0, $1) }
    }

    /// The interval since `before`; nil when no time passed or the counters went back.
    func split(since before: NodeTicks) -> CPUSplit? {
        guard total > before.total, user >= before.user, system >= before.system, idle >= before.idle else { return nil }
        let span = Double(total - before.total)
        return CPUSplit(user: Double(user - before.user) * 100 / span,
                        system: Double(system - before.system) * 100 / span,
                        idle: Double(idle - before.idle) * 100 / span)
    }
}
