#if canImport(Glibc)
import TestSupport
import Glibc
#endif
import NineP
import Synchronization
import SystemPackage
import Testing

/// A live server under hostile input: a real ``ServerConnection`` serving a small tree over a
/// socket pair, fed from a raw socket (not our client) with random bytes, mutated frames and
/// well-formed frames with hostile values. The test process is the server, so a crash fails
/// the run; every connection must end within a deadline; every answerable request is
/// answered exactly once; fids stay within `maxFids`; nodes and open files all come back;
/// memory stays bounded; and a fresh connection is served normally afterwards.
///
/// `NINEP_FUZZ_FRAMES` sets the number of frames (default 1,000,000) and `NINEP_FUZZ_SEED`
/// replays a run.
@Suite struct ServerFuzzTests {
    static var frameBudget: Int {
        ProcessInfoShim.environment("NINEP_FUZZ_FRAMES").flatMap { Int($0) } ?? 1_000_000
    }

    @Test func liveServerSurvivesHostileFrames() async throws {
        let seed = fuzzSeed()
        let frames = Self.frameBudget
        let report = try await onThreadOfItsOwn { try ServerFuzzer(seed: seed).run(frames: frames) }
        let summary =
            "seed \(seed): \(report.frames) frames on \(report.connections) connections (\(report.fatalConnections) closed by a fatal frame), \(report.replies) replies, \(report.elapsed), RSS \(report.rssStart / 1024) MiB → \(report.rssWarm / 1024) MiB after warm-up → \(report.rssEnd / 1024) MiB, at most \(report.maxFids) fids"
        print("ServerFuzzTests: \(summary)")
        #expect(report.frames >= frames, "\(summary)")
        for failure in report.failures.prefix(20) {
            Issue.record("\(failure) [\(summary)]")
        }
        #expect(report.failures.isEmpty)
        #expect(report.maxFids <= ServerFuzzer.maxFids)
        #expect(report.liveNodes == 0, "nodes not released: \(report.liveNodes)")
        #expect(report.openFiles == 0, "files not closed: \(report.openFiles)")
        // Memory: after a warm-up (thread stacks cached by glibc, malloc arenas, the tree)
        // the rest of the run must not grow RSS by more than 96 MiB. RSS is the whole test
        // process's, and the other suites run beside this one (up to 56 MiB of growth seen
        // from them); a leak of 128 bytes per frame would add 110 MiB over a million frames.
        // The connections, fids and buffers of the run are all gone by the end.
        #expect(report.rssEnd - report.rssWarm < 96 * 1024, "\(summary)")
        #expect(report.freshConnectionServed, "a fresh connection was not served normally")
    }
}

/// What a fuzz run saw.
struct FuzzReport: Sendable {
    var frames = 0
    var connections = 0
    var fatalConnections = 0
    var replies = 0
    var failures: [String] = []
    var maxFids = 0
    var liveNodes = 0
    var openFiles = 0
    var rssStart = 0
    var rssWarm = 0
    var rssEnd = 0
    var elapsed: Duration = .zero
    var freshConnectionServed = false
}

/// Resident set size in KiB, from /proc/self/status.
func residentKiB() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if text.hasPrefix("VmRSS:") {
            return Int(text.dropFirst(6).filter { $0.isNumber }) ?? 0
        }
    }
    return 0
}

/// Runs a blocking body on a thread of its own and awaits it.
func onThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        do {
            try startThread(name: "test-driver") { continuation.resume(with: Result { try body() }) }
        } catch {
            continuation.resume(throwing: error)
        }
    }
}

/// Drives connections one after another until the frame budget is spent.
struct ServerFuzzer {
    static let maxFids = 64
    static let blockingName = "blocks-until-flushed-7c1e"
    static let tree: [String: MemoryFileSystem.Entry] = [
        "hello": .file(Array("hello, world\n".utf8)),
        "big": .file(Array(repeating: 0x61, count: 70_000)),
        "dir": .directory(["a": .file([1, 2, 3]), "b": .directory(["c": .file([])]), "link": .symlink("../hello")]),
        "empty": .directory([:]),
        blockingName: .blocking,
    ]
    static let names = [
        "hello", "big", "dir", "a", "b", "c", "link", "empty", "..", ".", "/", "", "a/b", "x\0y", "\0",
        String(repeating: "n", count: 256), String(repeating: "m", count: 1000), "missing", "dir/..", "é", "..\0",
    ]

    let seed: UInt64
    let fileSystem = CountingFileSystem(MemoryFileSystem(ServerFuzzer.tree))

    func run(frames budget: Int) throws -> FuzzReport {
        var report = FuzzReport()
        var rng = SplitMix64(seed: seed)
        report.rssStart = residentKiB()
        let started = ContinuousClock.now
        var configuration = ServerConfiguration()
        configuration.maxFids = Self.maxFids
        if ProcessInfoShim.environment("NINEP_FUZZ_DEBUG") != nil { configuration.logger.logLevel = .debug }
        while report.frames < budget {
            if report.rssWarm == 0 && report.frames >= budget / 10 { report.rssWarm = residentKiB() }
            let count = min(budget - report.frames, 200 + rng.below(3000))
            let connection = try FuzzConnection(
                fileSystem: fileSystem, configuration: configuration, seed: rng.next(), index: report.connections)
            let outcome = connection.run(frames: count)
            report.frames += outcome.frames
            report.replies += outcome.replies
            report.connections += 1
            if outcome.fatal { report.fatalConnections += 1 }
            report.maxFids = max(report.maxFids, outcome.maxFids)
            report.failures += outcome.failures.map { "connection \(report.connections - 1) (seed \(seed)): \($0)" }
            if report.failures.count > 50 { break }
        }
        if report.rssWarm == 0 { report.rssWarm = residentKiB() }
        report.elapsed = ContinuousClock.now - started
        report.freshConnectionServed = try freshConnectionWorks()
        report.liveNodes = fileSystem.liveNodes.load(ordering: .relaxed)
        report.openFiles = fileSystem.openFiles.load(ordering: .relaxed)
        report.rssEnd = residentKiB()
        return report
    }

    /// Attach, walk, open and read over a new connection, with our own client.
    private func freshConnectionWorks() throws -> Bool {
        let (a, b) = try socketPair()
        let server = try ServerConnection.serve(fileSystem, over: a)
        let client = try NinePClient.connect(over: b, msize: 8192)
        defer {
            client.close()
            server.close()
            _ = server.waitUntilClosed(deadline: .now + .seconds(10))
        }
        let deadline = ContinuousClock.now + .seconds(10)
        guard case .rattach = try client.callBlocking(.tattach(Tattach(fid: 1, afid: Tattach.noFid, uname: "u", aname: "")), deadline: deadline),
            case .rwalk(let walk) = try client.callBlocking(.twalk(Twalk(fid: 1, newfid: 2, wnames: ["dir", "a"])), deadline: deadline),
            walk.qids.count == 2,
            case .rlopen = try client.callBlocking(.tlopen(Tlopen(fid: 2, flags: 0)), deadline: deadline),
            case .rread(let read) = try client.callBlocking(.tread(Tread(fid: 2, offset: 0, count: 100)), deadline: deadline)
        else { return false }
        return read.data == [1, 2, 3]
    }
}

/// One connection: a server over one end of a socket pair, and a raw writer and a reader
/// thread on the other end that account for every reply by tag.
final class FuzzConnection: Sendable {
    struct Outcome {
        var frames = 0
        var replies = 0
        var fatal = false
        var maxFids = 0
        var failures: [String] = []
    }

    /// Per tag: frames sent, frames that may go unanswered (flushed, or aborted by a
    /// mid-session Tversion), replies seen. Every tag must end with
    /// `sent - excused <= replies <= sent`.
    struct Ledger {
        var sent = [Int32](repeating: 0, count: 65536)
        var excused = [Int32](repeating: 0, count: 65536)
        var replies = [Int32](repeating: 0, count: 65536)
        /// Σ max(0, sent - excused - replies): replies still owed.
        var owed = 0
        var replyCount = 0
        var ended = false
        var failures: [String] = []

        func owing(_ tag: Int) -> Int { max(0, Int(sent[tag] - excused[tag] - replies[tag])) }

        mutating func change(_ tag: Int, _ body: (inout Ledger) -> Void) {
            let before = owing(tag)
            body(&self)
            owed += owing(tag) - before
        }
    }

    let server: ServerConnection<CountingFileSystem<MemoryFileSystem>>
    let stream: FileDescriptorStream
    let ledger = ConditionLock(Ledger())
    let seed: UInt64

    init(fileSystem: CountingFileSystem<MemoryFileSystem>, configuration: ServerConfiguration, seed: UInt64, index: Int) throws {
        let (a, b) = try socketPair()
        server = try ServerConnection.serve(fileSystem, over: a, configuration: configuration)
        stream = b
        self.seed = seed
    }

    func run(frames: Int) -> Outcome {
        var outcome = Outcome()
        do {
            try startThread(name: "fuzz-reader") { self.readReplies() }
        } catch {
            outcome.failures.append("no reader thread: \(error)")
            return outcome
        }
        var generator = FrameGenerator(seed: seed)
        var batch: [UInt8] = []
        batch.reserveCapacity(32 * 1024)
        var writeFailed = false
        func flush() {
            guard !batch.isEmpty, !writeFailed else { return }
            do {
                try batch.withUnsafeBytes { try stream.write($0) }
            } catch {
                writeFailed = true
            }
            batch.removeAll(keepingCapacity: true)
        }
        func emit(_ frame: [UInt8]) {
            account(frame)
            batch += frame
            if batch.count >= 16 * 1024 { flush() }
        }
        for frame in generator.opening() {
            emit(frame)
            outcome.frames += 1
        }
        while outcome.frames < frames && !writeFailed {
            for frame in generator.next() {
                emit(frame)
                outcome.frames += 1
            }
            if outcome.frames % 256 == 0 { outcome.maxFids = max(outcome.maxFids, server.fidCount) }
        }
        flush()
        outcome.maxFids = max(outcome.maxFids, server.fidCount)

        if let fatal = generator.fatalEnding() {
            outcome.fatal = true
            outcome.frames += 1
            batch = fatal.bytes
            flush()
            if fatal.closeAfter { stream.close() }
            // The server must close the connection by itself (or see our end close).
            let ended = ledger.wait(until: { $0.ended }, deadline: .now + .seconds(30)) { _ in true } ?? false
            if !ended { outcome.failures.append("server kept a connection open after a fatal frame (\(fatal.name))") }
        } else {
            let answered = ledger.wait(until: { $0.owed == 0 || $0.ended }, deadline: .now + .seconds(60)) { $0.owed == 0 } ?? false
            if !answered {
                let owed = ledger.withLock { ledger in (0..<65536).filter { ledger.owing($0) > 0 } }
                outcome.failures.append("no reply to \(owed.count) requests, tags \(owed.prefix(10)) (seed \(seed))")
            }
        }
        stream.close()
        if !server.waitUntilClosed(deadline: .now + .seconds(30)) {
            outcome.failures.append("server connection did not finish within 30 s of the close (seed \(seed))")
        }
        _ = ledger.wait(until: { $0.ended }, deadline: .now + .seconds(10)) { _ in }
        ledger.withLock { ledger in
            outcome.replies = ledger.replyCount
            outcome.failures += ledger.failures
        }
        return outcome
    }

    /// Books a frame before it is written, so a reply can never be seen before its request.
    private func account(_ frame: [UInt8]) {
        guard frame.count >= 7 else { return }
        let type = frame[4]
        let tag = Int(frame[5]) | Int(frame[6]) << 8
        ledger.withLock { ledger in
            if type == Tversion.type {
                // Aborts everything outstanding: none of it need be answered.
                for t in 0..<65536 where ledger.sent[t] > ledger.excused[t] { ledger.change(t) { $0.excused[t] = $0.sent[t] } }
            }
            if type == Tflush.type && frame.count == 9 {
                let old = Int(frame[7]) | Int(frame[8]) << 8
                if old != tag && ledger.sent[old] - ledger.excused[old] > ledger.replies[old] {
                    ledger.change(old) { $0.excused[old] += 1 }
                }
            }
            ledger.change(tag) { $0.sent[tag] += 1 }
        }
    }

    private func readReplies() {
        var decoder = FrameDecoder(maxSize: 1 << 21)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var problem: String?
        reading: while true {
            do {
                while let frame = try decoder.nextFrame() {
                    let tag = Int(frame.tag)
                    let extra = ledger.withLock { ledger -> Bool in
                        ledger.change(tag) { $0.replies[tag] += 1 }
                        ledger.replyCount += 1
                        return ledger.replies[tag] > ledger.sent[tag]
                    }
                    if extra { problem = "more replies with tag \(tag) than requests (type \(frame.type))" }
                    if frame.type % 2 == 0 { problem = "server sent a T-message (type \(frame.type))" }
                    if problem != nil { break reading }
                }
                if ledger.withLock({ $0.owed == 0 }) { ledger.notifyAll() }
                let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if count == 0 { break }
                buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            } catch {
                problem = "unreadable reply stream: \(error)"
                break
            }
        }
        ledger.withLock(notify: true) { ledger in
            ledger.ended = true
            if let problem { ledger.failures.append("\(problem) (seed \(seed))") }
        }
    }
}

/// Makes the frames of one connection: mostly answerable (well-formed or mutated with the
/// size left intact), and sometimes a fatal framing error at the end.
struct FrameGenerator {
    var rng: SplitMix64
    var messages: MessageGenerator
    var dialect: Dialect
    var msize: UInt32
    var nextTag: UInt16 = 0
    var recentTags: [UInt16] = []
    var slowFid: UInt32 = 0x5A5A_0000

    static let requestTypes: [UInt8] = MessageCatalog.allTypes.filter { $0 % 2 == 0 && $0 != Tversion.type }

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        messages = MessageGenerator.small(seed: rng.next())
        dialect = [Dialect.linux, .linux, .linux, .linux, .unix, .plain][rng.below(6)]
        msize = [256, 512, 4096, 8192, 65536][rng.below(5)]
    }

    mutating func freshTag() -> UInt16 {
        let tag = nextTag
        nextTag = nextTag == 0xFFFE ? 0 : nextTag + 1
        recentTags.append(tag)
        if recentTags.count > 16 { recentTags.removeFirst() }
        return tag
    }

    func encode(_ message: Message, tag: UInt16) -> [UInt8] {
        message.encode(tag: tag, dialect: dialect)
    }

    mutating func opening() -> [[UInt8]] {
        var frames = [encode(.tversion(Tversion(msize: msize, version: dialect.versionString)), tag: Tversion.noTag)]
        frames.append(encode(.tattach(Tattach(fid: 0, afid: Tattach.noFid, uname: "fuzz", aname: "", nUname: 0)), tag: freshTag()))
        if rng.oneIn(2) { frames.append(encode(.tattach(Tattach(fid: 1, afid: Tattach.noFid, uname: "other", aname: "x")), tag: freshTag())) }
        return frames
    }

    mutating func fid() -> UInt32 {
        switch rng.below(20) {
        case 0..<16: UInt32(rng.below(80))
        case 16, 17: 0
        default: messages.u32()
        }
    }

    mutating func name() -> String { ServerFuzzer.names[rng.below(ServerFuzzer.names.count)] }

    mutating func walkNames() -> [String] {
        let count =
            switch rng.below(20) {
            case 0..<15: rng.below(5)
            case 15..<18: 5 + rng.below(12)
            default: 17 + rng.below(8)
            }
        return (0..<count).map { _ in name() }
    }

    mutating func offset() -> UInt64 { rng.oneIn(2) ? UInt64(rng.below(12)) : messages.u64() }
    mutating func count() -> UInt32 { rng.oneIn(3) ? UInt32(rng.below(64)) : messages.u32() }

    /// A well-formed request aimed at the server's tables.
    mutating func targeted() -> Message {
        switch rng.below(22) {
        case 0, 1: .twalk(Twalk(fid: fid(), newfid: rng.oneIn(6) ? 0 : fid(), wnames: walkNames()))
        // Clones and short walks from the root fill the fid table up to maxFids and beyond.
        case 2, 3: .twalk(Twalk(fid: rng.oneIn(4) ? 1 : 0, newfid: fid(), wnames: rng.oneIn(2) ? [] : [name()]))
        case 4, 5:
            dialect == .linux
                ? .tlopen(Tlopen(fid: fid(), flags: [0, 0, 1, 2, 0o200000, 0o1000, messages.u32()][rng.below(7)]))
                : .topen(Topen(fid: fid(), mode: rng.oneIn(2) ? 0 : messages.u8()))
        case 6, 7: .tread(Tread(fid: fid(), offset: offset(), count: count()))
        case 8, 9: .treaddir(Treaddir(fid: fid(), offset: offset(), count: count()))
        case 10: .tgetattr(Tgetattr(fid: fid(), requestMask: messages.u64()))
        case 11: .tstat(Tstat(fid: fid()))
        case 12, 13: .tclunk(Tclunk(fid: fid()))
        case 14: .tremove(Tremove(fid: fid()))
        case 15:
            .tattach(Tattach(fid: fid(), afid: rng.oneIn(2) ? Tattach.noFid : fid(), uname: name(), aname: name(), nUname: messages.u32()))
        case 16: .tauth(Tauth(afid: fid(), uname: name(), aname: name(), nUname: messages.u32()))
        case 17: .treadlink(Treadlink(fid: fid()))
        case 18: .tstatfs(Tstatfs(fid: fid()))
        case 19: .txattrwalk(Txattrwalk(fid: fid(), newfid: fid(), name: name()))
        case 20: .tlcreate(Tlcreate(fid: fid(), name: name(), flags: messages.u32(), mode: messages.u32(), gid: messages.u32()))
        default: .twrite(Twrite(fid: fid(), offset: offset(), data: [1, 2, 3]))
        }
    }

    /// The next frames; all answerable, and none larger than msize.
    mutating func next() -> [[UInt8]] {
        let roll = rng.below(1000)
        var frames: [[UInt8]]
        switch roll {
        case 0..<450:
            frames = [encode(targeted(), tag: freshTag())]
        case 450..<650:
            let type = Self.requestTypes[rng.below(Self.requestTypes.count)]
            frames = [encode(messages.message(type: type), tag: freshTag())]
        case 650..<900:
            frames = [mutate(encode(targeted(), tag: freshTag()))]
        case 900..<930:
            // Tag reuse while (probably) in flight.
            let tag = recentTags.isEmpty ? 0 : recentTags[rng.below(recentTags.count)]
            frames = [encode(targeted(), tag: tag)]
        case 930..<933:
            // Clone the root onto many fids: more than maxFids must be refused.
            let base = UInt32(200 + rng.below(100))
            frames = (0..<UInt32(ServerFuzzer.maxFids + 8)).map { encode(.twalk(Twalk(fid: 0, newfid: base + $0, wnames: [])), tag: freshTag()) }
        case 933..<970:
            let old: UInt16 =
                switch rng.below(4) {
                case 0: messages.u16()
                case 1: nextTag  // not yet used: an unknown tag
                default: recentTags.isEmpty ? 0 : recentTags[rng.below(recentTags.count)]
                }
            let tag = rng.oneIn(10) ? old : freshTag()
            frames = [encode(.tflush(Tflush(oldtag: old)), tag: tag)]
        case 970..<990:
            // A read that blocks until flushed, then the flush.
            slowFid &+= 1
            let fid = slowFid
            let readTag: UInt16
            frames = [encode(.twalk(Twalk(fid: 0, newfid: fid, wnames: [ServerFuzzer.blockingName])), tag: freshTag())]
            frames.append(
                encode(dialect == .linux ? .tlopen(Tlopen(fid: fid, flags: 0)) : .topen(Topen(fid: fid, mode: 0)), tag: freshTag()))
            readTag = freshTag()
            frames.append(encode(.tread(Tread(fid: fid, offset: 0, count: 10)), tag: readTag))
            switch rng.below(4) {
            case 0:
                // A flush storm: several Tflush of the one blocked read, answered in order.
                for _ in 0..<(2 + rng.below(6)) { frames.append(encode(.tflush(Tflush(oldtag: readTag)), tag: freshTag())) }
                frames.append(encode(.tclunk(Tclunk(fid: fid)), tag: freshTag()))
            case 1:
                // The fid clunked while its read runs: the clunk waits for it, the flush ends it.
                frames.append(encode(.tclunk(Tclunk(fid: fid)), tag: freshTag()))
                frames.append(encode(.tflush(Tflush(oldtag: readTag)), tag: freshTag()))
            case 2 where msize >= 256:
                // Tversion with the read still blocked: it is aborted, every fid clunked.
                frames.append(encode(.tversion(Tversion(msize: msize, version: dialect.versionString)), tag: Tversion.noTag))
                frames.append(encode(.tattach(Tattach(fid: 0, afid: Tattach.noFid, uname: "fuzz", aname: "", nUname: 0)), tag: freshTag()))
            default:
                frames.append(encode(.tflush(Tflush(oldtag: readTag)), tag: freshTag()))
                frames.append(encode(.tclunk(Tclunk(fid: fid)), tag: freshTag()))
            }
        case 990..<998:
            // Tversion in mid-session: same or larger msize, sometimes an unknown version.
            let version = rng.oneIn(4) ? "9P2000.x" : dialect.versionString
            let asked = rng.oneIn(3) ? UInt32(rng.below(300)) : msize + UInt32(rng.below(1000))
            frames = [encode(.tversion(Tversion(msize: asked, version: version)), tag: rng.oneIn(2) ? Tversion.noTag : freshTag())]
            if asked >= 256 {
                // The server now takes frames up to the new msize only.
                msize = min(asked, ServerConfiguration().maxMessageSize)
                frames.append(encode(.tattach(Tattach(fid: 0, afid: Tattach.noFid, uname: "fuzz", aname: "", nUname: 0)), tag: freshTag()))
            }
        default:
            // A Treaddir/Tread with a count far beyond msize and weird offsets on a real directory.
            let fid = UInt32(100 + rng.below(8))
            frames = [
                encode(.twalk(Twalk(fid: 0, newfid: fid, wnames: rng.oneIn(2) ? ["dir"] : [])), tag: freshTag()),
                encode(dialect == .linux ? .tlopen(Tlopen(fid: fid, flags: 0)) : .topen(Topen(fid: fid, mode: 0)), tag: freshTag()),
                encode(
                    dialect == .linux ? .treaddir(Treaddir(fid: fid, offset: offset(), count: count())) : .tread(Tread(fid: fid, offset: offset(), count: count())),
                    tag: freshTag()),
                encode(.tclunk(Tclunk(fid: fid)), tag: freshTag()),
            ]
        }
        return frames.filter { $0.count <= Int(msize) }
    }

    /// Flips a few bytes after the size field, so the frame stays answerable. A type
    /// mutated into Tversion becomes Rversion (a mid-session version is made on purpose).
    mutating func mutate(_ frame: [UInt8]) -> [UInt8] {
        var frame = frame
        for _ in 0..<(1 + rng.below(4)) where frame.count > 4 {
            let at = 4 + rng.below(frame.count - 4)
            frame[at] = rng.oneIn(3) ? [0, 0xFF, 0x7F, 0x80][rng.below(4)] : UInt8(truncatingIfNeeded: rng.next())
        }
        if frame[4] == Tversion.type { frame[4] = Rversion.type }
        return frame
    }

    struct Fatal {
        var name: String
        var bytes: [UInt8]
        var closeAfter: Bool
    }

    /// For a third of the connections, an ending the server cannot frame.
    mutating func fatalEnding() -> Fatal? {
        guard rng.below(3) == 0 else { return nil }
        func le(_ size: UInt32) -> [UInt8] { [UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24)] }
        switch rng.below(5) {
        case 0:
            return Fatal(name: "size below a header", bytes: le(UInt32(rng.below(7))) + rng.bytes(count: rng.below(64)), closeAfter: false)
        case 1:
            let size = msize + 1 + UInt32(rng.below(1 << 20))
            return Fatal(name: "size above msize", bytes: le(size) + rng.bytes(count: rng.below(64)), closeAfter: false)
        case 2:
            let size = UInt32.max - UInt32(rng.below(16))
            return Fatal(name: "absurd size", bytes: le(size) + [100, 0xFF, 0xFF], closeAfter: false)
        case 3:
            // Random bytes whose first word is no valid size.
            var bytes = rng.bytes(count: 4 + rng.below(4096))
            let size = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
            if size >= 7 && size <= msize { bytes[3] = 0xFF }
            return Fatal(name: "random bytes", bytes: bytes, closeAfter: false)
        default:
            // Half a frame, then our end closes.
            let frame = encode(.tread(Tread(fid: 0, offset: 0, count: 10)), tag: 1)
            return Fatal(name: "truncated frame then close", bytes: Array(frame.prefix(1 + rng.below(frame.count - 1))), closeAfter: true)
        }
    }
}
