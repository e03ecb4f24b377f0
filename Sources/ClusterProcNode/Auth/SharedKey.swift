#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// The secret a procsrv and its clients share for ``SharedKeyAuthentication``.
///
/// Made once, e.g. `head -c 32 /dev/urandom > key; chmod 600 key`, and copied to every
/// party over a channel that keeps it secret (scp). Whoever reads the file can attach.
public struct SharedKey: Sendable {
    /// The fewest bytes a key may have: 256 bits, the HMAC-SHA256 output size.
    public static let minimumLength = 32
    /// The most bytes a key file may have; a larger one is surely not a key.
    public static let maximumLength = 64 * 1024

    /// The key for HMAC.
    let bytes: [UInt8]

    /// A key from its bytes.
    /// - Throws: ``AuthenticationError`` (`unusableKeyFile`) when there are fewer than
    ///   ``minimumLength`` bytes.
    public init(bytes: [UInt8]) throws(AuthenticationError) {
        guard bytes.count >= Self.minimumLength else {
            throw AuthenticationError(.unusableKeyFile, "a key needs at least \(Self.minimumLength) bytes, this one has \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Reads a key file, as procsrv's `--key` does.
    ///
    /// Refused, with a message that says why: a file that cannot be opened, is not a regular
    /// file (a symlink is followed to what it names), is owned by another user than the one
    /// running (who could change the key or make it readable at will), can be read or written
    /// by its group or others (mode & 077, as ssh refuses a private key), or has fewer than
    /// ``minimumLength`` or more than ``maximumLength`` bytes.
    /// - Throws: ``AuthenticationError`` with code `unusableKeyFile`.
    public static func load(path: String) throws(AuthenticationError) -> SharedKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else {
            let error = Errno(rawValue: errno)
            throw AuthenticationError(.unusableKeyFile, "key file \(path): cannot open it: \(error)", errno: error)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = Errno(rawValue: errno)
            throw AuthenticationError(.unusableKeyFile, "key file \(path): \(error)", errno: error)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw AuthenticationError(.unusableKeyFile, "key file \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw AuthenticationError(
                .unusableKeyFile,
                "key file \(path) is owned by uid \(info.st_uid), not by procsrv's user (uid \(geteuid())): use a key file of your own")
        }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw AuthenticationError(
                .unusableKeyFile,
                "key file \(path) has mode \(String(permissions, radix: 8)): group or others may read or write it; make it private with chmod 600 \(path)")
        }
        guard info.st_size >= Self.minimumLength else {
            throw AuthenticationError(
                .unusableKeyFile,
                "key file \(path) has \(info.st_size) bytes, fewer than \(Self.minimumLength); make one with head -c 32 /dev/urandom")
        }
        guard info.st_size <= Self.maximumLength else {
            throw AuthenticationError(.unusableKeyFile, "key file \(path) has \(info.st_size) bytes, more than \(Self.maximumLength): it is not a key")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                let error = Errno(rawValue: errno)
                throw AuthenticationError(.unusableKeyFile, "key file \(path): cannot read it: \(error)", errno: error)
            }
            if count == 0 { break }
            filled += count
        }
        // The size may have changed since fstat; what was read is what counts.
        guard filled <= Self.maximumLength else {
            throw AuthenticationError(.unusableKeyFile, "key file \(path) grew while it was read")
        }
        return try SharedKey(bytes: Array(bytes[0..<filled]))
    }
}
