/// One request as ``ServerSession`` hands it to a thread: the message, the fids it touches as
/// they stood when it started, and what it needs to call the ``FileSystem``.
///
/// ``execute(_:)`` runs outside the session's lock and returns an ``Outcome``: the reply and
/// the fid changes for the session to apply. The handlers live beside this file, one file per
/// message family.
struct ServerCall<FS: FileSystem>: Sendable {
    let tag: Tag
    let sequence: UInt64
    let message: Message
    /// The fids the request touches, as they stood when it started (absent: unknown fid).
    let entries: [Fid: ServerFid<FS>]
    /// The fid a Tclunk or Tremove took out of the table.
    let removed: ServerFid<FS>?
    let context: RequestContext
    let dialect: Dialect
    let msize: UInt32
    /// How long the call may take: where it runs.
    let duration: CallDuration

    /// A change to the fid table, applied by the session when the call completes.
    enum FidChange: Sendable {
        case store(Fid, ServerFid<FS>, replacing: Bool)
        case opened(Fid, any OpenFile, OpenAccess, isDirectory: Bool, removeOnClose: Bool)
        case cursor(Fid, DirectoryCursor)

        /// What must be closed when the change is dropped instead of applied.
        var heldEntries: [ServerFid<FS>] {
            switch self {
            case .store(_, let entry, _): [entry]
            case .opened(_, let file, _, _, _): [ServerFid(kind: .xattr([]), user: nil, path: [], open: file)]
            case .cursor: []
            }
        }
    }

    struct Outcome: Sendable {
        var reply: Result<Message, any Error>
        var changes: [FidChange] = []

        static func reply(_ message: Message, _ changes: FidChange...) -> Outcome {
            Outcome(reply: .success(message), changes: changes)
        }
    }

    /// Runs the request against `fileSystem`.
    func execute(_ fileSystem: FS) -> Outcome {
        do {
            return try run(fileSystem)
        } catch {
            return Outcome(reply: .failure(error))
        }
    }

    private func run(_ fs: FS) throws -> Outcome {
        switch message {
        case .tauth(let m): return try auth(m, fs)
        case .tattach(let m): return try attach(m, fs)
        case .twalk(let m): return try walk(m, fs)
        case .topen(let m): return try open(m, fs)
        case .tlopen(let m): return try lopen(m, fs)
        case .tread(let m): return try read(m, fs)
        case .twrite(let m): return try write(m, fs)
        case .treaddir(let m): return try readdir(m, fs)
        case .tclunk(let m): return try clunk(m, fs)
        case .tremove(let m): return try remove(m, fs)
        case .tstat(let m): return try stat(m, fs)
        case .twstat(let m): return try wstat(m, fs)
        case .tgetattr(let m): return try getattr(m, fs)
        case .tsetattr(let m): return try setattr(m, fs)
        case .tstatfs(let m): return try statfs(m, fs)
        case .treadlink(let m): return try readlink(m, fs)
        case .txattrwalk(let m): return try xattrwalk(m, fs)
        case .txattrcreate(let m):
            _ = try node(m.fid)
            throw NinePError(.notSupported, "extended attributes are not supported")
        case .tfsync(let m):
            _ = try entry(m.fid)
            return .reply(.rfsync(Rfsync()))
        case .tlock(let m):
            // Record locks are granted without being enforced across clients: enough for a
            // read-only tree, and what a single-client export needs.
            _ = try entry(m.fid)
            return .reply(.rlock(Rlock(status: 0)))
        case .tgetlock(let m):
            _ = try entry(m.fid)
            return .reply(.rgetlock(Rgetlock(type: 2, start: m.start, length: m.length, procId: m.procId, clientId: m.clientId)))
        case .tcreate(let m): return try create(m, fs)
        case .tlcreate(let m): return try lcreate(m, fs)
        case .tsymlink(let m): return try symlink(m, fs)
        case .tmknod(let m): return try mknod(m, fs)
        case .tmkdir(let m): return try mkdir(m, fs)
        case .trename(let m): return try rename(m, fs)
        case .trenameat(let m): return try renameat(m, fs)
        case .tunlinkat(let m): return try unlinkat(m, fs)
        case .tlink(let m): return try link(m, fs)
        default:
            let name = Message.name(ofType: message.type) ?? "\(message.type)"
            throw NinePError(.unknownMessageType, errno: .notSupported, "unexpected \(name)")
        }
    }

    // MARK: - Fids

    func entry(_ fid: UInt32) throws(NinePError) -> ServerFid<FS> {
        guard let entry = entries[Fid(fid)] else { throw NinePError(.badFileDescriptor, "unknown fid \(fid)") }
        return entry
    }

    func node(_ fid: UInt32) throws(NinePError) -> (HeldNode<FS>, ServerFid<FS>) {
        let entry = try entry(fid)
        guard case .node(let held) = entry.kind else {
            throw NinePError(.badFileDescriptor, "fid \(fid) is not a file's fid")
        }
        return (held, entry)
    }

    func unused(_ fid: UInt32) throws(NinePError) {
        if entries[Fid(fid)] != nil { throw NinePError(.badFileDescriptor, "fid \(fid) is already in use") }
    }

    /// Names a walk may pass on: never empty, `.`, or holding `/` or NUL, at most 255 bytes.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && !name.utf8.contains(0x2F) && !name.utf8.contains(0) && name.utf8.count <= 255
    }

    static func validate(name: String) throws(NinePError) {
        guard name.utf8.count <= 255 else { throw NinePError(.fileNameTooLong) }
        guard isValidName(name) else {
            throw NinePError(.noSuchFileOrDirectory, "invalid file name \"\(name.debugDescription.dropFirst().dropLast())\"")
        }
    }

    /// A name a file may be created with: also never `..` (open(5): "It is illegal to
    /// create a file named . or ..").
    static func validate(newName name: String) throws(NinePError) {
        guard name != ".." else { throw NinePError(.invalidArgument, "cannot create a file named \"..\"") }
        try validate(name: name)
    }
}
