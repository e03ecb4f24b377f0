/// Renders process records as `cps` output: a table as `ps` prints it, a `--forest` tree,
/// or JSON.
public struct StatusTable: Sendable {
    /// How column widths are found.
    public enum Layout: Sendable {
        /// Every column as wide as its widest value (or header); one space between columns.
        case aligned
        /// Exactly as procps prints, line by line: fixed widths, an overlong value pushes
        /// the rest of its line to the right. User names, wchan and commands that are not the
        /// last column are cut to their width as ps cuts them.
        case procps
    }

    /// The columns.
    public var columns: ColumnList
    /// Whether to print the header line (ps also omits it when every header is empty).
    public var headers: Bool
    /// Width rule.
    public var layout: Layout
    /// Whether to draw each host's processes as a tree, as `ps --forest`.
    public var forest: Bool

    /// Creates a renderer.
    public init(columns: ColumnList, headers: Bool = true, layout: Layout = .aligned, forest: Bool = false) {
        self.columns = columns
        self.headers = headers
        self.layout = layout
        self.forest = forest
    }

    /// The table's lines (no trailing newlines), records in the order given (or in tree
    /// order with `forest`).
    public func lines(_ records: [ProcessRecord], context: StatusContext) -> [String] {
        let rows: [(ProcessRecord, String)] = forest
            ? Forest.order(records)
            : records.map { ($0, "") }
        let cols = columns.columns
        var cells: [[String]] = rows.map { record, prefix in
            cols.map { column in
                let text = column.cell(record, context).text
                if column.field == .args || column.field == .comm { return prefix + text }
                return text
            }
        }
        var output: [String] = []
        let showHeader = headers && columns.hasHeader
        switch layout {
        case .procps:
            if showHeader { output.append(procpsLine(cols.map(\.header), isHeader: true)) }
            for row in cells { output.append(procpsLine(row, isHeader: false)) }
        case .aligned:
            var widths = cols.map { max($0.width, showHeader ? $0.header.count : 0) }
            for row in cells {
                for (i, text) in row.enumerated() { widths[i] = max(widths[i], Self.width(text)) }
            }
            if showHeader { cells.insert(cols.map(\.header), at: 0) }
            for row in cells {
                var line = ""
                for (i, column) in cols.enumerated() {
                    let text = row[i]
                    let isLast = i == cols.count - 1
                    if i > 0 { line += " " }
                    let pad = Self.spaces(max(0, widths[i] - Self.width(text)))
                    if column.justification == .right {
                        line += pad
                        line += text
                    } else {
                        line += text
                        if !isLast { line += pad }
                    }
                }
                output.append(line)
            }
        }
        return output
    }

    /// The whole table as text, one line per process plus the header, each ending in a newline.
    public func render(_ records: [ProcessRecord], context: StatusContext) -> String {
        var text = ""
        for line in lines(records, context: context) {
            text += line
            text += "\n"
        }
        return text
    }

    /// `count` spaces, without making a string for them.
    static func spaces(_ count: Int) -> Substring {
        guard count > 0 else { return "" }
        guard count <= blanks.utf8.count else { return Substring(String(repeating: " ", count: count)) }
        return blanks[..<blanks.utf8.index(blanks.startIndex, offsetBy: count)]
    }

    private static let blanks = String(repeating: " ", count: 256)

    /// Columns `text` takes: its characters, counted quickly when it is all ASCII.
    static func width(_ text: String) -> Int {
        text.utf8.allSatisfy { $0 < 0x80 } ? text.utf8.count : text.count
    }

    /// procps's `show_one_proc`: each column starts where it should, unless the previous
    /// one ran over, in which case it follows after one space.
    private func procpsLine(_ texts: [String], isHeader: Bool) -> String {
        let cols = columns.columns
        var line = ""
        var correct = 0, actual = 0, dospace = 0
        for (i, column) in cols.enumerated() {
            let isLast = i == cols.count - 1
            var text = texts[i]
            var amount = Self.width(text)
            if !isLast && !isHeader {
                switch column.justification {
                case .user where amount > column.width:
                    text = String(text.prefix(max(0, column.width - 1))) + "+"
                    amount = text.count
                case .wchan where amount > column.width, .unlimited where amount > column.width:
                    text = String(text.prefix(column.width))
                    amount = text.count
                default:
                    break
                }
            }
            let leftpad = column.justification == .right ? max(0, column.width - amount) : 0
            var space = correct - actual + leftpad
            if space < 1 { space = dospace }
            space = min(space, 144)
            line.append(contentsOf: Self.spaces(space))
            line += text
            if isLast { break }
            actual += space + amount
            correct += column.width + 1
            dospace = 1
        }
        return line
    }

    // MARK: - JSON

    /// One JSON object per process: `host` always, then each column by its key; numbers as
    /// JSON numbers, everything else as strings.
    public func jsonObjects(_ records: [ProcessRecord], context: StatusContext) -> [String] {
        records.map { r in
            var members: [String] = ["\"host\":" + JSON.quote(r.host)]
            for column in columns.columns where column.field != .host {
                let cell = column.cell(r, context)
                let value: String
                let isNumber = column.isNumeric && cell.text != "-" && cell.text != "?"
                switch cell.value {
                case .integer(let v) where isNumber:
                    value = String(v)
                case .real(let v) where isNumber && v.isFinite:
                    value = String(v)
                default:
                    value = JSON.quote(cell.text)
                }
                members.append(JSON.quote(column.key) + ":" + value)
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// JSON lines: one object per line.
    public func renderJSONLines(_ records: [ProcessRecord], context: StatusContext) -> String {
        jsonObjects(records, context: context).map { $0 + "\n" }.joined()
    }

    /// A JSON array of the objects.
    public func renderJSONArray(_ records: [ProcessRecord], context: StatusContext) -> String {
        "[" + jsonObjects(records, context: context).joined(separator: ",\n") + "]\n"
    }
}

/// Hand-rolled JSON string escaping: quotes, backslashes and every control character
/// escaped; text is valid UTF-8 because Swift strings are.
public enum JSON {
    /// `s` as a JSON string, quotes included.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// `ps --forest` order and prefixes, per host.
enum Forest {
    /// Levels a tree is drawn to; deeper processes (only a node that lies makes chains this
    /// long) follow flat after the tree, so neither the prefixes nor the recursion grow
    /// with what a node says.
    static let maxDepth = 256

    /// Records in tree order, each with the prefix procps puts before its command.
    static func order(_ records: [ProcessRecord]) -> [(ProcessRecord, String)] {
        var hosts: [String] = []
        var byHost: [String: [ProcessRecord]] = [:]
        for r in records {
            if byHost[r.host] == nil { hosts.append(r.host) }
            byHost[r.host, default: []].append(r)
        }
        var result: [(ProcessRecord, String)] = []
        for host in hosts { result += tree(byHost[host]!) }
        return result
    }

    /// procps's `show_forest`/`show_tree`: siblings are contiguous after a stable sort by
    /// parent; roots (no parent in the list) are visited from the last; children of PID 1
    /// stay at its level.
    private static func tree(_ input: [ProcessRecord]) -> [(ProcessRecord, String)] {
        let procs = input.enumerated().sorted { ($0.element.ppid, $0.offset) < ($1.element.ppid, $1.offset) }.map(\.element)
        let pids = Set(procs.map(\.pid))
        var firstChild: [Int32: Int] = [:]
        for (i, p) in procs.enumerated() where firstChild[p.ppid] == nil { firstChild[p.ppid] = i }
        var out: [(ProcessRecord, String)] = []
        var prefix: [Character] = []
        var shown = Set<Int>()

        func show(_ index: Int, _ level: Int, _ hasSibling: Bool) {
            guard shown.insert(index).inserted else { return }  // a cycle of ppids ends here
            if prefix.count < level { prefix.append(contentsOf: repeatElement(" ", count: level - prefix.count)) }
            prefix.removeLast(prefix.count - level)
            if level > 0 { prefix[level - 1] = hasSibling ? "+" : "L" }
            out.append((procs[index], render(prefix)))
            let me = procs[index].pid
            guard level < maxDepth, var i = firstChild[me] else { return }
            if level > 0 { prefix[level - 1] = hasSibling ? "|" : " " }
            while i < procs.count, procs[i].ppid == me {
                let more = i + 1 < procs.count && procs[i + 1].ppid == me
                if procs[i].pid != me {
                    show(i, me == 1 ? level : level + 1, more)
                    if prefix.count > level { prefix.removeLast(prefix.count - level) }
                }
                i += 1
            }
        }

        for i in procs.indices.reversed() where !pids.contains(procs[i].ppid) || procs[i].ppid == procs[i].pid {
            prefix.removeAll()
            show(i, 0, false)
        }
        // Anything left belongs to a ppid cycle with no root; show it flat rather than drop it.
        for i in procs.indices where !shown.contains(i) { out.append((procs[i], "")) }
        return out
    }

    private static func render(_ prefix: [Character]) -> String {
        var s = ""
        for c in prefix {
            switch c {
            case "L", "+": s += " \\_ "
            case "|": s += " |  "
            default: s += "    "
            }
        }
        return s
    }
}
