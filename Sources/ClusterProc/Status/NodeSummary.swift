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

    /// Creates a summary.
    public init(host: String, state: State) {
        self.host = host
        self.state = state
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
            let total = info.memTotalKiB
            let used = info.memAvailableKiB.map { total >= $0 ? total - $0 : 0 }
            parts.append("mem " + (used.map(Self.human) ?? "-") + "/" + Self.human(total))
            parts.append("procs \(count)")
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
