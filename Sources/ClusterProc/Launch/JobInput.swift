import Logging
import NineP
import SystemPackage

/// `--input`: which nodes' jobs read the launcher's standard input. By default none does (each
/// reads end of file, so a job never waits on a terminal it cannot see); `all` broadcasts it to
/// every node, as clush does; a host name gives it to that node alone, as srun's `--input=task`.
public enum JobInput: Sendable, Equatable {
    case none
    case all
    case host(String)

    /// Parses `none`, `all` or a host name, which must be one of `hosts`.
    /// - Throws: ``LaunchError`` for a host that is not selected.
    public init(parsing value: String, hosts: [String]) throws(LaunchError) {
        switch value.lowercased() {
        case "none": self = .none
        case "all": self = .all
        default:
            guard hosts.contains(value) else {
                throw LaunchError("--input \(value): not one of the selected hosts (or none, all)")
            }
            self = .host(value)
        }
    }

    /// Whether the job on `host` reads the input.
    public func reads(_ host: String) -> Bool {
        switch self {
        case .none: false
        case .all: true
        case .host(let name): name == host
        }
    }
}

/// The launcher's standard input, read once on a thread of its own and handed, chunk by chunk
/// and in order, to every node that reads it. A node slower than the others keeps its chunks
/// queued; a node whose job has ended drops them.
final class InputBroadcast: Sendable {
    private let streams: [String: AsyncStream<[UInt8]>]
    private let continuations: [AsyncStream<[UInt8]>.Continuation]

    init(hosts: [String]) {
        var streams: [String: AsyncStream<[UInt8]>] = [:]
        var continuations: [AsyncStream<[UInt8]>.Continuation] = []
        for host in hosts {
            let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
            streams[host] = stream
            continuations.append(continuation)
        }
        self.streams = streams
        self.continuations = continuations
    }

    /// Starts reading standard input until end of file (or an error, which ends it too).
    func start(logger: Logger) {
        let continuations = continuations
        do {
            try startThread(name: "cluster-launch-input") {
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let count = (try? buffer.withUnsafeMutableBytes { try FileDescriptor.standardInput.read(into: $0, retryOnInterrupt: true) }) ?? 0
                    if count == 0 { break }
                    let chunk = Array(buffer[..<count])
                    for continuation in continuations { continuation.yield(chunk) }
                }
                for continuation in continuations { continuation.finish() }
            }
        } catch {
            logger.warning("cannot read standard input for the job: \(error)")
            for continuation in continuations { continuation.finish() }
        }
    }

    /// The input for `host`, or nil when its job does not read it.
    func stream(for host: String) -> AsyncStream<[UInt8]>? { streams[host] }
}

extension Launcher {
    /// Runs `body` (waiting for the job) while the node's share of the input is written to its
    /// job's `stdin`; the file is closed at the input's end, and forwarding stops when `body`
    /// returns.
    func forwardingInput(_ stream: AsyncStream<[UInt8]>?, _ client: NinePClient, _ jobRoot: RemoteFid, host: String,
                         _ body: @escaping @Sendable () async throws -> String) async throws -> String {
        guard let stream else { return try await body() }
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    let fid = try await client.walk(jobRoot, ["stdin"])
                    defer { client.clunkInBackground(fid.number) }
                    _ = try await client.open(fid, flags: LinuxOpenFlags.writeOnly)
                    for await chunk in stream {
                        var offset = 0
                        while offset < chunk.count {
                            let end = min(chunk.count, offset + client.maxIOSize)
                            offset += try await client.write(fid, data: Array(chunk[offset..<end]))
                        }
                    }
                } catch {
                    self.logger.debug("\(host): input not forwarded any more: \(error)")
                }
                return nil
            }
            group.addTask { try await body() }
            while let result = try await group.next() {
                if let text = result {
                    group.cancelAll()
                    return text
                }
            }
            throw LaunchError("the job's wait ended without a status")
        }
    }
}
