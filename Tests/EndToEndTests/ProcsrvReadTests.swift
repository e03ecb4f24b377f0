import NineP
import Testing

/// What procsrv refuses to read, through procsrv itself.
extension ProcsrvTests {
    /// The kernel's log is read only by whoever drains it (journald, dmesg's reader): through
    /// procsrv, even as root, it is refused, as is the VM counter trigger.
    @Test(arguments: ["kmsg", "sys/vm/stat_refresh"])
    func filesWhoseReadingChangesTheSystemAreRefused(path: String) async throws {
        let server = try ProcsrvProcess(["--stdio"])
        defer { server.kill() }
        let client = try server.connect()
        defer { client.close() }
        let root = try await client.attach(uname: "root")
        let refused = await #expect(throws: NinePError.self) {
            try await client.readFile(root, path: path.split(separator: "/").map(String.init), deadline: .now + .seconds(30))
        }
        #expect(refused?.errno == .notPermitted, "\(String(describing: refused))")
        // Its attributes are still there, and the connection goes on.
        let file = try await client.walk(root, path.split(separator: "/").map(String.init))
        #expect(try await client.getattr(file).mode & 0o170000 == 0o100000)
        #expect(try await client.readFile(root, path: ["\(server.pid)", "comm"]) == Array("procsrv\n".utf8))
    }
}
