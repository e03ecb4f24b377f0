import CLinux
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Flags and a wrapper for unshare(2), which Glibc declares only under `_GNU_SOURCE`.
///
/// This is the only file that imports `CLinux`.
enum LinuxNamespaceCalls {
    static let newMountNamespace = CLINUX_CLONE_NEWNS
    static let newUserNamespace = CLINUX_CLONE_NEWUSER

    /// unshare(2).
    static func unshare(_ flags: Int32) throws(Errno) {
        if CLinux_unshare(flags) != 0 { throw Errno(rawValue: errno) }
    }
}
