import Foundation
import Synchronization
import Testing

/// The launcher, cps and the namespace on a real simulated cluster of 8 sshd nodes.
@Suite(.serialized, .enabled(if: getuid() == 0, "the simulated cluster needs root (sshd in namespaces on loopback)"))
struct LaunchTests {
    static let repository = String(#filePath).components(separatedBy: "/Tests/EndToEndTests/").first!

    /// The cluster, started once for this test process and stopped when it exits.
    static let cluster: Result<[String: String], any Error> = Result {
        // Clusters left by earlier runs that died are stopped first (they hold the addresses).
        let stale = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for name in stale where name.hasPrefix("cluster-proc-test-launch-") {
            if let pid = Int32(name.dropFirst("cluster-proc-test-launch-".count)), kill(pid, 0) != 0 {
                _ = try? run(["\(repository)/scripts/simcluster", "down"], environment: ["SIMCLUSTER_DIR": "/tmp/\(name)"])
            }
        }
        let directory = "/tmp/cluster-proc-test-launch-\(getpid())"
        let up = try run(["\(repository)/scripts/simcluster", "up", "8", "--net", "50"], environment: ["SIMCLUSTER_DIR": directory])
        guard up.status == 0 else { throw Failure("simcluster up failed: \(up.errors)") }
        // However this process ends, the watchdog sees its pipe close and stops the cluster.
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = ["-c", "read _ || true; exec \"$0\" down", "\(repository)/scripts/simcluster"]
        watchdog.environment = ["SIMCLUSTER_DIR": directory, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let lifeline = Pipe()
        watchdog.standardInput = lifeline
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try watchdog.run()
        lifelines.withLock { $0.append(lifeline) }
        var environment: [String: String] = ["SIMCLUSTER_DIR": directory]
        let env = try run(["\(repository)/scripts/simcluster", "env"], environment: environment)
        for line in env.output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "="), line.hasPrefix("export ") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 7)..<eq])
            environment[name] = String(line[line.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return environment
    }

    /// The write ends of the watchdogs' pipes, held open for the life of this process.
    static let lifelines = Mutex<[Pipe]>([])

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    static var binaries: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    static func run(_ argv: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self), errors: String(decoding: errors, as: UTF8.self))
    }

    func launch(_ arguments: [String]) throws -> Outcome {
        let environment = try Self.cluster.get()
        return try Self.run(["\(Self.binaries)/cluster-launch", "run", "-F", environment["SIMCLUSTER_SSH_CONFIG"]!] + arguments, environment: environment)
    }

    @Test func prefixesOutputAndReturnsTheHighestExitCode() throws {
        let outcome = try launch(["-w", "node[01-08]", "--", "sh", "-c", "echo out $(hostname); echo err >&2; exit $CLUSTER_PROC_NODEID"])
        #expect(outcome.status == 7)
        for n in 1...8 {
            #expect(outcome.output.contains("node0\(n): out node0\(n)\n"))
            #expect(outcome.errors.contains("node0\(n): err\n"))
        }
        #expect(!outcome.output.contains("err"))
        #expect(outcome.errors.contains("node[02-08]") || outcome.errors.contains("exited with status"))
    }

    @Test func badHostListFailsBeforeAnythingStarts() throws {
        let outcome = try launch(["-w", "node[05-01]", "--", "true"])
        #expect(outcome.status != 0)
        #expect(outcome.errors.contains("node[05-01]") || outcome.errors.lowercased().contains("range"))
    }

    @Test func unknownHostIsUnreachable() throws {
        let outcome = try launch(["-w", "node01,nosuchnode", "-t", "3", "--", "true"])
        #expect(outcome.status == 255)
        #expect(outcome.errors.contains("nosuchnode"))
    }

    @Test func cpsAndTheNamespaceSeeTheJob() throws {
        let environment = try Self.cluster.get()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(Self.binaries)/cluster-launch")
        process.arguments = ["run", "-F", environment["SIMCLUSTER_SSH_CONFIG"]!, "-w", "node[01-08]", "--", "sleep", "30"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.interrupt()
            process.waitUntilExit()
        }
        let id = "\(process.processIdentifier)"
        // Wait (with a deadline) for the family to be published and the job to run everywhere.
        var rows: [Substring] = []
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let cps = try Self.run(["\(Self.binaries)/cps", "-j", id, "--no-headers", "-o", "pid,comm"])
            rows = cps.output.split(separator: "\n").filter { $0.hasSuffix(" sleep") }
            if rows.count == 8 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(rows.count == 8, "cps shows the job's sleep on every node")
        guard let node02 = rows.first(where: { $0.hasPrefix("node02") }) else { return }
        let pid = node02.split(separator: " ", omittingEmptySubsequences: true)[1]
        // Through the namespace, an unmodified cat reads node02's /proc.
        let inside = try Self.run(["\(Self.binaries)/cluster-launch", "exec", id, "--", "cat", "/proc/node02/\(pid)/status"])
        #expect(inside.status == 0, "\(inside.errors)")
        let direct = try Self.run(["/usr/bin/ssh", "-F", environment["SIMCLUSTER_SSH_CONFIG"]!, "node02", "cat", "/proc/\(pid)/status"])
        let stable = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("Name:") || $0.hasPrefix("Pid:") || $0.hasPrefix("PPid:") || $0.hasPrefix("Uid:") } }
        #expect(!stable(inside.output).isEmpty)
        #expect(stable(inside.output) == stable(direct.output))
        // ps on the node agrees with cps for the job's process.
        let ps = try Self.run(["/usr/bin/ssh", "-F", environment["SIMCLUSTER_SSH_CONFIG"]!, "node02", "ps", "-o", "pid=,ppid=,user=,comm=", "-p", String(pid)])
        let cps = try Self.run(["\(Self.binaries)/cps", "-j", id, "-w", "node02", "--no-headers", "--no-host", "-o", "pid,ppid,user,comm", "-p", String(pid)])
        #expect(ps.output.split(separator: " ", omittingEmptySubsequences: true) == cps.output.split(separator: " ", omittingEmptySubsequences: true))
        // Outside the namespace nothing changed.
        #expect(!FileManager.default.fileExists(atPath: "/proc/node02"))
    }

    @Test func interruptLeavesNothingOnTheNodes() throws {
        let environment = try Self.cluster.get()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(Self.binaries)/cluster-launch")
        process.arguments = ["run", "-F", environment["SIMCLUSTER_SSH_CONFIG"]!, "-w", "node[01-04]", "--", "sh", "-c", "trap '' TERM; sleep 1000 & sleep 1001"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let id = "\(process.processIdentifier)"
        let started = Date().addingTimeInterval(30)
        while Date() < started {
            let cps = try Self.run(["\(Self.binaries)/cps", "-j", id, "--no-headers", "-o", "comm"])
            if cps.output.split(separator: "\n").filter({ $0.hasSuffix("sleep") }).count >= 8 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.interrupt()
        Thread.sleep(forTimeInterval: 0.2)
        process.interrupt()
        process.waitUntilExit()
        for n in 1...4 {
            let deadline = Date().addingTimeInterval(5)
            var remaining = ""
            repeat {
                let ps = try Self.run(["/usr/bin/ssh", "-F", environment["SIMCLUSTER_SSH_CONFIG"]!, "node0\(n)", "ps", "-e", "-o", "args="])
                remaining = ps.output.split(separator: "\n").filter { $0.contains("sleep 100") }.joined(separator: ",")
                if remaining.isEmpty { break }
                Thread.sleep(forTimeInterval: 0.1)
            } while Date() < deadline
            #expect(remaining.isEmpty, "node0\(n) still runs \(remaining)")
        }
    }
}
