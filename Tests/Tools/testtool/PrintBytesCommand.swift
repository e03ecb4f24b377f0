import ArgumentParser
import Glibc

/// Writes `count` bytes of a fixed pattern to stdout as fast as it can; byte `i` is
/// `PrintBytesCommand.pattern(i)`, so a reader can check every byte and its place.
struct PrintBytesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-bytes",
        abstract: "Write COUNT bytes of a known pattern to stdout, fast.")

    @Argument(help: "How many bytes to write.")
    var count: Int

    static func pattern(_ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: (index &* 131) ^ (index >> 11))
    }

    func run() throws {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        while offset < count {
            let length = min(buffer.count, count - offset)
            for index in 0..<length { buffer[index] = Self.pattern(offset + index) }
            var written = 0
            while written < length {
                let result = buffer.withUnsafeBytes { write(1, $0.baseAddress! + written, length - written) }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw ExitCode(1)
                }
                written += result
            }
            offset += length
        }
    }
}
