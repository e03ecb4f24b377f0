#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `cps` needs to know about a node as a whole to turn process records into columns:
/// its uptime, memory, boot time and load, plus the clock tick rate and page size its
/// /proc figures are counted in.
public struct NodeInfo: Sendable, Equatable {
    /// Load averages and run-queue figures of `/proc/loadavg`.
    public struct LoadAverage: Sendable, Equatable {
        public var one: Double
        public var five: Double
        public var fifteen: Double
        /// Runnable scheduling entities.
        public var running: Int
        /// All scheduling entities (threads) on the node.
        public var total: Int
    }

    /// Seconds since boot (first field of `/proc/uptime`).
    public var uptime: Double
    /// `MemTotal` in KiB.
    public var memTotalKiB: UInt64
    /// `MemAvailable` in KiB, when the kernel reports it.
    public var memAvailableKiB: UInt64?
    /// Boot time in seconds since the epoch (`btime` of `/proc/stat`), if known.
    public var bootTime: Int64?
    /// `/proc/loadavg`, if known.
    public var loadAverage: LoadAverage?
    /// Clock ticks per second (`USER_HZ`); /proc counts CPU and start times in these.
    public var clockTicks: Int
    /// Page size in bytes; /proc/PID/stat counts RSS in pages.
    public var pageSize: Int

    /// The local machine's `sysconf(_SC_CLK_TCK)`; Linux fixes USER_HZ at 100 almost everywhere.
    public static let localClockTicks: Int = {
        let v = sysconf(Int32(_SC_CLK_TCK))
        return v > 0 ? v : 100
    }()

    /// The local machine's page size.
    public static let localPageSize: Int = {
        let v = sysconf(Int32(_SC_PAGESIZE))
        return v > 0 ? v : 4096
    }()

    /// Parses a node's files.
    /// - Parameters:
    ///   - uptime: contents of `/proc/uptime`.
    ///   - meminfo: contents of `/proc/meminfo` (needs `MemTotal`).
    ///   - stat: contents of `/proc/stat`, for `btime`; nil when not read.
    ///   - loadavg: contents of `/proc/loadavg`; nil when not read.
    ///   - clockTicks: the node's USER_HZ; defaults to this machine's.
    ///   - pageSize: the node's page size; defaults to this machine's.
    /// - Throws: `StatusError` with code `.malformedNodeFile`.
    public init(
        uptime: [UInt8], meminfo: [UInt8], stat: [UInt8]?, loadavg: [UInt8]?,
        clockTicks: Int = NodeInfo.localClockTicks, pageSize: Int = NodeInfo.localPageSize
    ) throws {
        // Figures no machine has (an uptime of centuries, a boot time past the year 30000, a
        // load of billions) make the node unreadable rather than a table of nonsense.
        guard let first = ProcBytes.fields(uptime).first, let up = ProcBytes.double(first), up < Self.maxUptime else {
            throw StatusError(.malformedNodeFile, "cannot parse /proc/uptime")
        }
        self.uptime = up
        var total: UInt64?
        var available: UInt64?
        for (key, value) in ProcBytes.keyed(meminfo) where key == "MemTotal" || key == "MemAvailable" {
            guard let number = ProcBytes.fields(value).first.flatMap({ ProcBytes.uint64($0) }) else {
                throw StatusError(.malformedNodeFile, "cannot parse \(key) in /proc/meminfo")
            }
            if key == "MemTotal" { total = number } else { available = number }
        }
        guard let total, total > 0 else {
            throw StatusError(.malformedNodeFile, "no MemTotal in /proc/meminfo")
        }
        self.memTotalKiB = total
        self.memAvailableKiB = available
        self.bootTime = nil
        if let stat {
            for line in stat.split(separator: 0x0A) {
                let f = ProcBytes.fields(line)
                if f.count == 2, f[0].elementsEqual("btime".utf8) {
                    guard let b = ProcBytes.int64(f[1]), (0..<Self.maxBootTime).contains(b) else {
                        throw StatusError(.malformedNodeFile, "cannot parse btime in /proc/stat")
                    }
                    self.bootTime = b
                }
            }
        }
        self.loadAverage = nil
        if let loadavg {
            let f = ProcBytes.fields(loadavg)
            guard f.count >= 4, let a = ProcBytes.double(f[0]), let b = ProcBytes.double(f[1]),
                  let c = ProcBytes.double(f[2]), max(a, b, c) < Self.maxLoad else {
                throw StatusError(.malformedNodeFile, "cannot parse /proc/loadavg")
            }
            let queue = f[3].split(separator: UInt8(ascii: "/"))
            guard queue.count == 2, let r = ProcBytes.int64(queue[0]), let t = ProcBytes.int64(queue[1]) else {
                throw StatusError(.malformedNodeFile, "cannot parse /proc/loadavg")
            }
            self.loadAverage = LoadAverage(one: a, five: b, fifteen: c, running: Int(r), total: Int(t))
        }
        self.clockTicks = clockTicks > 0 ? clockTicks : 100
        self.pageSize = pageSize > 0 ? pageSize : 4096
    }

    /// Uptime in clock ticks, truncated, as procps's `boot_tics`.
    var bootTicks: UInt64 {
        Saturating.uint64(uptime * Double(clockTicks))
    }

    /// Boot time, falling back to `now - uptime` when `/proc/stat` was not read.
    func bootTime(now: Int64) -> Int64 {
        bootTime ?? Saturating.subtract(now, Saturating.int64(uptime))
    }

    /// Bounds of what a node's files may say: about 300 years up, booted before the year
    /// 30000, a load below a billion.
    static let maxUptime = 1e10
    static let maxBootTime: Int64 = 1 << 40
    static let maxLoad = 1e9
}
