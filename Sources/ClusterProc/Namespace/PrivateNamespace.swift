import Glibc
import Logging
import SystemPackage

/// The family's private namespace on Linux: a new mount namespace (plus a user namespace
/// for an ordinary user, so no root is needed) in which a FUSE ``ProcOverlay`` covers
/// `/proc`, showing the node directories beside the unchanged local entries.
///
/// Nothing of it is visible outside, and nothing remains after: the namespace dies with the
/// last process in it, taking its mounts along. The real procfs is bound at a per-user
/// directory (``realProcDirectory(uid:environment:)``) that exists outside too and is
/// never removed, since removing a mount point in another namespace would detach the
/// mount there.
public enum PrivateNamespace {
    /// Enters a fresh namespace, mounts the overlay over `/proc`, runs `command` in it,
    /// serves the file system until the command exits, unmounts, and returns its status.
    ///
    /// Call it at the very start of a fresh, single-threaded process (before anything
    /// starts a thread): the kernel refuses a user namespace to a multithreaded process.
    /// The process stays in the new namespace afterwards; it is meant to exit with the
    /// returned status.
    /// - Parameters:
    ///   - command: the program and its arguments; the program is found through `PATH`.
    ///   - tree: the backend of the host directories.
    ///   - hosts: the host directories `/proc/<host>` to show.
    ///   - logger: where the namespace and the FUSE server log, at debug level.
    /// - Returns: the command's exit status, or 128 + the signal that killed it.
    /// - Throws: ``NamespaceError`` when the namespace, the mounts or the spawn fail.
    public static func run(
        command: [String], tree: some RemoteTree, hosts: [String],
        logger: Logger = Logger(label: "cluster-proc.namespace")
    ) throws -> Int32 {
        guard !command.isEmpty else { throw NamespaceError(.spawnFailed, "no command to run") }
        let uid = getuid()
        let gid = getgid()
        let realProc = try prepareRealProcDirectory(uid: uid)
        try checkFuseDevice()
        try enter(uid: uid, gid: gid, logger: logger)

        if Glibc.mount("/proc", realProc, nil, UInt(MS_BIND) | UInt(MS_REC), nil) != 0 {
            throw NamespaceError(.mountFailed, "cannot bind /proc at \(realProc)", cause: Errno(rawValue: errno))
        }
        let overlay = try ProcOverlay(realProc: realProc, tree: tree, hosts: hosts)
        let session = FuseSession(fileSystem: overlay, timeout: 1, logger: logger)
        try session.mount(at: "/proc")
        defer { session.unmount(waitingUpTo: 5) }
        return try spawnAndWait(command, logger: logger)
    }

    // MARK: - Steps

    /// The directory the real procfs is bound to for `uid`:
    /// `$XDG_RUNTIME_DIR/cluster-proc/realproc` when that runtime directory belongs to the
    /// user, else `/tmp/cluster-proc-<uid>/realproc`.
    public static func realProcDirectory(uid: UInt32, environment: [String: String]) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            var info = stat()
            if stat(runtime, &info) == 0, info.st_uid == uid, UInt32(info.st_mode) & 0o170000 == 0o040000 {
                return "\(runtime)/cluster-proc/realproc"
            }
        }
        return "/tmp/cluster-proc-\(uid)/realproc"
    }

    private static func prepareRealProcDirectory(uid: UInt32) throws -> String {
        var environment: [String: String] = [:]
        if let runtime = getenv("XDG_RUNTIME_DIR") { environment["XDG_RUNTIME_DIR"] = String(cString: runtime) }
        let directory = realProcDirectory(uid: uid, environment: environment)
        let base = String(directory.dropLast("/realproc".count))
        for path in [base, directory] {
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw NamespaceError(.mountFailed, "cannot create \(path)", cause: Errno(rawValue: errno))
            }
            // Someone else's directory (or a link planted in /tmp) must not become ours.
            var info = stat()
            guard lstat(path, &info) == 0, UInt32(info.st_mode) & 0o170000 == 0o040000, info.st_uid == uid else {
                throw NamespaceError(.mountFailed, "\(path) is not a directory owned by uid \(uid)")
            }
            if path == base, UInt32(info.st_mode) & 0o077 != 0 {
                throw NamespaceError(.mountFailed, "\(path) is accessible to other users; expected mode 0700")
            }
        }
        return directory
    }

    private static func checkFuseDevice() throws {
        let fd = Glibc.open("/dev/fuse", O_RDWR | O_CLOEXEC)
        if fd < 0 {
            let error = Errno(rawValue: errno)
            throw NamespaceError(.fuseUnavailable, fuseDeviceProblem(error), cause: error)
        }
        _ = close(fd)
    }

    /// Counts the threads of this process (the `Threads:` line of its status).
    static func threadCount() -> Int? {
        guard let fd = try? FileDescriptor.open("/proc/self/status", .readOnly, options: .closeOnExec) else {
            return nil
        }
        defer { try? fd.close() }
        var buffer = [UInt8](repeating: 0, count: 8192)
        guard let count = try? buffer.withUnsafeMutableBytes({ try fd.read(into: $0) }) else { return nil }
        for line in String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("Threads:") {
            return Int(String(line.dropFirst(8).filter { $0 != " " && $0 != "\t" }))
        }
        return nil
    }

    private static func enter(uid: UInt32, gid: UInt32, logger: Logger) throws {
        if uid == 0 {
            do {
                try LinuxNamespaceCalls.unshare(LinuxNamespaceCalls.newMountNamespace)
            } catch {
                throw NamespaceError(.unshareFailed, "cannot create a mount namespace", cause: error)
            }
        } else {
            if let threads = threadCount(), threads > 1 {
                throw NamespaceError(
                    .multithreaded,
                    "this process already runs \(threads) threads; a user namespace can only be entered by a single-threaded process, so enter it first thing in main")
            }
            do {
                try LinuxNamespaceCalls.unshare(
                    LinuxNamespaceCalls.newUserNamespace | LinuxNamespaceCalls.newMountNamespace)
            } catch .invalidArgument {
                throw NamespaceError(
                    .multithreaded, "the kernel refused a user namespace to a multithreaded process",
                    cause: .invalidArgument)
            } catch {
                throw NamespaceError(
                    .userNamespacesUnavailable,
                    "user namespaces are disabled or exhausted for this user (see /proc/sys/user/max_user_namespaces and kernel.unprivileged_userns_clone)",
                    cause: error)
            }
            // Map the user's own ids to themselves, so `id` inside is unchanged.
            try write("\(uid) \(uid) 1\n", to: "/proc/self/uid_map")
            try write("deny", to: "/proc/self/setgroups")
            try write("\(gid) \(gid) 1\n", to: "/proc/self/gid_map")
        }
        // Mounts made here must never propagate back to the parent namespace.
        if Glibc.mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) != 0 {
            throw NamespaceError(.mountFailed, "cannot make / private", cause: Errno(rawValue: errno))
        }
        logger.debug("entered private namespace", metadata: ["uid": "\(uid)", "userNamespace": "\(uid != 0)"])
    }

    private static func write(_ text: String, to path: String) throws {
        do {
            let fd = try FileDescriptor.open(path, .writeOnly, options: .closeOnExec)
            defer { try? fd.close() }
            _ = try fd.writeAll(Array(text.utf8))
        } catch let error as Errno {
            throw NamespaceError(.unshareFailed, "cannot write \(path)", cause: error)
        }
    }

    private static func spawnAndWait(_ command: [String], logger: Logger) throws -> Int32 {
        // Like system(3): a terminal's ^C and ^\ are the command's to handle; the server
        // waits for it either way.
        let oldInterrupt = signal(SIGINT, SIG_IGN)
        let oldQuit = signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, oldInterrupt)
            signal(SIGQUIT, oldQuit)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGQUIT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid = pid_t()
        let result = posix_spawnp(&pid, command[0], nil, &attributes, &argv, environ)
        if result != 0 {
            throw NamespaceError(.spawnFailed, "cannot run \(command[0])", cause: Errno(rawValue: result))
        }
        logger.debug("started command", metadata: ["pid": "\(pid)", "command": "\(command)"])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR {
                throw NamespaceError(.spawnFailed, "cannot wait for \(command[0])", cause: Errno(rawValue: errno))
            }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
