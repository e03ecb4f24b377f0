#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

// The one thread starter and the one bridge from async code to a blocking thread. They live
// in NineP, the package's lowest layer, because its server and client need them and NineP
// must stay usable alone; everything above imports them from here.

/// Starts a detached thread of its own for blocking work (a connection's reader, a C
/// library's loop), away from the Swift concurrency pool.
/// - Parameters:
///   - stackSize: small by default, since a server runs a thread per connection; C libraries
///     that were written for the system's default stack ask for more.
/// - Throws: ``NinePError`` when the system refuses another thread.
public func startThread(
    name: String, stackSize: Int = 512 * 1024, _ body: @escaping @Sendable () -> Void
) throws(NinePError) {
    final class Box: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, stackSize)
    var thread = pthread_t()
    let result = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue()
        let typed = unsafeDowncast(box, to: Box.self)
        typed.body()
        return nil
    }, box)
    pthread_attr_destroy(&attributes)
    if result != 0 {
        Unmanaged<AnyObject>.fromOpaque(box).release()
        throw NinePError(.fileSystem, errno: Errno(rawValue: result), "cannot start thread \(name): \(Errno(rawValue: result))")
    }
}


/// Runs blocking work on a thread of its own and awaits it, keeping the Swift pool free.
/// - Throws: what `body` throws; a refused thread as ``NinePError`` when `E` allows it.
public func offThePool<T: Sendable, E: Error>(
    _ body: @escaping @Sendable () throws(E) -> T
) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        do {
            try startThread(name: "cluster-proc-blocking") {
                continuation.resume(returning: Result { () throws(E) -> T in try body() })
            }
        } catch {
            continuation.resume(returning: Result { () throws(E) -> T in
                if let error = error as? E { throw error }
                preconditionFailure("cannot start a thread: \(error)")
            })
        }
    }
    return try result.get()
}
