import ArgumentParser
import ClusterProc
import Logging
import NineP
#if canImport(Glibc)
import Glibc
#endif

/// `cluster-launch [-w HOSTS] COMMAND LINE` or `… -- PROGRAM ARGS`: the job on every node.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run COMMAND on every node (the default subcommand).",
        discussion: """
            Words without -- are one command line (joined with spaces) that the user's login \
            shell runs on each node, as pdsh and clush do: cluster-launch -w node01 'cd /tmp && pwd'.
            After -- they are the program and its arguments, run exactly (as srun): \
            cluster-launch -w node01 -- ./simulate --steps 1000. A command not found exits 127.
            Exit status: the highest exit code of the nodes; 128+N for a job killed by signal N; \
            255 when a node could not be reached or was lost; with -k, the status of the node \
            that failed first. Output lines are prefixed "host: " \
            (-N drops the prefix, -b gathers identical outputs after the job).
            Each copy of the job gets CLUSTER_PROC_NODEID, CLUSTER_PROC_NNODES, \
            CLUSTER_PROC_NODELIST and CLUSTER_PROC_FAMILY; its stdin reads end of file unless --input forwards this one. The \
            command's words, exported values and working directory reach the nodes byte for \
            byte inside the connection, never on a remote command line. Ctrl-C interrupts the \
            job on every node (a node not started yet never starts it); a second Ctrl-C within \
            a second kills it everywhere at once.
            """
    )

    @Option(name: [.customShort("w"), .customShort("n")], help: ArgumentHelp("Target hosts: node[01-16,20], @group, ^FILE, - (stdin), /regex/ (keeps the matching hosts), or a count N (the first N of SLURM_JOB_NODELIST / CLUSTER_PROC_HOSTFILE left after -x).", valueName: "HOSTS"))
    var hosts: [String] = []

    @Option(name: .customShort("x"), help: ArgumentHelp("Exclude hosts (same syntax; /regex/ removes the matching hosts).", valueName: "HOSTS"))
    var exclude: [String] = []

    @Option(name: .customShort("f"), help: "Fanout: nodes being set up (connecting, starting procsrv) at once; every copy of the job then runs together.")
    var fanout: Int = 64

    @Option(name: .customShort("t"), help: "Connect timeout in seconds: TCP, key exchange and authentication, then each SSH request.")
    var connectTimeout: Double = 10

    @Option(name: .long, help: "Start-up timeout in seconds: from the remote command's start (the login shell's start-up included) to procsrv's first answer.")
    var startupTimeout: Double = 30

    @Option(name: .customShort("u"), help: "Command timeout in seconds: the job is killed everywhere after it.")
    var commandTimeout: Double?

    @Option(name: .long, help: "Deadline in seconds of one request to a node; a hung node fails after it.")
    var timeout: Double = 5

    @Option(name: .customShort("l"), help: "Remote user name.")
    var user: String?

    @Option(name: .customShort("F"), help: "SSH client configuration file (as ssh -F).")
    var sshConfig: String?

    @Option(name: .customShort("i"), help: "Identity file (repeatable).")
    var identity: [String] = []

    @Option(name: .customShort("p"), help: "SSH port.")
    var port: Int?

    @Option(name: .customShort("o"), help: ArgumentHelp("SSH option: StrictHostKeyChecking=yes|accept-new|no, UserKnownHostsFile=F, IdentityFile=F, Port=N, User=U.", valueName: "OPTION"))
    var sshOptions: [String] = []

    @Flag(name: .customShort("N"), help: "Do not prefix output lines with the host name.")
    var noPrefix = false

    @Flag(name: .customShort("b"), help: "Gather identical outputs and print them once per group of hosts, after the job.")
    var gather = false

    @Flag(name: .customShort("S"), help: "Exit with the highest remote exit code (always on; accepted for pdsh users).")
    var statusFlag = false

    @Flag(name: .customShort("k"), help: "The first node that fails (exits non-zero, is signalled, cannot be reached) ends the job everywhere; its status is the launcher's.")
    var killOnFailure = false

    @Option(name: .long, help: "procsrv's path on the nodes (default: the procsrv beside this program); a relative path is taken from the current directory, a bare name from the node's PATH; only A-Za-z0-9_./+,:@%=- (it is the remote command).")
    var procsrv: String?

    @Flag(name: .long, help: "Copy procsrv to each node (SFTP, private temporary directory) for the job's lifetime.")
    var stage = false

    @Option(name: .long, help: ArgumentHelp("Environment to pass: ALL, NONE, or NAME[,NAME…] (as srun). Default NONE.", valueName: "NAMES"))
    var export: String = "NONE"

    @Option(name: .long, help: ArgumentHelp("Who reads this standard input: none (end of file), all (every node, as clush) or one HOST (as srun --input).", valueName: "none|all|HOST"))
    var input = "none"

    @Flag(name: .long, help: "Open your shell in the family's namespace on this terminal while the job runs; the launcher then waits for the job.")
    var shell = false

    @Flag(name: .shortAndLong, help: "Log debugging details; for a node that cannot be reached, the step that failed, the user, address and port tried, and libssh's reason.")
    var verbose = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp(
        "The command: words joined into one line run by the user's login shell on each node, or after -- an argv run exactly.",
        valueName: "COMMAND"))
    var command: [String] = []

    func validate() throws {
        guard fanout >= 1 else { throw ValidationError("fanout (-f) must be at least 1") }
        guard connectTimeout > 0, startupTimeout > 0, timeout > 0 else { throw ValidationError("timeouts must be positive") }
        if shell, input.lowercased() != "none" { throw ValidationError("--shell takes this terminal's input: --input cannot forward it too") }
    }

    func run() throws {
        let logger = bootstrapLogging(verbose: verbose)
        let environment = processEnvironment()
        let selection: HostList
        do {
            let sink = OutputSink()
            selection = try HostSelection(targets: hosts, exclusions: exclude).resolve(environment: environment) { sink.message($0) }
        } catch {
            throw ValidationError(error.description)
        }
        let procsrvPath = procsrv.map(Self.absoluteIfRelative) ?? Self.defaultProcsrv()
        if !stage {
            // Refused before any node is contacted (with --stage the copy has a path of ours).
            do { try Launcher.checkProcsrvPath(procsrvPath) } catch { throw ValidationError(error.description) }
        }
        let job: (argv: [[UInt8]], runsInLoginShell: Bool)
        do { job = try ProcessBytes.command(from: ProcessBytes.trailingWords(matching: command)) } catch { throw ValidationError(error.description) }
        let targets: (hosts: [String], logins: [String: String])
        do { targets = try LaunchOptions.splittingLogins(Array(selection)) } catch { throw ValidationError(error.description) }
        var options = LaunchOptions(
            hosts: targets.hosts, command: job.argv, procsrvPath: procsrvPath, workingDirectory: ProcessBytes.currentDirectory())
        options.logins = targets.logins
        options.runsInLoginShell = job.runsInLoginShell
        options.fanout = fanout
        options.connectTimeout = .milliseconds(Int(connectTimeout * 1000))
        options.startupTimeout = .milliseconds(Int(startupTimeout * 1000))
        options.callTimeout = .milliseconds(Int(timeout * 1000))
        options.commandTimeout = commandTimeout.map { .milliseconds(Int($0 * 1000)) }
        options.user = user
        options.sshConfig = sshConfig
        options.identityFiles = identity
        options.port = port
        options.labelling = noPrefix ? .none : .hostPrefix
        options.gather = gather
        options.killOnFailure = killOnFailure
        options.stage = stage
        do {
            options.environment = try ProcessBytes.exported(export, from: ProcessBytes.environment())
            for option in sshOptions { try options.apply(sshOption: option) }
            options.input = try JobInput(parsing: input, hosts: options.hosts)
        } catch {
            throw ValidationError(error.description)
        }

        let launcher = Launcher(options: options, logger: logger)
        do { try launcher.checkJob() } catch { throw ValidationError(error.message) }
        let (signals, signalled) = AsyncStream.makeStream(of: Int32.self)
        try Job.onTerminationSignals([SIGINT, SIGTERM, SIGHUP], logger: logger) { signalled.yield($0) }
        let shellWanted = shell
        let status = Blocking.run {
            await withTaskGroup(of: Int32?.self) { group in
                // Each signal is handled in a task of its own, so a second ^C never waits
                // for the first one's interrupt to be answered.
                group.addTask {
                    await withTaskGroup(of: Void.self) { handlers in
                        for await signo in signals {
                            handlers.addTask {
                                if signo == SIGINT {
                                    await launcher.interrupt()
                                } else {
                                    await launcher.killAll(reason: .other("launcher terminated"))
                                }
                            }
                        }
                    }
                    return nil
                }
                group.addTask {
                    async let job = launcher.run(environment: environment)
                    if shellWanted {
                        await Self.openShell(launcher)
                    }
                    return await job
                }
                var status: Int32 = 0
                while let next = await group.next() {
                    if let next {
                        status = next
                        signalled.finish()
                    }
                }
                return status
            }
        }
        throw ExitCode(status)
    }

    /// Runs `cluster-launch shell -j ID` on the terminal, in its foreground, once every node has
    /// started the job (or failed); the job goes on meanwhile and the launcher waits for it
    /// afterwards.
    static func openShell(_ launcher: Launcher) async {
        await launcher.everyNodeSettled()
        let familyID = launcher.familyID
        let sink = OutputSink()
        do {
            let status = try await offThePool { try ForegroundCommand.run([selfPath(), "shell", "-j", familyID]) }
            sink.message("the shell ended (status \(status)); waiting for the job (Ctrl-C interrupts it)")
        } catch {
            sink.message("cannot open the shell: \(error)")
        }
    }

    static func selfPath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "cluster-launch"
    }

    static func defaultProcsrv() -> String {
        let here = selfPath()
        if let slash = here.lastIndex(of: "/") {
            let sibling = String(here[..<slash]) + "/procsrv"
            if access(sibling, X_OK) == 0 { return sibling }
        }
        return "procsrv"
    }

    /// A path with a slash is taken from here, as the job's working directory is: the remote
    /// shell starts in the home directory. A bare name is looked up on the node's PATH.
    static func absoluteIfRelative(_ path: String) -> String {
        guard path.contains("/"), !path.hasPrefix("/") else { return path }
        return String(decoding: ProcessBytes.currentDirectory(), as: UTF8.self) + "/" + path
    }
}

/// Runs async work from a synchronous command and waits for it: the one bridge from a
/// thread into async code. cluster-launch's commands stay synchronous (not
/// `AsyncParsableCommand`) because `exec` and `shell` must enter a user namespace while the
/// process is single-threaded, and an async `main` runs every command on the Swift pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let result = ConditionLock<T?>(nil)
        Task { let value = await body(); result.withLock(notify: true) { $0 = value } }
        return result.wait(until: { $0 != nil }) { $0! }!
    }
}
