import Glibc
import SystemPackage

/// glibc functions that Swift's Glibc module does not show (GNU extensions behind
/// `_GNU_SOURCE`, or variadic ones), looked up once by name.
enum JobSystemCalls {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    // prctl is variadic in C; integer arguments are passed the same way on x86_64 and arm64 Linux.
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    typealias PidfdOpen = @convention(c) (Int32, UInt32) -> Int32
    typealias PidfdSendSignal = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UInt32) -> Int32
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29).
    static let addChdir: AddChdir? = lookup("posix_spawn_file_actions_addchdir_np")
    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34).
    static let addClosefrom: AddClosefrom? = lookup("posix_spawn_file_actions_addclosefrom_np")
    static let prctl: Prctl? = lookup("prctl")
    /// `pidfd_open` and `pidfd_send_signal` (glibc 2.36, Linux 5.3).
    static let pidfdOpen: PidfdOpen? = lookup("pidfd_open")
    static let pidfdSendSignal: PidfdSendSignal? = lookup("pidfd_send_signal")

    private static let pipe2Function: Pipe2? = lookup("pipe2")

    /// A pipe with both ends close-on-exec, made atomically where the C library allows.
    /// - Returns: the read and write ends, or the errno.
    static func makePipe() -> Result<(read: Int32, write: Int32), Errno> {
        var fds: [Int32] = [-1, -1]
        let result = fds.withUnsafeMutableBufferPointer { buffer in
            if let pipe2Function { return pipe2Function(buffer.baseAddress!, O_CLOEXEC) }
            guard pipe(buffer.baseAddress!) == 0 else { return -1 }
            _ = fcntl(buffer[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(buffer[1], F_SETFD, FD_CLOEXEC)
            return 0
        }
        guard result == 0 else { return .failure(Errno(rawValue: errno)) }
        return .success((fds[0], fds[1]))
    }

    /// Sleeps the calling thread (never a pool thread) for a short while.
    static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// `POSIX_SPAWN_SETSID` (glibc 2.26), a GNU extension the Glibc module leaves out.
    static let spawnSetsid: Int32 = 0x80
    static let prSetChildSubreaper: Int32 = 36
    static let prGetChildSubreaper: Int32 = 37

    private static func lookup<F>(_ name: String) -> F? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }

    /// The current `errno` as a readable message.
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
