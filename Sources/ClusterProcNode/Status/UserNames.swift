import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maps user and group IDs to names through this machine's account database
/// (`getpwuid_r`/`getgrgid_r`; the nodes of a cluster share accounts), caching every answer.
/// An ID without a name shows as its number, as `ps` does.
public final class UserNames: Sendable {
    private let users = Mutex<[UInt32: String]>([:])
    private let groups = Mutex<[UInt32: String]>([:])

    /// One cache for the process; lookups are cheap after the first.
    public static let shared = UserNames()

    /// Creates an empty cache.
    public init() {}

    /// The user name of `uid`, or its decimal form.
    public func user(_ uid: UInt32) -> String {
        if let name = users.withLock({ $0[uid] }) { return name }
        let name = Self.lookUpUser(uid) ?? String(uid)
        users.withLock { $0[uid] = name }
        return name
    }

    /// The group name of `gid`, or its decimal form.
    public func group(_ gid: UInt32) -> String {
        if let name = groups.withLock({ $0[gid] }) { return name }
        let name = Self.lookUpGroup(gid) ?? String(gid)
        groups.withLock { $0[gid] = name }
        return name
    }

    private static func lookUpUser(_ uid: UInt32) -> String? {
        var size = 1024
        while size <= 1 << 20 {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: size)
            let rc = getpwuid_r(uid_t(uid), &entry, &buffer, size, &result)
            if rc == ERANGE { size *= 4; continue }
            guard rc == 0, result != nil, let name = entry.pw_name else { return nil }
            return String(cString: name)
        }
        return nil
    }

    private static func lookUpGroup(_ gid: UInt32) -> String? {
        var size = 1024
        while size <= 1 << 20 {
            var entry = Glibc.group()
            var result: UnsafeMutablePointer<Glibc.group>?
            var buffer = [CChar](repeating: 0, count: size)
            let rc = getgrgid_r(gid_t(gid), &entry, &buffer, size, &result)
            if rc == ERANGE { size *= 4; continue }
            guard rc == 0, result != nil, let name = entry.gr_name else { return nil }
            return String(cString: name)
        }
        return nil
    }
}
