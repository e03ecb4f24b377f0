/// Named groups of hosts for `@group` in `-w` and `-x`, in the format of ClusterShell's default
/// `local` group source: one group a line, `name: hosts`, where `name` is made of `A-Za-z0-9_-` and
/// `hosts` are host list expressions separated by spaces or commas (`io: node[4-6] login1`); `#`
/// starts a comment. A group may name other groups (`@io`), to a depth of eight.
///
/// The file is `CLUSTER_PROC_GROUPS` if set, else what `clush` reads by default:
/// `/etc/clustershell/groups` if it exists, else `/etc/clustershell/groups.d/local.cfg`. So a
/// site's clush groups work unchanged. ClusterShell's other sources (YAML files, external
/// commands) are not read.
public struct HostGroups: Sendable, Equatable {
    /// The group definitions, by name, as written (expressions not yet expanded).
    public private(set) var definitions: [String: String] = [:]
    /// Where the groups came from, for error messages.
    public var source: String

    /// The files tried, in order, when `CLUSTER_PROC_GROUPS` is not set.
    public static let defaultFiles = ["/etc/clustershell/groups", "/etc/clustershell/groups.d/local.cfg"]

    /// Parses the text of a groups file.
    ///
    /// - Throws: ``HostListError`` naming the source and line of a line that is not `name: hosts`.
    public init(parsing text: String, source: String) throws(HostListError) {
        self.source = source
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let content = line.prefix { $0 != "#" }
            guard content.contains(where: { !$0.isWhitespace }) else { continue }
            guard let colon = content.firstIndex(of: ":") else {
                throw HostListError(.badGroup, "\(source):\(lineNumber): expected 'name: hosts'")
            }
            let name = String(content[..<colon]).trimmingSpaces()
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(Self.isNameScalar) else {
                throw HostListError(.badGroup, "\(source):\(lineNumber): a group name is made of A-Za-z0-9_-")
            }
            definitions[name] = String(content[content.index(after: colon)...])
        }
    }

    /// Reads the groups file the environment names, or the first of ``defaultFiles`` that can be read.
    ///
    /// - Throws: ``HostListError`` when `CLUSTER_PROC_GROUPS` cannot be read, or no file can.
    static func load(environment: [String: String], readFile: (String) throws -> String) throws(HostListError) -> HostGroups {
        if let path = environment["CLUSTER_PROC_GROUPS"], !path.isEmpty {
            do {
                return try HostGroups(parsing: try readFile(path), source: path)
            } catch let error as HostListError {
                throw error
            } catch {
                throw HostListError(.unreadableFile, "cannot read the groups file \(path) (CLUSTER_PROC_GROUPS): \(error)")
            }
        }
        for path in defaultFiles {
            guard let text = try? readFile(path) else { continue }
            return try HostGroups(parsing: text, source: path)
        }
        throw HostListError(
            .unreadableFile,
            "@group needs a groups file: set CLUSTER_PROC_GROUPS or write \(defaultFiles.joined(separator: " or "))")
    }

    /// The hosts of group `name`.
    ///
    /// - Throws: ``HostListError`` for an unknown group, a bad expression in it, or groups nested
    ///   deeper than eight (a loop, say), or more than ``maxReferences`` group references in
    ///   all (groups that each name the next several times would otherwise multiply).
    public func hosts(of name: String, limit: Int = HostList.defaultLimit) throws(HostListError) -> HostList {
        var references = 0
        return try hosts(of: name, limit: limit, depth: 0, references: &references)
    }

    /// The most group references one expansion follows.
    public static let maxReferences = 10_000

    private func hosts(of name: String, limit: Int, depth: Int, references: inout Int) throws(HostListError) -> HostList {
        guard let definition = definitions[name] else {
            throw HostListError(.badGroup, "no group @\(name) in \(source)")
        }
        guard depth < 8 else {
            throw HostListError(.badGroup, "@\(name) in \(source): groups nested more than 8 deep")
        }
        references += 1
        guard references <= Self.maxReferences else {
            throw HostListError(.badGroup, "@\(name) in \(source): more than \(Self.maxReferences) group references")
        }
        var hosts = HostList()
        for word in HostGroups.words(definition) {
            if word.hasPrefix("@") {
                hosts.formUnion(try self.hosts(of: String(word.dropFirst()), limit: limit, depth: depth + 1, references: &references))
            } else {
                do {
                    hosts.formUnion(try HostList(parsing: word, limit: limit))
                } catch {
                    throw error.prefixed(by: "@\(name) in \(source)")
                }
            }
            if hosts.count > limit {
                throw HostListError(.tooManyHosts, "@\(name) in \(source) has more than \(limit) hosts")
            }
        }
        return hosts
    }

    /// Splits at whitespace and at commas outside brackets.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if depth == 0, character == "," || character.isWhitespace {
                if !current.isEmpty { words.append(current) }
                current = ""
                continue
            }
            if character == "[" { depth += 1 } else if character == "]" { depth = max(0, depth - 1) }
            current.append(character)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }
}

/// What an exclusion removes: listed hosts, or the hosts a pattern matches.
enum HostFilter {
    case hosts(HostList)
    case pattern(Regex<AnyRegexOutput>)

    func matches(_ host: String) -> Bool {
        switch self {
        case .hosts(let hosts): hosts.contains(host)
        case .pattern(let pattern): host.contains(pattern)
        }
    }

    /// The regular expression of a `/regex/` value (pdsh's), or nil when the value is not one.
    ///
    /// - Throws: ``HostListError`` when the expression does not compile.
    static func pattern(_ value: String) throws(HostListError) -> Regex<AnyRegexOutput>? {
        guard value.count >= 2, value.hasPrefix("/"), value.hasSuffix("/") else { return nil }
        let body = String(value.dropFirst().dropLast())
        do {
            return try Regex(body)
        } catch {
            throw HostListError(.badPattern, "\(HostListParser.abbreviated(value)): not a regular expression: \(error)")
        }
    }
}

extension HostSelection.Reader {
    /// The hosts of a target or exclusion with `@group` items among comma-separated expressions.
    mutating func withGroups(_ value: String) throws(HostListError) -> HostList {
        var hosts = HostList()
        for word in HostGroups.words(value) {
            if word.hasPrefix("@") {
                // Only a group needs the file: `user@host` is a host.
                if groups == nil {
                    groups = try HostGroups.load(environment: environment, readFile: input.readFile)
                }
                hosts.formUnion(try groups!.hosts(of: String(word.dropFirst()), limit: limit))
            } else {
                hosts.formUnion(try HostList(parsing: word, limit: limit))
            }
            try check(hosts.count, HostListParser.abbreviated(value))
        }
        return hosts
    }
}
