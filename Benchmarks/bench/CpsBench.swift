import ArgumentParser
import Foundation
import Glibc

/// `cps -j ID -e` over a family of N nodes with about 20 processes each, against pdsh and
/// clush running `ps -e -o …` on the same nodes, and the floor: local `ps -e` over as many
/// processes (in a PID namespace of its own holding exactly that many).
struct CpsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cps",
        abstract: "Every process of N nodes: cps against pdsh/clush running ps, and local ps over as many processes.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(parsing: .upToNextOption, help: "Node counts to measure.")
    var scales = [4, 16, 64]

    @Option(help: "Sleeps the job starts on each node (with its shell, sshd and procsrv about 20 processes).")
    var sleeps = 18

    @Option(help: "Runs of each tool at each scale (tools in turn).")
    var runs = 5

    @Option(help: "Columns, the same for cps and ps.")
    var columns = "pid,ppid,user,stat,pcpu,rss,etime,args"

    func validate() throws {
        guard !scales.isEmpty, scales.allSatisfy({ $0 >= 1 && $0 <= 254 }) else { throw ValidationError("--scales are 1…254") }
        guard sleeps >= 1, sleeps <= 100 else { throw ValidationError("--sleeps is 1…100") }
        guard runs >= 1, runs <= 100 else { throw ValidationError("--runs is 1…100") }
    }

    func run() throws {
        let cluster = try BenchCluster(options: options, needed: scales.max()!)
        defer { cluster.down() }
        let user = cluster.user
        print("cps: every process of N nodes (\(sleeps) sleeps each), \(runs) runs, tools in turn, as \(user.name); load \(loadAverage())")
        var table = ResultTable()
        var failed: [String] = []
        for scale in scales {
            // One scale failing (a family too slow to start on a loaded machine) leaves the others' figures.
            do {
                try measure(scale: scale, cluster: cluster, table: &table)
            } catch {
                failed.append("\(scale) nodes: \(error)")
                FileHandle.standardError.write("cps: \(scale) nodes failed: \(error)\n".data(using: .utf8)!)
            }
        }
        table.fillRatios(ours: "cps")
        table.print(title: "cps: wall seconds from spawn to exit, -o \(columns); cpu: the client's own (cps: not the union in cluster-launch)", ratioHeader: "cps/tool")
        print("load after: \(loadAverage())")
        table.appendCSV(to: options.csv)
        if !failed.isEmpty { throw BenchFailure("failed: " + failed.joined(separator: "; ")) }
    }

    func measure(scale: Int, cluster: BenchCluster, table: inout ResultTable) throws {
        let user = cluster.user
        let hosts = cluster.nodes(scale)
        let deadline = Duration.seconds(options.commandDeadline)
        let job = "for i in $(seq \(sleeps)); do sleep 600 & done; wait"
        // -u bounds the family's life even if this program dies before stopping it.
        let family = try Subprocess.Background(
            user.argv([options.tool("cluster-launch"), "run", "-F", cluster.userConfig, "-w", hosts, "-u", "900", "--", "sh", "-c", job]),
            environment: user.environment())
        defer { family.stop() }
        let id = "\(family.pid)"
        // cps's own per-node deadline (5 s) is shorter than a loaded machine needs at 64 nodes:
        // nodes would turn DOWN and the run would fail. The benchmark's deadline bounds it instead.
        let nodeTimeout = ["--timeout", "\(Int(options.commandDeadline))"]
        let cps = [options.tool("cps"), "-j", id, "-e", "-o", columns] + nodeTimeout
        // The family is ready when cps sees every sleep of every node.
        try waitFor("\(scale * sleeps) sleeps of family \(id)", timeout: .seconds(Int64(max(180, options.commandDeadline)))) {
            if family.hasExited() {
                throw ValidationError("the family exited early: \(family.errorsSoFar.suffix(600))")
            }
            let seen = try? Subprocess.run(user.argv([options.tool("cps"), "-j", id, "-o", "args", "--no-headers"] + nodeTimeout),
                                           environment: user.environment(), deadline: deadline)
            let count = seen.map { $0.outputText.split(separator: "\n").filter { $0.contains("sleep 600") }.count } ?? 0
            return count >= scale * sleeps
        }

        var commands: [(tool: String, argv: [String], environment: [String: String])] = [
            ("cps", user.argv(cps), user.environment()),
            ("pdsh", user.argv(["/usr/bin/pdsh", "-R", "ssh", "-f", "\(scale)", "-w", hosts, "ps", "-e", "-o", columns]),
             user.environment(["PDSH_SSH_ARGS_APPEND": "-F \(cluster.userConfig)"])),
            ("clush", user.argv(["/usr/bin/clush", "-o", "-F \(cluster.userConfig)", "-f", "\(scale)", "-w", hosts, "ps", "-e", "-o", columns]),
             user.environment()),
        ]
        // The floor: a PID namespace holding the same number of processes as the nodes together.
        let reference = try Subprocess.check(user.argv(cps), environment: user.environment(), deadline: deadline)
        let rows = reference.outputLines - 1
        let local = [
            "/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "/bin/sh", "-c",
            "for i in $(seq \(max(1, rows - 2))); do sleep 600 & done; exec \"$0\" time-runs --runs \(runs) --deadline 60 -- /bin/ps -e -o \(columns)",
            options.benchPath,
        ]
        for command in commands {  // untimed: caches, first forks, Python imports
            _ = try? Subprocess.run(command.argv, environment: command.environment, deadline: deadline)
        }
        var times = [String: [Double]]()
        var cpu = [String: [Double]]()
        var unionCPU: [Double] = []
        var lines = [String: [Int]]()
        var failures = [String: Int]()
        for round in 0..<runs {
            for step in 0..<commands.count {
                let command = commands[(round + step) % commands.count]
                let unionBefore = processCPUSeconds(family.pid)
                let result = try Subprocess.run(command.argv, environment: command.environment, deadline: deadline)
                if command.tool == "cps", let before = unionBefore, let after = processCPUSeconds(family.pid) {
                    unionCPU.append(after - before)
                }
                // cps exits 1 when a node is DOWN; pdsh and clush exit non-zero when a node fails.
                if result.status != 0 || result.timedOut {
                    failures[command.tool, default: 0] += 1
                    FileHandle.standardError.write("cps: \(command.tool) failed (status \(result.status)): \(result.errorText.suffix(300))\n".data(using: .utf8)!)
                    continue
                }
                times[command.tool, default: []].append(result.seconds)
                cpu[command.tool, default: []].append(result.cpuSeconds)
                lines[command.tool, default: []].append(result.outputLines)
            }
        }
        commands.append(("local ps", local, ["PATH": BenchUser.path]))
        let floor = try Subprocess.check(local, environment: ["PATH": BenchUser.path], deadline: deadline)
        times["local ps"] = try TimeRuns.parse(floor.outputText).map { $0 / 1e9 }
        lines["local ps"] = [rows]

        for command in commands {
            let failed = failures[command.tool] ?? 0
            let seen = lines[command.tool] ?? []
            var note = "rows \(seen.min() ?? 0)…\(seen.max() ?? 0)"
            if command.tool == "local ps" { note = "\(rows) processes in a PID namespace" }
            if command.tool == "cps", !unionCPU.isEmpty { note += String(format: ", union in cluster-launch: %.3f cpu s", Sample(unionCPU).median) }
            if failed > 0 { note += ", \(failed) failed" }
            table.add(ResultRow(benchmark: "cps", scenario: "\(scale) nodes", tool: command.tool, unit: "s",
                                sample: Sample(times[command.tool] ?? []),
                                cpu: command.tool == "local ps" ? nil : Sample(cpu[command.tool] ?? []), note: note))
        }
    }
}

/// User plus system CPU seconds a live process has used so far (all its threads).
func processCPUSeconds(_ pid: pid_t) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // Fields after the command start at field 3: utime is field 14, stime 15.
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
