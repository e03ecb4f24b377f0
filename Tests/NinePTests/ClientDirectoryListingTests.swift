import NineP
import Testing

/// A directory read that a server cannot make endless: `DirectoryListing` takes replies
/// until an empty one, and fails a read that does not advance or passes its bounds.
@Suite struct ClientDirectoryListingTests {
    static func reply(_ entries: [(String, UInt64)]) -> [UInt8] {
        var writer = WireWriter()
        for (name, offset) in entries {
            DirectoryEntry(qid: Qid(type: .file, path: offset), offset: offset, type: DirectoryEntry.typeRegular, name: name).write(to: &writer)
        }
        return writer.bytes
    }

    @Test func readsUntilAnEmptyReply() throws {
        var listing = DirectoryListing()
        try listing.take(Self.reply([("a", 1), ("b", 2)]))
        #expect(!listing.isComplete && listing.offset == 2)
        try listing.take(Self.reply([("c", 3)]))
        try listing.take([])
        #expect(listing.isComplete)
        #expect(listing.entries.map(\.name) == ["a", "b", "c"])
    }

    @Test func aReadThatDoesNotAdvanceFails() throws {
        var listing = DirectoryListing()
        try listing.take(Self.reply([("1", 1), ("self", 1)]))
        let error = try #require(throws: NinePError.self) { try listing.take(Self.reply([("1", 1), ("self", 1)])) }
        #expect(error.errno == .ioError)
        var fromZero = DirectoryListing()
        #expect(throws: NinePError.self) { try fromZero.take(Self.reply([("a", 0)])) }
        // Offsets that come round again after a detour fail as well.
        var cycle = DirectoryListing()
        try cycle.take(Self.reply([("a", 5)]))
        try cycle.take(Self.reply([("b", 6)]))
        #expect(throws: NinePError.self) { try cycle.take(Self.reply([("c", 5)])) }
    }

    @Test(arguments: [(5000, Int.max), (Int.max, 64 * 1024)])
    func aListingWithoutEndStopsAtItsBound(maxEntries: Int, maxBytes: Int) throws {
        var listing = DirectoryListing(maxEntries: maxEntries, maxBytes: maxBytes)
        var next: UInt64 = 0
        var failure: NinePError?
        var replies = 0
        while failure == nil, replies < 10_000 {
            let batch = (0..<100).map { _ in next += 1; return ("e\(next)", next) }
            do { try listing.take(Self.reply(batch)) } catch { failure = error }
            replies += 1
        }
        #expect(failure?.errno == .ioError, "ever new entries end in an error")
        #expect(listing.entries.count <= min(maxEntries, maxBytes / 24))
        #expect(replies < 100, "the bound, not the test's own limit, ended it")
    }

    @Test func namesNoFileCanHaveAreDropped() throws {
        var listing = DirectoryListing()
        try listing.take(Self.reply([("", 1), ("a/b", 2), ("x\0y", 3), (String(repeating: "n", count: 256), 4), (".", 5), ("..", 6), ("ok", 7)]))
        #expect(listing.entries.map(\.name) == [".", "..", "ok"])
        #expect(listing.offset == 7)
    }

    @Test func dataThatDoesNotParseFailsWithEIO() {
        var listing = DirectoryListing()
        let error = #expect(throws: NinePError.self) { try listing.take([1, 2, 3]) }
        #expect(error?.errno == .ioError)
    }
}
