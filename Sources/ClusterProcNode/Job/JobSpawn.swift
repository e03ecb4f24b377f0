import Glibc
import SystemPackage

/// Starting the job's root process with `posix_spawn`.
enum JobSpawn {
    /// The parent's ends of the child's standard streams, and its PID.
    struct Spawned {
        var pid: Int32
        var stdinWrite: Int32
        var stdoutRead: Int32
        var stderrRead: Int32
    }

    /// Spawns `argv` in a new session with its standard streams on pipes, every other
    /// descriptor closed, the signal mask empty and every signal's disposition the default.
    static func spawn(argv: [String], environment: [String: String], workingDirectory: String?) throws -> Spawned {
        guard let command = argv.first, !command.isEmpty else {
            throw JobError(.commandNotFound, "no command given")
        }
        if let workingDirectory { try checkWorkingDirectory(workingDirectory) }
        let path = try resolve(command, environment: environment, workingDirectory: workingDirectory)

        var ours: [Int32] = []
        var theirs: [Int32] = []
        defer { theirs.forEach { _ = close($0) } }
        do {
            for _ in 0..<3 {
                let (read, write) = try makePipe()
                theirs.append(contentsOf: [read, write])
                ours.append(contentsOf: [read, write])
            }
        }
        // Pipe 0 is stdin (child reads), pipes 1 and 2 are stdout and stderr (child writes).
        let childStdin = ours[0], parentStdin = ours[1]
        let parentStdout = ours[2], childStdout = ours[3]
        let parentStderr = ours[4], childStderr = ours[5]
        theirs = [childStdin, childStdout, childStderr]
        let parents = [parentStdin, parentStdout, parentStderr]

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childStdin, 0)
        posix_spawn_file_actions_adddup2(&actions, childStdout, 1)
        posix_spawn_file_actions_adddup2(&actions, childStderr, 2)
        if let workingDirectory {
            guard let addChdir = JobSystemCalls.addChdir else {
                parents.forEach { _ = close($0) }
                throw JobError(.spawnFailed, "cd \(workingDirectory): posix_spawn cannot change directory with this C library")
            }
            _ = addChdir(&actions, workingDirectory)
        }
        // Descriptors other threads open without O_CLOEXEC must not leak into the job either.
        if let addClosefrom = JobSystemCalls.addClosefrom { _ = addClosefrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        // glibc's sigfillset leaves out its internal signals 32 and 33, and posix_spawn then
        // sets them to SIG_IGN in the child, which exec keeps: name them here so they are
        // reset to the default like every other signal.
        allSignals.__val.0 |= (1 << 31) | (1 << 32)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(
            &attributes, Int16(JobSystemCalls.spawnSetsid | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = arguments.withUnsafeBufferPointer { argvPointer in
            variables.withUnsafeBufferPointer { envPointer in
                posix_spawn(&pid, path, &actions, &attributes, argvPointer.baseAddress!, envPointer.baseAddress!)
            }
        }
        guard result == 0 else {
            parents.forEach { _ = close($0) }
            throw JobError(.spawnFailed, "\(command): \(JobSystemCalls.describe(result))", errno: Errno(rawValue: result))
        }
        return Spawned(pid: pid, stdinWrite: parentStdin, stdoutRead: parentStdout, stderrRead: parentStderr)
    }

    /// A pipe with both ends close-on-exec and above the standard descriptors, so the dup2
    /// onto 0, 1 and 2 in the child never meets an end already sitting there.
    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32]
        switch JobSystemCalls.makePipe() {
        case .success(let pipe): fds = [pipe.read, pipe.write]
        case .failure(let error): throw JobError(.spawnFailed, "pipe: \(error.description)", errno: error)
        }
        for index in 0..<2 where fds[index] < 3 {
            let moved = fcntl(fds[index], F_DUPFD_CLOEXEC, Int32(3))
            close(fds[index])
            fds[index] = moved
        }
        return (fds[0], fds[1])
    }

    /// Fails as a shell's `cd` would when the directory cannot be entered.
    static func checkWorkingDirectory(_ directory: String) throws {
        var info = stat()
        if stat(directory, &info) != 0 {
            let code = errno
            throw JobError(.badWorkingDirectory, "cd \(directory): \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
        }
        if info.st_mode & S_IFMT != S_IFDIR {
            throw JobError(.badWorkingDirectory, "cd \(directory): \(JobSystemCalls.describe(ENOTDIR))", errno: .notDirectory)
        }
        if access(directory, X_OK) != 0 {
            let code = errno
            throw JobError(.badWorkingDirectory, "cd \(directory): \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
        }
    }

    /// Finds the program as `execvp` would: a name with a slash is taken as a path (relative
    /// to the working directory); any other is searched in the job's `PATH` (or procsrv's,
    /// or `/usr/local/bin:/usr/bin:/bin`).
    static func resolve(_ command: String, environment: [String: String], workingDirectory: String?) throws -> String {
        func located(_ path: String) -> String {
            path.hasPrefix("/") || workingDirectory == nil ? path : "\(workingDirectory!)/\(path)"
        }
        func executableProblem(_ path: String) -> Int32? {
            var info = stat()
            if stat(located(path), &info) != 0 { return errno }
            if info.st_mode & S_IFMT == S_IFDIR { return EISDIR }
            if access(located(path), X_OK) != 0 { return errno }
            return nil
        }
        if command.contains("/") {
            if let code = executableProblem(command) {
                throw JobError(.commandNotFound, "\(command): \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
            }
            return command
        }
        let searchPath = environment["PATH"] ?? getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        var denied: Int32?
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = directory.isEmpty ? command : "\(directory)/\(command)"
            switch executableProblem(candidate) {
            case nil: return candidate
            case EACCES?: denied = EACCES
            default: continue
            }
        }
        if let denied {
            throw JobError(.commandNotFound, "\(command): \(JobSystemCalls.describe(denied))", errno: Errno(rawValue: denied))
        }
        throw JobError(.commandNotFound, "\(command): command not found", errno: .noSuchFileOrDirectory)
    }
}
