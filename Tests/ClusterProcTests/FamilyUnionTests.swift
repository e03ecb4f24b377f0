import NineP
import SystemPackage
import Testing
@testable import ClusterProc

/// What the family's union lets through of a node's replies, checked without a node.
@Suite struct FamilyUnionTests {
    static let hosts: Set<String> = ["node01", "node02", "node03"]

    @Test(arguments: [
        // A link in node02's top directory (depth 1) and one in a process directory (depth 2).
        ("1234", 1), ("1234/task/1234", 1), ("self/mounts", 1), ("./1", 1), ("1/../2", 1),
        ("socket:[123]", 2), ("pipe:[77]", 2), ("anon_inode:[eventfd]", 2), ("../1/exe", 2), ("../node03/1", 2),
        ("/usr/bin/sleep", 2), ("/", 2), ("/dev/pts/0", 2), ("/proc/1/status", 2), ("/proc", 2), ("/proc/nodeX", 2),
    ])
    func linksWithinTheNodeOrOutsideTheUnionAreShown(target: String, depth: Int) {
        #expect(FamilyUnion.linkTargetStaysHome(target, depth: depth, hosts: Self.hosts))
    }

    @Test(arguments: [
        ("../node03/1", 1), ("..", 1), ("1/../../node03", 1), ("../../node03", 2), ("../../../etc", 2), ("a/../../..", 2),
        ("/proc/node03/1", 2), ("/proc/node02", 1), ("//proc/./node01/x", 1), ("/proc/x/../node03", 1), ("/x/../proc/node03", 1),
        ("", 1), ("a\0b", 1), (String(repeating: "a", count: 4096), 1),
    ])
    func linksOutOfTheNodeAreRefused(target: String, depth: Int) {
        #expect(!FamilyUnion.linkTargetStaysHome(target, depth: depth, hosts: Self.hosts))
    }

    @Test(arguments: [Int32(0), -5, 134, 512, 600, 999, 1000, 5000, .max, .min])
    func errnosTheKernelRefusesBecomeEIO(errno: Int32) {
        #expect(FileError(errno: errno).errno == 5)
        #expect(FileError(Errno(rawValue: errno)).errno == 5)
        let link = NodeLink(host: "node02")
        #expect(link.failure(NinePError(Errno(rawValue: errno))).errno == .ioError)
    }

    @Test func errnosOfLinuxGoOn() {
        #expect(FileError(errno: 2).errno == 2 && FileError(errno: 133).errno == 133)
        let link = NodeLink(host: "node02")
        #expect(link.failure(NinePError(.permissionDenied)).errno == .permissionDenied)
        #expect(link.failure(NinePError.malformed("short")).errno == .ioError, "a reply that breaks the protocol is EIO")
    }
}
