import Glibc
import Testing

/// The test tool's 9P client (`read9p`), run as `user` (setpriv, no supplementary groups) when
/// one is given: a real client of another uid.
func read9p(as user: String? = nil, _ arguments: [String]) async throws -> Spawned.Outcome {
    let tool = try procsrvBuiltProduct("cluster-proc-testtool")
    var prefix: [String] = []
    if let user {
        let account = try #require(getpwnam(user), "no user \(user)")
        prefix = ["/usr/bin/setpriv", "--reuid=\(account.pointee.pw_uid)", "--regid=\(account.pointee.pw_gid)", "--clear-groups", "--"]
    }
    return try await Spawned.run(prefix + [tool, "read9p"] + arguments)
}
