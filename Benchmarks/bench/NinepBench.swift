#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import NineP
import Synchronization

/// `cluster-proc-bench ninep`: small-RPC latency and throughput of our 9P client against our
/// server and against diod, same directory, same transport (a Unix socket), same workload.
struct NinepBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ninep",
        abstract: "9P round-trip latency (p50/p99, one in flight) and throughput (many in flight): our server vs diod.")

    @Option(help: "Round trips per latency figure.")
    var rounds = 20_000

    @Option(help: "Requests per throughput figure.")
    var requests = 200_000

    @Option(help: "Requests in flight for the throughput figure.")
    var inflight = 32

    @Option(help: "The diod executable (skipped when absent).")
    var diod = "/usr/sbin/diod"

    func run() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var servers: [(name: String, address: NinePAddress, aname: String, stop: () -> Void)] = []

        let ourAddress = NinePAddress.unix(path: scratch.path + "/ours.sock")
        let listener = try NinePListener(ourAddress)
        try listener.serve(try DirectoryFileSystem(root: scratch.export))
        servers.append(("ours", ourAddress, "", { listener.shutdown() }))

        var diodProcess: Process?
        if FileManager.default.isExecutableFile(atPath: diod) {
            let diodAddress = NinePAddress.unix(path: scratch.path + "/diod.sock")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: diod)
            process.arguments = ["-f", "-n", "-N", "-c", "/dev/null", "-l", scratch.path + "/diod.sock", "-e", scratch.export]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            diodProcess = process
            if try await waitUntilListening(diodAddress, process: process) {
                servers.append(("diod", diodAddress, scratch.export, {}))
            } else {
                print("diod did not start listening; measuring ours alone")
            }
        } else {
            print("\(diod) not found; measuring ours alone")
        }
        defer {
            if let diodProcess, diodProcess.isRunning {
                kill(diodProcess.processIdentifier, SIGTERM)
                diodProcess.waitUntilExit()
            }
            for server in servers { server.stop() }
        }

        print("9P over a Unix socket, \(rounds) round trips per latency figure, \(requests) requests at \(inflight) in flight")
        print(pad("server", 6) + pad("workload", 34) + pad("p50 µs", 10, right: true) + pad("p99 µs", 10, right: true) + pad("ops/s", 12, right: true))
        for server in servers {
            let client = try NinePClient.connect(over: try server.address.connect(), msize: 65536 + 24)
            defer { client.close() }
            guard case .rattach = try client.callBlocking(.tattach(Tattach(fid: 1, afid: Tattach.noFid, uname: "root", aname: server.aname, nUname: 0))) else {
                print("\(server.name): attach failed")
                continue
            }
            let getattr = Message.tgetattr(Tgetattr(fid: 1, requestMask: GetattrMask.basic.rawValue))
            let rounds = self.rounds

            let blocking = try await onThread { try Self.latency(rounds: rounds) { _ = try client.callBlocking(getattr) } }
            print(row(server.name, "Tgetattr, callBlocking, 1 in flight", blocking))

            let clone = try await onThread {
                try Self.latency(rounds: rounds) {
                    _ = try client.callBlocking(.twalk(Twalk(fid: 1, newfid: 2, wnames: [])))
                    _ = try client.callBlocking(.tclunk(Tclunk(fid: 2)))
                }
            }
            print(row(server.name, "Twalk clone + Tclunk, callBlocking", clone))

            var samples: [Duration] = []
            samples.reserveCapacity(rounds)
            for _ in 0..<min(2000, rounds) { _ = try await client.call(getattr) }
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                _ = try await client.call(getattr)
                samples.append(ContinuousClock.now - start)
            }
            print(row(server.name, "Tgetattr, async call, 1 in flight", Self.summarise(samples)))

            let requests = self.requests
            let inflight = self.inflight
            let throughput = try await onThread { try Self.throughput(client: client, message: getattr, requests: requests, inflight: inflight) }
            print(pad(server.name, 6) + pad("Tgetattr, \(inflight) in flight", 34) + pad("", 10) + pad("", 10) + pad(String(format: "%.0f", throughput), 12, right: true))
        }
    }

    struct Latency {
        var p50: Double
        var p99: Double
    }

    static func summarise(_ samples: [Duration]) -> Latency {
        let sorted = samples.sorted()
        func micros(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }
        return Latency(p50: micros(sorted[sorted.count / 2]), p99: micros(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]))
    }

    static func latency(rounds: Int, _ body: () throws -> Void) throws -> Latency {
        for _ in 0..<min(2000, rounds) { try body() }
        var samples: [Duration] = []
        samples.reserveCapacity(rounds)
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            try body()
            samples.append(ContinuousClock.now - start)
        }
        return summarise(samples)
    }

    /// Keeps `inflight` requests outstanding until `requests` were answered; returns ops/s.
    static func throughput(client: NinePClient, message: Message, requests: Int, inflight: Int) throws -> Double {
        struct Window {
            var outstanding = 0
            var answered = 0
            var failed: NinePError?
        }
        let window = ConditionLock(Window())
        let start = ContinuousClock.now
        for _ in 0..<requests {
            window.wait(until: { $0.outstanding < inflight || $0.failed != nil }) { $0.outstanding += 1 }
            client.send(message) { result in
                window.withLock(notify: true) { window in
                    window.outstanding -= 1
                    window.answered += 1
                    if case .failure(let error) = result { window.failed = error }
                }
            }
        }
        try window.wait(until: { $0.answered == requests || $0.failed != nil }) { window in
            if let failed = window.failed { throw failed }
        }
        let elapsed = ContinuousClock.now - start
        return Double(requests) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    func row(_ server: String, _ workload: String, _ latency: Latency) -> String {
        pad(server, 6) + pad(workload, 34) + pad(String(format: "%.1f", latency.p50), 10, right: true)
            + pad(String(format: "%.1f", latency.p99), 10, right: true)
    }

    func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(1, width - text.count))
        return right ? fill + text : text + fill
    }

    /// Polls connect until the server listens, it exits, or 10 s pass.
    func waitUntilListening(_ address: NinePAddress, process: Process) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline && process.isRunning {
            if let probe = try? address.connect() {
                probe.close()
                return true
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// Runs blocking work on a thread of its own.
    func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try startThread(name: "bench") { continuation.resume(with: Result { try body() }) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// A temporary directory with a small tree to export.
    struct Scratch {
        let path: String
        var export: String { path + "/export" }

        init() throws {
            var template = Array("/tmp/ninep-bench-XXXXXX".utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw NinePError(.ioError, "mkdtemp failed")
            }
            path = String(cString: made)
            try FileManager.default.createDirectory(atPath: path + "/export/dir", withIntermediateDirectories: true)
            try Data("hello\n".utf8).write(to: URL(fileURLWithPath: path + "/export/hello"))
            chmod(path, 0o755)
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
