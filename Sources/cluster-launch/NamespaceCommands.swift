import ArgumentParser
import ClusterProc
import Logging
import NineP
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Options shared by the commands that enter or read a running family.
struct FamilyOptions: ParsableArguments {
    @Option(name: .customShort("j"), help: ArgumentHelp("The family's id (see cluster-launch list); needed only when more than one family runs, outside a family's namespace.", valueName: "ID"))
    var id: String?

    @Flag(name: .shortAndLong, help: "Log debugging details.")
    var verbose = false

    func family() throws -> FamilyRecord {
        do {
            return try FamilyRegistry.find(id, environment: processEnvironment())
        } catch {
            throw LaunchFailure("\(error)")
        }
    }
}

/// A one-line error, printed without the usage text.
struct LaunchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `cluster-launch exec [ID] -- CMD`: CMD in the family's private namespace.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command in a family's private namespace, where /proc/<host> shows each node's /proc.",
        discussion: "cluster-launch exec [-j ID] -- COMMAND ARGS"
    )

    @OptionGroup var options: FamilyOptions

    @Argument(parsing: .postTerminator, help: "The command to run.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("no command: put it after --, e.g. cluster-launch exec -- ls /proc/node01") }
    }

    func run() throws {
        throw ExitCode(try enterNamespace(options: options, command: command))
    }
}

/// `cluster-launch shell [ID]`: the user's shell in the family's namespace.
struct ShellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Start your shell in a family's private namespace."
    )

    @OptionGroup var options: FamilyOptions

    func run() throws {
        let environment = processEnvironment()
        let shell = environment["SHELL"].flatMap { $0.isEmpty ? nil : $0 } ?? "/bin/sh"
        let family = try options.family()
        for (name, value) in FamilyPrompt.variables(familyID: family.id, environment: environment, isRoot: geteuid() == 0) {
            setenv(name, value, 1)
        }
        throw ExitCode(try enterNamespace(options: options, command: [shell]))
    }
}

/// Enters the namespace. Must run before this process starts any thread.
func enterNamespace(options: FamilyOptions, command: [String]) throws -> Int32 {
    let logger = bootstrapLogging(verbose: options.verbose)
    let family = try options.family()
    setenv(FamilyRegistry.familyVariable, family.id, 1)
    let tree = FamilyTree(socket: family.socket)
    do {
        return try PrivateNamespace.run(command: command, tree: tree, hosts: family.hosts, logger: logger)
    } catch {
        let status = (error as? NamespaceError)?.exitStatus ?? 125
        // Only a failure of the namespace itself has the way around it.
        let hint = status == 125 ? "cluster-launch: without the namespace, cps and 'cluster-launch cat|ls PATH' still read the family's nodes\n" : ""
        writeError("cluster-launch: \(error)\n" + hint)
        return status
    }
}

/// `cluster-launch list`: the running families.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the running families.")

    @OptionGroup var options: FamilyOptions

    func run() throws {
        let families = options.id == nil ? FamilyRegistry.list(environment: processEnvironment()) : [try options.family()]
        guard !families.isEmpty else {
            print("no family is running")
            return
        }
        print("ID       NODES                STARTED                 ELAPSED COMMAND")
        let now = Int(time(nil))
        for family in families {
            var time = time_t(family.started)
            var parts = tm()
            localtime_r(&time, &parts)
            let date = "\(parts.tm_year + 1900)-\(String(format2: parts.tm_mon + 1))-\(String(format2: parts.tm_mday))"
            let clock = String(format2: parts.tm_hour) + ":" + String(format2: parts.tm_min) + ":" + String(format2: parts.tm_sec)
            let elapsed = Column.formatElapsed(UInt64(max(0, now - family.started)))
            let nodes = HostList(family.hosts).folded()
            print("\(family.id.padding(8)) \(nodes.padding(20)) \(date) \(clock) \(String(repeating: " ", count: max(0, 11 - elapsed.count)))\(elapsed) \(family.command)")
        }
    }
}

/// `cluster-launch cat PATH…`: files of the family's namespace, read over 9P without FUSE.
struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat", abstract: "Print files of the family's namespace (e.g. node02/4242/status), without FUSE.")

    @OptionGroup var options: FamilyOptions
    @Argument(help: "Paths under /proc of the namespace: HOST/PID/FILE.") var paths: [String]

    func run() throws {
        let family = try options.family()
        let tree = FamilyTree(socket: family.socket)
        let paths = paths
        let failed = Blocking.run { await Self.print(paths, tree: tree) }
        if failed { throw ExitCode(1) }
    }

    static func print(_ paths: [String], tree: FamilyTree) async -> Bool {
        var failed = false
        for path in paths {
            do {
                let handle = try await offThePool { try tree.open(components(path)) }
                defer { tree.release(handle: handle) }
                var offset: UInt64 = 0
                while true {
                    let at = offset
                    let chunk = try await offThePool { try tree.read(handle: handle, offset: at, count: 64 * 1024) }
                    if chunk.isEmpty { break }
                    offset += UInt64(chunk.count)
                    try FileDescriptor.standardOutput.writeAll(chunk)
                }
            } catch {
                writeError("cluster-launch: \(path): \(error)\n")
                failed = true
            }
        }
        return failed
    }

    static func components(_ path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        if parts.first == "proc" { parts.removeFirst() }
        return parts
    }
}

/// `cluster-launch ls [PATH]`: a directory of the family's namespace, without FUSE.
struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List a directory of the family's namespace (the nodes, a node's PIDs, …), without FUSE.")

    @OptionGroup var options: FamilyOptions
    @Argument(help: "A path under /proc of the namespace (default: the nodes).") var path: String = ""

    func run() throws {
        let family = try options.family()
        let tree = FamilyTree(socket: family.socket)
        let parts = CatCommand.components(path)
        do {
            // As ls(1) names a file, and shows a link as `ls -l` does: its target (a `cwd`,
            // `exe` or `fd/N`) is a path on the node, outside the family's /proc.
            switch parts.isEmpty ? .directory : try tree.lookup(parts).kind {
            case .directory: for entry in try tree.readdir(parts) { print(entry.name) }
            case .symlink: print("\(path) -> \(try tree.readlink(parts))")
            case .regular: print(path)
            }
        } catch {
            writeError("cluster-launch: \(path.isEmpty ? "/" : path): \(error)\n")
            throw ExitCode(1)
        }
    }
}

extension String {
    init(format2 value: Int32) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }

    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// Writes a message to standard error.
func writeError(_ text: String) {
    _ = try? FileDescriptor.standardError.writeAll(Array(text.utf8))
}
