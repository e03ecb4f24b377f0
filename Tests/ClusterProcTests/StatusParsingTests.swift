import Foundation
import Testing
@testable import ClusterProc

@Suite("Status parsing, formatting, sorting, JSON and fuzzing")
struct StatusParsingTests {
    @Test func selfRecordAgreesWithItsOwnFiles() throws {
        let pid = getpid()
        let stat = try #require(LocalProc.read("/proc/self/stat"))
        let cmdline = try #require(LocalProc.read("/proc/self/cmdline"))
        let r = try ProcessRecord(host: "h", pid: pid, stat: stat, status: LocalProc.read("/proc/self/status"),
                                  cmdline: cmdline, wchan: LocalProc.read("/proc/self/wchan"))
        let comm = String(decoding: try #require(LocalProc.read("/proc/self/comm")), as: UTF8.self)
        #expect(r.comm + "\n" == comm)
        #expect(r.ppid == getppid())
        #expect(r.euid == geteuid() && r.egid == getegid())
        var expectedArgs = cmdline
        while expectedArgs.last == 0 { expectedArgs.removeLast() }
        #expect(r.args == String(decoding: expectedArgs.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self))
        #expect(r.nlwp >= 1 && r.vmRSSKiB != nil)
    }

    @Test func commWithSpacesAndParentheses() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let link = dir.appendingPathComponent("a) b (c").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/bin/sleep")
        let p = try LocalProc.sleeper(link, ["100"])
        defer { LocalProc.stop(p) }
        #expect(LocalProc.waitAsleep(p.processIdentifier, comm: "a) b (c"))
        let r = try #require(LocalProc.record(p.processIdentifier))
        #expect(r.comm == "a) b (c")
        #expect(r.ppid == getpid())
        #expect(r.args == "\(link) 100")
    }

    @Test func kernelThreadShowsBracketedName() throws {
        // kthreadd is PID 2 whenever the PID namespace is the initial one.
        let comm = try #require(LocalProc.read("/proc/2/comm"), "no PID 2 here")
        let r = try #require(LocalProc.record(2))
        #expect(r.args == "[\(String(decoding: comm.dropLast(), as: UTF8.self))]")
        #expect(r.vmRSSKiB == nil && r.rssKiB(pageSize: 4096) == 0 && r.vszKiB == 0)
    }

    @Test func nodeInfoFromThisMachine() throws {
        let node = try LocalProc.node()
        let boot = try #require(node.bootTime)
        #expect(abs(Double(boot) + node.uptime - Date().timeIntervalSince1970) < 3)
        #expect(node.memTotalKiB > 0 && (node.memAvailableKiB ?? 0) <= node.memTotalKiB)
        #expect(node.clockTicks == sysconf(Int32(_SC_CLK_TCK)) && node.pageSize == Int(getpagesize()))
        #expect(throws: StatusError.self) { try NodeInfo(uptime: Array("x".utf8), meminfo: [], stat: nil, loadavg: nil) }
    }

    @Test(arguments: [0, 1, 59, 60, 61, 3599, 3600, 3661, 86_399, 86_400, 90_061, 1_000_000] as [UInt64])
    func elapsedAndCPUTimeFollowTheRule(_ s: UInt64) {
        let dd = s / 86_400, hh = s / 3600 % 24, mm = s / 60 % 60, ss = s % 60
        func two(_ v: UInt64) -> String { String(format: "%02llu", v) }
        var etime = "\(two(mm)):\(two(ss))"
        if dd > 0 || hh > 0 { etime = "\(two(hh)):" + etime }
        if dd > 0 { etime = "\(dd)-" + etime }
        #expect(Column.formatElapsed(s) == etime)
        #expect(Column.formatCPUTime(s) == (dd > 0 ? "\(dd)-" : "") + "\(two(hh)):\(two(mm)):\(two(ss))")
    }

    @Test func knownTimeExamples() {
        #expect(Column.formatElapsed(0) == "00:00")
        #expect(Column.formatElapsed(3600) == "01:00:00")
        #expect(Column.formatElapsed(90_061) == "1-01:01:01")
        #expect(Column.formatCPUTime(86_399) == "23:59:59")
        #expect(Column.formatCPUTime(3 * 86_400 + 5) == "3-00:00:05")
    }

    @Test func columnListErrorsAndHeaders() throws {
        #expect(throws: StatusError(.unknownColumn, "unknown column 'foo'")) { try ColumnList(specs: ["pid,foo"]) }
        #expect("\(StatusError(.unknownColumn, "unknown column 'foo'"))" == "unknown column 'foo'")
        let list = try ColumnList(specs: ["pid user", "%cpu=CPU%", "rss="])
        #expect(list.columns.map(\.header) == ["PID", "USER", "CPU%", ""])
        #expect(try !ColumnList(specs: ["pid=,comm="]).hasHeader)
        #expect(ColumnList.cpsDefault.columns.map(\.header) == ["HOST", "PID", "USER", "S", "%CPU", "RSS", "ELAPSED", "CMD"])
        #expect(ColumnList.cpsDefault.droppingHost().columns.first?.key == "pid")
        #expect(throws: StatusError.self) { try SortSpec(specs: ["-nosuch"]) }
    }

    @Test func sortByKeysThenHostAndPid() throws {
        let context = StatusContext(nodes: ["a": try LocalProc.node(), "b": try LocalProc.node()])
        let records = LocalProc.all(host: "b") + LocalProc.all(host: "a")
        #expect(records.count > 4)
        let byDefault = SortSpec().sorted(records, context: context)
        #expect(byDefault.map { "\($0.host)" }.first == "a")
        #expect(zip(byDefault, byDefault.dropFirst()).allSatisfy { ($0.host, $0.pid) < ($1.host, $1.pid) })
        let descending = try SortSpec(specs: ["-pid"]).sorted(records, context: context)
        #expect(zip(descending, descending.dropFirst()).allSatisfy { $0.pid > $1.pid || ($0.pid == $1.pid && $0.host < $1.host) })
        let byPPid = try SortSpec(specs: ["+ppid,-pid"]).sorted(records, context: context)
        #expect(zip(byPPid, byPPid.dropFirst()).allSatisfy { $0.ppid < $1.ppid || ($0.ppid == $1.ppid && $0.pid >= $1.pid) })
    }

    @Test func jsonParsesBack() throws {
        var records = Array(LocalProc.all().prefix(20))
        #expect(!records.isEmpty)
        records[0].host = "we\"ird\\host\u{1}\n\u{7f}é"
        let node = try LocalProc.node()
        let context = StatusContext(nodes: [records[0].host: node, "local": node])
        let table = StatusTable(columns: try ColumnList(specs: ["pid,user,pcpu,rss,etime,args"]))
        let data = Data(table.renderJSONArray(records, context: context).utf8)
        let array = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(array.count == records.count)
        #expect(array[0]["host"] as? String == records[0].host)
        for (object, record) in zip(array, records) {
            #expect((object["pid"] as? NSNumber)?.int32Value == record.pid)
            #expect(object["args"] as? String == record.args)
            #expect(object["pcpu"] is NSNumber && object["rss"] is NSNumber && object["etime"] is String)
        }
        for line in table.renderJSONLines(records, context: context).split(separator: "\n") {
            #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any])
        }
    }

    @Test func nodeSummaryLines() throws {
        let node = try LocalProc.node()
        let up = NodeSummary(host: "n1", state: .up(node, processCount: 42)).line(hostWidth: 6)
        #expect(up.hasPrefix("n1      load ") && up.hasSuffix("procs 42") && up.contains("mem "))
        let down = NodeSummary(host: "node05", state: .down(reason: "connection\nreset", since: 0)).line()
        let expectedTime = Column.strftime("%H:%M:%S", 0)
        #expect(down == "node05  DOWN  (connection reset) since \(expectedTime)")
        #expect(NodeSummary.human(1536) == "1.5M" && NodeSummary.human(512) == "512K")
    }

    @Test func fuzzedAndTruncatedStatNeverCrashes() throws {
        let stat = try #require(LocalProc.read("/proc/self/stat"))
        let status = LocalProc.read("/proc/self/status") ?? []
        let pid = getpid()
        var parsed = 0
        for n in 0...stat.count {
            if (try? ProcessRecord(host: "h", pid: pid, stat: Array(stat.prefix(n)), status: Array(status.prefix(n)),
                                   cmdline: [], wchan: nil)) != nil { parsed += 1 }
        }
        #expect(parsed >= 1)  // the whole file, at least
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789 -()\n:SRZ".utf8)
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
                }
            } else {
                bytes = stat
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = alphabet.randomElement(using: &rng)!
                }
            }
            _ = try? ProcessRecord(host: "h", pid: pid, stat: bytes, status: bytes, cmdline: bytes, wchan: bytes)
            _ = try? NodeInfo(uptime: bytes, meminfo: bytes, stat: bytes, loadavg: bytes)
        }
    }
}
