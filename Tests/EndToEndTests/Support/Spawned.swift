import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program the end-to-end tests start: posix_spawn with a clean signal mask and default
/// dispositions (the test runner's threads may block signals, and a child inherits that),
/// stdout to a pipe, stderr to a file, and waitpid. Foundation's Process is avoided: it
/// sometimes never sees its child exit here.
struct Spawned: Sendable {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrPath: String

    struct Outcome: Sendable {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Starts `arguments` with `environment` added to this process's.
    init(_ arguments: [String], environment: [String: String] = [:], discardOutput: Bool = false) throws {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
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
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0]!, &actions, &attributes, &argv, &envp)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SimClusterError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))")
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
        return Outcome(status: exitStatus, output: String(decoding: output, as: UTF8.self), errors: errors)
    }

    func signal(_ signo: Int32) {
        kill(pid, signo)
    }

    /// Runs a program to its end on a thread of its own.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Outcome {
        try await onOwnThread { try Spawned(arguments, environment: environment).finish() }
    }
}
