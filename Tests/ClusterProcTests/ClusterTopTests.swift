import Testing
@testable import ClusterProc

/// Snapshots made by hand: nodes whose figures the test chooses, so each interval's
/// expected figure is known exactly.
enum MadeSnapshot {
    struct Process {
        var pid: Int32
        var comm = "work"
        var state: Character = "R"
        /// utime and stime in ticks (USER_HZ 100).
        var utime: UInt64
        var stime: UInt64 = 0
        var start: UInt64 = 100
        var rssPages: Int64 = 256
    }

    /// `/proc/PID/stat` with fields 3 to 41 (field 39, the CPU, is 1; policy 0).
    static func stat(_ p: Process) -> [UInt8] {
        var fields = [String(p.state), "1", "\(p.pid)", "\(p.pid)", "0", "-1", "0", "7", "0", "1", "0",
                      "\(p.utime)", "\(p.stime)", "0", "0", "20", "0", "1", "0", "\(p.start)", "1000000", "\(p.rssPages)"]
        fields += Array(repeating: "0", count: 38 - fields.count) + ["1", "0", "0"]
        return Array("\(p.pid) (\(p.comm)) \(fields.joined(separator: " "))\n".utf8)
    }

    /// A node up for `uptime` seconds whose CPUs spent `cpu` ticks (user, system, idle).
    static func node(_ host: String, uptime: Double, cpu: (UInt64, UInt64, UInt64) = (0, 0, 0), _ processes: [Process]) -> FamilySnapshot.NodeSnapshot {
        .up(host: host, uptime: Array("\(uptime) 0.00\n".utf8),
            meminfo: Array("MemTotal: 1048576 kB\nMemAvailable: 524288 kB\n".utf8),
            stat: Array("cpu  \(cpu.0) 0 \(cpu.1) \(cpu.2) 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\nbtime 1700000000\n".utf8),
            loadavg: Array("1.00 0.50 0.25 2/100 999\n".utf8), familyPIDs: nil,
            processes: processes.map {
                FamilySnapshot.ProcessFiles(pid: $0.pid, stat: stat($0), status: Array("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nVmRSS:\t\($0.rssPages * 4) kB\n".utf8), cmdline: Array("\($0.comm)\0".utf8), wchan: nil)
            })
    }
}

@Suite struct ClusterTopTests {
    private func top(_ configure: (inout StatusRequest.Options) -> Void = { _ in }, delay: Double = 2) throws -> ClusterTop {
        var options = StatusRequest.Options()
        options.format = ["pid,pcpu,rss,time,comm"]
        options.noHost = true
        configure(&options)
        return ClusterTop(request: try StatusRequest(options), family: "42", delay: delay)
    }

    private func rows(_ top: ClusterTop) -> [String] {
        let lines = top.frame()
        guard let header = lines.firstIndex(where: { $0.style == .columns }) else { return [] }
        return lines[(header + 1)...].map(\.text)
    }

    @Test func percentIsOverTheIntervalAsTopComputesIt() throws {
        var top = try top()
        // An hour of work, then two seconds of which it ran one and a half: top shows 75.
        let busy = MadeSnapshot.Process(pid: 10, utime: 360_000, start: 100)
        let idler = MadeSnapshot.Process(pid: 11, comm: "idle", state: "S", utime: 360_000, start: 100)
        top.take(FamilySnapshot(nodes: [MadeSnapshot.node("n1", uptime: 3601, cpu: (1000, 500, 8500), [busy, idler])]), now: 1_700_003_601)
        #expect(rows(top).first?.contains("100") == true, "the first frame shows the lifetime average: \(rows(top))")
        var later = busy
        later.utime += 120
        later.stime += 30
        top.take(FamilySnapshot(nodes: [MadeSnapshot.node("n1", uptime: 3603, cpu: (1100, 540, 8560), [later, idler])]), now: 1_700_003_603)
        #expect(top.frame().first { $0.text.hasPrefix("n1") }?.text.contains("cpu 50.0us 20.0sy 30.0id") == true, "\(top.frame())")
        let table = rows(top)
        #expect(table.count == 2)
        #expect(table[0].split(separator: " ").prefix(2) == ["10", "75.0"], "\(table)")
        #expect(table[1].split(separator: " ").prefix(2) == ["11", "0.0"], "\(table)")
    }

    @Test func aNewProcessCountsFromItsStartAndAReusedPIDStartsAfresh() throws {
        var top = try top()
        top.take(FamilySnapshot(nodes: [MadeSnapshot.node("n1", uptime: 100, [MadeSnapshot.Process(pid: 10, utime: 5000, start: 100)])]), now: 1000)
        // PID 10 is now another process, started after the first sample; 11 is new as well.
        let reused = MadeSnapshot.Process(pid: 10, utime: 50, start: 10_050)
        let fresh = MadeSnapshot.Process(pid: 11, utime: 100, start: 10_000)
        top.take(FamilySnapshot(nodes: [MadeSnapshot.node("n1", uptime: 102, [reused, fresh])]), now: 1002)
        #expect(rows(top).map { Array($0.split(separator: " ").prefix(2)) } == [["11", "50.0"], ["10", "25.0"]], "\(rows(top))")
    }

    @Test func totalsAndSpreadMarkTheSlowestNode() throws {
        var top = try top()
        let nodes = { (ticks: [UInt64], uptime: Double) in
            FamilySnapshot(nodes: ticks.enumerated().map { i, t in
                MadeSnapshot.node("n\(i + 1)", uptime: uptime, [MadeSnapshot.Process(pid: 10, utime: t, rssPages: 256 * Int64(i + 1))])
            } + [.down(host: "n9", reason: "connection reset", since: 1_700_000_000)])
        }
        top.take(nodes([0, 0, 0], 10), now: 1_700_000_010)
        top.take(nodes([100, 20, 90], 11), now: 1_700_000_011)
        let lines = top.frame().map(\.text)
        let totals = try #require(lines.first { $0.hasPrefix("total") })
        #expect(totals.contains("%CPU 210.0"), "\(totals)")
        #expect(totals.contains("min/med/max %CPU 20.0/90.0/100.0"), "\(totals)")
        #expect(totals.contains("RSS 1.0M/2.0M/3.0M  slowest"), "\(totals)")
        #expect(totals.hasSuffix("slowest n2"), "\(totals)")
        #expect(lines.filter { $0.hasSuffix("<- slowest") }.count == 1)
        #expect(lines.first { $0.hasSuffix("<- slowest") }?.hasPrefix("n2") == true)
        #expect(lines[0].contains("nodes 3 up, 1 down"), "\(lines[0])")
        let down = try #require(top.frame().first { $0.style == .down })
        #expect(down.text.hasPrefix("n9") && down.text.contains("DOWN  (connection reset) since"))
    }

    @Test func aDownNodeKeepsTheTimeItWentDown() throws {
        var top = try top()
        top.take(FamilySnapshot(nodes: [.down(host: "n1", reason: "timed out", since: nil)]), now: 1_700_000_000)
        top.take(FamilySnapshot(nodes: [.down(host: "n1", reason: "timed out", since: nil)]), now: 1_700_000_600)
        #expect(top.jsonLines() == "{\"time\":1700000600,\"host\":\"n1\",\"down\":true,\"reason\":\"timed out\",\"since\":1700000000}\n")
        #expect(top.status == 1)
    }

    @Test func jsonLinesCarryTheirTime() throws {
        var top = try top { $0.json = true }
        top.take(FamilySnapshot(nodes: [MadeSnapshot.node("n1", uptime: 100, [MadeSnapshot.Process(pid: 10, utime: 5)])]), now: 1_700_000_100)
        let lines = top.jsonLines().split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines[0].hasPrefix("{\"time\":1700000100,\"host\":\"n1\",\"pid\":10,"), "\(lines)")
    }

    @Test func theFrameFitsTheTerminalAndKeepsItsHeader() throws {
        var top = try top()
        let many = (1...50).map { MadeSnapshot.Process(pid: Int32(100 + $0), comm: "a-rather-long-command-name", utime: UInt64($0)) }
        top.take(FamilySnapshot(nodes: [MadeSnapshot.node("n1", uptime: 100, many), MadeSnapshot.node("n2", uptime: 100, many)]), now: 1000)
        let lines = top.frame(width: 30, height: 12)
        #expect(lines.count == 12)
        #expect(lines.allSatisfy { $0.text.count <= 30 })
        #expect(lines[0].text.hasPrefix("cps "))
        #expect(lines.contains { $0.style == .columns && $0.text.hasPrefix("  PID") })
        #expect(top.frame().count > 100, "uncut, every row")
    }

    @Test func aShortTerminalGivesUpNodeLinesBeforeTheColumnHeader() throws {
        var top = try top()
        let nodes = (1...16).map { MadeSnapshot.node("n\($0)", uptime: 100, [MadeSnapshot.Process(pid: 10, utime: 5)]) }
        top.take(FamilySnapshot(nodes: nodes + [.down(host: "n99", reason: "timed out", since: 1)]), now: 1000)
        let lines = top.frame(width: 100, height: 12)
        #expect(lines.count == 12)
        let header = try #require(lines.firstIndex { $0.style == .columns }, "\(lines.map(\.text))")
        #expect(lines.count - header - 1 == 3, "three rows under the header: \(lines.map(\.text))")
        #expect(lines.contains { $0.style == .down }, "a DOWN node is the last to go")
        #expect(lines.contains { $0.text == "13 more node lines (1 hides them)" }, "\(lines.map(\.text))")
        #expect(top.frame(width: 100, height: 40).filter { $0.text.hasPrefix("n") && $0.text.contains(" load ") }.count == 16)
    }

    @Test func keysChangeTheViewAsTopsDo() throws {
        var state = TopState(columns: try ColumnList(specs: ["host,pid,pcpu,rss,time"]), everything: false, delay: 3)
        let key = { (c: Character) in UInt32(c.unicodeScalars.first!.value) }
        #expect(state.sortColumn.key == "pcpu")
        #expect(state.press(key("M")) == .redraw && state.sortColumn.key == "rss")
        #expect(state.press(key("T")) == .redraw && state.sortColumn.key == "time")
        #expect(state.press(key("<")) == .redraw && state.sortColumn.key == "rss")
        #expect(state.press(key(">")) == .redraw && state.sortColumn.key == "time")
        #expect(state.press(key(">")) == .none, "the last column stays")
        #expect(state.press(key("P")) == .redraw && state.sortColumn.key == "pcpu")
        #expect(state.press(key("e")) == .refresh && state.everything)
        #expect(state.press(key("f")) == .refresh && !state.everything)
        #expect(state.press(key("f")) == .none)
        #expect(state.press(key("1")) == .redraw && !state.summaries)
        #expect(state.press(key(" ")) == .refresh)
        #expect(state.press(key("d")) == .redraw && state.prompt == "Change delay from 3.0 to ")
        for c in "0.5" { _ = state.press(key(c)) }
        #expect(state.press(key("q")) == .none, "q is typed into the prompt, not taken")
        #expect(state.press(10) == .refresh && state.delay == 0.5 && state.prompt == nil)
        _ = state.press(key("d"))
        for c in "99999" { _ = state.press(key(c)) }
        #expect(state.press(13) == .redraw && state.delay == 0.5 && state.message?.contains("Unacceptable") == true)
        _ = state.press(key("d"))
        _ = state.press(key("7"))
        #expect(state.press(27) == .redraw && state.delay == 0.5, "escape cancels")
        #expect(state.press(key("q")) == .quit)
    }

    @Test func theDownObjectIsOneJSONLine() {
        let summary = NodeSummary(host: "node\"5", state: .down(reason: "reset\nby peer", since: 1_700_000_000))
        #expect(summary.jsonObject() == "{\"host\":\"node\\\"5\",\"down\":true,\"reason\":\"reset\\nby peer\",\"since\":1700000000}")
        #expect(NodeSummary(host: "n", state: .down(reason: "x", since: 1)).jsonObject(time: 5) == "{\"time\":5,\"host\":\"n\",\"down\":true,\"reason\":\"x\",\"since\":1}")
    }
}
