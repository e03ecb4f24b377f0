import ArgumentParser
import ClusterProc

/// cps's options, ps's where ps has them; ClusterProc's ``StatusRequest`` interprets them.
struct CpsOptions: ParsableArguments {
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
    @Option(name: [.customShort("W"), .long], help: ArgumentHelp("Refresh every SECONDS: on a terminal a top (q quits), elsewhere a snapshot each time.", valueName: "SECONDS")) var watch: Double?
    @Option(name: .long, help: "Seconds to wait for a node before it is shown DOWN.") var timeout: Double = 5
    @Argument(help: ArgumentHelp("BSD-style options: u (user format), a/x (every process), aux, k KEYS (sort).", valueName: "BSD")) var bsd: [String] = []


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
}
