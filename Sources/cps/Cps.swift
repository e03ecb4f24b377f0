import ArgumentParser
import ClusterProc
import NineP
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// `cps`: ps for the family's nodes.
@main
struct Cps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cps",
        abstract: "Process status of a family's nodes: the job's processes by default, -e for all.",
        discussion: """
            The family is the one whose namespace you are in, the one named by -j, or the only
            one running. Columns and sort keys are procps's: -o pid,ppid,user,stat,pcpu,pmem,rss,
            vsz,etime,time,nlwp,lwp,psr,policy,rtprio,min_flt,maj_flt,wchan,cgroup,comm,args …,
            --sort=-pcpu,rss (or BSD k -pcpu). A node that does not answer prints one DOWN row,
            and cps exits with status 1, as it does when -p/-u/-C matched nothing.
              cps                       the job's processes on every node
              cps -e -w 'node[01-02]'   every process of two nodes
              cps aux                   BSD style: every process, user format
            """
    )

    @Option(name: .customShort("j"), help: "The family's id (see cluster-launch list).") var family: String?
    @Flag(name: [.customShort("e"), .customShort("A"), .customShort("x")], help: "Every process of the nodes, not only the job's (-x as BSD x).") var everything = false
    @Option(name: .customShort("u"), help: ArgumentHelp("Only processes of these users (names or ids, comma separated).", valueName: "USERS")) var users: [String] = []
    @Option(name: .customShort("p"), help: ArgumentHelp("Only these PIDs (comma separated).", valueName: "PIDS")) var pids: [String] = []
    @Option(name: .customShort("C"), help: ArgumentHelp("Only processes with these command names (comma separated).", valueName: "NAMES")) var commands: [String] = []
    @Option(name: [.customShort("w"), .customShort("n")], help: ArgumentHelp("Only these nodes: node[01-04], …", valueName: "HOSTS")) var hosts: [String] = []
    @Option(name: .customShort("o"), help: ArgumentHelp("Columns, as ps -o.", valueName: "FORMAT")) var format: [String] = []
    @Flag(name: .customShort("L"), help: "A row per thread, with an LWP column.") var lwp = false
    @Flag(name: .customShort("T"), help: "A row per thread, with an SPID column.") var spid = false
    @Flag(name: .customShort("f"), help: "Full format (UID PID PPID C STIME TTY TIME CMD).") var full = false
    @Flag(name: .customShort("l"), help: "Long format.") var long = false
    @Option(name: .long, help: ArgumentHelp("Sort keys, e.g. -pcpu,rss.", valueName: "KEYS")) var sort: [String] = []
    @Flag(name: .long, help: "Show each node's processes as a tree.") var forest = false
    @Flag(name: .long, help: "No header line.") var noHeaders = false
    @Flag(name: .long, help: "No HOST column.") var noHost = false
    @Flag(name: .long, help: "One JSON object per process (host included), one per line.") var json = false
    @Option(name: [.customShort("W"), .long], help: ArgumentHelp("Refresh every SECONDS, like top, with a summary line per node.", valueName: "SECONDS")) var watch: Double?
    @Option(name: .long, help: "Seconds to wait for a node before it is shown DOWN.") var timeout: Double = 5
    @Argument(help: ArgumentHelp("BSD-style options: u (user format), a/x (every process), aux, k KEYS (sort).", valueName: "BSD")) var bsd: [String] = []

    /// The options that take a value, for ``StatusRequest/normalizedArguments(_:valueOptions:)``.
    static let valueOptions: Set<String> = ["-j", "-u", "-p", "-C", "-w", "-n", "-o", "-W", "--watch", "--timeout"]

    static func main() async {
        await main(StatusRequest.normalizedArguments(Array(CommandLine.arguments.dropFirst()), valueOptions: valueOptions))
    }

    func request() throws -> StatusRequest {
        var options = StatusRequest.Options()
        options.format = format
        options.bsd = bsd
        options.full = full
        options.long = long
        options.everything = everything
        options.pids = pids
        options.users = users
        options.commands = commands
        options.hosts = hosts
        options.sort = sort
        options.forest = forest
        options.noHeaders = noHeaders
        options.noHost = noHost
        options.json = json
        options.threads = lwp ? .lwp : (spid ? .spid : nil)
        return try StatusRequest(options)
    }

    func validate() throws {
        do {
            _ = try request()
        } catch {
            throw ValidationError("\(error)")
        }
        if let watch, !(watch > 0 && watch <= 86_400) { throw ValidationError("--watch takes a number of seconds from 0 to 86400") }
        if !(timeout > 0 && timeout <= 86_400) { throw ValidationError("--timeout takes a number of seconds from 0 to 86400") }
    }

    func run() async throws {
        var environment: [String: String] = [:]
        for name in ["XDG_RUNTIME_DIR", FamilyRegistry.familyVariable] {
            if let value = getenv(name) { environment[name] = String(decoding: UnsafeRawBufferPointer(start: value, count: strlen(value)), as: UTF8.self) }
        }
        let record: FamilyRecord
        do {
            record = try FamilyRegistry.find(family, environment: environment)
        } catch {
            throw CpsFailure("\(error)")
        }
        let request = try request()
        let read = { (selection: FamilySnapshot.Selection) async throws -> FamilySnapshot in
            do {
                return try await FamilySnapshot.read(
                    socket: record.socket, hosts: request.hosts.map(Set.init), selection: selection,
                    wchan: request.needsWchan, threads: request.threads, timeout: .milliseconds(Int(timeout * 1000)))
            } catch {
                throw CpsFailure("cannot read family \(record.id): \(error)")
            }
        }
        if let watch {
            var top = Watch(top: ClusterTop(request: request, family: record.id, delay: watch), read: read)
            if json || isatty(STDOUT_FILENO) == 0 || isatty(STDIN_FILENO) == 0 { try await top.print(json: json) }
            return try await top.run()
        }
        let output = request.render(try await read(request.selection))
        _ = try? FileDescriptor.standardOutput.writeAll(Array(output.text.utf8))
        for line in output.errors {
            _ = try? FileDescriptor.standardError.writeAll(Array("cps: \(line)\n".utf8))
        }
        if output.status != 0 { throw ExitCode(output.status) }
    }
}

/// A one-line error, printed without the usage text.
struct CpsFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
