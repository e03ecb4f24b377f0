/// The launcher's own use of its process's bytes: the job's words and what `--export` passes.
extension ProcessBytes {
    /// The words after the first `--` of this process's argv.
    /// - Parameter parsed: the same words as the argument parser gave them, to check that
    ///   these are the ones it took for the command.
    /// - Throws: ``LaunchError`` when they do not match (then the raw words cannot be told).
    public static func wordsAfterTerminator(matching parsed: [String]) throws(LaunchError) -> [[UInt8]] {
        let argv = arguments()
        let terminator = Array("--".utf8)
        guard let index = argv.dropFirst().firstIndex(of: terminator) else {
            throw LaunchError("cannot find -- in the argument list")
        }
        let words = Array(argv[(index + 1)...])
        guard words.map({ String(decoding: $0, as: UTF8.self) }) == parsed else {
            throw LaunchError("the command's words after -- do not match the argument list")
        }
        return words
    }

    /// The entries `--export` chooses (srun's syntax): `NONE` (or empty), `ALL` (less `_`,
    /// `SHLVL`, `OLDPWD` and `PWD`, which describe this shell), or `NAME[,NAME=VALUE…]`: a
    /// name takes its entry from `environment` (none if unset), `NAME=VALUE` is taken as is.
    public static func exported(_ spec: String, from environment: [[UInt8]]) -> [[UInt8]] {
        switch spec.uppercased() {
        case "NONE", "": return []
        case "ALL":
            let local: Set<[UInt8]> = ["_", "SHLVL", "OLDPWD", "PWD"].reduce(into: []) { $0.insert(Array($1.utf8)) }
            return environment.filter { !local.contains(Array(name(of: $0))) }
        default:
            var chosen: [[UInt8]] = []
            for item in spec.split(separator: ",") {
                if item.contains("=") {
                    chosen.append(Array(item.utf8))
                } else if let entry = environment.last(where: { name(of: $0).elementsEqual(item.utf8) }) {
                    chosen.append(entry)
                }
            }
            return chosen
        }
    }
}
