import Testing
@testable import ClusterProc

/// The conversions behind cps's columns are total: no figure a node could send, and none
/// that got past the parsers, makes them trap.
@Suite struct StatusConversionTests {
    static let doubles: [Double] = [.nan, .infinity, -.infinity, 1e300, -1e300, 9.3e18, -9.3e18, 1.9e19, -0.5, 0, 0.52, 123.456]

    @Test func saturatingConversionsStopAtTheBounds() {
        #expect(Saturating.int64(.nan) == 0 && Saturating.uint64(.nan) == 0)
        #expect(Saturating.int64(.infinity) == .max && Saturating.int64(-.infinity) == .min)
        #expect(Saturating.int64(1e300) == .max && Saturating.int64(-1e300) == .min)
        #expect(Saturating.int64(9_223_372_036_854_775_808.0) == .max && Saturating.int64(-9_223_372_036_854_775_808.0) == .min)
        #expect(Saturating.int64(-2.9) == -2 && Saturating.int64(2.9) == 2)
        #expect(Saturating.uint64(.infinity) == .max && Saturating.uint64(1e300) == .max && Saturating.uint64(-1e300) == 0)
        #expect(Saturating.uint64(18_446_744_073_709_551_616.0) == .max && Saturating.uint64(3.7) == 3)
        #expect(Saturating.add(Int64.max, 1) == .max && Saturating.add(Int64.min, -1) == .min && Saturating.add(Int64(2), 3) == 5)
        #expect(Saturating.subtract(Int64.min, 1) == .min && Saturating.subtract(Int64.max, -1) == .max && Saturating.subtract(39, 40) == -1)
        #expect(Saturating.add(UInt64.max, 1) == .max && Saturating.multiply(UInt64.max, 2) == .max && Saturating.multiply(6, 7) == 42)
    }

    @Test(arguments: doubles)
    func twoDecimalsTakesAnyDouble(value: Double) {
        let text = NodeSummary.twoDecimals(value)
        if value.isFinite {
            let parts = text.split(separator: ".")
            #expect(parts.count == 2 && parts[1].count == 2, "\(value) → \(text)")
        } else {
            #expect(text == "?")
        }
    }

    @Test func twoDecimalsRoundsAndKeepsTheSign() {
        #expect(NodeSummary.twoDecimals(0.52) == "0.52")
        #expect(NodeSummary.twoDecimals(0.005) == "0.01")
        #expect(NodeSummary.twoDecimals(-1.5) == "-1.50")
        #expect(NodeSummary.twoDecimals(1e300) == "92233720368547758.07")
    }

    @Test(arguments: doubles)
    func bootTimeTakesAnyUptime(uptime: Double) throws {
        var node = try Self.node()
        node.bootTime = nil
        node.uptime = uptime
        for now in [Int64.min, -1, 0, 1_700_000_000, Int64.max] {
            let boot = node.bootTime(now: now)
            if uptime.isFinite, abs(uptime) < 1e9, now == 1_700_000_000 { #expect(boot == now - Int64(uptime)) }
        }
        _ = node.bootTicks
    }

    @Test func theParserRefusesFiguresNoMachineHas() throws {
        let huge = Array(("1" + String(repeating: "0", count: 30) + ".00 1.00\n").utf8)
        let meminfo = Array("MemTotal: 1000 kB\n".utf8)
        #expect(throws: StatusError.self) { try NodeInfo(uptime: huge, meminfo: meminfo, stat: nil, loadavg: nil) }
        let up = Array("100.00 100.00\n".utf8)
        #expect(throws: StatusError.self) {
            try NodeInfo(uptime: up, meminfo: meminfo, stat: Array("btime 9223372036854775807\n".utf8), loadavg: nil)
        }
        #expect(throws: StatusError.self) {
            try NodeInfo(uptime: up, meminfo: meminfo, stat: nil, loadavg: Array("1\(String(repeating: "0", count: 30)) 1 1 1/1 1\n".utf8))
        }
        #expect(try NodeInfo(uptime: up, meminfo: meminfo, stat: Array("btime 1700000000\n".utf8), loadavg: Array("0.5 0.4 0.3 1/9 9\n".utf8)).bootTime == 1_700_000_000)
    }

    /// Every column of a process whose figures are at the end of their range, on nodes
    /// whose own figures are at the ends of theirs.
    @Test(arguments: [false, true])
    func everyColumnTakesExtremeFigures(withStatus: Bool) throws {
        let record = try Self.extremeRecord(withStatus: withStatus)
        var nodes: [NodeInfo] = []
        for uptime in Self.doubles {
            for bootTime in [Int64.min, -1, Int64.max, nil] {
                for (ticks, page) in [(1, Int.max), (0, 0), (-5, -4096), (Int.max, 1)] {
                    var node = try Self.node()
                    node.uptime = uptime
                    node.bootTime = bootTime
                    node.clockTicks = ticks
                    node.pageSize = page
                    node.memTotalKiB = 1
                    node.loadAverage = NodeInfo.LoadAverage(one: uptime, five: -uptime, fifteen: .nan, running: .max, total: .min)
                    nodes.append(node)
                }
            }
        }
        let columns = try ColumnList(specs: [Column.knownNames.joined(separator: ",")])
        for (index, node) in nodes.enumerated() {
            for now in [Int64.min, 0, Int64.max] {
                let context = StatusContext(nodes: ["h": node], now: now, users: .shared)
                let row = StatusTable(columns: columns).lines([record], context: context)
                #expect(row.count == 2, "node \(index)")
                _ = StatusTable(columns: columns).jsonObjects([record], context: context)
                _ = try SortSpec(specs: [Column.knownNames.map { "-" + $0 }.joined(separator: ",")]).sorted([record, record], context: context)
            }
            _ = NodeSummary(host: "h", state: .up(node, processCount: .max)).line(hostWidth: .max / 2 > 0 ? 8 : 0)
        }
        _ = NodeSummary(host: "h", state: .down(reason: "\u{1B}[2J" + String(repeating: "x", count: 10_000), since: .max)).line()
    }

    @Test func aDownReasonIsOnePrintableLineOfBoundedLength() {
        let line = NodeSummary(host: "node02", state: .down(reason: "bad\n\u{1B}[31mred" + String(repeating: "x", count: 1000), since: 0)).line()
        #expect(!line.contains("\u{1B}") && !line.contains("\n"))
        #expect(line.count < 300)
    }

    @Test func aChainOfProcessesIsDrawnToABoundedDepth() throws {
        let chain = try (1...5000).map { pid in
            try ProcessRecord(
                host: "h", pid: Int32(pid), stat: Array("\(pid) (c) S \(pid - 1) 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 100 1000 10 0".utf8),
                status: nil, cmdline: [], wchan: nil)
        }
        let lines = StatusTable(columns: try ColumnList(specs: ["pid,args"]), headers: false, forest: true)
            .lines(chain, context: StatusContext(nodes: [:]))
        #expect(lines.count == chain.count, "every process shows once")
        #expect((lines.map(\.utf8.count).max() ?? 0) <= 4 * Forest.maxDepth + 32)
    }

    static func node() throws -> NodeInfo {
        try NodeInfo(uptime: Array("1000.00 1000.00\n".utf8), meminfo: Array("MemTotal: 1000 kB\n".utf8), stat: nil, loadavg: nil)
    }

    static func extremeRecord(withStatus: Bool) throws -> ProcessRecord {
        let max = "18446744073709551615", top = "9223372036854775807", bottom = "-9223372036854775807"
        let fields = ["R", "0", "1", "1", "-1", "-1", max, "0", "0", "0", "0", max, max, "0", "0", bottom, top, top, "0", max, max, top]
            + Array(repeating: max, count: 14) + ["2147483647", "0", top]
        let status = withStatus ? Array("Uid:\t4294967295\t4294967295\nGid:\t0\t0\nVmRSS:\t\(max) kB\nVmSize:\t\(max) kB\nVmLck:\t\(max) kB\n".utf8) : nil
        return try ProcessRecord(
            host: "h", pid: 1, stat: Array(("1 (x) " + fields.joined(separator: " ")).utf8), status: status,
            cmdline: Array("x\0".utf8), wchan: nil)
    }
}
