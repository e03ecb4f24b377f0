import NineP
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SystemPackage

/// The raw /proc files of the family's nodes, read over the family's socket for cps.
///
/// Nodes are read concurrently; on each node every PID's files are requested at once, and
/// each file costs one round trip to the union (walk, open and read are pipelined on one
/// fid). A node that is down, or does not answer within the deadline, comes back as
/// ``NodeSnapshot/down``; the others are unaffected. What a node sends is bounded: a node
/// whose files pass ``maxNodeBytes`` in all (or ``maxFileBytes`` for one file read on its
/// own) is reported down too, so a node that sends without end costs bounded memory.
public struct FamilySnapshot: Sendable {
    public var nodes: [NodeSnapshot]

    /// The most bytes taken from one node: its `ps` snapshot, or all its files read one by one.
    public static let maxNodeBytes = 32 << 20
    /// The most bytes of one file read on its own (a /proc file, `pids`).
    public static let maxFileBytes = 1 << 20
    /// Processes whose files are read at once when a node has no `ps` snapshot.
    static let processesInFlight = 64

    /// What cps needs of one process.
    public struct ProcessFiles: Sendable {
        public var pid: Int32
        public var stat: [UInt8]
        public var status: [UInt8]
        public var cmdline: [UInt8]
        public var wchan: [UInt8]?
        /// Only in a node's `ps` snapshot: a node read file by file shows `-`.
        public var cgroup: [UInt8]? = nil
        /// Each thread's files, when threads were asked for and the process has more than one.
        public var threads: [ThreadFiles]? = nil
    }

    /// What cps needs of one thread (`/proc/PID/task/TID`).
    public struct ThreadFiles: Sendable {
        public var tid: Int32
        public var stat: [UInt8]
        public var wchan: [UInt8]?
    }

    /// The most threads read of one process.
    public static let maxThreadsPerProcess = 4096

    public enum NodeSnapshot: Sendable {
        case up(host: String, uptime: [UInt8], meminfo: [UInt8], stat: [UInt8], loadavg: [UInt8], familyPIDs: Set<Int32>?, processes: [ProcessFiles])
        case down(host: String, reason: String, since: Int?)

        public var host: String {
            switch self {
            case .up(let host, _, _, _, _, _, _), .down(let host, _, _): host
            }
        }
    }

    /// Which processes to read.
    public enum Selection: Sendable {
        /// The family's processes only (the job's PIDs on each node).
        case family
        /// Every process of the nodes.
        case all
        /// These PIDs.
        case pids(Set<Int32>)
    }

    /// Reads the nodes of the family served at `socket`.
    /// - Parameters:
    ///   - hosts: the nodes to read (nil: all of the family's).
    ///   - wchan: also read each process's wchan.
    ///   - threads: also read the threads of each process that has more than one (one round
    ///     trip per thread: asked for by `cps -L` only).
    ///   - timeout: deadline for a node; past it the node is reported down.
    /// - Throws: ``NinePError`` when the family's socket cannot be reached at all.
    public static func read(
        socket: String, hosts: Set<String>? = nil, selection: Selection, wchan: Bool = false, threads: Bool = false,
        timeout: Duration = .seconds(5)
    ) async throws(NinePError) -> FamilySnapshot {
        let stream = try NinePAddress.unix(path: socket).connect()
        let client = try await offThePool { () throws(NinePError) -> NinePClient in try NinePClient.connect(over: stream, timeout: timeout) }
        defer { client.close() }
        let deadline = ContinuousClock.now + timeout
        let user = Launcher.currentUser()
        let proc = try await client.attach(uname: user, aname: "", deadline: deadline)
        let job = try await client.attach(uname: user, aname: "job", deadline: deadline)
        // Nodes still connecting are given until half the deadline to come up.
        var nodesFile = String(decoding: try await client.readFile(job, path: ["nodes"], limit: maxNodeBytes, deadline: deadline), as: UTF8.self)
        let patience = ContinuousClock.now + timeout / 2
        while nodesFile.contains(" connecting\n"), ContinuousClock.now < patience {
            try? await Task.sleep(for: .milliseconds(50))
            nodesFile = String(decoding: try await client.readFile(job, path: ["nodes"], limit: maxNodeBytes, deadline: deadline), as: UTF8.self)
        }
        var states: [(host: String, up: Bool, reason: String, since: Int?)] = []
        for line in nodesFile.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard let host = words.first else { continue }
            if hosts.map({ $0.contains(host) }) == false { continue }
            if words.count > 1, words[1] == "down" {
                states.append((host, false, words.count > 3 ? words[3] : "down", words.count > 2 ? Int(words[2]) : nil))
            } else {
                states.append((host, words.count > 1 && words[1] == "up", words.count > 1 ? words[1] : "", nil))
            }
        }
        let nodes = await withTaskGroup(of: (Int, NodeSnapshot).self) { group in
            for (index, state) in states.enumerated() {
                group.addTask {
                    guard state.up else { return (index, .down(host: state.host, reason: state.reason, since: state.since)) }
                    do throws(NinePError) {
                        let deadline = ContinuousClock.now + timeout
                        let node = try await readNode(client, proc: proc, job: job, host: state.host, selection: selection, wchan: wchan, deadline: deadline)
                        return (index, threads ? try await addingThreads(client, proc: proc, to: node, wchan: wchan, deadline: deadline) : node)
                    } catch {
                        return (index, .down(host: state.host, reason: error.message, since: nil))
                    }
                }
            }
            var nodes: [(Int, NodeSnapshot)] = []
            for await node in group { nodes.append(node) }
            return nodes.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return FamilySnapshot(nodes: nodes)
    }

    private static func readNode(
        _ client: NinePClient, proc: RemoteFid, job: RemoteFid, host: String, selection: Selection, wchan: Bool,
        deadline: ContinuousClock.Instant
    ) async throws(NinePError) -> NodeSnapshot {
        // The job tree's `ps` holds the node, and the job's PIDs, in one file: one round trip
        // for the whole node. Only a node without one is read file by file.
        var snapshotBytes: [UInt8]?
        do {
            snapshotBytes = try await client.readFile(job, path: [host, "ps"], limit: maxNodeBytes, deadline: deadline)
        } catch where error.errno == .noSuchFileOrDirectory {
            snapshotBytes = nil
        }
        if let bytes = snapshotBytes, let snapshot = try? ProcessSnapshot.decode(bytes),
            let uptime = snapshot.node["uptime"], let meminfo = snapshot.node["meminfo"]
        {
            var familyText = snapshot.node["family"]
            if familyText == nil, case .family = selection {
                familyText = try? await client.readFile(job, path: [host, "pids"], limit: maxFileBytes, deadline: deadline)
            }
            let family = familyText.map { text in
                Set(String(decoding: text, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
            }
            let processes = snapshot.processes.filter { process in
                switch selection {
                case .all: true
                case .family: family?.contains(process.pid) ?? false
                case .pids(let wanted): wanted.contains(process.pid)
                }
            }.compactMap { process -> ProcessFiles? in
                guard let stat = process.files["stat"] else { return nil }
                return ProcessFiles(
                    pid: process.pid, stat: stat, status: process.files["status"] ?? [],
                    cmdline: process.files["cmdline"] ?? [], wchan: wchan ? process.files["wchan"] : nil,
                    cgroup: process.files["cgroup"])
            }
            return .up(
                host: host, uptime: uptime, meminfo: meminfo, stat: snapshot.node["stat"] ?? [],
                loadavg: snapshot.node["loadavg"] ?? [], familyPIDs: family, processes: processes)
        }
        return try await readNodeFileByFile(client, proc: proc, job: job, host: host, selection: selection, wchan: wchan, deadline: deadline)
    }

    /// `node` with the threads of each of its processes that has more than one, within the
    /// node's byte budget; a process that exits meanwhile keeps no threads.
    private static func addingThreads(
        _ client: NinePClient, proc: RemoteFid, to node: NodeSnapshot, wchan: Bool, deadline: ContinuousClock.Instant
    ) async throws(NinePError) -> NodeSnapshot {
        guard case .up(let host, let uptime, let meminfo, let stat, let loadavg, let family, var processes) = node else { return node }
        var bytes = processes.reduce(0) { $0 + $1.stat.count + $1.status.count + $1.cmdline.count }
        for index in processes.indices {
            let process = processes[index]
            guard let record = try? ProcessRecord(host: host, pid: process.pid, stat: process.stat, status: nil, cmdline: [], wchan: nil),
                  record.nlwp > 1 else { continue }
            let task = [host, "\(process.pid)", "task"]
            let listing: [DirectoryEntry]
            do {
                let directory = try await client.walk(proc, task, deadline: deadline)
                defer { client.clunkInBackground(directory.number) }
                try await client.open(directory, deadline: deadline)
                listing = try await client.readDirectory(directory, deadline: deadline)
            } catch where error.errno == .noSuchFileOrDirectory {
                continue
            }
            var threads: [ThreadFiles] = []
            for tid in listing.compactMap({ Int32($0.name) }).sorted().prefix(maxThreadsPerProcess) {
                let path = task + ["\(tid)"]
                guard let threadStat = try? await client.readFile(proc, path: path + ["stat"], limit: maxFileBytes, deadline: deadline) else { continue }
                let threadWchan = wchan ? try? await client.readFile(proc, path: path + ["wchan"], limit: maxFileBytes, deadline: deadline) : nil
                bytes += threadStat.count + (threadWchan?.count ?? 0)
                guard bytes <= maxNodeBytes else {
                    throw NinePError(.fileSystem, errno: .fileTooLarge, "\(host): more than \(maxNodeBytes) bytes of /proc")
                }
                threads.append(ThreadFiles(tid: tid, stat: threadStat, wchan: threadWchan))
            }
            processes[index].threads = threads
        }
        return .up(host: host, uptime: uptime, meminfo: meminfo, stat: stat, loadavg: loadavg, familyPIDs: family, processes: processes)
    }

    /// For a node whose procsrv has no `ps` file: each process's files read one by one
    /// (``processesInFlight`` processes at a time).
    private static func readNodeFileByFile(
        _ client: NinePClient, proc: RemoteFid, job: RemoteFid, host: String, selection: Selection, wchan: Bool,
        deadline: ContinuousClock.Instant
    ) async throws(NinePError) -> NodeSnapshot {
        let limit = maxFileBytes
        async let uptime = client.readFile(proc, path: [host, "uptime"], limit: limit, deadline: deadline)
        async let meminfo = client.readFile(proc, path: [host, "meminfo"], limit: limit, deadline: deadline)
        async let stat = client.readFile(proc, path: [host, "stat"], limit: limit, deadline: deadline)
        async let loadavg = client.readFile(proc, path: [host, "loadavg"], limit: limit, deadline: deadline)
        async let pidsText = client.readFile(job, path: [host, "pids"], limit: limit, deadline: deadline)
        let hostDir = try await client.walk(proc, [host], deadline: deadline)
        try await client.open(hostDir, deadline: deadline)
        let listing = try await client.readDirectory(hostDir, deadline: deadline)
        client.clunkInBackground(hostDir.number)
        var pids = listing.compactMap { Int32($0.name) }
        var family: Set<Int32>?
        do {
            let text = String(decoding: try await pidsText, as: UTF8.self)
            family = Set(text.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) })
        } catch {
            family = nil
        }
        switch selection {
        case .all: break
        case .family: pids = pids.filter { family?.contains($0) ?? false }
        case .pids(let wanted): pids = pids.filter { wanted.contains($0) }
        }
        let processes: [ProcessFiles]
        do {
            processes = try await readProcesses(client, proc: proc, host: host, pids: pids, wchan: wchan, deadline: deadline)
        } catch {
            throw error as? NinePError ?? NinePError(.ioError, "\(error)")
        }
        do {
            return .up(
                host: host, uptime: try await uptime, meminfo: try await meminfo, stat: try await stat,
                loadavg: (try? await loadavg) ?? [], familyPIDs: family, processes: processes)
        } catch {
            throw error as? NinePError ?? NinePError(.ioError, "\(error)")
        }
    }

    /// Each process's files, a few processes at a time, within the node's byte budget.
    private static func readProcesses(
        _ client: NinePClient, proc: RemoteFid, host: String, pids: [Int32], wchan: Bool, deadline: ContinuousClock.Instant
    ) async throws -> [ProcessFiles] {
        let limit = maxFileBytes
        return try await withThrowingTaskGroup(of: ProcessFiles?.self) { group in
            var result: [ProcessFiles] = []
            var bytes = 0
            var next = pids.startIndex
            func addProcess() {
                guard next < pids.endIndex else { return }
                let pid = pids[next]
                next += 1
                group.addTask {
                    let base = [host, "\(pid)"]
                    async let stat = client.readFile(proc, path: base + ["stat"], limit: limit, deadline: deadline)
                    async let status = client.readFile(proc, path: base + ["status"], limit: limit, deadline: deadline)
                    async let cmdline = client.readFile(proc, path: base + ["cmdline"], limit: limit, deadline: deadline)
                    async let wchanBytes: [UInt8]? = wchan ? (try? await client.readFile(proc, path: base + ["wchan"], limit: limit, deadline: deadline)) : nil
                    // A process that exits meanwhile simply drops out, as with ps.
                    do {
                        return ProcessFiles(pid: pid, stat: try await stat, status: try await status, cmdline: try await cmdline, wchan: await wchanBytes)
                    } catch {
                        _ = await wchanBytes
                        return nil
                    }
                }
            }
            for _ in 0..<processesInFlight { addProcess() }
            while let process = try await group.next() {
                if let process {
                    bytes += process.stat.count + process.status.count + process.cmdline.count + (process.wchan?.count ?? 0)
                    guard bytes <= maxNodeBytes else {
                        group.cancelAll()
                        throw NinePError(.fileSystem, errno: .fileTooLarge, "\(host): more than \(maxNodeBytes) bytes of /proc")
                    }
                    result.append(process)
                }
                addProcess()
            }
            return result.sorted { $0.pid < $1.pid }
        }
    }
}
