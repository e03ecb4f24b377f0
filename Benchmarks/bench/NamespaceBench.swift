import ArgumentParser
import Foundation
import Glibc

/// Latency of reading a node's `/proc/PID/status` inside the family's namespace (FUSE → union
/// → 9P → procsrv over SSH) against the same read of a local PID. The timing loop runs inside
/// one `cluster-launch exec`, so setting up the namespace is not counted.
struct NamespaceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "namespace",
        abstract: "p50/p99 of `cat /proc/node01/PID/status` in the family's namespace against a local `cat /proc/PID/status`.")

    @OptionGroup var options: ClusterBenchOptions

    @Option(help: "Timed runs of each case.")
    var runs = 300

    @Option(help: "Untimed runs before each case.")
    var warmup = 10

    func validate() throws {
        guard runs >= 1, runs <= 100_000, warmup >= 0, warmup <= 1000 else { throw ValidationError("--runs is 1…100000, --warmup 0…1000") }
    }

    func run() throws {
        let cluster = try BenchCluster(options: options, needed: 1)
        defer { cluster.down() }
        let deadline = Duration.seconds(options.commandDeadline)
        // Root's family: entering the namespace mounts FUSE, which needs root while /dev/fuse
        // is 0600 (FIELD-NOTES); nothing crosses SSH while the loop runs, so root's slow shell
        // start-up costs only the launch.
        let environment = ["PATH": BenchUser.path, "HOME": "/root", "LANG": "C.UTF-8"]
        let family = try Subprocess.Background(
            [options.tool("cluster-launch"), "run", "-F", cluster.rootConfig, "-w", cluster.nodes(1), "-u", "900", "--", "sleep", "600"],
            environment: environment)
        defer { family.stop() }
        let id = "\(family.pid)"
        var remotePID = ""
        try waitFor("the job of family \(id) on node01", timeout: .seconds(60)) {
            if family.hasExited() { throw ValidationError("the family exited early: \(family.errorsSoFar.suffix(600))") }
            let seen = try? Subprocess.run([options.tool("cps"), "-j", id, "-o", "pid,args", "--no-headers", "--no-host"],
                                           environment: environment, deadline: .seconds(20))
            let line = seen?.outputText.split(separator: "\n").first { $0.contains("sleep 600") }
            remotePID = line.flatMap { $0.split(separator: " ").first.map(String.init) } ?? ""
            return !remotePID.isEmpty
        }
        let local = try Subprocess.Background(["/bin/sleep", "600"], environment: environment)
        defer { local.stop() }

        print("namespace: reads of PID/status, \(runs) runs after \(warmup) untimed; load \(loadAverage())")
        let remotePath = "/proc/\(cluster.nodes(1))/\(remotePID)/status"
        let localPath = "/proc/\(local.pid)/status"
        let timer = [options.benchPath, "time-runs", "--runs", "\(runs)", "--warmup", "\(warmup)", "--expect", "State:"]
        let exec = [options.tool("cluster-launch"), "exec", "-j", id, "--"]
        let cases: [(scenario: String, tool: String, argv: [String])] = [
            ("cat (spawn+read)", "namespace node01", exec + timer + ["--", "/bin/cat", remotePath]),
            ("cat (spawn+read)", "local", timer + ["--", "/bin/cat", localPath]),
            ("cat (spawn+read)", "namespace local pid", exec + timer + ["--", "/bin/cat", localPath]),
            ("open+read+close", "namespace node01", exec + timer + ["--read", remotePath]),
            ("open+read+close", "local", timer + ["--read", localPath]),
            ("open+read+close", "namespace local pid", exec + timer + ["--read", localPath]),
        ]
        var table = ResultTable()
        for item in cases {
            let result = try Subprocess.check(item.argv, environment: environment, deadline: deadline)
            let sample = Sample(try TimeRuns.parse(result.outputText).map { $0 / 1e3 })
            table.add(ResultRow(benchmark: "namespace", scenario: item.scenario, tool: item.tool, unit: "us", sample: sample))
        }
        for index in table.rows.indices where table.rows[index].tool != "local" {
            if let local = table.rows.first(where: { $0.scenario == table.rows[index].scenario && $0.tool == "local" }) {
                table.rows[index].ratio = table.rows[index].sample.median / local.sample.median
                table.rows[index].note = String(format: "p99 ratio %.2f", table.rows[index].sample.percentile(99) / local.sample.percentile(99))
            }
        }
        table.print(title: "namespace: microseconds per read (goal: node01 within 3 × local)", ratioHeader: "tool/local")
        print("load after: \(loadAverage())")
        table.appendCSV(to: options.csv)
    }
}

/// `cluster-proc-bench time-runs`: runs a command (or reads a file) again and again and prints
/// each run's nanoseconds on the monotonic clock, one per line. Runs inside a namespace or a
/// PID namespace, where the benchmark itself cannot time things without counting the set-up.
struct TimeRuns: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "time-runs", abstract: "Time each run of a command or a file read (nanoseconds, one per line).",
        shouldDisplay: false)

    @Option(help: "Timed runs.") var runs = 100
    @Option(help: "Untimed runs first.") var warmup = 0
    @Option(help: "Seconds one run may take.") var deadline: Double = 30
    @Option(help: "Fail unless the first run's output contains this.") var expect: String?
    @Flag(help: "Open, read to the end and close the file named instead of running a command.") var read = false
    @Argument(parsing: .captureForPassthrough, help: "The command (absolute path first), or with --read the file.") var command: [String] = []

    func validate() throws {
        var words = command
        if words.first == "--" { words.removeFirst() }
        guard let first = words.first else { throw ValidationError("nothing to run") }
        guard first.hasPrefix("/") else { throw ValidationError("give an absolute path: \(first)") }
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be positive") }
    }

    func run() throws {
        var words = command
        if words.first == "--" { words.removeFirst() }
        var times: [Int64] = []
        times.reserveCapacity(runs)
        var buffer = [UInt8](repeating: 0, count: 65536)
        let environment = ProcessInfo.processInfo.environment
        for index in 0..<(warmup + runs) {
            let start = ContinuousClock.now
            var output: [UInt8] = []
            if read {
                let fd = open(words[0], O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ValidationError("open \(words[0]): \(String(cString: strerror(errno)))") }
                while true {
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if count <= 0 { break }
                    if index == 0 { output += buffer[0..<count] }
                }
                close(fd)
            } else {
                let result = try Subprocess.run(words, environment: environment, deadline: .milliseconds(Int(deadline * 1000)))
                guard result.status == 0 else { throw ValidationError("\(words[0]) exited \(result.status): \(result.errorText)") }
                output = result.output
            }
            let elapsed = ContinuousClock.now - start
            if index == 0, let expect, !String(decoding: output, as: UTF8.self).contains(expect) {
                throw ValidationError("the first run's output lacks \"\(expect)\": \(String(decoding: output.prefix(300), as: UTF8.self))")
            }
            if index >= warmup {
                times.append(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            }
        }
        print(times.map(String.init).joined(separator: "\n"))
    }

    /// The nanoseconds a `time-runs` printed.
    static func parse(_ text: String) throws -> [Double] {
        let values = text.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty else { throw ValidationError("time-runs printed no times: \(text.prefix(300))") }
        return values
    }
}
