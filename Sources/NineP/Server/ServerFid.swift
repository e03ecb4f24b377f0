/// A node the file system handed out (by attach, walk or create), released exactly once,
/// when the last fid standing for it goes: a clone walk (Twalk with no names) makes two
/// fids stand for one node, and a file system whose nodes own something (a remote fid)
/// must not see that node released twice.
final class HeldNode<FS: FileSystem>: Sendable {
    let node: FS.Node
    private let fileSystem: FS

    init(_ node: FS.Node, _ fileSystem: FS) {
        self.node = node
        self.fileSystem = fileSystem
    }

    deinit {
        fileSystem.release(node)
    }
}

/// How a fid was opened (open(5)): what Tread and Twrite may do through it.
enum OpenAccess: Sendable {
    case read, write, readWrite

    /// From the low two bits of a Plan 9 open mode (OEXEC reads) or Linux open flags.
    init(accessBits: UInt32) {
        switch accessBits & 3 {
        case 1: self = .write
        case 2: self = .readWrite
        default: self = .read
        }
    }

    var mayRead: Bool { self != .write }
    var mayWrite: Bool { self != .read }
}

/// The position of a directory read: the listing taken at offset 0 and where it stands.
struct DirectoryCursor: Sendable {
    var items: [DirectoryItem] = []
    /// The next item of a 9P2000 stat read.
    var index = 0
    /// Where the next 9P2000 stat read must start.
    var byteOffset: UInt64 = 0
}

/// What one fid of a connection stands for.
struct ServerFid<FS: FileSystem>: Sendable {
    enum Kind: Sendable {
        case node(HeldNode<FS>)
        case auth(any AuthenticationFile)
        /// A Txattrwalk fid: the attribute's value (or, for an empty name, the list of names).
        case xattr([UInt8])
    }

    var kind: Kind
    var user: AttachRequest?
    /// The names walked from the root, `..` folded in: the last one is Rstat's name.
    var path: [String]
    var open: (any OpenFile)?
    var access: OpenAccess?
    var isDirectory = false
    var removeOnClose = false
    var cursor = DirectoryCursor()

    init(kind: Kind, user: AttachRequest?, path: [String], open: (any OpenFile)? = nil, access: OpenAccess? = nil, isDirectory: Bool = false) {
        self.kind = kind
        self.user = user
        self.path = path
        self.open = open
        self.access = access
        self.isDirectory = isDirectory
    }

    /// stat(5)'s name: the last name walked, `/` at the root.
    var name: String { path.last ?? "/" }

    /// The path after walking `names` from here; `..` never climbs above the root.
    func path(after names: some Sequence<String>) -> [String] {
        var result = path
        for name in names {
            if name == ".." {
                _ = result.popLast()
            } else {
                result.append(name)
            }
        }
        return result
    }

    /// Closes what the fid holds open and removes its file when it was opened ORCLOSE. The
    /// node itself is released when its last fid is gone (``HeldNode``).
    func close(_ fileSystem: FS) {
        open?.close()
        switch kind {
        case .node(let held):
            if removeOnClose {
                try? fileSystem.remove(held.node, context: RequestContext(user: user))
            }
        case .auth(let file):
            file.close()
        case .xattr:
            break
        }
    }
}
