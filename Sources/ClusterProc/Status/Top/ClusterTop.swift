#if canImport(Glibc)
import Glibc
#endif

/// `cps --watch`: the family as top shows a machine. It keeps what one refresh needs of the
/// last (CPU ticks, when each node went down) and lays out a frame of lines; drawing them
/// on a terminal, or printing them, is the caller's.
public struct ClusterTop: Sendable {
    /// One line of a frame and how it is drawn.
    public struct Line: Sendable, Equatable {
        public enum Style: Sendable, Equatable {
            case plain
            /// The column headers.
            case columns
            /// A node that does not answer (red on a terminal).
            case down
        }

        public var text: String
        public var style: Style
    }

    /// The options as given (columns, filter, hosts).
    public var request: StatusRequest
    /// What the keys changed.
    public var state: TopState
    /// The family's id, for the header.
    public var family: String
    private var cpu = IntervalCPU()
    private var downSince: [String: Int64] = [:]
    private var last: StatusRequest.Collected?
    private var taken: Int64 = 0

    public init(request: StatusRequest, family: String, delay: Double) {
        self.request = request
        self.family = family
        self.state = TopState(columns: request.columns, sort: request.sort?.keys.first?.column,
                              everything: request.selection.isAll, delay: delay)
    }

    /// What to read of the nodes now.
    public var selection: FamilySnapshot.Selection {
        state.everything ? .all : request.selection.narrowed
    }

    /// Takes a new snapshot.
    public mutating func take(_ snapshot: FamilySnapshot, now: Int64, users: UserNames = .shared) {
        var collected = request.collect(snapshot, now: now, users: users, sort: .some(nil))
        cpu.update(records: collected.records, nodes: collected.nodes, stats: collected.nodeStats)
        // A node keeps the time it was first seen down for as long as it stays down.
        var since: [String: Int64] = [:]
        for (index, down) in collected.down.enumerated() {
            guard case .down(let reason, let reported) = down.state else { continue }
            let first = min(downSince[down.host] ?? reported, reported)
            since[down.host] = first
            collected.down[index].state = .down(reason: reason, since: first)
        }
        downSince = since
        last = collected
        taken = now
    }

    /// The exit status of the last snapshot, as a single `cps` would give it.
    public var status: Int32 { last.map(request.exitStatus) ?? 0 }

    /// The last snapshot as lines: header, node summaries, totals and spread, the table.
    /// - Parameters:
    ///   - width: characters a line may take (nil: lines are not cut).
    ///   - height: lines the frame may take (nil: every row).
    public func frame(width: Int? = nil, height: Int? = nil, users: UserNames = .shared) -> [Line] {
        guard let last else { return [] }
        let context = StatusContext(nodes: last.nodes, now: taken, users: users, intervalCPU: cpu.percent)
        let records = state.sort.sorted(last.records, context: context)
        let perNode = Self.perNode(records, context: context, cpu: cpu.percent)
        let slowest = Self.slowest(perNode, up: last.up.map(\.host))
        var head: [Line] = [Line(text: header(last), style: .plain)]
        if let prompt = state.prompt ?? state.message { head.append(Line(text: prompt, style: .plain)) }
        var ups: [Line] = [], downs: [Line] = []
        if state.summaries {
            let hostWidth = last.hosts.map(\.count).max() ?? 0
            for var summary in last.up {
                summary.cpu = cpu.nodes[summary.host]
                summary.running = records.filter { $0.host == summary.host && $0.state == "R" }.count
                let mark = summary.host == slowest ? "  <- slowest" : ""
                ups.append(Line(text: summary.line(hostWidth: hostWidth) + mark, style: .plain))
            }
            downs = last.down.map { Line(text: $0.line(hostWidth: hostWidth), style: .down) }
        } else if !last.down.isEmpty {
            downs = [Line(text: "DOWN " + HostList(last.down.map(\.host)).folded(), style: .down)]
        }
        let tail = [Line(text: Self.totals(perNode, hosts: last.up.map(\.host), slowest: slowest), style: .plain),
                    Line(text: "", style: .plain)]
        var table: [Line] = []
        for (index, text) in StatusTable(columns: request.columns, headers: true, forest: request.table.forest).lines(records, context: context).enumerated() {
            table.append(Line(text: text, style: index == 0 && request.columns.hasHeader ? .columns : .plain))
        }
        // Too short a terminal gives up node lines (up ones first) before the column header
        // and the first rows: the header stays visible.
        if let height {
            let room = height - head.count - tail.count - min(table.count, Self.rowsKept + 1)
            let nodes = ups.count + downs.count
            if nodes > max(0, room) {
                let keep = max(0, room - 1)
                let keptDowns = min(downs.count, keep)
                ups = Array(ups.prefix(keep - keptDowns))
                downs = Array(downs.prefix(keptDowns))
                ups.append(Line(text: "\(nodes - keep) more node lines (1 hides them)", style: .plain))
            }
        }
        var lines = head + ups + downs + tail + table
        if let height, lines.count > height { lines.removeLast(lines.count - max(0, height)) }
        if let width { lines = lines.map { Line(text: Self.cut($0.text, to: width), style: $0.style) } }
        return lines
    }

    /// The last snapshot as JSON lines, each with the time it was taken.
    public func jsonLines(users: UserNames = .shared) -> String {
        guard let last else { return "" }
        let context = StatusContext(nodes: last.nodes, now: taken, users: users, intervalCPU: cpu.percent)
        let stamp = "{\"time\":\(taken),"
        let rows = request.table.jsonObjects(state.sort.sorted(last.records, context: context), context: context)
        return rows.map { stamp + $0.dropFirst() + "\n" }.joined()
            + last.down.compactMap { $0.jsonObject(time: taken).map { $0 + "\n" } }.joined()
    }

    // MARK: - Parts of a frame

    private func header(_ last: StatusRequest.Collected) -> String {
        let shown = state.everything ? "every process" : "the family's processes"
        return "cps \(Column.strftime("%H:%M:%S", taken))  family \(family)  nodes \(last.up.count) up, \(last.down.count) down"
            + "  every \(NodeSummary.oneDecimal(state.delay))s  sort \(state.sortColumn.header)  \(shown)"
    }

    /// Table rows below the column header that a short terminal keeps in place of node lines.
    static let rowsKept = 3

    /// Each node's shown processes together: %CPU and RSS in KiB.
    struct NodeLoad: Sendable, Equatable {
        var cpu: Double = 0
        var rssKiB: UInt64 = 0
    }

    static func perNode(_ records: [ProcessRecord], context: StatusContext, cpu: [ProcessKey: Double]) -> [String: NodeLoad] {
        var loads: [String: NodeLoad] = [:]
        let pcpu = Column(named: "pcpu")
        for record in records {
            var load = loads[record.host] ?? NodeLoad()
            if let pcpu, case .real(let v) = pcpu.cell(record, context).value { load.cpu += v }
            let pageSize = context.nodes[record.host]?.pageSize ?? NodeInfo.localPageSize
            load.rssKiB = Saturating.add(load.rssKiB, record.rssKiB(pageSize: pageSize))
            loads[record.host] = load
        }
        return loads
    }

    /// The straggler: of two or more answering nodes, the one whose processes got the least
    /// CPU, when the nodes differ. Work split evenly waits for it.
    static func slowest(_ loads: [String: NodeLoad], up: [String]) -> String? {
        guard up.count > 1 else { return nil }
        let figures = up.map { (host: $0, cpu: loads[$0]?.cpu ?? 0) }
        guard let least = figures.min(by: { $0.cpu < $1.cpu }), let most = figures.map(\.cpu).max(), most > least.cpu else { return nil }
        return least.host
    }

    /// `total  %CPU 412.3  RSS 1.2G  min/med/max %CPU 0.0/99.1/101.0  RSS 1.1M/1.2M/80.3M  slowest node03`:
    /// the totals across nodes, then the spread of the per-node figures.
    static func totals(_ loads: [String: NodeLoad], hosts: [String], slowest: String?) -> String {
        let cpus = hosts.map { loads[$0]?.cpu ?? 0 }.sorted()
        let rss = hosts.map { loads[$0]?.rssKiB ?? 0 }.sorted()
        var text = "total  %CPU " + NodeSummary.oneDecimal(cpus.reduce(0, +))
            + "  RSS " + NodeSummary.human(rss.reduce(UInt64(0)) { Saturating.add($0, $1) })
        if !hosts.isEmpty {
            text += "  min/med/max %CPU " + spread(cpus).map { NodeSummary.oneDecimal($0) }.joined(separator: "/")
            text += "  RSS " + spread(rss).map { NodeSummary.human($0) }.joined(separator: "/")
        }
        if let slowest { text += "  slowest \(slowest)" }
        return text
    }

    /// Minimum, median and maximum of sorted figures (the lower middle one of an even count).
    static func spread<T>(_ sorted: [T]) -> [T] {
        guard let first = sorted.first, let last = sorted.last else { return [] }
        return [first, sorted[(sorted.count - 1) / 2], last]
    }

    /// `text` cut to `width` characters.
    static func cut(_ text: String, to width: Int) -> String {
        StatusTable.width(text) <= width ? text : String(text.prefix(max(0, width)))
    }
}

extension FamilySnapshot.Selection {
    /// Whether every process is read.
    var isAll: Bool {
        if case .all = self { return true }
        return false
    }

    /// The selection without `-e`: the family's, unless PIDs were named.
    var narrowed: FamilySnapshot.Selection { isAll ? .family : self }
}
