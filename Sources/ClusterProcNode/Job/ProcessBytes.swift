#if canImport(Glibc)
import Glibc
#endif

/// This process's argv, environment and working directory as the kernel gave them: bytes,
/// not Swift Strings (which would have replaced invalid UTF-8 with U+FFFD already), so a
/// job's words reach it exactly as the user typed them.
public enum ProcessBytes {
    /// Every word of this process's argv, the program's name first.
    public static func arguments() -> [[UInt8]] {
        (0..<Int(CommandLine.argc)).map { bytes(of: CommandLine.unsafeArgv[$0]!) }
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

    /// The name part of a `NAME=VALUE` entry.
    public static func name(of entry: [UInt8]) -> ArraySlice<UInt8> {
        entry.prefix { $0 != UInt8(ascii: "=") }
    }

    private static func bytes(of string: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: UnsafeRawPointer(string).assumingMemoryBound(to: UInt8.self), count: strlen(string)))
    }
}
