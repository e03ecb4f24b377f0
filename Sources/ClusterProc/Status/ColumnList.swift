/// The columns `cps` prints, parsed from `-o` specifications as `ps` parses them, or one of
/// the preset formats.
public struct ColumnList: Sendable, Equatable {
    /// The columns in order.
    public var columns: [Column]

    /// Parses one or more `-o` arguments. Names are separated by commas or blanks;
    /// `name=HEADER` renames a header (an empty header hides it); `name:WIDTH` sets a width.
    /// - Throws: `StatusError` `.unknownColumn` (`unknown column 'foo'`) or `.badSpecification`.
    public init(specs: [String]) throws {
        var columns: [Column] = []
        for spec in specs {
            for item in spec.split(separator: ",", omittingEmptySubsequences: true) {
                // Blanks separate names too, but a header after '=' keeps its blanks.
                var names = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let header: Substring? = names.count == 2 ? names[1] : nil
                let words = names[0].split(whereSeparator: { $0 == " " || $0 == "\t" })
                if words.isEmpty {
                    throw StatusError(.badSpecification, "improper format list")
                }
                names = words
                for (i, word) in words.enumerated() {
                    var name = Substring(word)
                    var width: Int?
                    if let colon = name.firstIndex(of: ":") {
                        guard let w = Int(name[name.index(after: colon)...]), w > 0, w < 4096 else {
                            throw StatusError(.badSpecification, "improper format list")
                        }
                        width = w
                        name = name[..<colon]
                    }
                    guard var column = Column(named: String(name)) else {
                        throw StatusError(.unknownColumn, "unknown column '\(name)'")
                    }
                    if let width { column.width = width }
                    // Only a header given here widens the column; procps's own headers may
                    // overrun (ADDR of -l), pushing that line alone to the right.
                    if i == words.count - 1, let header {
                        column.header = String(header)
                        column.width = max(column.width, column.header.count)
                    }
                    columns.append(column)
                }
            }
        }
        guard !columns.isEmpty else { throw StatusError(.badSpecification, "empty format list") }
        self.columns = columns
    }

    /// Creates a list from columns already made.
    public init(columns: [Column]) {
        self.columns = columns
    }

    /// The `cps` default: `HOST PID USER S %CPU RSS ELAPSED CMD`.
    public static let cpsDefault = preset("host,pid,user,s,pcpu,rss,etime,cmd")
    /// `-f`, procps's full format: `UID PID PPID C STIME TTY TIME CMD`, after the host.
    public static let full = preset("host,uid_hack,pid,ppid,c,stime,tname,time,cmd")
    /// `-l`, procps's long format: `F S UID PID PPID C PRI NI ADDR SZ WCHAN TTY TIME CMD`, after the host.
    public static let long = preset("host,f,s,uid,pid,ppid,c,opri,ni,addr_1,sz,wchan,tname,time,ucmd")
    /// `u`, procps's user format: `USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND`, after the host.
    public static let user = preset("host,user,pid,pcpu,pmem,vsz,rss,tname,stat,start_time,bsdtime,args")

    private static func preset(_ spec: String) -> ColumnList {
        // The presets are literals known to parse.
        (try? ColumnList(specs: [spec])) ?? ColumnList(columns: [])
    }

    /// A thread's column, for `-L` (`LWP`) or `-T` (`SPID`).
    public enum ThreadColumn: Sendable {
        case lwp, spid
    }

    /// A preset with threads shown, as procps changes its formats for `-L` and `-T`: `LWP`
    /// after `PPID` (or `PID`), and with `count` (procps's full and user formats) `NLWP`
    /// after `C` or `%CPU`; `SPID` after `PID`.
    public func withThreadColumn(_ thread: ThreadColumn, count: Bool = false) -> ColumnList {
        var result = columns
        let keys = result.map(\.key)
        switch thread {
        case .spid:
            if let pid = keys.firstIndex(of: "pid"), let spid = Column(named: "spid") { result.insert(spid, at: pid + 1) }
        case .lwp:
            if let after = keys.firstIndex(of: "ppid") ?? keys.firstIndex(of: "pid"), let lwp = Column(named: "lwp") {
                result.insert(lwp, at: after + 1)
            }
            if count, let c = result.firstIndex(where: { $0.key == "c" || $0.key == "pcpu" }),
               let nlwp = Column(named: "nlwp") {
                result.insert(nlwp, at: c + 1)
            }
        }
        return ColumnList(columns: result)
    }

    /// This list without the `host` column (for `--no-host`).
    public func droppingHost() -> ColumnList {
        ColumnList(columns: columns.filter { $0.field != .host })
    }

    /// This list with `host` first, unless it already has one. When every header of the
    /// list is empty the host's is too, so that `-o pid=` prints no header line, as ps.
    public func withHost() -> ColumnList {
        if columns.contains(where: { $0.field == .host }) { return self }
        guard var host = Column(named: "host") else { return self }
        if !hasHeader { host.header = "" }
        return ColumnList(columns: [host] + columns)
    }

    /// Whether any header is non-empty (ps prints no header line when all are empty).
    public var hasHeader: Bool { columns.contains { !$0.header.isEmpty } }
}

/// The order of `cps` rows, from `--sort=-pcpu,rss`: keys are column names, `-` for
/// descending, `+` (or nothing) for ascending. Rows equal on every key keep host, then PID order.
public struct SortSpec: Sendable {
    /// One key: a column and its direction.
    public struct Key: Sendable {
        public var column: Column
        public var descending: Bool
    }

    /// The keys, most significant first.
    public var keys: [Key]

    /// No keys: host, then PID.
    public init() { keys = [] }

    /// Parses `--sort` arguments (comma separated, repeatable).
    /// - Throws: `StatusError` `.unknownSortKey` for a name no column has.
    public init(specs: [String]) throws {
        var keys: [Key] = []
        for spec in specs {
            for item in spec.split(separator: ",") {
                var name = Substring(item.trimmingCharacters(in: " "))
                var descending = false
                if name.first == "-" { descending = true; name = name.dropFirst() }
                else if name.first == "+" { name = name.dropFirst() }
                guard let column = Column(named: String(name)) else {
                    throw StatusError(.unknownSortKey, "unknown sort specifier '\(name)'")
                }
                keys.append(Key(column: column, descending: descending))
            }
        }
        self.keys = keys
    }

    /// Sorts records: host, then PID, then (stably) by the keys.
    public func sorted(_ records: [ProcessRecord], context: StatusContext) -> [ProcessRecord] {
        let base = records.sorted { ($0.host, $0.pid) < ($1.host, $1.pid) }
        guard !keys.isEmpty else { return base }
        let values = base.map { r in keys.map { $0.column.cell(r, context).value } }
        let order = base.indices.sorted { a, b in
            for (k, key) in keys.enumerated() {
                let c = CellValue.compare(values[a][k], values[b][k])
                if c != 0 { return key.descending ? c > 0 : c < 0 }
            }
            return a < b
        }
        return order.map { base[$0] }
    }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
