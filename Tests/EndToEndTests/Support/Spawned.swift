import Foundation
@testable import ClusterProcNode

#if canImport(Glibc)
import Glibc
#endif

/// A program the end-to-end tests start: posix_spawn with a clean signal mask and default
/// dispositions (the test runner's threads may block signals, and a child inherits that),
/// stdout to a pipe, stderr to a file, and waitpid. Foundation's Process is avoided: it
/// sometimes never sees its child exit here.
///
/// Arguments, environment and working directory are bytes underneath, so a test can hand a
/// program words that are not UTF-8.
struct Spawned: Sendable {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrPath: String

    struct Outcome: Sendable {
        var status: Int32
        /// Standard output exactly as the program wrote it.
        var outputBytes: [UInt8]
        var errors: String
        /// Standard output, decoded (invalid UTF-8 repaired).
        var output: String { String(decoding: outputBytes, as: UTF8.self) }
    }

    /// Starts `arguments` with `environment` added to this process's.
    init(_ arguments: [String], environment: [String: String] = [:], discardOutput: Bool = false) throws {
        try self.init(bytes: arguments.map { Array($0.utf8) }, environment: environment.map { Array("\($0.key)=\($0.value)".utf8) },
                      discardOutput: discardOutput)
    }

    /// Starts `arguments` (raw bytes, no NUL inside a word) with the `NAME=VALUE` entries of
    /// `environment` added to (or replacing in) this process's, in `workingDirectory` if given.
    init(bytes arguments: [[UInt8]], environment: [[UInt8]] = [], workingDirectory: [UInt8]? = nil, discardOutput: Bool = false) throws {
        func name(_ entry: [UInt8]) -> ArraySlice<UInt8> { entry.prefix { $0 != UInt8(ascii: "=") } }
        var merged: [[UInt8]] = []
        var pointer = environ
        while let entry = pointer.pointee {
            merged.append(Array(UnsafeBufferPointer(start: UnsafeRawPointer(entry).assumingMemoryBound(to: UInt8.self), count: strlen(entry))))
            pointer += 1
        }
        let replaced = Set(environment.map { Array(name($0)) })
        merged = merged.filter { !replaced.contains(Array(name($0))) } + environment
        func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar>? {
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { copy[index] = CChar(bitPattern: byte) }
            copy[bytes.count] = 0
            return copy
        }
        // sh changes directory byte for byte (posix_spawn's chdir action is a GNU extension
        // the Glibc module does not show).
        let program = workingDirectory.map { [Array("/bin/sh".utf8), Array("-c".utf8), Array("cd \"$0\" && exec \"$@\"".utf8), $0] } ?? []
        var argv = (program + arguments).map(cString) + [nil]
        var envp = merged.map(cString) + [nil]
        defer {
            for pointer in argv { pointer?.deallocate() }
            for pointer in envp { pointer?.deallocate() }
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SimClusterError("pipe: \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let path = "/tmp/cluster-proc-test-stderr-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if discardOutput {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        }
        posix_spawn_file_actions_addopen(&actions, 2, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        // Nothing but 0-2: a pipe another test holds open (Foundation's are not close-on-exec)
        // must not live on in a daemon started here, or that test never sees its end of file.
        _ = JobSystemCalls.addClosefrom?(&actions, 3)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0]!, &actions, &attributes, &argv, &envp)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SimClusterError("cannot start \(String(decoding: arguments[0], as: UTF8.self)): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        self.stdoutFD = fds[0]
        self.stderrPath = path
    }

    /// Reads stdout to its end and waits for the exit.
    func finish() -> Outcome {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if n > 0 { output += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(stdoutFD)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let errors = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        unlink(stderrPath)
        return Outcome(status: exitStatus, outputBytes: output, errors: errors)
    }

    func signal(_ signo: Int32) {
        kill(pid, signo)
    }

    /// Runs a program to its end on a thread of its own.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Outcome {
        try await onOwnThread { try Spawned(arguments, environment: environment).finish() }
    }

    /// Runs a program given as bytes to its end on a thread of its own.
    static func run(bytes arguments: [[UInt8]], environment: [[UInt8]] = [], workingDirectory: [UInt8]? = nil) async throws -> Outcome {
        try await onOwnThread { try Spawned(bytes: arguments, environment: environment, workingDirectory: workingDirectory).finish() }
    }
}
