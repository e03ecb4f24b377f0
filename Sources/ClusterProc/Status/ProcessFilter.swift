/// Which processes `cps` lists by `-p`, `-u` and `-C`, as procps selects them: each list
/// adds processes (a process matching any of them is listed), and lists are separated by
/// commas or blanks.
public struct ProcessFilter: Sendable, Equatable {
    /// `-p`: these PIDs.
    public var pids: Set<Int32>
    /// `-u`: these effective users, by name or decimal id.
    public var users: Set<String>
    /// `-C`: these command names, compared as procps does with the first 15 bytes of the
    /// kernel's task name (`comm`).
    public var commands: Set<String>

    /// The longest task name the kernel keeps (`TASK_COMM_LEN` less its NUL).
    static let commandNameLength = 15

    /// Parses the option values.
    /// - Throws: `StatusError` `.badSpecification` naming the option whose list is wrong.
    public init(pids: [String] = [], users: [String] = [], commands: [String] = []) throws {
        self.pids = []
        for item in pids.flatMap(Self.items) {
            guard let pid = Int32(item) else { throw StatusError(.badSpecification, "-p: process ID list syntax error: '\(item)'") }
            guard pid > 0 else { throw StatusError(.badSpecification, "-p: process ID out of range: '\(item)'") }
            self.pids.insert(pid)
        }
        self.users = Set(try Self.list(users, option: "-u", what: "user"))
        self.commands = Set(try Self.list(commands, option: "-C", what: "command").map {
            String(decoding: $0.utf8.prefix(Self.commandNameLength), as: UTF8.self)
        })
    }

    /// Whether no list was given (every process of the default selection is listed).
    public var isEmpty: Bool { pids.isEmpty && users.isEmpty && commands.isEmpty }

    /// What to read of the nodes: only the PIDs when `-p` is the only list, else every
    /// process (filtered afterwards); `fallback` when no list was given.
    public func selection(fallback: FamilySnapshot.Selection) -> FamilySnapshot.Selection {
        if isEmpty { return fallback }
        if users.isEmpty && commands.isEmpty { return .pids(pids) }
        return .all
    }

    /// Whether `record` is selected (always, when no list was given).
    public func matches(_ record: ProcessRecord, users names: UserNames = .shared) -> Bool {
        if isEmpty { return true }
        if pids.contains(record.pid) { return true }
        if !commands.isEmpty, commands.contains(String(decoding: record.comm.utf8.prefix(Self.commandNameLength), as: UTF8.self)) {
            return true
        }
        if !users.isEmpty, let euid = record.euid {
            return users.contains(String(euid)) || users.contains(names.user(euid))
        }
        return false
    }

    private static func items(_ value: String) -> [Substring] {
        value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
    }

    private static func list(_ values: [String], option: String, what: String) throws -> [String] {
        let items = values.flatMap(Self.items).map(String.init)
        if !values.isEmpty && items.isEmpty {
            throw StatusError(.badSpecification, "\(option): list of \(what) names must follow \(option)")
        }
        return items
    }
}
