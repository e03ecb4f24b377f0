import Foundation

/// Splits a probe script's output into its `@name` sections (the lines after each `@name`
/// line, up to the next one).
func sections(_ text: String) -> [String: String] {
    var result: [String: String] = [:]
    var current = ""
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("@") {
            current = String(line.dropFirst())
            result[current] = ""
        } else if !current.isEmpty {
            result[current]! += line + "\n"
        }
    }
    return result.mapValues { $0.trimmingCharacters(in: .newlines) }
}
