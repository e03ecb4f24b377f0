#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line per node for a `top`-like watch mode: load, memory and process count of a node
/// that answers, or a `DOWN` row for one that does not.
public struct NodeSummary: Sendable {
    /// The node's state.
    public enum State: Sendable {
        /// The node answered.
        case up(NodeInfo, processCount: Int)
        /// The node did not answer: why, and since when (seconds since the epoch).
        case down(reason: String, since: Int64)
    }

    public var host: String
    public var state: State
    /// CPU over the last refresh interval, once there was one.
    public var cpu: CPUSplit?
    /// Processes shown that are running (`R`), for the watch.
    public var running: Int?

    /// Creates a summary.
    public init(host: String, state: State, cpu: CPUSplit? = nil, running: Int? = nil) {
        self.host = host
        self.state = state
        self.cpu = cpu
        self.running = running
    }

    /// A DOWN node as one JSON object: `{"host":"node05","down":true,"reason":"…","since":…}`,
    /// after `"time":T` when given; nil for a node that is up.
    public func jsonObject(time: Int64? = nil) -> String? {
        guard case .down(let reason, let since) = state else { return nil }
        let stamp = time.map { "\"time\":\($0)," } ?? ""
        return "{\(stamp)\"host\":\(JSON.quote(host)),\"down\":true,\"reason\":\(JSON.quote(reason)),\"since\":\(since)}"
    }

    /// The line, host padded to `hostWidth`:
    /// `node01  load 0.52 0.48 0.40  mem 1.2G/3.8G  procs 123` or
    /// `node05  DOWN  (connection reset) since 14:02:11` (local time).
    public func line(hostWidth: Int = 0) -> String {
        let name = host + String(repeating: " ", count: max(0, hostWidth - host.count))
        switch state {
        case let .up(info, count):
            var parts = [name]
            if let l = info.loadAverage {
                parts.append("load " + [l.one, l.five, l.fifteen].map { Self.twoDecimals($0) }.joined(separator: " "))
            } else {
                parts.append("load -")
            }
            if let cpu {
                parts.append("cpu " + [(cpu.user, "us"), (cpu.system, "sy"), (cpu.idle, "id")]
                    .map { Self.oneDecimal($0) + $1 }.joined(separator: " "))
            }
            let total = info.memTotalKiB
            let used = info.memAvailableKiB.map { total >= $0 ? total - $0 : 0 }
            parts.append("mem " + (used.map(Self.human) ?? "-") + "/" + Self.human(total))
            parts.append("procs \(count)")
            if let running { parts.append("running \(running)") }
            return parts.joined(separator: "  ")
        case let .down(reason, since):
            // The reason may come from the node: one printable line, of bounded length.
            let oneLine = ProcBytes.printable(reason.utf8.prefix(Self.maxReason).map { $0 == 0x0A ? 0x20 : $0 })
            return "\(name)  DOWN  (\(oneLine)) since \(Column.strftime("%H:%M:%S", since))"
        }
    }

    /// `v` with two decimals (`0.52`); any Double, `?` for one that is not a number.
    /// Bytes of a DOWN row's reason shown.
    static let maxReason = 200

    /// `v` with one decimal (`12.5`), `?` for one that is not a number.
    static func oneDecimal(_ v: Double) -> String {
        guard v.isFinite else { return "?" }
        let tenths = Saturating.int64((v * 10).rounded())
        return (tenths < 0 ? "-" : "") + "\(tenths.magnitude / 10).\(tenths.magnitude % 10)"
    }

    static func twoDecimals(_ v: Double) -> String {
        guard v.isFinite else { return "?" }
        let hundredths = Saturating.int64((v * 100).rounded())
        let magnitude = hundredths.magnitude
        let frac = magnitude % 100
        return (hundredths < 0 ? "-" : "") + "\(magnitude / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    }

    /// KiB as a short human size: `512K`, `1.2M`, `3.8G`, `1.0T`.
    public static func human(_ kib: UInt64) -> String {
        if kib < 1024 { return "\(kib)K" }
        var value = Double(kib) / 1024
        for unit in ["M", "G", "T", "P"] {
            if value < 1024 || unit == "P" {
                let tenths = Int((value * 10).rounded())
                return tenths >= 100 ? "\(Int(value.rounded()))\(unit)" : "\(tenths / 10).\(tenths % 10)\(unit)"
            }
            value /= 1024
        }
        return "\(kib)K"
    }
}
