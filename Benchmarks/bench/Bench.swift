import ArgumentParser

/// cluster-proc's benchmarks: each prints our figure beside a peer's, measured in the same
/// run on the same data. Nothing here asserts a time; the numbers are for people.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-proc-bench",
        abstract: "Measure cluster-proc against its peers (diod, pdsh, clush, local ps and cat).",
        subcommands: [NinepBench.self, ProcfsBench.self, LaunchBench.self, LaunchKillBench.self, CpsBench.self, NamespaceBench.self, TimeRuns.self]
    )
}
