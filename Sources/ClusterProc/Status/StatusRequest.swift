#if canImport(Glibc)
import Glibc
#endif

/// What one `cps` invocation asks for, made from its options as ps reads them, and the
/// output it gives for a family's snapshot.
public struct StatusRequest: Sendable {
    /// The columns printed.
    public var columns: ColumnList
    /// `-p`, `-u`, `-C`.
    public var filter: ProcessFilter
    /// What to read of the nodes.
    public var selection: FamilySnapshot.Selection
    /// `--sort` and BSD `k` keys, nil for host and PID order.
    public var sort: SortSpec?
    /// How the table is drawn.
    public var table: StatusTable
    /// `--json`: one object per line instead of the table.
    public var json: Bool
    /// `-w`: the nodes asked for, nil for every node of the family.
    public var hosts: [String]?
    /// `-L`/`-T`: a row per thread.
    public var threads: Bool

    /// The options `cps` takes, as given.
    public struct Options: Sendable {
        public var format: [String] = []
        public var bsd: [String] = []
        public var full = false
        public var long = false
        public var everything = false
        public var pids: [String] = []
        public var users: [String] = []
        public var commands: [String] = []
        public var hosts: [String] = []
        public var sort: [String] = []
        public var forest = false
        public var noHeaders = false
        public var noHost = false
        public var json = false
        /// `-L` or `-T`.
        public var threads: ColumnList.ThreadColumn?
        public init() {}
    }

    /// Interprets the options.
    /// - Throws: `StatusError` naming the option that is wrong.
    public init(_ options: Options) throws {
        var bsdAll = false, bsdUser = false
        for word in options.bsd {
            for letter in word {
                switch letter {
                case "a", "x": bsdAll = true
                case "u": bsdUser = true
                case "k": throw StatusError(.badSpecification, "k: a sort key must follow k")
                default: throw StatusError(.badSpecification, "unknown BSD option '\(word)' (cps understands a, u, x, k)")
                }
            }
        }
        var list: ColumnList
        if !options.format.isEmpty {
            list = try ColumnList(specs: options.format).withHost()
        } else {
            if bsdUser {
                list = .user
            } else if options.long {
                list = .long
            } else if options.full {
                list = .full
            } else {
                list = .cpsDefault
            }
            if let thread = options.threads {
                list = list.withThreadColumn(thread, count: list == .user || list == .full)
            }
        }
        columns = options.noHost ? list.droppingHost() : list
        filter = try ProcessFilter(pids: options.pids, users: options.users, commands: options.commands)
        selection = filter.selection(fallback: options.everything || bsdAll ? .all : .family)
        sort = options.sort.isEmpty ? nil : try SortSpec(specs: options.sort)
        table = StatusTable(columns: columns, headers: !options.noHeaders, forest: options.forest)
        json = options.json
        threads = options.threads != nil
        if options.hosts.isEmpty {
            hosts = nil
        } else {
            do {
                hosts = Array(try HostSelection(targets: options.hosts).resolve(environment: [:]))
            } catch {
                throw StatusError(.badSpecification, "-w: \(error.description)")
            }
        }
    }

    /// Whether a column needs each process's wchan.
    public var needsWchan: Bool { columns.columns.contains { $0.field == .wchan } }

    /// What `cps` prints for one snapshot, and how it exits.
    public struct Output: Sendable, Equatable {
        /// Standard output.
        public var text: String
        /// Lines for standard error, each a complete message.
        public var errors: [String]
        /// 1 when a node was down, a `-w` node is not in the family, or `-p`/`-u`/`-C`
        /// matched no process (as ps exits 1 when nothing matched); else 0.
        public var status: Int32
    }

    /// What a snapshot holds for the table: the matching rows in host, then PID order (then
    /// in `--sort` order), each answering node's figures and summary, and the nodes down.
    public struct Collected: Sendable {
        public var records: [ProcessRecord]
        public var nodes: [String: NodeInfo]
        /// Each answering node's `/proc/stat`, for its CPU figures.
        public var nodeStats: [String: [UInt8]]
        public var up: [NodeSummary]
        public var down: [NodeSummary]
        /// Every node of the snapshot, in its order.
        public var hosts: [String]
    }

    /// The snapshot's rows and nodes, as this request selects, filters and sorts them.
    /// - Parameter sort: the order, this request's own by default.
    public func collect(_ snapshot: FamilySnapshot, now: Int64, users: UserNames = .shared, sort: SortSpec?? = nil) -> Collected {
        var infos: [String: NodeInfo] = [:]
        var stats: [String: [UInt8]] = [:]
        var records: [ProcessRecord] = []
        var downs: [NodeSummary] = []
        var upSummaries: [NodeSummary] = []
        for node in snapshot.nodes {
            switch node {
            case .down(let host, let reason, let since):
                downs.append(NodeSummary(host: host, state: .down(reason: reason, since: Int64(since ?? Int(now)))))
            case .up(let host, let uptime, let meminfo, let stat, let loadavg, _, let processes):
                guard let info = try? NodeInfo(uptime: uptime, meminfo: meminfo, stat: stat, loadavg: loadavg) else {
                    downs.append(NodeSummary(host: host, state: .down(reason: "unreadable /proc", since: now)))
                    continue
                }
                infos[host] = info
                stats[host] = stat
                var count = 0
                for files in processes {
                    guard let record = try? ProcessRecord(host: host, pid: files.pid, stat: files.stat, status: files.status, cmdline: files.cmdline, wchan: files.wchan, cgroup: files.cgroup),
                          filter.matches(record, users: users) else { continue }
                    count += 1
                    guard threads, let list = files.threads, !list.isEmpty else {
                        records.append(record)
                        continue
                    }
                    // A thread's own stat (its name, state, times, CPU); the rest is its process's.
                    for thread in list {
                        guard var row = try? ProcessRecord(host: host, pid: thread.tid, stat: thread.stat, status: files.status, cmdline: files.cmdline, wchan: thread.wchan, cgroup: files.cgroup) else { continue }
                        row.lwp = thread.tid
                        row.pid = record.pid
                        records.append(row)
                    }
                }
                upSummaries.append(NodeSummary(host: host, state: .up(info, processCount: count)))
            }
        }
        // Node order, then PID: the records come node by node, so only the PIDs need sorting.
        let order = Dictionary(snapshot.nodes.enumerated().map { ($1.host, $0) }, uniquingKeysWith: { a, _ in a })
        records = records.enumerated()
            .map { (key: (order[$1.host] ?? 0, $1.pid, $0), record: $1) }
            .sorted { $0.key < $1.key }
            .map(\.record)
        if let sort = sort ?? self.sort {
            records = sort.sorted(records, context: StatusContext(nodes: infos, now: now, users: users))
        }
        return Collected(records: records, nodes: infos, nodeStats: stats, up: upSummaries, down: downs, hosts: snapshot.nodes.map(\.host))
    }

    /// Renders a snapshot: the table (or JSON) and a DOWN line per node that did not answer.
    public func render(_ snapshot: FamilySnapshot, now: Int64 = Int64(time(nil)), users: UserNames = .shared) -> Output {
        let collected = collect(snapshot, now: now, users: users)
        let records = collected.records
        let context = StatusContext(nodes: collected.nodes, now: now, users: users)
        var text = ""
        if json {
            text = table.renderJSONLines(records, context: context)
            text += collected.down.compactMap { $0.jsonObject().map { $0 + "\n" } }.joined()
        } else {
            let width = collected.hosts.map(\.count).max() ?? 0
            text += table.render(records, context: context)
            text += collected.down.map { $0.line(hostWidth: width) + "\n" }.joined()
        }
        return Output(text: text, errors: missingHosts(collected), status: exitStatus(collected))
    }

    /// One line per `-w` node that the family does not have.
    public func missingHosts(_ collected: Collected) -> [String] {
        let present = Set(collected.hosts)
        return (hosts ?? []).filter { !present.contains($0) }.map { "node \($0) is not in the family" }
    }

    /// 1 when a node was down, a `-w` node is not in the family, or `-p`/`-u`/`-C` matched
    /// nothing; else 0.
    public func exitStatus(_ collected: Collected) -> Int32 {
        let nothingMatched = !filter.isEmpty && collected.records.isEmpty
        return !collected.down.isEmpty || !missingHosts(collected).isEmpty || nothingMatched ? 1 : 0
    }

    // MARK: - Command line

    /// `argv` with ps's spellings that an option parser cannot take rewritten: BSD `k KEYS`
    /// (also as the last letter of a BSD word, `auxk KEYS`) and `--sort KEYS` become
    /// `--sort=KEYS`, so that a key such as `-rss` is not taken for an option.
    /// - Parameter valueOptions: the options that take a value, whose values are left alone.
    public static func normalizedArguments(_ arguments: [String], valueOptions: Set<String>) -> [String] {
        var out: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if word == "--" {
                out += arguments[(index - 1)...]
                break
            }
            let hasNext = index < arguments.count
            if word == "--sort", hasNext {
                out.append("--sort=" + arguments[index])
                index += 1
            } else if !word.hasPrefix("-"), word.last == "k", word.allSatisfy({ "auxk".contains($0) }), hasNext {
                if word.count > 1 { out.append(String(word.dropLast())) }
                out.append("--sort=" + arguments[index])
                index += 1
            } else {
                out.append(word)
                if valueOptions.contains(word), hasNext {
                    out.append(arguments[index])
                    index += 1
                }
            }
        }
        return out
    }
}
