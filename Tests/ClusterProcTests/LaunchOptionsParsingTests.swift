import Testing
@testable import ClusterProc

/// What `--export` passes to the job and what `-o` sets, from the words the user typed.
@Suite struct LaunchOptionsParsingTests {
    static let environment: [[UInt8]] = ["HOME=/root", "FOO=1", "PWD=/tmp", "_=/usr/bin/x", "BAR=a=b", "BAD=\u{FF}"]
        .map { Array($0.utf8) }

    static func export(_ spec: String) throws(LaunchError) -> [String] {
        try ProcessBytes.exported(spec, from: environment).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func noneAndAll() throws {
        #expect(try Self.export("NONE").isEmpty)
        #expect(try Self.export("").isEmpty)
        #expect(try Self.export("all") == ["HOME=/root", "FOO=1", "BAR=a=b", "BAD=\u{FF}"])
    }

    @Test func namesAndValues() throws {
        #expect(try Self.export("FOO,BAR,UNSET") == ["FOO=1", "BAR=a=b"])
        #expect(try Self.export("FOO=2,X=y=z") == ["FOO=2", "X=y=z"])
        #expect(try Self.export("FOO=2,FOO") == ["FOO=1"], "the later item for a name wins")
    }

    /// srun keeps ALL and the names beside it; a value given wins over ALL's.
    @Test func allWithNamesKeepsBoth() throws {
        #expect(try Self.export("ALL,FOO") == ["HOME=/root", "BAR=a=b", "BAD=\u{FF}", "FOO=1"])
        #expect(try Self.export("ALL,FOO=2,NEW=3") == ["HOME=/root", "BAR=a=b", "BAD=\u{FF}", "FOO=2", "NEW=3"])
        #expect(try Self.export("FOO=2,ALL").contains("FOO=2"))
        #expect(try Self.export("ALL,PWD").contains("PWD=/tmp"), "a name asked for is passed even if ALL leaves it out")
        #expect(try ProcessBytes.exported("ALL", from: Self.environment).last == Array("BAD=".utf8) + [0xC3, 0xBF])
    }

    @Test(arguments: ["NONE,FOO", "FOO,,BAR", "FOO,", "=x"])
    func badListsAreRefused(spec: String) {
        #expect(throws: LaunchError.self) { try Self.export(spec) }
    }

    static func options(_ words: [String]) throws(LaunchError) -> LaunchOptions {
        var options = LaunchOptions(hosts: ["n1"], command: [], procsrvPath: "procsrv", workingDirectory: [])
        for word in words { try options.apply(sshOption: word) }
        return options
    }

    @Test func sshOptionsSetTheirFields() throws {
        let options = try Self.options([
            "StrictHostKeyChecking=accept-new", "userknownhostsfile=/k", "IdentityFile=/a", "IdentityFile /b",
            "Port=2222", "User=ron",
        ])
        #expect(options.strictHostKeyChecking == .acceptNew)
        #expect(options.knownHostsFile == "/k")
        #expect(options.identityFiles == ["/a", "/b"])
        #expect(options.port == 2222)
        #expect(options.user == "ron")
        #expect(try Self.options(["StrictHostKeyChecking=off"]).strictHostKeyChecking == .no)
    }

    @Test(arguments: [
        ("Port", "expected NAME=VALUE"), ("Port=", "expected NAME=VALUE"), ("Port=x", "-o Port takes"),
        ("Port=70000", "-o Port takes"), ("StrictHostKeyChecking=maybe", "-o StrictHostKeyChecking takes"),
        ("ProxyJump=gw", "-o ProxyJump is not supported"),
    ] as [(String, String)])
    func badSSHOptionsSayWhy(option: String, message: String) {
        let error = #expect(throws: LaunchError.self) { try Self.options([option]) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }
}
