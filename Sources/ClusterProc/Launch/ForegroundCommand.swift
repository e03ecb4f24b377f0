#if canImport(Glibc)
import Glibc
#endif

/// Runs a command on this process's terminal as the terminal's foreground job, the way a
/// shell runs one, while this process goes on in the background: what the user types (and
/// the ^C, ^Z and ^\ of the terminal) goes to the command alone, never to the launcher and its
/// job. When the command ends the terminal is this process's again.
public enum ForegroundCommand {
    typealias AddTcsetpgrp = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// `posix_spawn_file_actions_addtcsetpgrp_np` (glibc 2.35): the child takes the terminal
    /// before it runs anything, so it never reads from it in the background.
    static let addTcsetpgrp: AddTcsetpgrp? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addtcsetpgrp_np") else { return nil }
        return unsafeBitCast(symbol, to: AddTcsetpgrp.self)
    }()

    /// `POSIX_SPAWN_SETPGROUP`, `POSIX_SPAWN_SETSIGDEF`, `POSIX_SPAWN_SETSIGMASK`.
    private static let spawnFlags = Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)

    /// Runs `argv` (a path as its first word) in a process group of its own, in the
    /// foreground of the terminal on standard input when this process holds it, and waits
    /// for it. Blocks: call it off the concurrency pool.
    /// - Returns: its exit code, or 128+N for a signal.
    /// - Throws: ``LaunchError`` when it cannot be started.
    public static func run(_ argv: [String]) throws(LaunchError) -> Int32 {
        let terminal = isatty(STDIN_FILENO) == 1 && tcgetpgrp(STDIN_FILENO) == getpgrp()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if terminal, let addTcsetpgrp { _ = addTcsetpgrp(&actions, STDIN_FILENO) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // The terminal's signals at their defaults: the launcher handles some of them itself.
        var terminalSignals = sigset_t()
        sigemptyset(&terminalSignals)
        for signal in [SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&terminalSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &terminalSignals)
        posix_spawnattr_setflags(&attributes, spawnFlags)

        var words: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { words.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, &words, environ)
        guard result == 0 else { throw LaunchError("cannot start \(argv[0]): \(String(cString: strerror(result)))") }
        if terminal, addTcsetpgrp == nil { _ = tcsetpgrp(STDIN_FILENO, pid) }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if terminal { takeTerminalBack() }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Makes this process's group the terminal's foreground again; a background group that
    /// does so gets SIGTTOU unless it ignores it for the moment.
    private static func takeTerminalBack() {
        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        var previous = sigaction()
        sigaction(SIGTTOU, &ignore, &previous)
        _ = tcsetpgrp(STDIN_FILENO, getpgrp())
        sigaction(SIGTTOU, &previous, nil)
    }
}
