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
            vsz,etime,time,nlwp,psr,wchan,comm,args …, --sort=-pcpu,rss. A node that does not
            answer prints one DOWN row, and cps exits with status 1.
              cps                       the job's processes on every node
              cps -e -w 'node[01-02]'   every process of two nodes
              cps aux                   BSD style: every process, user format
            """
    )

    @Option(name: .customShort("j"), help: "The family's id (see cluster-launch list).") var family: String?
    @Flag(name: [.customShort("e"), .customShort("A")], help: "Every process of the nodes, not only the job's.") var everything = false
    @Option(name: .customShort("u"), help: ArgumentHelp("Only processes of these users (names or ids, comma separated).", valueName: "USERS")) var users: [String] = []
    @Option(name: .customShort("p"), help: ArgumentHelp("Only these PIDs (comma separated).", valueName: "PIDS")) var pids: [String] = []
    @Option(name: [.customShort("w"), .customShort("n")], help: ArgumentHelp("Only these nodes: node[01-04], …", valueName: "HOSTS")) var hosts: [String] = []
    @Option(name: .customShort("o"), help: ArgumentHelp("Columns, as ps -o.", valueName: "FORMAT")) var format: [String] = []
    @Flag(name: .customShort("f"), help: "Full format (UID PID PPID C STIME TTY TIME CMD).") var full = false
    @Flag(name: .customShort("l"), help: "Long format.") var long = false
    @Option(name: .long, help: ArgumentHelp("Sort keys, e.g. -pcpu,rss.", valueName: "KEYS")) var sort: String?
    @Flag(name: .long, help: "Show each node's processes as a tree.") var forest = false
    @Flag(name: .long, help: "No header line.") var noHeaders = false
    @Flag(name: .long, help: "No HOST column.") var noHost = false
    @Flag(name: .long, help: "One JSON object per process (host included), one per line.") var json = false
    @Option(name: [.customShort("W"), .long], help: ArgumentHelp("Refresh every SECONDS, like top, with a summary line per node.", valueName: "SECONDS")) var watch: Double?
    @Option(name: .long, help: "Seconds to wait for a node before it is shown DOWN.") var timeout: Double = 5
    @Argument(help: ArgumentHelp("BSD-style options: u (user format), a/x (every process), aux.", valueName: "BSD")) var bsd: [String] = []

    func columns() throws -> ColumnList {
        var list: ColumnList
        if !format.isEmpty {
            list = try ColumnList(specs: ["host"] + format)
        } else if bsd.contains(where: { $0.contains("u") }) {
            list = .user
        } else if long {
            list = .long
        } else if full {
            list = .full
        } else {
            list = .cpsDefault
        }
        return noHost ? list.droppingHost() : list
    }

    func validate() throws {
        for word in bsd where !word.allSatisfy({ "aux".contains($0) }) {
            throw ValidationError("unknown BSD option '\(word)' (cps understands a, u, x)")
        }
        do {
            _ = try columns()
            if let sort { _ = try SortSpec(specs: [sort]) }
        } catch {
            throw ValidationError("\(error)")
        }
        for pid in pids.flatMap({ $0.split(separator: ",") }) where Int32(pid) == nil {
            throw ValidationError("process ID list syntax error: '\(pid)'")
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
        var hostFilter: Set<String>?
        if !hosts.isEmpty {
            do {
                hostFilter = Set(try HostSelection(targets: hosts).resolve(environment: [:]))
            } catch {
                throw ValidationError(error.description)
            }
        }
        let wantedPIDs = Set(pids.flatMap { $0.split(separator: ",") }.compactMap { Int32($0) })
        let selection: FamilySnapshot.Selection =
            !wantedPIDs.isEmpty ? .pids(wantedPIDs) : (everything || bsd.contains(where: { $0.contains("a") || $0.contains("x") }) || !users.isEmpty ? .all : .family)
        let columns = try columns()
        let needsWchan = columns.columns.contains { $0.header.uppercased() == "WCHAN" }
        let table = StatusTable(columns: columns, headers: !noHeaders, forest: forest)
        let sortSpec = try sort.map { try SortSpec(specs: [$0]) }

        while true {
            let snapshot: FamilySnapshot
            do {
                snapshot = try await FamilySnapshot.read(
                    socket: record.socket, hosts: hostFilter, selection: selection, wchan: needsWchan,
                    timeout: .milliseconds(Int(timeout * 1000)))
            } catch {
                throw CpsFailure("cannot read family \(record.id): \(error)")
            }
            let (output, missing) = render(snapshot, table: table, sortSpec: sortSpec)
            if watch != nil {
                _ = try? FileDescriptor.standardOutput.writeAll(Array("\u{1B}[H\u{1B}[2J".utf8))
            }
            _ = try? FileDescriptor.standardOutput.writeAll(Array(output.utf8))
            guard let watch else {
                if missing { throw ExitCode(1) }
                return
            }
            try await Task.sleep(for: .milliseconds(Int(watch * 1000)))
        }
    }

    func render(_ snapshot: FamilySnapshot, table: StatusTable, sortSpec: SortSpec?) -> (String, Bool) {
        var infos: [String: NodeInfo] = [:]
        var records: [ProcessRecord] = []
        var downs: [NodeSummary] = []
        var summaries: [NodeSummary] = []
        let userFilter = Set(users.flatMap { $0.split(separator: ",").map(String.init) })
        for node in snapshot.nodes {
            switch node {
            case .down(let host, let reason, let since):
                downs.append(NodeSummary(host: host, state: .down(reason: reason, since: Int64(since ?? Int(time(nil))))))
            case .up(let host, let uptime, let meminfo, let stat, let loadavg, _, let processes):
                guard let info = try? NodeInfo(uptime: uptime, meminfo: meminfo, stat: stat, loadavg: loadavg) else {
                    downs.append(NodeSummary(host: host, state: .down(reason: "unreadable /proc", since: Int64(time(nil)))))
                    continue
                }
                infos[host] = info
                var count = 0
                for files in processes {
                    guard let record = try? ProcessRecord(host: host, pid: files.pid, stat: files.stat, status: files.status, cmdline: files.cmdline, wchan: files.wchan) else { continue }
                    if !userFilter.isEmpty {
                        let name = record.euid.map { UserNames.shared.user($0) } ?? ""
                        let id = record.euid.map { "\($0)" } ?? ""
                        guard userFilter.contains(name) || userFilter.contains(id) else { continue }
                    }
                    records.append(record)
                    count += 1
                }
                summaries.append(NodeSummary(host: host, state: .up(info, processCount: count)))
            }
        }
        let context = StatusContext(nodes: infos)
        // Node order, then PID: the records come node by node, so only the PIDs need sorting.
        let order = Dictionary(snapshot.nodes.enumerated().map { ($1.host, $0) }, uniquingKeysWith: { a, _ in a })
        records = records.enumerated()
            .map { (key: (order[$1.host] ?? 0, $1.pid, $0), record: $1) }
            .sorted { $0.key < $1.key }
            .map(\.record)
        if let sortSpec { records = sortSpec.sorted(records, context: context) }
        var output = ""
        if json {
            output = table.renderJSONLines(records, context: context)
            for down in downs {
                if case .down(let reason, let since) = down.state {
                    output += "{\"host\":\(JSON.quote(down.host)),\"down\":true,\"reason\":\(JSON.quote(reason)),\"since\":\(since)}\n"
                }
            }
        } else {
            let width = snapshot.nodes.map(\.host.count).max() ?? 0
            if watch != nil {
                output += (summaries + downs).map { $0.line(hostWidth: width) + "\n" }.joined()
                output += "\n"
            }
            output += table.render(records, context: context)
            if watch == nil {
                output += downs.map { $0.line(hostWidth: width) + "\n" }.joined()
            }
        }
        return (output, !downs.isEmpty)
    }
}

/// A one-line error, printed without the usage text.
struct CpsFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
