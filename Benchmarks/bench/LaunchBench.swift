import ArgumentParser
import Foundation
import Glibc

/// `cluster-launch run -- true` on N nodes against `pdsh -R ssh -f N … true` and clush on the
/// same nodes, the tools taking turns round after round; median wall time of each.
struct LaunchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Start `true` on every node: cluster-launch against pdsh and clush, median wall seconds.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "Nodes to launch on.")
    var nodes = 64

    @Option(help: "Rounds; each runs every tool once, in a rotating order.")
    var rounds = 7

    @Option(help: "Tools to compare (cluster-launch always runs).")
    var peers = ["pdsh", "clush"]

    func validate() throws {
        guard nodes >= 1, nodes <= 254 else { throw ValidationError("--nodes is 1…254") }
        guard rounds >= 1, rounds <= 100 else { throw ValidationError("--rounds is 1…100") }
        for peer in peers where !["pdsh", "clush"].contains(peer) { throw ValidationError("unknown peer \(peer)") }
    }

    func run() throws {
        let cluster = try BenchCluster(options: options, needed: nodes)
        defer { cluster.down() }
        let user = cluster.user
        let hosts = cluster.nodes(nodes)
        let config = cluster.userConfig
        var commands: [(tool: String, argv: [String], environment: [String: String])] = [
            ("cluster-launch", [options.tool("cluster-launch"), "run", "-F", config, "-f", "\(nodes)", "-w", hosts, "--", "true"], user.environment()),
        ]
        if peers.contains("pdsh") {
            commands.append(("pdsh", ["/usr/bin/pdsh", "-R", "ssh", "-f", "\(nodes)", "-w", hosts, "true"],
                             user.environment(["PDSH_SSH_ARGS_APPEND": "-F \(config)"])))
        }
        if peers.contains("clush") {
            commands.append(("clush", ["/usr/bin/clush", "-o", "-F \(config)", "-f", "\(nodes)", "-w", hosts, "true"], user.environment()))
        }

        print("launch: `true` on \(hosts) as \(user.name), \(rounds) rounds, tools in turn; load \(loadAverage())")
        // One untimed run each: page cache, sshd's first fork of each node, clush's Python imports.
        for command in commands {
            _ = try? Subprocess.run(user.argv(command.argv), environment: command.environment, deadline: .seconds(options.commandDeadline))
        }
        var times = [String: [Double]]()
        var cpu = [String: [Double]]()
        var failures = [String: Int]()
        for round in 0..<rounds {
            for step in 0..<commands.count {
                let command = commands[(round + step) % commands.count]
                let result = try Subprocess.run(user.argv(command.argv), environment: command.environment, deadline: .seconds(options.commandDeadline))
                if result.status != 0 || result.timedOut {
                    failures[command.tool, default: 0] += 1
                    FileHandle.standardError.write("launch: \(command.tool) failed (status \(result.status)): \(result.errorText.suffix(300))\n".data(using: .utf8)!)
                    continue
                }
                times[command.tool, default: []].append(result.seconds)
                cpu[command.tool, default: []].append(result.cpuSeconds)
            }
        }
        var table = ResultTable()
        for command in commands {
            let failed = failures[command.tool] ?? 0
            table.add(ResultRow(benchmark: "launch", scenario: "\(nodes) nodes", tool: command.tool, unit: "s",
                                sample: Sample(times[command.tool] ?? []), cpu: Sample(cpu[command.tool] ?? []),
                                note: failed > 0 ? "\(failed) failed" : ""))
        }
        table.fillRatios(ours: "cluster-launch")
        table.print(title: "launch: wall seconds from spawn to exit (goal: cluster-launch at most 0.5 × pdsh); cpu: the client's own, children included", ratioHeader: "ours/tool")
        print("load after: \(loadAverage())")
        table.appendCSV(to: options.csv)
    }
}

/// The double ^C on N nodes whose job ignores SIGTERM and SIGINT and double-forks: the time
/// from the second SIGINT to the launcher's exit, and to the moment no process of the
/// family is left on any node; pdsh's double ^C beside it (pdsh ends its ssh processes,
/// which leaves a remote family without a terminal running).
struct LaunchKillBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch-kill",
        abstract: "Double ^C on a stubborn family: seconds to the launcher's exit and until nothing of the family is left.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "Nodes to launch on.")
    var nodes = 64

    @Option(help: "Rounds; each runs every tool once.")
    var rounds = 3

    @Option(help: "Tools to compare (cluster-launch always runs).")
    var peers = ["pdsh"]

    @Option(help: "Seconds to wait for the family to go before it counts as left behind.")
    var patience: Double = 10

    func validate() throws {
        guard nodes >= 1, nodes <= 254 else { throw ValidationError("--nodes is 1…254") }
        guard rounds >= 1, rounds <= 20 else { throw ValidationError("--rounds is 1…20") }
        for peer in peers where peer != "pdsh" { throw ValidationError("unknown peer \(peer)") }
    }

    /// A process of the family, by PID and start time.
    struct Member: Hashable {
        let pid: pid_t
        let startTime: String

        /// Whether it still runs (a zombie has ended: only its parent's wait is missing).
        var running: Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 19 && String(fields[19]) == startTime && fields[0] != "Z"
        }
    }

    /// Every process on this machine (so on every node) whose command line holds `needle`.
    static func members(containing needle: [UInt8]) -> [Member] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> Member? in
            guard let pid = pid_t(name), let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let bytes = [UInt8](line)
            guard bytes.count >= needle.count, (0...(bytes.count - needle.count)).contains(where: { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 19 ? Member(pid: pid, startTime: String(fields[19])) : nil
        }
    }

    struct Round {
        var exit: Double
        /// nil: some of the family was still there after the patience ran out.
        var gone: Double?
        var left: Int
    }

    func run() throws {
        let cluster = try BenchCluster(options: options, needed: nodes)
        defer { cluster.down() }
        let user = cluster.user
        let hosts = cluster.nodes(nodes)
        let config = cluster.userConfig
        print("launch-kill: a family ignoring SIGTERM/SIGINT with a double-forked member, 3 processes on each of \(hosts) as \(user.name); double ^C 0.2 s apart; \(rounds) rounds; load \(loadAverage())")
        var exits = [String: [Double]]()
        var gones = [String: [Double]]()
        var leftBehind = [String: Int]()
        for round in 0..<rounds {
            for tool in ["cluster-launch"] + peers {
                let tag = "\(3000 + round).\(UInt32.random(in: 0...UInt32.max))"
                let script = "trap '' TERM INT; sleep \(tag)1 & (setsid sleep \(tag)2 &); sleep \(tag)3"
                let argv = tool == "pdsh"
                    ? ["/usr/bin/pdsh", "-R", "ssh", "-f", "\(nodes)", "-w", hosts, script]
                    : [options.tool("cluster-launch"), "run", "-F", config, "-f", "\(nodes)", "-w", hosts, "--", "sh", "-c", script]
                let environment = tool == "pdsh" ? user.environment(["PDSH_SSH_ARGS_APPEND": "-F \(config)"]) : user.environment()
                let result = try measure(user.argv(argv), environment: environment, needle: Array("sleep\u{0}\(tag)".utf8), expected: 3 * nodes)
                exits[tool, default: []].append(result.exit)
                if let gone = result.gone { gones[tool, default: []].append(gone) }
                leftBehind[tool, default: 0] += result.left
            }
        }
        var table = ResultTable()
        for tool in ["cluster-launch"] + peers {
            table.add(ResultRow(benchmark: "launch-kill", scenario: "\(nodes) nodes, exit", tool: tool, unit: "s", sample: Sample(exits[tool] ?? [])))
            let left = leftBehind[tool] ?? 0
            table.add(ResultRow(benchmark: "launch-kill", scenario: "\(nodes) nodes, family gone", tool: tool, unit: "s", sample: Sample(gones[tool] ?? []),
                                note: left > 0 ? "\(left) of \(3 * nodes * rounds) processes still there after \(patience) s (removed by the benchmark)" : ""))
        }
        table.fillRatios(ours: "cluster-launch")
        table.print(title: "launch-kill: seconds from the second SIGINT (goal: cluster-launch within 2 s on 64 nodes, family gone too)", ratioHeader: "ours/tool")
        print("load after: \(loadAverage())")
        table.appendCSV(to: options.csv)
    }

    /// One double ^C: starts the job, waits until all its processes run, interrupts twice,
    /// and times the exit and the family's end; whatever is left is killed afterwards.
    func measure(_ argv: [String], environment: [String: String], needle: [UInt8], expected: Int) throws -> Round {
        let launcher = try Subprocess.Background(argv, environment: environment)
        var members: [Member] = []
        defer {
            for member in members where member.running { kill(member.pid, SIGKILL) }
            launcher.stop()
        }
        try waitFor("\(expected) processes of the family", timeout: .seconds(options.commandDeadline)) {
            members = Self.members(containing: needle)
            if launcher.hasExited() { throw BenchFailure("\(argv[5]) ended before the family was up: \(launcher.errorsSoFar.suffix(300))") }
            return members.count >= expected
        }
        kill(launcher.pid, SIGINT)
        usleep(200_000)
        kill(launcher.pid, SIGINT)
        let start = ContinuousClock.now
        var exit: Double?
        var gone: Double?
        let limit = start + .milliseconds(Int(patience * 1000))
        var running = members
        while ContinuousClock.now < limit, exit == nil || gone == nil {
            if exit == nil, launcher.hasExited() { exit = (ContinuousClock.now - start).seconds }
            if gone == nil {
                running = running.filter(\.running)
                if running.isEmpty { gone = (ContinuousClock.now - start).seconds }
            }
            usleep(2_000)
        }
        return Round(exit: exit ?? patience, gone: gone, left: running.count)
    }
}
