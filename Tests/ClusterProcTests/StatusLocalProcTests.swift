import Foundation
import Testing
@testable import ClusterProc

// MARK: - Reading the local /proc and running real programs

enum LocalProc {
    /// Reads a whole file (procfs files report size 0, so read until EOF); nil when unreadable.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    static func node() throws -> NodeInfo {
        try NodeInfo(uptime: read("/proc/uptime")!, meminfo: read("/proc/meminfo")!,
                     stat: read("/proc/stat"), loadavg: read("/proc/loadavg"))
    }

    static func record(_ pid: Int32, host: String = "local") -> ProcessRecord? {
        guard let stat = read("/proc/\(pid)/stat"), let cmdline = read("/proc/\(pid)/cmdline") else { return nil }
        return try? ProcessRecord(host: host, pid: pid, stat: stat, status: read("/proc/\(pid)/status"),
                                  cmdline: cmdline, wchan: read("/proc/\(pid)/wchan"), cgroup: read("/proc/\(pid)/cgroup"))
    }

    static func allPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.sorted()
    }

    static func all(host: String = "local") -> [ProcessRecord] {
        allPids().compactMap { record($0, host: host) }
    }

    /// A program started by ``spawn(_:_:output:)``: posix_spawn and waitpid, not Foundation's
    /// Process, which sometimes never sees its child exit here.
    struct Child {
        let processIdentifier: pid_t
    }

    /// Starts `path` with `arguments` in the C.UTF-8 locale, its stdout into `output` (or /dev/null).
    static func spawn(_ path: String, _ arguments: [String], output: String = "/dev/null") throws -> Child {
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        environment["TZ"] = environment["TZ"] ?? ":/etc/localtime"
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        return Child(processIdentifier: pid)
    }

    /// Waits for a child to end.
    static func wait(_ child: Child) {
        var status: Int32 = 0
        while waitpid(child.processIdentifier, &status, 0) < 0 && errno == EINTR {}
    }

    /// Runs a program and returns its standard output, in the C.UTF-8 locale.
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        // A file, not a pipe: a pipe's write end can leak into a child another test starts
        // at the same moment, and EOF would wait for that child.
        let output = NSTemporaryDirectory() + "status-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        wait(try spawn(path, arguments, output: output))
        return String(decoding: read(output) ?? [], as: UTF8.self)
    }

    /// Starts a program that sleeps until killed.
    static func sleeper(_ executable: String = "/bin/sleep", _ arguments: [String] = ["100"]) throws -> Child {
        try spawn(executable, arguments)
    }

    /// Waits until `condition` holds or a deadline passes.
    static func waitFor(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Waits until a freshly started process has exec'd and sleeps.
    static func waitAsleep(_ pid: Int32, comm: String) -> Bool {
        waitFor {
            guard let r = record(pid) else { return false }
            return r.comm == comm && r.state == "S"
        }
    }

    static func stop(_ child: Child) {
        // SIGKILL: the test runner's children may inherit a mask that blocks SIGTERM.
        kill(child.processIdentifier, SIGKILL)
        wait(child)
    }
}

// MARK: - Agreement with ps on this machine

@Suite("Status against the local ps", .serialized)
struct StatusLocalProcTests {
    /// A `pid ppid user stat …` line with the first letter of its STAT word (the run state) blanked.
    private static func withoutState(_ line: String) -> String {
        var words = 0
        var inWord = false
        var characters = Array(line)
        for index in characters.indices {
            let isSpace = characters[index] == " "
            if !isSpace && !inWord {
                words += 1
                if words == 4 { characters[index] = "?"; break }
            }
            inWord = !isSpace
        }
        return String(characters)
    }

    /// Lines keyed by their first word (the PID).
    private func byPid(_ lines: [String]) -> [Int32: String] {
        var result: [Int32: String] = [:]
        for line in lines {
            if let first = line.split(separator: " ").first, let pid = Int32(first) { result[pid] = line }
        }
        return result
    }

    @Test func everySleepingProcessMatchesPs() throws {
        // Sleepers of our own, with distinct arguments, so the comparison never rests on
        // how many processes this machine happens to run.
        let sleepers = try (0..<10).map { try LocalProc.sleeper("/bin/sleep", ["\(100 + $0)"]) }
        defer { sleepers.forEach(LocalProc.stop) }
        for sleeper in sleepers {
            #expect(LocalProc.waitAsleep(sleeper.processIdentifier, comm: "sleep"))
        }
        let node = try LocalProc.node()
        let context = StatusContext(nodes: ["local": node])
        let table = StatusTable(columns: try ColumnList(specs: ["pid=,ppid=,user=,stat=,comm=,args="]), layout: .procps)

        let before = LocalProc.all()
        let psLines = try LocalProc.run("/bin/ps", ["-e", "-o", "pid=,ppid=,user=,stat=,comm=,args="])
            .split(separator: "\n").map(String.init)
        let after = Dictionary(LocalProc.all().map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        // Only processes that did not change while ps ran, and sleep.
        // Kernel threads wake and sleep (and workers rename themselves) faster than two reads
        // can see: a sleeping kernel thread may be running when ps reads it.
        let stable = before.filter { r in
            after[r.pid] == r && r.state == "S" && r.pid != 2 && r.ppid != 2
        }
        let ours = byPid(table.lines(stable, context: context))
        let theirs = byPid(psLines)
        // Another process may wake just while ps reads it (S in both of our reads, R in ps's):
        // other processes' state letter is left out; the sleepers', which cannot wake, is not.
        let sleeperPids = Set(sleepers.map(\.processIdentifier))
        var compared = 0
        for r in stable {
            guard let line = theirs[r.pid] else { continue }
            if sleeperPids.contains(r.pid) {
                #expect(ours[r.pid] == line, "pid \(r.pid)")
            } else {
                #expect(ours[r.pid].map(Self.withoutState) == Self.withoutState(line), "pid \(r.pid)")
            }
            compared += 1
        }
        #expect(compared >= sleepers.count, "compared only \(compared) processes")
        for sleeper in sleepers {
            let pid = sleeper.processIdentifier
            #expect(ours[pid] != nil && ours[pid] == theirs[pid], "sleeper \(pid)")
        }
    }

    @Test func memoryAndThreadColumnsOfASleeperMatchPs() throws {
        let sleeper = try LocalProc.sleeper()
        defer { LocalProc.stop(sleeper) }
        let pid = sleeper.processIdentifier
        #expect(LocalProc.waitAsleep(pid, comm: "sleep"))
        let spec = "rss=,vsz=,nlwp=,sz=,pid=,user=,uid=,group=,stat=,s=,time=,ni=,pri=,opri=,psr=,tty=,pgid=,sid=,tpgid=,f=,pmem=,wchan=,args="
        let theirs = try LocalProc.run("/bin/ps", ["-o", spec, "-p", String(pid)])
        let record = try #require(LocalProc.record(pid))
        let context = StatusContext(nodes: ["local": try LocalProc.node()])
        let ours = StatusTable(columns: try ColumnList(specs: [spec]), layout: .procps).render([record], context: context)
        #expect(ours == theirs)
        #expect(record.vszKiB > 0 && record.nlwp == 1)
    }

    /// Under each scheduling policy (chrt), the thread, fault, scheduling and cgroup columns,
    /// with cgroup both inside the line (cut to its width) and last.
    @Test(arguments: [[], ["-b", "0"], ["-i", "0"], ["-f", "10"], ["-r", "5"]])
    func schedulingFaultAndCgroupColumnsMatchPs(_ policy: [String]) throws {
        let sleeper = policy.isEmpty ? try LocalProc.sleeper() : try LocalProc.sleeper("/usr/bin/chrt", policy + ["/bin/sleep", "100"])
        defer { LocalProc.stop(sleeper) }
        let pid = sleeper.processIdentifier
        #expect(LocalProc.waitAsleep(pid, comm: "sleep"))
        let context = StatusContext(nodes: ["local": try LocalProc.node()])
        for spec in [
            "pid,lwp,tid,spid,maj_flt,min_flt,majflt,minflt,rtprio,policy,cls,class,sched,psr,wchan,cgroup",
            "cgroup,pid,cgroup:5,rtprio=R,cls=,wchan:3,lwp",
        ] {
            let theirs = try LocalProc.run("/bin/ps", ["-o", spec, "-p", String(pid)])
            let record = try #require(LocalProc.record(pid))
            let ours = StatusTable(columns: try ColumnList(specs: [spec]), layout: .procps).render([record], context: context)
            #expect(ours == theirs, "chrt \(policy): \(spec)")
        }
        let record = try #require(LocalProc.record(pid))
        #expect(record.minorFaults > 0 && record.cgroup != "")
    }

    @Test(arguments: [
        ["-o", "pid,ppid,pgid,sid,user,uid,ruser,group,stat,s,pcpu,pmem,rss,vsz,etime,etimes,time,nlwp,psr,wchan,comm,args"],
        ["-o", "%cpu,%mem,cmd,command,ucmd,ucomm,rssize,rsz,vsize,thcount,cputime,pgrp,sess,euser,uname,state,tty,ni,pri,start,stime,lstart"],
        ["-o", "pid=Process,user=WhoRunsThis,args=Cmd"],
        ["-o", "lwp,tid,spid,maj_flt,min_flt,majflt,minflt,rtprio,policy,cls,class,sched,cgroup,pid"],
        ["-f"], ["-l"], ["u"],
    ])
    func headerLineMatchesPs(_ arguments: [String]) throws {
        let theirs = try LocalProc.run("/bin/ps", arguments + ["-p", "1"]).split(separator: "\n").first.map(String.init)
        let columns: ColumnList
        switch arguments[0] {
        case "-f": columns = ColumnList.full.droppingHost()
        case "-l": columns = ColumnList.long.droppingHost()
        case "u": columns = ColumnList.user.droppingHost()
        default: columns = try ColumnList(specs: [arguments[1]])
        }
        let ours = StatusTable(columns: columns, layout: .procps).lines([], context: StatusContext(nodes: [:])).first
        #expect(ours == theirs)
    }

    @Test func presetRowsOfASleeperMatchPs() throws {
        let sleeper = try LocalProc.sleeper()
        defer { LocalProc.stop(sleeper) }
        let pid = sleeper.processIdentifier
        #expect(LocalProc.waitAsleep(pid, comm: "sleep"))
        let context = StatusContext(nodes: ["local": try LocalProc.node()])
        for (flag, preset) in [("-f", ColumnList.full), ("-l", ColumnList.long)] {
            let theirs = try LocalProc.run("/bin/ps", [flag, "-p", String(pid)])
            let record = try #require(LocalProc.record(pid))
            let ours = StatusTable(columns: preset.droppingHost(), layout: .procps).render([record], context: context)
            #expect(ours == theirs, "\(flag)")
        }
    }

    @Test func forestOfARealTreeMatchesPs() throws {
        let shell = try LocalProc.sleeper("/bin/sh", ["-c", "/bin/sleep 100 & /bin/sleep 100 & (/bin/sleep 100 & wait) & wait"])
        defer {
            // Kill the whole family: the shell's children are found through /proc.
            for r in LocalProc.all() where r.ppid == shell.processIdentifier || r.pgid == shell.processIdentifier {
                kill(r.pid, SIGKILL)
            }
            LocalProc.stop(shell)
        }
        let root = shell.processIdentifier
        func family() -> [ProcessRecord] {
            var members: Set<Int32> = [root]
            var records = LocalProc.all()
            var grew = true
            while grew {
                grew = false
                for r in records where !members.contains(r.pid) && members.contains(r.ppid) {
                    members.insert(r.pid); grew = true
                }
            }
            records = records.filter { members.contains($0.pid) }
            return records
        }
        #expect(LocalProc.waitFor { family().filter { $0.comm == "sleep" && $0.state == "S" }.count == 3 })
        let records = family()
        #expect(records.count == 5)
        let pids = records.map { String($0.pid) }.joined(separator: ",")
        let theirs = try LocalProc.run("/bin/ps", ["--forest", "-o", "pid,ppid,args", "-p", pids])
        let ours = StatusTable(columns: try ColumnList(specs: ["pid,ppid,args"]), layout: .procps, forest: true)
            .render(records, context: StatusContext(nodes: ["local": try LocalProc.node()]))
        #expect(ours == theirs)
        #expect(ours.contains(" \\_ /bin/sleep 100"))
    }
}
