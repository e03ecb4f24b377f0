/// What a watching `cps` shows and how, changed by top's keys; no terminal in it, so that
/// every key can be tested as bytes.
public struct TopState: Sendable {
    /// The columns shown (for `<` and `>`).
    public var columns: ColumnList
    /// The column rows are sorted by, largest first (top's default: %CPU).
    public var sortColumn: Column
    /// Every process of the nodes, or only the family's.
    public var everything: Bool
    /// A summary line per node.
    public var summaries = true
    /// Seconds between refreshes.
    public var delay: Double
    /// What was typed after `d`, while the prompt is open.
    public var delayInput: String?
    /// A line to show once (a delay that was refused).
    public var message: String?

    /// What the caller does after a key.
    public enum Command: Sendable, Equatable {
        /// Nothing changed.
        case none
        /// Draw again from the last snapshot.
        case redraw
        /// Read the nodes now (the selection or the delay changed, or space).
        case refresh
        case quit
    }

    /// The longest delay `d` takes, a day, as `--watch`.
    public static let maxDelay = 86_400.0

    public init(columns: ColumnList, sort: Column? = nil, everything: Bool, delay: Double) {
        self.columns = columns
        self.sortColumn = sort ?? Column(named: "pcpu") ?? columns.columns[0]
        self.everything = everything
        self.delay = delay
    }

    /// The order of the table.
    public var sort: SortSpec {
        var spec = SortSpec()
        spec.keys = [SortSpec.Key(column: sortColumn, descending: true)]
        return spec
    }

    /// Takes one key (a Unicode scalar value, as a terminal library returns it).
    public mutating func press(_ key: UInt32) -> Command {
        if delayInput != nil { return typeDelay(key) }
        message = nil
        switch Unicode.Scalar(key).map(Character.init) {
        case "q": return .quit
        case "P": return sortBy("pcpu")
        case "M": return sortBy(columns.columns.contains { $0.field == .pmem } ? "pmem" : "rss")
        case "T": return sortBy("time")
        case "<": return moveSort(by: -1)
        case ">": return moveSort(by: 1)
        case "e": everything.toggle(); return .refresh
        case "f":
            guard everything else { return .none }
            everything = false
            return .refresh
        case "1": summaries.toggle(); return .redraw
        case " ": return .refresh
        case "d":
            delayInput = ""
            return .redraw
        default: return .none
        }
    }

    /// The prompt line while a delay is typed.
    public var prompt: String? {
        delayInput.map { "Change delay from \(NodeSummary.oneDecimal(delay)) to \($0)" }
    }

    private mutating func sortBy(_ name: String) -> Command {
        guard let column = Column(named: name) else { return .none }
        sortColumn = column
        return .redraw
    }

    /// The column left or right of the sort column among those shown (from the first when
    /// the sort column is not shown), as top's `<` and `>`.
    private mutating func moveSort(by step: Int) -> Command {
        let shown = columns.columns
        guard !shown.isEmpty else { return .none }
        let index = shown.firstIndex { $0.field == sortColumn.field } ?? (step > 0 ? -1 : shown.count)
        let next = min(max(index + step, 0), shown.count - 1)
        guard next != index else { return .none }
        sortColumn = shown[next]
        return .redraw
    }

    private mutating func typeDelay(_ key: UInt32) -> Command {
        switch key {
        case 10, 13:
            let text = delayInput ?? ""
            delayInput = nil
            guard !text.isEmpty else { return .redraw }
            guard let seconds = Double(text), seconds > 0, seconds <= Self.maxDelay else {
                message = "Unacceptable delay '\(text)': seconds from 0 to 86400"
                return .redraw
            }
            delay = seconds
            return .refresh
        case 27:
            delayInput = nil
            return .redraw
        case 8, 127, 263:  // backspace, delete, curses' KEY_BACKSPACE
            if delayInput?.isEmpty == false { delayInput?.removeLast() }
            return .redraw
        case 0x30...0x39, 0x2E:
            if (delayInput?.count ?? 0) < 12, let scalar = Unicode.Scalar(key) { delayInput?.append(Character(scalar)) }
            return .redraw
        default:
            return .none
        }
    }
}
