import SystemPackage

/// Turns what a user typed (`-w`/`-n` targets, `-x` exclusions) and the environment into the final
/// host list, with the rules pdsh users expect.
///
/// Each target is one of:
/// - `-`: host names read from standard input (read once however often it is named);
/// - `^FILE`: a host file: names separated by newlines, whitespace or commas, `#` starting a comment,
///   every name possibly a host list expression such as `node[01-04]`;
/// - a bare count such as `4` (digits only): the first that many hosts of the allocation, which is
///   `SLURM_JOB_NODELIST` if set, else the file named by `CLUSTER_PROC_HOSTFILE`, else `WCOLL`;
/// - anything else: a host list expression.
///
/// With no targets at all, `WCOLL` names a host file (as in pdsh); without `WCOLL` the whole
/// allocation is taken. Exclusions take `-`, `^FILE` and expressions (a bare number there is a host
/// name). Targets are unioned in order; exclusions are removed last.
public struct HostSelection: Sendable, Equatable {
    /// The `-w`/`-n` values, in the order given.
    public var targets: [String]
    /// The `-x` values, in the order given.
    public var exclusions: [String]
    /// The most hosts the selection, or any expression or file in it, may hold.
    public var limit: Int

    /// Makes a selection from the raw option values.
    public init(targets: [String] = [], exclusions: [String] = [], limit: Int = HostList.defaultLimit) {
        self.targets = targets
        self.exclusions = exclusions
        self.limit = limit
    }

    /// Where a selection reads host files and standard input.
    public struct Input {
        /// Returns the text of the file at the path, or throws.
        public var readFile: (String) throws -> String
        /// Returns all of standard input, or throws.
        public var readStandardInput: () throws -> String

        /// Reads through the given closures (tests pass closures over temporary files).
        public init(readFile: @escaping (String) throws -> String,
                    readStandardInput: @escaping () throws -> String) {
            self.readFile = readFile
            self.readStandardInput = readStandardInput
        }

        /// Reads real files and the process's standard input. The reads block: resolve a selection
        /// before starting concurrent work.
        public static var system: Input {
            Input(readFile: { path in
                let fd = try FileDescriptor.open(FilePath(path), .readOnly)
                return try fd.closeAfter { try Self.readAll(fd) }
            }, readStandardInput: {
                try Self.readAll(.standardInput)
            })
        }

        private static func readAll(_ fd: FileDescriptor) throws -> String {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }
                if count == 0 { break }
                bytes += buffer[..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Resolves the selection into the final host list.
    ///
    /// A count is taken after the exclusions (`-n 2 -x node05` in `node[05-08]` is `node[06-07]`, as
    /// srun does). A `/regex/` target keeps only the hosts of the other targets (or, alone, of the
    /// default hosts) that the extended regular expression matches somewhere; a `/regex/` exclusion
    /// removes them (pdsh's `-w`/`-x`). `@group` names a group of ``HostGroups``.
    ///
    /// - Parameters:
    ///   - environment: the process environment (`WCOLL`, `SLURM_JOB_NODELIST`, `CLUSTER_PROC_HOSTFILE`,
    ///     `CLUSTER_PROC_GROUPS`).
    ///   - input: how to read host files and standard input.
    ///   - warn: told of each exclusion that matches none of the selected hosts.
    /// - Returns: the selected hosts, never empty.
    /// - Throws: ``HostListError`` for bad expressions (naming the file and line they came from),
    ///   unreadable files, unknown groups, bad patterns, a count with no allocation or beyond it, or
    ///   an empty result.
    public func resolve(environment: [String: String], input: Input = .system,
                        warn: (String) -> Void = { _ in }) throws(HostListError) -> HostList {
        var reader = Reader(input: input, limit: limit, environment: environment)
        var exclusionSets: [(text: String, filter: HostFilter)] = []
        for exclusion in exclusions {
            let text = HostListParser.trimmedString(exclusion)
            exclusionSets.append((text, try reader.filter(text)))
        }
        let isExcluded = { (host: String) in exclusionSets.contains { $0.filter.matches(host) } }

        var selected = HostList()
        var patterns: [Regex<AnyRegexOutput>] = []
        for target in targets {
            let trimmed = HostListParser.trimmedString(target)
            if let pattern = try HostFilter.pattern(trimmed) {
                patterns.append(pattern)
                continue
            }
            let hosts: HostList
            if !trimmed.isEmpty, trimmed.unicodeScalars.allSatisfy(HostListParser.isDigit) {
                hosts = try reader.first(trimmed, excluding: isExcluded)
            } else {
                hosts = try reader.hosts(trimmed)
            }
            selected.formUnion(hosts)
            try reader.check(selected.count, "the selected hosts")
        }
        if targets.count == patterns.count {
            selected = try reader.defaultHosts()
        }
        if !patterns.isEmpty {
            selected = HostList(selected.filter { host in patterns.contains { host.contains($0) } })
        }
        guard !selected.isEmpty else {
            throw HostListError(.noHosts, "no hosts selected")
        }
        for exclusion in exclusionSets where !selected.contains(where: exclusion.filter.matches) {
            warn("-x \(HostListParser.abbreviated(exclusion.text)) matches none of the selected hosts")
        }
        let remaining = HostList(selected.filter { !isExcluded($0) })
        guard !remaining.isEmpty else {
            throw HostListError(
                .noHosts,
                "no hosts left after excluding \(HostListParser.abbreviated(exclusions.joined(separator: ",")))")
        }
        return remaining
    }

    /// Parses the text of a host file: names separated by newlines, whitespace or commas, `#`
    /// comments, each name possibly a host list expression.
    ///
    /// - Parameters:
    ///   - text: the file's contents.
    ///   - name: how to name the file in error messages.
    ///   - limit: the most hosts the file may hold.
    /// - Throws: ``HostListError`` naming `name` and the line of the first bad expression.
    public static func parseHostFile(_ text: String, name: String, limit: Int = HostList.defaultLimit) throws(HostListError) -> HostList {
        var hosts = HostList()
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let content = line.prefix { $0 != "#" }
            for token in tokens(Array(content.unicodeScalars)) {
                do {
                    hosts.formUnion(try HostList(parsing: HostListParser.string(token), limit: limit))
                } catch {
                    throw error.prefixed(by: "\(name):\(lineNumber)")
                }
                if hosts.count > limit {
                    throw HostListError(.tooManyHosts, "\(name):\(lineNumber): the file lists more than \(limit) hosts")
                }
            }
        }
        return hosts
    }

    /// Splits at whitespace and commas outside brackets, dropping empty pieces.
    private static func tokens(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var tokens: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        var depth = 0
        for scalar in scalars {
            if depth == 0, scalar == "," || scalar.properties.isWhitespace {
                if !current.isEmpty { tokens.append(current) }
                current = []
                continue
            }
            if scalar == "[" { depth += 1 } else if scalar == "]" { depth = max(0, depth - 1) }
            current.append(scalar)
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    /// Reads files and standard input for one resolution, standard input at most once.
    struct Reader {
        var input: Input
        var limit: Int
        var environment: [String: String]
        var standardInput: HostList?
        var groups: HostGroups?

        init(input: Input, limit: Int, environment: [String: String]) {
            self.input = input
            self.limit = limit
            self.environment = environment
        }

        /// The hosts taken when no target names any: `WCOLL`, else the allocation.
        func defaultHosts() throws(HostListError) -> HostList {
            if let wcoll = environment["WCOLL"], !wcoll.isEmpty {
                return try file(wcoll)
            }
            if let allocation = try allocation() {
                return allocation.hosts
            }
            throw HostListError(
                .noHosts,
                "no hosts given: use -w, set WCOLL, or run inside an allocation (SLURM_JOB_NODELIST or CLUSTER_PROC_HOSTFILE)")
        }

        /// What an exclusion removes: a `/regex/` or the hosts of `-`, `^FILE`, `@group` or an expression.
        mutating func filter(_ value: String) throws(HostListError) -> HostFilter {
            if let pattern = try HostFilter.pattern(value) { return .pattern(pattern) }
            return .hosts(try hosts(value))
        }

        func check(_ count: Int, _ what: String) throws(HostListError) {
            if count > limit {
                throw HostListError(.tooManyHosts, "\(what) number more than \(limit) hosts")
            }
        }

        /// The hosts named by `-`, `^FILE` or an expression.
        mutating func hosts(_ value: String) throws(HostListError) -> HostList {
            if value == "-" {
                if let standardInput { return standardInput }
                let text: String
                do {
                    text = try input.readStandardInput()
                } catch {
                    throw HostListError(.unreadableFile, "cannot read hosts from standard input: \(error)")
                }
                let hosts = try HostSelection.parseHostFile(text, name: "<stdin>", limit: limit)
                standardInput = hosts
                return hosts
            }
            if value.hasPrefix("^") {
                return try file(String(value.dropFirst()))
            }
            if value.contains("@") {
                return try withGroups(value)
            }
            return try HostList(parsing: value, limit: limit)
        }

        func file(_ path: String) throws(HostListError) -> HostList {
            if path.isEmpty {
                throw HostListError(.unreadableFile, "'^' must be followed by the name of a host file")
            }
            let text: String
            do {
                text = try input.readFile(path)
            } catch {
                throw HostListError(.unreadableFile, "cannot read host file \(path): \(error)")
            }
            return try HostSelection.parseHostFile(text, name: path, limit: limit)
        }

        /// The allocation a bare count takes hosts from, and where it came from.
        func allocation() throws(HostListError) -> (hosts: HostList, source: String)? {
            if let nodes = environment["SLURM_JOB_NODELIST"], !HostListParser.trimmedString(nodes).isEmpty {
                do {
                    return (try HostList(parsing: nodes, limit: limit), "SLURM_JOB_NODELIST")
                } catch {
                    throw error.prefixed(by: "SLURM_JOB_NODELIST")
                }
            }
            for variable in ["CLUSTER_PROC_HOSTFILE", "WCOLL"] {
                if let path = environment[variable], !path.isEmpty {
                    return (try file(path), "\(variable) (\(path))")
                }
            }
            return nil
        }

        /// The first `count` hosts of the allocation that are not excluded.
        func first(_ count: String, excluding isExcluded: (String) -> Bool) throws(HostListError) -> HostList {
            guard let found = try allocation() else {
                throw HostListError(
                    .noAllocation,
                    "a host count (\(count)) needs an allocation: SLURM_JOB_NODELIST, CLUSTER_PROC_HOSTFILE or WCOLL is not set")
            }
            let allocation = (hosts: HostList(found.hosts.filter { !isExcluded($0) }), found.source)
            let wanted = HostListParser.number(count.unicodeScalars).flatMap { Int(exactly: $0) }
            guard let wanted, wanted <= allocation.hosts.count else {
                let left = allocation.hosts.count == found.hosts.count ? "" : " left after the exclusions"
                throw HostListError(
                    .badCount,
                    "asked for \(count) hosts but the allocation from \(found.source) has only \(allocation.hosts.count)\(left)")
            }
            guard wanted > 0 else {
                throw HostListError(.badCount, "a host count must be at least 1")
            }
            return HostList(allocation.hosts.prefix(wanted))
        }
    }
}

private extension HostListParser {
    static func trimmedString(_ text: String) -> String {
        string(trimmed(Array(text.unicodeScalars)))
    }
}
