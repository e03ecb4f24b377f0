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
