import ArgumentParser
import Foundation
import Glibc
import NineP

/// walk + open + read + clunk of `PID/stat` for every PID, through procsrv and through diod
/// exporting /proc, driven by the same client (ours, 9P2000.L).
struct ProcfsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "procfs",
        abstract: "Read every PID/stat through procsrv and through diod; print files/s and the ratio.")

    @Option(help: "Rounds over every PID for each server.")
    var rounds = 5

    @Option(help: "How procsrv listens: tcp (loopback) or unix.")
    var transport = "tcp"

    @Option(help: "The procsrv executable (default: beside this one).")
    var procsrv: String?

    @Option(help: "The diod executable.")
    var diod = "/usr/sbin/diod"

    @Option(help: "Requests in flight at once (files read concurrently).")
    var concurrency = 1

    func validate() throws {
        guard transport == "tcp" || transport == "unix" else { throw ValidationError("--transport is tcp or unix") }
        guard rounds > 0, concurrency > 0 else { throw ValidationError("--rounds and --concurrency must be positive") }
    }

    func run() async throws {
        let directory = NSTemporaryDirectory() + "procfs-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let procsrvPath = procsrv ?? (URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path + "/procsrv")
        let listen = transport == "tcp" ? "tcp:127.0.0.1:0" : "unix:\(directory)/procsrv.sock"
        // Loopback TCP without a key, as diod is run beside it; a unix: socket needs no option.
        let procsrvServer = try BenchServer(argv: [procsrvPath, "--listen", listen] + (transport == "tcp" ? ["--no-auth"] : []), errorPath: "\(directory)/procsrv.err")
        defer { procsrvServer.stop() }
        let procsrvAddress = try procsrvServer.waitForLine(prefix: "procsrv: listening on ")

        let port = try Self.freeLoopbackPort()
        var diodArguments = [diod, "-f", "-n", "-N", "-l", "127.0.0.1:\(port)", "-e", "/proc", "-L", "stderr"]
        if getuid() == 0 { diodArguments += ["-U", "root"] }
        let diodServer = try BenchServer(argv: diodArguments, errorPath: "\(directory)/diod.err")
        defer { diodServer.stop() }
        let diodAddress = "tcp:127.0.0.1:\(port)"
        try Self.waitUntilListening(diodAddress, server: diodServer)

        print("procfs: walk+open+read+clunk of PID/stat for every PID, \(rounds) rounds, \(concurrency) in flight, 9P2000.L")
        let ours = try await measure(name: "procsrv (\(transport))", address: procsrvAddress)
        let theirs = try await measure(name: "diod (tcp)", address: diodAddress)
        print(String(format: "ratio procsrv/diod: %.2f", ours / theirs))
    }

    /// Files per second over every round (the median round).
    func measure(name: String, address: String) async throws -> Double {
        let client = try NinePClient.connect(over: try NinePAddress(parsing: address).connect())
        defer { client.close() }
        let root = try await client.attach(uname: "root", aname: "/proc", numericUser: getuid())
        let listing = try await client.walk(root, [])
        try await client.open(listing)
        let pids = try await client.readDirectory(listing).map(\.name).filter { Int($0) != nil }
        try await client.clunk(listing)
        var rates: [Double] = []
        var failures = 0
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            var bytes = 0
            var next = 0
            while next < pids.count {
                let batch = pids[next..<min(pids.count, next + concurrency)]
                next += batch.count
                let results = await withTaskGroup(of: Int?.self) { group in
                    for pid in batch {
                        group.addTask { try? await Self.readStat(client, root, pid) }
                    }
                    var all: [Int?] = []
                    for await result in group { all.append(result) }
                    return all
                }
                for result in results {
                    if let result { bytes += result } else { failures += 1 }
                }
            }
            let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
            rates.append(Double(pids.count) / seconds)
        }
        let median = rates.sorted()[rates.count / 2]
        print(String(format: "%@ %6d PIDs  median %9.0f files/s  (rounds: %@; %d failed reads)", name.padding(toLength: 16, withPad: " ", startingAt: 0) as NSString, pids.count, median,
                     rates.map { String(format: "%.0f", $0) }.joined(separator: " ") as NSString, failures))
        return median
    }

    /// One step at a time: diod serves a fid's pipelined requests out of order, so the
    /// client's pipelined `readFile` cannot be used against it; both servers get the same.
    static func readStat(_ client: NinePClient, _ root: RemoteFid, _ pid: String) async throws -> Int {
        let fid = try await client.walk(root, [pid, "stat"])
        do {
            try await client.open(fid)
            let data = try await client.readAll(fid)
            try await client.clunk(fid)
            return data.count
        } catch {
            try? await client.clunk(fid)
            throw error
        }
    }

    static func freeLoopbackPort() throws -> UInt16 {
        let listener = try NinePListener(.tcp(host: "127.0.0.1", port: 0))
        defer { listener.shutdown() }
        guard case .tcp(_, let port) = listener.address else { throw ValidationError("no port") }
        return port
    }

    static func waitUntilListening(_ address: String, server: BenchServer) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let stream = try? NinePAddress(parsing: address).connect() {
                stream.close()
                return
            }
            usleep(20000)
        }
        throw ValidationError("\(address) never answered: \(server.errors)")
    }
}

/// A server process for the benchmark, its stderr in a file.
final class BenchServer {
    let pid: pid_t
    let errorPath: String

    init(argv: [String], errorPath: String) throws {
        self.errorPath = errorPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let result = cArgs.withUnsafeBufferPointer { posix_spawn(&pid, argv[0], &actions, nil, $0.baseAddress!, environ) }
        guard result == 0 else { throw ValidationError("cannot start \(argv[0]): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    func waitForLine(prefix: String) throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let line = errors.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            usleep(20000)
        }
        throw ValidationError("no '\(prefix)' line: \(errors)")
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }
}
