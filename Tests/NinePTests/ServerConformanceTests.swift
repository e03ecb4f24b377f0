import NineP
import SystemPackage
import Testing

/// The rules of the protocol the engine keeps, each test quoting the manual sentence it
/// checks (intro(5), walk(5), open(5), read(5), flush(5), stat(5), remove(5), version(5), and
/// diod's protocol.md for 9P2000.L), sent as raw frames.
@Suite struct ServerConformanceTests {
    static let tree: [String: MemoryFileSystem.Entry] = [
        "hello": .file(Array("hello\n".utf8)),
        "dir": .directory(["a": .file([1])]),
        "block": .blocking,
    ]

    static func attach(_ peer: RawPeer<some FileSystem>, fid: UInt32 = 0) throws {
        let reply = try peer.call(.tattach(Tattach(fid: fid, afid: Tattach.noFid, uname: "u", aname: "")))
        #expect(reply.isReply(Rattach.type), "Tattach answered with type \(reply.type)")
    }

    /// A raw peer on a live server, version negotiated and fid 0 attached, for `body`.
    static func attached<FS: FileSystem>(
        _ fileSystem: FS, dialect: Dialect = .linux, configuration: ServerConfiguration = .init(), msize: UInt32 = 8192,
        _ body: @escaping @Sendable (RawPeer<FS>) throws -> Void
    ) async throws {
        try await onThreadOfItsOwn {
            let peer = try RawPeer(fileSystem, dialect: dialect, configuration: configuration)
            defer { peer.close() }
            try peer.negotiate(msize: msize)
            try attach(peer)
            try body(peer)
        }
    }

    // MARK: - open(5), read(5)

    /// read(5): Tread asks for data "from the file identified by fid, which must be opened
    /// for reading"; Twrite "in the file identified by fid, which must be opened for
    /// writing". (A Twrite of `kill` through a read-only fid of a job's `ctl` once killed it.)
    @Test(arguments: [Dialect.linux, .unix, .plain])
    func openModeIsEnforced(dialect: Dialect) async throws {
        let fileSystem = RecordingFileSystem()
        try await Self.attached(fileSystem, dialect: dialect) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["file"]))).isReply(Rwalk.type))
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 2, wnames: ["file"]))).isReply(Rwalk.type))
            if dialect == .linux {
                #expect(try peer.call(.tlopen(Tlopen(fid: 1, flags: LinuxOpenFlags.readOnly))).isReply(Rlopen.type))
                #expect(try peer.call(.tlopen(Tlopen(fid: 2, flags: LinuxOpenFlags.writeOnly))).isReply(Rlopen.type))
            } else {
                #expect(try peer.call(.topen(Topen(fid: 1, mode: OpenMode.read))).isReply(Ropen.type))
                #expect(try peer.call(.topen(Topen(fid: 2, mode: OpenMode.write))).isReply(Ropen.type))
            }
            #expect(try peer.failed(peer.call(.twrite(Twrite(fid: 1, offset: 0, data: Array("kill\n".utf8)))), with: .badFileDescriptor))
            #expect(try peer.failed(peer.call(.tread(Tread(fid: 2, offset: 0, count: 100))), with: .badFileDescriptor))
            #expect(try peer.call(.twrite(Twrite(fid: 2, offset: 0, data: [1, 2, 3]))).isReply(Rwrite.type))
            #expect(fileSystem.calls.filter { $0.hasPrefix("write") } == ["write file 3"])
        }
    }

    /// open(5): "It is illegal to write a directory, truncate it, or attempt to remove it on
    /// close."
    @Test(arguments: [OpenMode.write, OpenMode.readWrite, OpenMode.read | OpenMode.truncate, OpenMode.read | OpenMode.removeOnClose])
    func directoryOpensForReadingOnly(mode: UInt8) async throws {
        let fileSystem = RecordingFileSystem()
        try await Self.attached(fileSystem, dialect: .unix) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["dir"]))).isReply(Rwalk.type))
            #expect(try peer.errno(of: peer.call(.topen(Topen(fid: 1, mode: mode)))) == .isDirectory)
            #expect(try peer.call(.topen(Topen(fid: 1, mode: OpenMode.read))).isReply(Ropen.type))
            #expect(try peer.call(.tclunk(Tclunk(fid: 1))).isReply(Rclunk.type))
            #expect(!fileSystem.calls.contains { $0.hasPrefix("remove") })
        }
    }

    /// open(5): "It is an error for either of these messages if the fid is already the
    /// product of a successful open or create message"; "it is illegal to create files with
    /// these names" (`.` and `..`).
    @Test func createNeedsAnUnopenedFidAndALegalName() async throws {
        let fileSystem = RecordingFileSystem()
        try await Self.attached(fileSystem, dialect: .unix) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["dir"]))).isReply(Rwalk.type))
            for name in [".", ".."] {
                #expect(try peer.errno(of: peer.call(.tcreate(Tcreate(fid: 1, name: name, perm: 0o644, mode: OpenMode.write)))) != nil)
            }
            #expect(try peer.call(.topen(Topen(fid: 1, mode: OpenMode.read))).isReply(Ropen.type))
            #expect(try peer.errno(of: peer.call(.tcreate(Tcreate(fid: 1, name: "new", perm: 0o644, mode: OpenMode.write)))) == .badFileDescriptor)
            #expect(!fileSystem.calls.contains { $0.hasPrefix("create") })
        }
    }

    /// open(5): "if the mode has the ORCLOSE (0x40) bit set, the file is to be removed when
    /// the fid is clunked"; for create, "the newly created file is opened according to mode".
    /// remove(5): "It is correct to consider remove to be a clunk with the side effect of
    /// removing the file": a fid opened ORCLOSE is removed once, by Tremove, not again.
    @Test func removeOnCloseRemovesOnce() async throws {
        let fileSystem = RecordingFileSystem()
        try await Self.attached(fileSystem, dialect: .plain) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["dir"]))).isReply(Rwalk.type))
            #expect(try peer.call(.tcreate(Tcreate(fid: 1, name: "tmp", perm: 0o600, mode: OpenMode.write | OpenMode.removeOnClose))).isReply(Rcreate.type))
            #expect(try peer.call(.tclunk(Tclunk(fid: 1))).isReply(Rclunk.type))
            #expect(fileSystem.calls.filter { $0.hasPrefix("remove") } == ["remove dir/tmp"])

            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 2, wnames: ["file"]))).isReply(Rwalk.type))
            #expect(try peer.call(.topen(Topen(fid: 2, mode: OpenMode.read | OpenMode.removeOnClose))).isReply(Ropen.type))
            #expect(try peer.call(.tremove(Tremove(fid: 2))).isReply(Rremove.type))
            #expect(fileSystem.calls.filter { $0.hasPrefix("remove") } == ["remove dir/tmp", "remove file"])
            // remove(5): the fid is clunked "even if the remove fails".
            #expect(try peer.failed(peer.call(.tclunk(Tclunk(fid: 2))), with: .badFileDescriptor))
        }
    }

    /// 9P2000.u creates special files through Tcreate: DMSYMLINK (extension: the target),
    /// DMLINK (extension: the fid to link to), DMDEVICE ("b MAJOR MINOR" / "c MAJOR MINOR"),
    /// DMNAMEDPIPE and DMSOCKET; 9P2000 has none of them.
    @Test func unixSpecialFilesAreCreatedAsTheirKind() async throws {
        let fileSystem = RecordingFileSystem()
        try await Self.attached(fileSystem, dialect: .unix) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 9, wnames: ["file"]))).isReply(Rwalk.type))
            let creates: [(String, UInt32, String)] = [
                ("sym", DirMode.symlink | 0o777, "file"), ("hard", DirMode.link | 0o644, "9"),
                ("tty", DirMode.device | 0o620, "c 4 1"), ("disk", DirMode.device | 0o660, "b 8 0"),
                ("fifo", DirMode.namedPipe | 0o644, ""), ("sock", DirMode.socket | 0o755, ""),
            ]
            for (index, (name, perm, ext)) in creates.enumerated() {
                let fid = UInt32(10 + index)
                #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: fid, wnames: ["dir"]))).isReply(Rwalk.type))
                let reply = try peer.call(.tcreate(Tcreate(fid: fid, name: name, perm: perm, mode: OpenMode.read, ext: ext)))
                let decoded = try peer.decode(reply)
                #expect(reply.isReply(Rcreate.type), "create \(name): \(decoded)")
            }
            #expect(fileSystem.calls == [
                "symlink sym -> file", "link hard -> file", "mknod tty 20000 4 1", "mknod disk 60000 8 0",
                "mknod fifo 10000 0 0", "mknod sock 140000 0 0",
            ])
        }
        try await Self.attached(RecordingFileSystem(), dialect: .plain) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["dir"]))).isReply(Rwalk.type))
            #expect(try peer.call(.tcreate(Tcreate(fid: 1, name: "sym", perm: DirMode.symlink | 0o777, mode: 0, ext: "x"))).isReply(Rerror.type))
        }
    }

    // MARK: - walk(5)

    /// walk(5): "If the first element cannot be walked for any reason, Rerror is returned.
    /// Otherwise, the walk will return an Rwalk message containing nwqid qids corresponding,
    /// in order, to the files that are visited by the nwqid successful elementwise walks";
    /// "Only if it is equal, however, will newfid be affected". An invalid name is one that
    /// cannot be walked.
    @Test(arguments: [Dialect.linux, .unix, .plain])
    func invalidLaterNameGivesAShortWalk(dialect: Dialect) async throws {
        try await Self.attached(MemoryFileSystem(Self.tree), dialect: dialect) { peer throws in
            for bad in ["a/b", ".", "", "x\u{0}y"] {
                guard case .rwalk(let walk) = try peer.decode(peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["dir", bad])))) else {
                    Issue.record("walk to dir/\(bad.debugDescription) did not give an Rwalk")
                    continue
                }
                #expect(walk.qids.count == 1)
                #expect(try peer.errno(of: peer.call(.tclunk(Tclunk(fid: 1)))) != nil, "newfid was affected by a short walk")
                #expect(try peer.errno(of: peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: [bad, "dir"])))) != nil)
            }
        }
    }

    /// walk(5): the fid "must not have been opened for I/O" — kept for walks in place; a walk
    /// from an open fid to a new fid is allowed, since Linux's v9fs client makes it.
    @Test func walkFromAnOpenFid() async throws {
        try await Self.attached(MemoryFileSystem(Self.tree)) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["dir"]))).isReply(Rwalk.type))
            #expect(try peer.call(.tlopen(Tlopen(fid: 1, flags: LinuxOpenFlags.readOnly))).isReply(Rlopen.type))
            #expect(try peer.call(.twalk(Twalk(fid: 1, newfid: 2, wnames: ["a"]))).isReply(Rwalk.type))
            #expect(try peer.errno(of: peer.call(.twalk(Twalk(fid: 1, newfid: 1, wnames: ["a"])))) == .badFileDescriptor)
        }
    }

    // MARK: - stat(5)

    /// stat(5): name is the "file name; must be / if the file is the root directory of the
    /// server", also when the root was reached by `..` (walk(5): "A walk of the name .. in
    /// the root directory of a server is equivalent to a walk with no name elements").
    @Test(arguments: [Dialect.unix, .plain])
    func statNameOfTheRootIsSlash(dialect: Dialect) async throws {
        try await Self.attached(MemoryFileSystem(Self.tree), dialect: dialect) { peer throws in
            for (fid, path) in [(UInt32(1), [".."]), (2, ["dir", ".."]), (3, ["..", "dir", "..", ".."]), (4, [])] {
                #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: fid, wnames: path))).isReply(Rwalk.type))
                guard case .rstat(let stat) = try peer.decode(peer.call(.tstat(Tstat(fid: fid)))) else {
                    Issue.record("no Rstat after walking \(path)")
                    continue
                }
                #expect(stat.stat.name == "/", "after walking \(path)")
            }
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 5, wnames: ["dir", "..", "dir", "a"]))).isReply(Rwalk.type))
            guard case .rstat(let stat) = try peer.decode(peer.call(.tstat(Tstat(fid: 5)))) else { return }
            #expect(stat.stat.name == "a")
        }
    }

    // MARK: - intro(5), version(5): msize

    /// version(5): msize is "the maximum length, in bytes, it will ever generate or expect to
    /// receive in a single 9P message". A reply that would not fit becomes an error that
    /// does; an error string is cut to fit.
    @Test(arguments: [Dialect.linux, .unix, .plain])
    func repliesNeverExceedMsize(dialect: Dialect) async throws {
        let long = String(repeating: "t", count: 4000)
        let fileSystem = RecordingFileSystem(extra: [["long"]: .symlink(long)])
        try await Self.attached(fileSystem, dialect: dialect, msize: 256) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["long"]))).isReply(Rwalk.type))
            if dialect == .linux {
                #expect(try peer.errno(of: peer.call(.treadlink(Treadlink(fid: 1)))) == .messageTooLong)
            } else {
                // 9P2000.u's stat carries the target; 9P2000's does not, and fits.
                let reply = try peer.call(.tstat(Tstat(fid: 1)))
                #expect(peer.isError(reply) == (dialect == .unix))
                #expect(Message.encodedSize(of: reply) <= 256)
            }
            // An error whose text (the invalid name, quoted) is longer than msize.
            let reply = try peer.call(.twalk(Twalk(fid: 0, newfid: 2, wnames: [String(repeating: "\u{7}", count: 200) + "/"])))
            #expect(peer.isError(reply))
            #expect(Message.encodedSize(of: reply) <= 256)
        }
    }

    // MARK: - flush(5)

    /// flush(5): "Should multiple Tflushes be received for a pending request, they must be
    /// answered in order", and the flushed request, not completed, gets no reply.
    @Test func flushesOfOneTagAreAnsweredInOrder() async throws {
        try await Self.attached(MemoryFileSystem(Self.tree)) { peer throws in
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 1, wnames: ["block"]))).isReply(Rwalk.type))
            #expect(try peer.call(.tlopen(Tlopen(fid: 1, flags: LinuxOpenFlags.readOnly))).isReply(Rlopen.type))
            try peer.send(.tread(Tread(fid: 1, offset: 0, count: 10)), tag: 7)
            for tag: UInt16 in [8, 9, 10] {
                try peer.send(.tflush(Tflush(oldtag: 7)), tag: tag)
            }
            var tags: [UInt16] = []
            for _ in 0..<3 {
                guard let reply = try peer.nextReply() else { break }
                #expect(reply.isReply(Rflush.type), "tag \(reply.tag) answered with type \(reply.type)")
                tags.append(reply.tag)
            }
            #expect(tags == [8, 9, 10])
            // The flushed tag is free again.
            #expect(try peer.call(.tgetattr(Tgetattr(fid: 0, requestMask: GetattrMask.basic.rawValue)), tag: 7).isReply(Rgetattr.type))
        }
    }

    /// flush(5): "The server should answer the flush message immediately", and "A Tflush can
    /// never be responded to by an Rerror message" — also when the connection has as many
    /// requests in flight as it takes.
    @Test func flushIsTakenWhenTheRequestTableIsFull() async throws {
        let configuration = {
            var configuration = ServerConfiguration()
            configuration.maxRequests = 4
            return configuration
        }()
        try await Self.attached(MemoryFileSystem(Self.tree), configuration: configuration) { peer throws in
            for fid: UInt32 in 1...4 {
                #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: fid, wnames: ["block"]))).isReply(Rwalk.type))
                #expect(try peer.call(.tlopen(Tlopen(fid: fid, flags: LinuxOpenFlags.readOnly))).isReply(Rlopen.type))
                try peer.send(.tread(Tread(fid: fid, offset: 0, count: 10)), tag: UInt16(1000 + fid))
            }
            #expect(try peer.errno(of: peer.call(.tgetattr(Tgetattr(fid: 0, requestMask: 1)), tag: 20)) == .resourceBusy)
            for tag: UInt16 in 1001...1004 {
                #expect(try peer.call(.tflush(Tflush(oldtag: tag)), tag: 100 + tag).isReply(Rflush.type))
            }
        }
    }

    /// The reader never stops: with 64 reads blocked on one connection (twice the pool), a
    /// walk, a /proc-like read and a Tflush are answered at once.
    @Test(arguments: [CallDuration.immediate, .bounded])
    func quickRequestsAndFlushesPassSixtyFourBlockedReads(duration: CallDuration) async throws {
        try await Self.attached(MemoryFileSystem(Self.tree, callDuration: duration), msize: 65536) { peer throws in
            for fid: UInt32 in 1...64 {
                #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: fid, wnames: ["block"]))).isReply(Rwalk.type))
                #expect(try peer.call(.tlopen(Tlopen(fid: fid, flags: LinuxOpenFlags.readOnly))).isReply(Rlopen.type))
                try peer.send(.tread(Tread(fid: fid, offset: 0, count: 10)), tag: UInt16(1000 + fid))
            }
            #expect(try peer.call(.twalk(Twalk(fid: 0, newfid: 100, wnames: ["hello"])), tag: 200).isReply(Rwalk.type))
            #expect(try peer.call(.tlopen(Tlopen(fid: 100, flags: LinuxOpenFlags.readOnly)), tag: 200).isReply(Rlopen.type))
            guard case .rread(let read) = try peer.decode(peer.call(.tread(Tread(fid: 100, offset: 0, count: 100)), tag: 200)) else {
                Issue.record("no Rread past the blocked reads")
                return
            }
            #expect(read.data == Array("hello\n".utf8))
            // The last read waits for a pool thread, the first one runs: both flush at once.
            #expect(try peer.call(.tflush(Tflush(oldtag: 1064)), tag: 201).isReply(Rflush.type))
            #expect(try peer.call(.tflush(Tflush(oldtag: 1001)), tag: 202).isReply(Rflush.type))
        }
    }

    // MARK: - 9P2000.L

    /// diod's protocol.md, Txattrwalk: with an empty name, "newfid can be used to get the
    /// list of extended attributes"; the engine's file systems have none, so it is empty.
    @Test func xattrwalkWithAnEmptyNameListsNothing() async throws {
        try await Self.attached(MemoryFileSystem(Self.tree)) { peer throws in
            guard case .rxattrwalk(let list) = try peer.decode(peer.call(.txattrwalk(Txattrwalk(fid: 0, newfid: 1, name: "")))) else {
                Issue.record("Txattrwalk of \"\" did not list")
                return
            }
            #expect(list.size == 0)
            guard case .rread(let read) = try peer.decode(peer.call(.tread(Tread(fid: 1, offset: 0, count: 100)))) else {
                Issue.record("the list fid does not read")
                return
            }
            #expect(read.data.isEmpty)
            #expect(try peer.call(.tclunk(Tclunk(fid: 1))).isReply(Rclunk.type))
            #expect(try peer.errno(of: peer.call(.txattrwalk(Txattrwalk(fid: 0, newfid: 2, name: "user.x")))) == .noData)
        }
    }
}

extension Message {
    /// The size a frame had on the wire.
    static func encodedSize(of frame: Frame) -> Int { 4 + 1 + 2 + frame.body.count }
}
