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
    /// Every word is bytes, passed on unchanged.
    /// - Parameters:
    ///   - argv: the command and its arguments (no NUL inside a word).
    ///   - environment: the whole environment, `NAME=VALUE` entries.
    ///   - workingDirectory: where the job starts; nil for this process's.
    static func spawn(argv: [[UInt8]], environment: [[UInt8]], workingDirectory: [UInt8]?) throws -> Spawned {
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
        let directory = workingDirectory.map(CStrings.copy)
        defer { directory?.deallocate() }
        if let directory {
            guard let addChdir = JobSystemCalls.addChdir else {
                parents.forEach { _ = close($0) }
                throw JobError(.spawnFailed, "cd \(printable(workingDirectory!)): posix_spawn cannot change directory with this C library")
            }
            _ = addChdir(&actions, directory)
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

        let arguments: [UnsafeMutablePointer<CChar>?] = argv.map(CStrings.copy) + [nil]
        let variables: [UnsafeMutablePointer<CChar>?] = environment.map(CStrings.copy) + [nil]
        let program = CStrings.copy(path)
        defer {
            arguments.forEach { $0?.deallocate() }
            variables.forEach { $0?.deallocate() }
            program.deallocate()
        }
        var pid: pid_t = 0
        let result = arguments.withUnsafeBufferPointer { argvPointer in
            variables.withUnsafeBufferPointer { envPointer in
                posix_spawn(&pid, program, &actions, &attributes, argvPointer.baseAddress!, envPointer.baseAddress!)
            }
        }
        guard result == 0 else {
            parents.forEach { _ = close($0) }
            throw JobError(.spawnFailed, "\(printable(command)): \(JobSystemCalls.describe(result))", errno: Errno(rawValue: result))
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
    static func checkWorkingDirectory(_ directory: [UInt8]) throws {
        var info = stat()
        let named = "cd \(printable(directory))"
        if CStrings.with(directory, { stat($0, &info) }) != 0 {
            let code = errno
            throw JobError(.badWorkingDirectory, "\(named): \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
        }
        if info.st_mode & S_IFMT != S_IFDIR {
            throw JobError(.badWorkingDirectory, "\(named): \(JobSystemCalls.describe(ENOTDIR))", errno: .notDirectory)
        }
        if CStrings.with(directory, { access($0, X_OK) }) != 0 {
            let code = errno
            throw JobError(.badWorkingDirectory, "\(named): \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
        }
    }

    /// Finds the program as `execvp` would: a name with a slash is taken as a path (relative
    /// to the working directory); any other is searched in the job's `PATH` (or procsrv's,
    /// or `/usr/local/bin:/usr/bin:/bin`).
    static func resolve(_ command: [UInt8], environment: [[UInt8]], workingDirectory: [UInt8]?) throws -> [UInt8] {
        let slash = UInt8(ascii: "/")
        func located(_ path: [UInt8]) -> [UInt8] {
            guard let workingDirectory, path.first != slash else { return path }
            return workingDirectory + [slash] + path
        }
        func executableProblem(_ path: [UInt8]) -> Int32? {
            var info = stat()
            let full = located(path)
            if CStrings.with(full, { stat($0, &info) }) != 0 { return errno }
            if info.st_mode & S_IFMT == S_IFDIR { return EISDIR }
            if CStrings.with(full, { access($0, X_OK) }) != 0 { return errno }
            return nil
        }
        if command.contains(slash) {
            if let code = executableProblem(command) {
                throw JobError(.commandNotFound, "\(printable(command)): \(JobSystemCalls.describe(code))", errno: Errno(rawValue: code))
            }
            return command
        }
        let pathPrefix = Array("PATH=".utf8)
        let searchPath = environment.last { $0.starts(with: pathPrefix) }.map { Array($0.dropFirst(pathPrefix.count)) }
            ?? getenv("PATH").map { Array(String(cString: $0).utf8) } ?? Array("/usr/local/bin:/usr/bin:/bin".utf8)
        var denied: Int32?
        for directory in searchPath.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
            let candidate = directory.isEmpty ? command : Array(directory) + [slash] + command
            switch executableProblem(candidate) {
            case nil: return candidate
            case EACCES?: denied = EACCES
            default: continue
            }
        }
        if let denied {
            throw JobError(.commandNotFound, "\(printable(command)): \(JobSystemCalls.describe(denied))", errno: Errno(rawValue: denied))
        }
        throw JobError(.commandNotFound, "\(printable(command)): command not found", errno: .noSuchFileOrDirectory)
    }

    /// The login shell of the user this process runs as, from the password database (not
    /// `$SHELL`, which is the caller's); `/bin/sh` when the entry names none.
    static func loginShell() -> [UInt8] {
        guard let entry = getpwuid(getuid()), let shell = entry.pointee.pw_shell, shell.pointee != 0 else {
            return Array("/bin/sh".utf8)
        }
        return Array(UnsafeBufferPointer(start: shell, count: strlen(shell))).map { UInt8(bitPattern: $0) }
    }

    /// A word as a message shows it (invalid UTF-8 repaired; the word itself is never changed).
    static func printable(_ word: [UInt8]) -> String {
        String(decoding: word, as: UTF8.self)
    }
}

/// NUL-terminated copies of byte words, for C.
enum CStrings {
    /// A copy of `bytes` with a NUL after it; the caller deallocates it.
    static func copy(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { copy[index] = CChar(bitPattern: byte) }
        copy[bytes.count] = 0
        return copy
    }

    /// Calls `body` with `bytes` as a C string.
    static func with<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }
}
