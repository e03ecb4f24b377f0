/// The launcher's own use of its process's bytes: the job's words and what `--export` passes.
extension ProcessBytes {
    /// The last `parsed.count` words of this process's argv, where the argument parser took
    /// the command from (it captures everything from the command on).
    /// - Parameter parsed: the same words as the argument parser gave them, to check that
    ///   these are the ones it took.
    /// - Throws: ``LaunchError`` when they do not match (then the raw words cannot be told).
    public static func trailingWords(matching parsed: [String]) throws(LaunchError) -> [[UInt8]] {
        let argv = arguments().dropFirst()
        guard parsed.count <= argv.count else { throw LaunchError("the command's words are not in the argument list") }
        let words = Array(argv.suffix(parsed.count))
        guard words.map({ String(decoding: $0, as: UTF8.self) }) == parsed else {
            throw LaunchError("the command's words do not match the argument list")
        }
        return words
    }

    /// The job's argv for the words the user gave (``trailingWords(matching:)``), and whether
    /// it runs by the node user's login shell: after `--` the words are argv exactly (srun's
    /// way); without it they are one command line, joined with spaces, for `sh -c` (pdsh's
    /// and clush's way), whose `sh` the node replaces with the user's login shell.
    /// - Throws: ``LaunchError`` for no command, or an option where the command should begin.
    public static func command(from words: [[UInt8]]) throws(LaunchError) -> (argv: [[UInt8]], runsInLoginShell: Bool) {
        let terminator = Array("--".utf8)
        if words.first == terminator {
            guard words.count > 1 else { throw LaunchError("no command after --") }
            return (Array(words.dropFirst()), false)
        }
        guard let first = words.first else {
            throw LaunchError("no command: e.g. cluster-launch -w node01 hostname, or -- PROGRAM ARGS to run argv exactly")
        }
        if first.first == UInt8(ascii: "-") {
            throw LaunchError("unknown option \(String(decoding: first, as: UTF8.self)) (put the command after -- if it begins with -)")
        }
        let line = Array(words.joined(separator: [UInt8(ascii: " ")]))
        return ([Array("sh".utf8), Array("-c".utf8), line], true)
    }

    /// The entries `--export` chooses (srun's syntax): `NONE` (or empty); `ALL` (less `_`,
    /// `SHLVL`, `OLDPWD` and `PWD`, which describe this shell); or a list of `NAME`, `NAME=VALUE`
    /// and at most one `ALL`: a name takes its entry from `environment` (none if unset),
    /// `NAME=VALUE` is taken as is, and `ALL` adds every other entry. A later item for a name
    /// replaces an earlier one, and an item given by name or value wins over `ALL`'s
    /// (`ALL,EDITOR=vi` is everything with `EDITOR` set to `vi`, as srun).
    /// - Throws: ``LaunchError`` for an empty item or `NONE` in a list.
    public static func exported(_ spec: String, from environment: [[UInt8]]) throws(LaunchError) -> [[UInt8]] {
        if spec.isEmpty || spec.uppercased() == "NONE" { return [] }
        var chosen: [[UInt8]] = []
        var explicit: Set<[UInt8]> = []
        var all = false
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            switch item.uppercased() {
            case "ALL": all = true
            case "NONE": throw LaunchError("--export \(spec): NONE stands alone")
            case "": throw LaunchError("--export \(spec): an empty name")
            default:
                let entry = item.contains("=") ? Array(item.utf8) : environment.last { name(of: $0).elementsEqual(item.utf8) }
                let key = Array(item.prefix { $0 != "=" }.utf8)
                guard !key.isEmpty else { throw LaunchError("--export \(spec): an empty name") }
                chosen.removeAll { name(of: $0).elementsEqual(key) }
                explicit.insert(key)
                if let entry { chosen.append(entry) }
            }
        }
        guard all else { return chosen }
        let local: Set<[UInt8]> = ["_", "SHLVL", "OLDPWD", "PWD"].reduce(into: []) { $0.insert(Array($1.utf8)) }
        let rest = environment.filter { entry in
            let key = Array(name(of: entry))
            return !local.contains(key) && !explicit.contains(key)
        }
        return rest + chosen
    }
}
