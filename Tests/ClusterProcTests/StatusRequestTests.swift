import Foundation
import Testing
@testable import ClusterProc

/// A family snapshot of the local machine alone, as host `local`.
enum LocalSnapshot {
    static func read(pids: [Int32]? = nil, host: String = "local", threads: Bool = false) throws -> FamilySnapshot {
        let processes = (pids ?? LocalProc.allPids()).compactMap { pid -> FamilySnapshot.ProcessFiles? in
            guard let stat = LocalProc.read("/proc/\(pid)/stat"), let status = LocalProc.read("/proc/\(pid)/status"),
                  let cmdline = LocalProc.read("/proc/\(pid)/cmdline") else { return nil }
            var files = FamilySnapshot.ProcessFiles(pid: pid, stat: stat, status: status, cmdline: cmdline, wchan: LocalProc.read("/proc/\(pid)/wchan"),
                                                    cgroup: LocalProc.read("/proc/\(pid)/cgroup"))
            if threads {
                let tids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { Int32($0) }.sorted()
                files.threads = tids.compactMap { tid in
                    LocalProc.read("/proc/\(pid)/task/\(tid)/stat").map {
                        FamilySnapshot.ThreadFiles(tid: tid, stat: $0, wchan: LocalProc.read("/proc/\(pid)/task/\(tid)/wchan"))
                    }
                }
            }
            return files
        }
        return FamilySnapshot(nodes: [.up(
            host: host, uptime: try #require(LocalProc.read("/proc/uptime")), meminfo: try #require(LocalProc.read("/proc/meminfo")),
            stat: LocalProc.read("/proc/stat") ?? [], loadavg: LocalProc.read("/proc/loadavg") ?? [], familyPIDs: nil,
            processes: processes)])
    }
}

@Suite("cps options as ps reads them", .serialized)
struct StatusRequestTests {
    private func request(_ configure: (inout StatusRequest.Options) -> Void) throws -> StatusRequest {
        var options = StatusRequest.Options()
        configure(&options)
        return try StatusRequest(options)
    }

    @Test(arguments: [["pid="], ["pid=,comm="], ["pid=", "comm"], ["pid=X,comm=Y"], ["pid:3=P"], ["pid=", "ppid="], ["pid,comm="]])
    func headersFollowPs(_ format: [String]) throws {
        let theirs = try LocalProc.run("/bin/ps", format.flatMap { ["-o", $0] } + ["-p", "1"])
        let snapshot = try LocalSnapshot.read(pids: [1])
        let withoutHost = try request { $0.format = format; $0.noHost = true; $0.pids = ["1"] }.render(snapshot)
        #expect(withoutHost.text == theirs)
        #expect(withoutHost.status == 0)
        // With the host column, the header line is there exactly when ps prints one.
        let withHost = try request { $0.format = format; $0.pids = ["1"] }.render(snapshot)
        let lines = withHost.text.split(separator: "\n")
        #expect(lines.count == theirs.split(separator: "\n").count, "\(withHost.text)")
        #expect(lines.last?.hasPrefix("local ") == true)
    }

    @Test func exitStatusSaysWhetherAnythingMatched() throws {
        let snapshot = try LocalSnapshot.read()
        let pids = Set(LocalProc.allPids())
        let absent = try #require((1...Int32.max).first { !pids.contains($0) })
        let none = try request { $0.format = ["pid"]; $0.pids = [String(absent)] }.render(snapshot)
        #expect(none.status == 1)
        #expect(none.text == "HOST   PID\n", "the header alone, as ps prints it")
        #expect(try request { $0.pids = ["1"] }.render(snapshot).status == 0)
        #expect(try request { $0.commands = ["no-such-command"] }.render(snapshot).status == 1)
        #expect(try request { $0.users = ["4000000000"] }.render(snapshot).status == 1)
        #expect(try request { $0.users = ["root"] }.render(snapshot).status == 0)
        // No list given: nothing to match, whatever the snapshot holds.
        #expect(try request { _ in }.render(FamilySnapshot(nodes: [])).status == 0)

        let missing = try request { $0.hosts = ["local,node09"] }.render(snapshot)
        #expect(missing.status == 1)
        #expect(missing.errors == ["node node09 is not in the family"])
        #expect(try request { $0.hosts = ["local"] }.render(snapshot).status == 0)
    }

    @Test func selectionByCommandNameMatchesPs() throws {
        // A task name longer than the kernel keeps: ps compares the first 15 bytes.
        let directory = NSTemporaryDirectory() + "cps-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let long = "\(directory)/a-rather-long-command-name"
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: long)
        let sleeper = try LocalProc.sleeper(long)
        defer { LocalProc.stop(sleeper) }
        #expect(LocalProc.waitAsleep(sleeper.processIdentifier, comm: "a-rather-long-c"))
        for names in [["a-rather-long-command-name"], ["a-rather-long-c"], ["a-rather-long"], ["no-such,a-rather-long-c"], ["no-such a-rather-long-cx"]] {
            let theirs = try LocalProc.run("/bin/ps", ["-C", names[0], "-p", "1", "-o", "pid="])
            let ours = try request { $0.commands = names; $0.pids = ["1"]; $0.format = ["pid="]; $0.noHost = true }
                .render(try LocalSnapshot.read())
            #expect(Set(ours.text.split(separator: "\n")) == Set(theirs.split(separator: "\n")), "-C \(names)")
        }
        let selected = try request { $0.commands = ["a-rather-long-command-name"] }.render(try LocalSnapshot.read())
        #expect(selected.text.contains(" \(sleeper.processIdentifier) "))
    }

    @Test func errorsNameTheOption() {
        #expect(throws: StatusError(.badSpecification, "-p: process ID list syntax error: 'x'")) { try request { $0.pids = ["1,x"] } }
        #expect(throws: StatusError(.badSpecification, "-p: process ID out of range: '0'")) { try request { $0.pids = ["0"] } }
        #expect(throws: StatusError(.badSpecification, "-C: list of command names must follow -C")) { try request { $0.commands = [","] } }
        #expect(throws: StatusError(.badSpecification, "-u: list of user names must follow -u")) { try request { $0.users = [""] } }
        #expect(throws: StatusError(.badSpecification, "unknown BSD option 'sleep' (cps understands a, u, x, k)")) { try request { $0.bsd = ["sleep"] } }
        #expect(throws: StatusError(.badSpecification, "k: a sort key must follow k")) { try request { $0.bsd = ["auxk"] } }
        #expect(throws: StatusError(.unknownSortKey, "unknown sort specifier 'nosuch'")) { try request { $0.sort = ["-nosuch"] } }
    }

    @Test func listsSelectTheUnionAsPsDoes() throws {
        let filter = try ProcessFilter(pids: ["1 2,3"], users: ["root"], commands: ["sleep"])
        #expect(filter.pids == [1, 2, 3])
        #expect(filter.selection(fallback: .family).isAll)
        #expect(try ProcessFilter(pids: ["7"]).selection(fallback: .family).pids == [7])
        #expect(try ProcessFilter().selection(fallback: .family).isFamily)
        let before = Set(LocalProc.allPids())
        let theirs = try LocalProc.run("/bin/ps", ["-p", "1", "-C", "sleep", "-u", "0", "-o", "pid="])
        let ours = try request { $0.pids = ["1"]; $0.commands = ["sleep"]; $0.users = ["0"]; $0.format = ["pid="]; $0.noHost = true }
            .render(try LocalSnapshot.read()).text
        let stable = before.intersection(LocalProc.allPids())
        let numbers = { (text: String) in Set(text.split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }) }
        // Processes come and go while the two read /proc: those alive throughout agree.
        #expect(numbers(theirs).intersection(stable) == numbers(ours).intersection(stable))
        #expect(numbers(ours).count > 1)
        #expect(numbers(ours).contains(1))
    }

    @Test func bsdSortKeysAndSpacedSortAreRewritten() {
        let valueOptions: Set<String> = ["-u", "-o"]
        let cases: [([String], [String])] = [
            (["aux", "k", "-rss"], ["aux", "--sort=-rss"]),
            (["auxk", "-rss,pid"], ["aux", "--sort=-rss,pid"]),
            (["--sort", "-rss"], ["--sort=-rss"]),
            (["--sort=-rss"], ["--sort=-rss"]),
            (["-u", "k", "x"], ["-u", "k", "x"]),
            (["-o", "--sort", "k"], ["-o", "--sort", "k"]),
            (["k"], ["k"]),
            (["--", "k", "-rss"], ["--", "k", "-rss"]),
        ]
        for (input, expected) in cases {
            #expect(StatusRequest.normalizedArguments(input, valueOptions: valueOptions) == expected, "\(input)")
        }
    }

    @Test func sortDescendingByRSSMatchesPs() throws {
        let snapshot = try LocalSnapshot.read()
        let ours = try request { $0.sort = ["-rss"]; $0.format = ["rss="]; $0.noHost = true; $0.everything = true }.render(snapshot)
        let values = ours.text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        #expect(values.count > 4)
        #expect(values == values.sorted(by: >))
    }
}

@Suite("cps -L and -T against the local ps", .serialized)
struct StatusThreadTests {
    @Test(arguments: [(["-L"], ColumnList.ThreadColumn.lwp), (["-T"], .spid), (["-Lf"], .lwp), (["-Tf"], .spid),
                      (["-Ll"], .lwp), (["-Tl"], .spid), (["-L", "u"], .lwp), (["-T", "u"], .spid)])
    func presetHeadersMatchPs(_ arguments: [String], _ thread: ColumnList.ThreadColumn) throws {
        // Plain -L and -T change cps's own default as they change ps's: the thread's column after PID.
        let psArguments = arguments.count == 1 && arguments[0].count == 2
            ? ["-o", "pid,\(thread == .lwp ? "lwp" : "spid"),user,s,pcpu,rss,etime,cmd"] : arguments
        let theirs = try LocalProc.run("/bin/ps", psArguments + ["-p", "1"]).split(separator: "\n").first.map(String.init)
        var options = StatusRequest.Options()
        options.threads = thread
        options.full = arguments[0].contains("f")
        options.long = arguments[0].contains("l")
        options.bsd = arguments.count > 1 ? [arguments[1]] : []
        options.noHost = true
        let columns = try StatusRequest(options).columns
        let ours = StatusTable(columns: columns, layout: .procps).lines([], context: StatusContext(nodes: [:])).first
        #expect(ours == theirs)
    }

    @Test func aRowPerThreadAsPsShows() throws {
        let script = "import threading, time\nfor n in range(3):\n    threading.Thread(target=time.sleep, args=(100,), name='t%d' % n).start()\ntime.sleep(100)\n"
        let python = try LocalProc.sleeper("/usr/bin/python3", ["-c", script])
        defer { LocalProc.stop(python) }
        let pid = python.processIdentifier
        #expect(LocalProc.waitFor {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"))?.count == 4
                && LocalProc.record(pid)?.state == "S"
        })
        let spec = "pid,lwp,spid,tid,nlwp,comm,stat,psr,wchan:32,time,rtprio,policy,args"
        let theirs = try LocalProc.run("/bin/ps", ["-L", "-o", spec, "-p", String(pid)])
        var options = StatusRequest.Options()
        options.threads = .lwp
        options.format = [spec]
        options.noHost = true
        options.pids = [String(pid)]
        let request = try StatusRequest(options)
        let output = request.render(try LocalSnapshot.read(pids: [pid], threads: true))
        // cps aligns its columns; each row's words are ps's.
        let words = { (text: String) in text.split(separator: "\n").map { $0.split(separator: " ") } }
        #expect(words(output.text).count == 5, "\(output.text)")
        #expect(words(output.text) == words(theirs), "\(output.text)\n\(theirs)")
        // Without -L, one row for the process.
        options.threads = nil
        #expect(try StatusRequest(options).render(try LocalSnapshot.read(pids: [pid], threads: true)).text.split(separator: "\n").count == 2)
    }
}

private extension FamilySnapshot.Selection {
    var isAll: Bool { if case .all = self { true } else { false } }
    var isFamily: Bool { if case .family = self { true } else { false } }
    var pids: Set<Int32>? { if case .pids(let p) = self { p } else { nil } }
}
