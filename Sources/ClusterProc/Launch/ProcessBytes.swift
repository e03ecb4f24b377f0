#if canImport(Glibc)
import Glibc
#endif

/// This process's argv, environment and working directory as the kernel gave them: bytes,
/// not Swift Strings (which would have replaced invalid UTF-8 with U+FFFD already). A job's
/// words reach the nodes exactly as the user typed them.
public enum ProcessBytes {
    /// The words after the first `--` of this process's argv.
    /// - Parameter parsed: the same words as the argument parser gave them, to check that
    ///   these are the ones it took for the command.
    /// - Throws: ``LaunchError`` when they do not match (then the raw words cannot be told).
    public static func wordsAfterTerminator(matching parsed: [String]) throws(LaunchError) -> [[UInt8]] {
        let argv = (0..<Int(CommandLine.argc)).map { bytes(of: CommandLine.unsafeArgv[$0]!) }
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

    /// Every `NAME=VALUE` entry of this process's environment.
    public static func environment() -> [[UInt8]] {
        var entries: [[UInt8]] = []
        var pointer = environ
        while let entry = pointer.pointee {
            entries.append(bytes(of: entry))
            pointer += 1
        }
        return entries
    }

    /// The working directory; `/` when it cannot be told.
    public static func currentDirectory() -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return Array("/".utf8) }
        return buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
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

    /// The name part of a `NAME=VALUE` entry.
    static func name(of entry: [UInt8]) -> ArraySlice<UInt8> {
        entry.prefix { $0 != UInt8(ascii: "=") }
    }

    private static func bytes(of string: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: UnsafeRawPointer(string).assumingMemoryBound(to: UInt8.self), count: strlen(string)))
    }
}
