import ArgumentParser
import Glibc

/// The daemon's double fork: starts `ignore-term` in a session (and process group) of its
/// own, then exits, so the grandchild is orphaned and re-parents to the nearest subreaper.
/// The grandchild keeps this process's stdout and reports `ready PID` on it.
struct OrphanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orphan",
        abstract: "Start 'ignore-term' in a new session and exit at once.")

    func run() throws {
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        guard length > 0 else { throw ExitCode(2) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup("cluster-proc-testtool"), strdup("ignore-term"), nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let result = arguments.withUnsafeBufferPointer {
            posix_spawn(&pid, path, nil, &attributes, $0.baseAddress!, environ)
        }
        guard result == 0 else { throw ExitCode(3) }
    }
}
