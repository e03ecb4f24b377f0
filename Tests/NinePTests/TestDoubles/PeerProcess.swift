import Foundation
import NineP
import Synchronization

/// A real peer program (diod, diodls, diodcat) run as a subprocess. Output is collected on
/// threads of their own, so nothing blocks the Swift concurrency pool.
final class PeerProcess: Sendable {
    struct Outcome: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private let process: Process
    private let output: ConditionLock<(stdout: Data?, stderr: Data?)>
    private let exited = ConditionLock<Int32?>(nil)
    let pid: Int32
    private let scratch: String

    /// Starts `path` with `arguments`.
    init(_ path: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        // A peer that crashes (diod does, and turns core dumps on itself) dumps core into its
        // working directory: give it a scratch one, removed when it stops.
        let scratch = "/tmp/cluster-proc-peer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(scratch, 0o700)
        process.currentDirectoryURL = URL(fileURLWithPath: scratch)
        self.scratch = scratch
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { process in
            exited.withLock(notify: true) { $0 = process.terminationStatus }
        }
        try process.run()
        self.process = process
        self.pid = process.processIdentifier
        let output = ConditionLock<(stdout: Data?, stderr: Data?)>((nil, nil))
        self.output = output
        let outReader = out.fileHandleForReading
        let errReader = err.fileHandleForReading
        try startThread(name: "peer-stdout") {
            let data = outReader.readDataToEndOfFile()
            output.withLock(notify: true) { $0.stdout = data }
        }
        try startThread(name: "peer-stderr") {
            let data = errReader.readDataToEndOfFile()
            output.withLock(notify: true) { $0.stderr = data }
        }
    }

    /// Whether the process has exited.
    var hasExited: Bool { exited.withLock { $0 != nil } }

    /// Waits for the process to exit and its output to end; nil when the deadline passed.
    func wait(deadline: ContinuousClock.Instant) -> Outcome? {
        guard let status = exited.wait(until: { $0 != nil }, deadline: deadline, { $0 }) ?? nil else { return nil }
        guard let (out, err) = output.wait(until: { $0.stdout != nil && $0.stderr != nil }, deadline: deadline, { ($0.stdout!, $0.stderr!) }) else {
            return nil
        }
        removeScratch()
        return Outcome(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    /// Ends the process by its PID (SIGTERM, then SIGKILL if it lingers) and reaps it.
    func stop() -> Outcome? {
        if !hasExited { kill(pid, SIGTERM) }
        if let outcome = wait(deadline: .now + .seconds(5)) { return outcome }
        kill(pid, SIGKILL)
        return wait(deadline: .now + .seconds(5))
    }

    /// Removes the scratch directory and whatever a crash left in it.
    private func removeScratch() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: scratch) else { return }
        for entry in entries { unlink("\(scratch)/\(entry)") }
        rmdir(scratch)
    }

    /// Runs a program to its end on threads of its own and returns what it printed.
    static func run(_ path: String, _ arguments: [String], timeout: Duration = .seconds(20)) async throws -> Outcome {
        let peer = try PeerProcess(path, arguments)
        return try await withCheckedThrowingContinuation { continuation in
            do {
                try startThread(name: "peer-wait") {
                    if let outcome = peer.wait(deadline: .now + timeout) {
                        continuation.resume(returning: outcome)
                    } else {
                        let partial = peer.stop()
                        continuation.resume(throwing: NinePError.timedOut("\(path) \(arguments) did not finish within \(timeout): \(partial?.stderr ?? "")"))
                    }
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it).
func freeLoopbackPort() throws -> UInt16 {
    let listener = try NinePListener(.tcp(host: "127.0.0.1", port: 0))
    defer { listener.shutdown() }
    guard case .tcp(_, let port) = listener.address else { throw NinePError(.invalidArgument, "no port") }
    return port
}
