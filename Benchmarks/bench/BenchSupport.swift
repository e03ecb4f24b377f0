import ArgumentParser
import Foundation
import Glibc
import Synchronization

// MARK: - Options every cluster benchmark shares

/// Where the tools are, which simulated cluster to use and where results go.
struct ClusterBenchOptions: ParsableArguments {
    @Option(help: "Directory holding cluster-launch, cps and procsrv (default: beside this program).")
    var bin: String?

    @Option(help: "The simcluster script (default: scripts/simcluster of the checkout holding this program).")
    var simcluster: String?

    @Option(help: "State directory of the benchmark's own simulated cluster.")
    var clusterDir = "/tmp/cluster-proc-bench-sim"

    @Option(help: "Loopback net of the cluster: node i listens on 127.0.NET.i.")
    var net = 70

    @Option(help: "Nodes of the cluster (every benchmark uses the first few; one shape lets them share it).")
    var clusterNodes = 64

    @Flag(help: "Leave the cluster running afterwards (the next benchmark reuses it).")
    var keepCluster = false

    @Option(help: "Append result rows to this CSV file.")
    var csv: String?

    @Option(help: "Seconds any one measured command may take before it is killed.")
    var commandDeadline: Double = 120

    func validate() throws {
        guard net >= 1, net <= 254, clusterNodes >= 1, clusterNodes <= 254 else { throw ValidationError("--net and --cluster-nodes are 1…254") }
        guard commandDeadline > 0 else { throw ValidationError("--command-deadline must be positive") }
    }

    /// The directory of this executable, symlinks resolved.
    static var selfDirectory: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    var binDirectory: String { bin ?? Self.selfDirectory }
    var benchPath: String { Self.selfDirectory + "/cluster-proc-bench" }

    /// scripts/simcluster: given, or found walking up from the executable (…/.build/…/release).
    func simclusterPath() throws -> String {
        if let simcluster { return simcluster }
        var directory = URL(fileURLWithPath: Self.selfDirectory)
        for _ in 0..<6 {
            let candidate = directory.appendingPathComponent("scripts/simcluster").path
            if access(candidate, X_OK) == 0 { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw ValidationError("cannot find scripts/simcluster; pass --simcluster PATH")
    }

    func tool(_ name: String) -> String { "\(binDirectory)/\(name)" }
}

// MARK: - The simulated cluster

/// A simulated cluster started through scripts/simcluster in a state directory of its own.
final class BenchCluster {
    let script: String
    let directory: String
    let net: Int
    let count: Int
    let keep: Bool
    private(set) var environment: [String: String] = [:]

    /// Starts `--cluster-nodes` nodes, at least `needed` (or reuses the ones already up with the same shape).
    init(options: ClusterBenchOptions, needed: Int) throws {
        guard getuid() == 0 else { throw ValidationError("the cluster benchmarks start sshd nodes: run them as root") }
        script = try options.simclusterPath()
        directory = options.clusterDir
        net = options.net
        count = Swift.max(needed, options.clusterNodes)
        keep = options.keepCluster
        let up = try Subprocess.run([script, "up", "\(count)", "--net", "\(net)"], environment: scriptEnvironment, deadline: .seconds(120))
        guard up.status == 0 else {
            throw ValidationError("simcluster up \(count) failed (\(up.status)): \(up.errorText)")
        }
        let env = try Subprocess.run([script, "env"], environment: scriptEnvironment, deadline: .seconds(10))
        for line in env.outputText.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            var value = String(assignment[assignment.index(after: eq)...])
            if value.hasPrefix("'"), value.hasSuffix("'"), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            environment[String(assignment[..<eq])] = value
        }
        guard environment["SIMCLUSTER_SSH_CONFIG_USER"] != nil, environment["SIMCLUSTER_USER"] != nil else {
            throw ValidationError("simcluster env said nothing usable: \(env.outputText)")
        }
    }

    private var scriptEnvironment: [String: String] {
        ["PATH": BenchUser.path, "SIMCLUSTER_DIR": directory, "HOME": "/root", "LANG": "C.UTF-8"]
    }

    /// The ordinary user the nodes log in as (root's shell start-up may be slow: see FIELD-NOTES).
    var user: BenchUser { BenchUser(name: environment["SIMCLUSTER_USER"]!) }
    var userConfig: String { environment["SIMCLUSTER_SSH_CONFIG_USER"]! }
    var rootConfig: String { environment["SIMCLUSTER_SSH_CONFIG"]! }

    /// `node[01-NN]` for the first `n` nodes, in the cluster's own naming.
    func nodes(_ n: Int) -> String {
        let width = count > 99 ? 3 : 2
        func name(_ i: Int) -> String { String(format: "%0\(width)d", i) }
        return n == 1 ? "node\(name(1))" : "node[\(name(1))-\(name(n))]"
    }

    /// Stops every node, unless asked to keep them.
    func down() {
        guard !keep else { return }
        let result = try? Subprocess.run([script, "down"], environment: scriptEnvironment, deadline: .seconds(60))
        if result?.status != 0 { FileHandle.standardError.write("simcluster down failed: \(result?.errorText ?? "")\n".data(using: .utf8)!) }
    }
}

/// A user to run commands as, through setpriv, with a clean environment.
struct BenchUser {
    static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    let name: String

    var home: String {
        guard let entry = getpwnam(name), let dir = entry.pointee.pw_dir else { return "/" }
        return String(cString: dir)
    }

    /// argv that runs `argv` as this user (setpriv execs it: the PID is the command's own).
    func argv(_ argv: [String]) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(name)", "--regid=\(name)", "--init-groups", "--"] + argv
    }

    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ["PATH": Self.path, "HOME": home, "USER": name, "LOGNAME": name, "LANG": "C.UTF-8"].merging(extra) { $1 }
    }
}

// MARK: - Subprocesses, timed on the monotonic clock

/// One finished command: its status, its wall time, its output.
struct Subprocess {
    var status: Int32
    var seconds: Double
    /// User plus system CPU seconds of the command and the children it waited for.
    var cpuSeconds: Double = 0
    var output: [UInt8]
    var errors: [UInt8]
    var timedOut: Bool

    var outputText: String { String(decoding: output, as: UTF8.self) }
    var errorText: String { String(decoding: errors, as: UTF8.self) }
    var outputLines: Int { output.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } }

    /// Runs `argv` to the end (killed after `deadline`), stdout and stderr in files; the
    /// time runs from just before the spawn to just after `waitpid`.
    static func run(_ argv: [String], environment: [String: String], deadline: Duration, stdin: String = "/dev/null") throws -> Subprocess {
        let running = try Background(argv, environment: environment, stdin: stdin)
        return running.wait(deadline: deadline)
    }

    /// Runs `argv` and fails unless it exits 0.
    @discardableResult
    static func check(_ argv: [String], environment: [String: String], deadline: Duration) throws -> Subprocess {
        let result = try run(argv, environment: environment, deadline: deadline)
        guard result.status == 0 else {
            throw ValidationError("\(argv.joined(separator: " ")) failed (status \(result.status)\(result.timedOut ? ", timed out" : "")): \(result.errorText.suffix(600))")
        }
        return result
    }

    /// A started command whose end may be awaited later (a family left running, for example).
    final class Background {
        let pid: pid_t
        let argv: [String]
        let started: ContinuousClock.Instant
        private let outputPath: String
        private let errorPath: String
        private var finished: Subprocess?

        init(_ argv: [String], environment: [String: String], stdin: String = "/dev/null") throws {
            self.argv = argv
            let base = NSTemporaryDirectory() + "cluster-proc-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            outputPath = base + ".out"
            errorPath = base + ".err"
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            // A process group of its own, so a deadline kills the command and its children.
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            posix_spawnattr_setpgroup(&attributes, 0)
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            let cEnv: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                cArgs.forEach { free($0) }
                cEnv.forEach { free($0) }
            }
            var pid: pid_t = 0
            started = .now
            let result = cArgs.withUnsafeBufferPointer { args in
                cEnv.withUnsafeBufferPointer { env in
                    posix_spawn(&pid, argv[0], &actions, &attributes, args.baseAddress!, env.baseAddress!)
                }
            }
            guard result == 0 else { throw ValidationError("cannot start \(argv[0]): \(String(cString: strerror(result)))") }
            self.pid = pid
        }

        deinit {
            unlink(outputPath)
            unlink(errorPath)
        }

        /// Waits for the end; after `deadline` SIGTERM to the group, 3 s later SIGKILL.
        func wait(deadline: Duration) -> Subprocess {
            if let finished { return finished }
            let pid = self.pid
            let done = RaisedFlag()
            let timedOut = RaisedFlag()
            let limit = started + deadline
            let watchdog = Thread {
                while !done.value {
                    if ContinuousClock.now >= limit {
                        timedOut.set()
                        kill(-pid, SIGTERM)
                        var waited = 0
                        while !done.value, waited < 300 {
                            usleep(10_000)
                            waited += 1
                        }
                        if !done.value { kill(-pid, SIGKILL) }
                        return
                    }
                    usleep(20_000)
                }
            }
            watchdog.start()
            var status: Int32 = 0
            var usage = rusage()
            while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
            let end = ContinuousClock.now
            let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
            done.set()
            let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let output = (try? Data(contentsOf: URL(fileURLWithPath: outputPath))).map { [UInt8]($0) } ?? []
            let errors = (try? Data(contentsOf: URL(fileURLWithPath: errorPath))).map { [UInt8]($0) } ?? []
            unlink(outputPath)
            unlink(errorPath)
            let result = Subprocess(status: code, seconds: (end - started).seconds, cpuSeconds: cpu, output: output, errors: errors,
                                    timedOut: timedOut.value)
            finished = result
            return result
        }

        /// Ends the command (SIGTERM, then SIGKILL) and reaps it.
        func stop(grace: Duration = .seconds(5)) {
            guard !hasExited() else { return }
            kill(pid, SIGTERM)
            let limit = ContinuousClock.now + grace
            while ContinuousClock.now < limit {
                if hasExited() { return }
                usleep(20_000)
            }
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            _ = wait(deadline: .seconds(5))
        }

        /// True once the command has ended (it is reaped then, its result kept).
        func hasExited() -> Bool {
            if finished != nil { return true }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return false }
            let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            finished = Subprocess(status: code, seconds: (ContinuousClock.now - started).seconds, output: [], errors: [], timedOut: false)
            return true
        }

        /// What the command has written so far.
        var outputSoFar: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        var errorsSoFar: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    }
}

/// A flag one thread raises and another reads.
final class RaisedFlag: Sendable {
    private let state = Atomic<Bool>(false)
    var value: Bool { state.load(ordering: .acquiring) }
    func set() { state.store(true, ordering: .releasing) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func waitFor(_ what: String, timeout: Duration, _ condition: () throws -> Bool) throws {
    let limit = ContinuousClock.now + timeout
    while true {
        if try condition() { return }
        guard ContinuousClock.now < limit else { throw ValidationError("gave up waiting for \(what) after \(timeout)") }
        usleep(50_000)
    }
}

// MARK: - Statistics

/// Order statistics of a sample (nearest-rank percentiles).
struct Sample {
    let values: [Double]
    init(_ values: [Double]) { self.values = values.sorted() }

    var count: Int { values.count }
    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(values.count)).rounded(.up))
        return values[Swift.min(Swift.max(rank, 1), values.count) - 1]
    }
    var median: Double {
        guard !values.isEmpty else { return .nan }
        let n = values.count
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2
    }
    var min: Double { values.first ?? .nan }
    var max: Double { values.last ?? .nan }
}

// MARK: - Results: a table on stdout, rows in a CSV file

/// One measured figure.
struct ResultRow {
    var benchmark: String
    var scenario: String
    var tool: String
    var unit: String
    var sample: Sample
    /// Our figure divided by this row's (filled in for peers).
    var ratio: Double?
    /// CPU seconds of the measured command and its children, when known.
    var cpu: Sample?
    var note = ""
}

/// Prints rows as an aligned table and appends them to a CSV file.
struct ResultTable {
    var rows: [ResultRow] = []

    mutating func add(_ row: ResultRow) { rows.append(row) }

    static func format(_ value: Double, unit: String) -> String {
        if value.isNaN { return "-" }
        switch unit {
        case "s": return String(format: "%.3f", value)
        case "us": return String(format: "%.1f", value)
        default: return String(format: "%.4g", value)
        }
    }

    /// `ours / theirs` for each peer row, after `ours` rows of each scenario.
    mutating func fillRatios(ours: String) {
        for index in rows.indices {
            let row = rows[index]
            guard row.tool != ours, let mine = rows.first(where: { $0.scenario == row.scenario && $0.tool == ours && $0.benchmark == row.benchmark }) else { continue }
            rows[index].ratio = mine.sample.median / row.sample.median
        }
    }

    func print(title: String, ratioHeader: String) {
        Swift.print(title)
        let showCPU = rows.contains { $0.cpu != nil }
        var header = ["scenario", "tool", "median", "p99", "min", "max", "n", ratioHeader]
        if showCPU { header.append("cpu (median s)") }
        header.append("note")
        var lines = [header]
        for row in rows {
            var line = [
                row.scenario, row.tool, Self.format(row.sample.median, unit: row.unit) + " " + row.unit,
                Self.format(row.sample.percentile(99), unit: row.unit), Self.format(row.sample.min, unit: row.unit),
                Self.format(row.sample.max, unit: row.unit), "\(row.sample.count)",
                row.ratio.map { String(format: "%.2f", $0) } ?? "",
            ]
            if showCPU { line.append(row.cpu.map { String(format: "%.3f", $0.median) } ?? "") }
            line.append(row.note)
            lines.append(line)
        }
        var widths = [Int](repeating: 0, count: header.count)
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
        for line in lines {
            let cells = line.enumerated().map { i, cell in
                i == line.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }
            Swift.print("  " + cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    /// Appends the rows (header first when the file is new).
    func appendCSV(to path: String?) {
        guard let path else { return }
        let header = "date,benchmark,scenario,tool,unit,median,p50,p99,min,max,n,ratio_ours_over_tool,cpu_median_s,note\n"
        var text = FileManager.default.fileExists(atPath: path) ? "" : header
        let date = ISO8601DateFormatter().string(from: Date())
        func cell(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        func number(_ v: Double) -> String { v.isNaN ? "" : String(format: "%.6g", v) }
        for row in rows {
            text += [date, row.benchmark, row.scenario, row.tool, row.unit, number(row.sample.median), number(row.sample.percentile(50)),
                     number(row.sample.percentile(99)), number(row.sample.min), number(row.sample.max), "\(row.sample.count)",
                     row.ratio.map(number) ?? "", row.cpu.map { number($0.median) } ?? "", row.note].map(cell).joined(separator: ",") + "\n"
        }
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() else { return }
        handle.seekToEndOfFile()
        handle.write(text.data(using: .utf8)!)
        handle.closeFile()
    }
}

/// A benchmark that could not finish, said in one line (no usage text).
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The machine's load, for the record beside every figure.
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
}
