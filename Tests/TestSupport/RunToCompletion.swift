import Foundation
import Synchronization

/// What a program run to its end left: its exit status and what it wrote.
public typealias Completion = (status: Int32, output: String, errors: String)

/// Runs a program (a path, or a name found on PATH) to its end with `input` on its standard
/// input; the one subprocess runner of the tests.
@discardableResult
public func runToCompletion(_ arguments: [String], input: [UInt8] = []) throws -> Completion {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let stdin = Pipe()
    let output = Pipe()
    let errors = Pipe()
    process.standardInput = stdin
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    stdin.fileHandleForWriting.write(Data(input))
    try stdin.fileHandleForWriting.close()
    // Standard error is drained beside standard output, so neither pipe can fill and stall it.
    let errData = Mutex(Data())
    let drained = DispatchGroup()
    DispatchQueue.global().async(group: drained) {
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        errData.withLock { $0 = data }
    }
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self),
            String(decoding: errData.withLock { $0 }, as: UTF8.self))
}
