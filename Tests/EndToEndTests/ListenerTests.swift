import Foundation
import Glibc
import NineP
import Testing

/// NinePListener's accept loop when the process runs out of descriptors: a new connection is
/// closed at once (never left waiting in the backlog), and once descriptors are free again
/// new connections are served.
@Suite struct ListenerDescriptorTests {
    @Test func outOfDescriptorsNewConnectionsAreClosedAtOnceAndServedAgainLater() async throws {
        let directory = NSTemporaryDirectory() + "listener-fds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/greeting"))
        let server = try ProcsrvProcess(
            ["serve-directory", "--descriptors", "40", "tcp:127.0.0.1:0", directory], product: "cluster-proc-testtool")
        defer { server.kill() }
        let text = try #require(server.waitForErrors { text in
            text.split(separator: "\n").first { $0.hasPrefix("listening on ") }.map { String($0.dropFirst("listening on ".count)) }
        }, "serve-directory said: \(server.errors)")
        let address = try NinePAddress(parsing: text)

        var served: [NinePClient] = []
        defer { served.forEach { $0.close() } }
        var refused = 0
        for _ in 0..<30 where refused < 3 {
            do {
                let client = try NinePClient.connect(over: try address.connect(), timeout: .seconds(20))
                let root = try await client.attach(uname: "root", deadline: .now + .seconds(20))
                #expect(try await client.readFile(root, path: ["greeting"], deadline: .now + .seconds(20)) == Array("hello\n".utf8))
                served.append(client)
            } catch where error.code == .connectionClosed {
                // Closed at once, not timed out waiting in the backlog.
                refused += 1
            } catch {
                // A connection admitted with no descriptor left to open the file says so.
                #expect(error.errno == .tooManyOpenFiles, "\(error)")
            }
        }
        #expect(served.count >= 3, "too few connections were served at all")
        #expect(refused >= 3, "the server never ran out of descriptors")

        let holding = try #require(descriptorCount(of: server.pid))
        for client in served.suffix(3) { client.close() }
        served.removeLast(3)
        // Closed connections give their descriptors back as their threads end.
        try await onOwnThread {
            let deadline = ContinuousClock.now + .seconds(20)
            while (descriptorCount(of: server.pid) ?? 0) > holding - 6 && ContinuousClock.now < deadline { usleep(10_000) }
        }
        let again = try NinePClient.connect(over: try address.connect(), timeout: .seconds(20))
        let root = try await again.attach(uname: "root", deadline: .now + .seconds(20))
        #expect(try await again.readFile(root, path: ["greeting"], deadline: .now + .seconds(20)) == Array("hello\n".utf8))
        again.close()
    }
}
