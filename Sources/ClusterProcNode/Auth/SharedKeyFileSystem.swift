import Logging
import NineP

/// Any ``FileSystem`` behind ``SharedKeyAuthentication``: one value per connection.
///
/// Tauth starts an exchange (``SharedKeyAuthenticationFile``); Tattach without an afid fails
/// with EACCES; Tattach with an afid needs, beside the engine's own checks (the afid is
/// authenticated, for this uname), that this connection proved exactly this uname and aname.
/// Everything else goes to the file system underneath.
///
/// Make a new one for every connection (``init(_:key:logger:)`` is cheap): the attempt limit
/// and the proven (uname, aname) pairs are per connection.
public struct SharedKeyFileSystem<Base: FileSystem>: FileSystem {
    public var callDuration: CallDuration { base.callDuration }
    public typealias Node = Base.Node

    /// The file system served once authenticated.
    public let base: Base
    private let key: SharedKey
    private let attempts = AuthenticationAttempts()
    private let logger: Logger

    /// - Parameters:
    ///   - base: the file system to serve.
    ///   - key: the key clients must prove they hold.
    ///   - logger: failed attempts at info level, successes at debug.
    public init(_ base: Base, key: SharedKey, logger: Logger = Logger(label: "procsrv.auth")) {
        self.base = base
        self.key = key
        self.logger = logger
    }

    public var allowsUnauthenticatedAttach: Bool { false }

    public func authenticate(_ request: AttachRequest, context: RequestContext) throws -> any AuthenticationFile {
        try attempts.begin()
        return try SharedKeyAuthenticationFile(key: key, request: request, attempts: attempts, logger: logger)
    }

    public func attach(_ request: AttachRequest, context: RequestContext) throws -> Node {
        guard attempts.hasProven(request) else {
            throw NinePError(.permissionDenied, "not authenticated for user \"\(request.uname)\" and tree \"\(request.aname)\"")
        }
        return try base.attach(request, context: context)
    }

    // MARK: - The rest goes to the base

    public func walk(from node: Node, name: String, context: RequestContext) throws -> Node {
        try base.walk(from: node, name: name, context: context)
    }
    public func walk(from node: Node, names: [String], context: RequestContext) throws -> [Node] {
        try base.walk(from: node, names: names, context: context)
    }
    public func qid(of node: Node) -> Qid { base.qid(of: node) }
    public func attributes(of node: Node, context: RequestContext) throws -> FileAttributes {
        try base.attributes(of: node, context: context)
    }
    public func open(_ node: Node, flags: UInt32, context: RequestContext) throws -> any OpenFile {
        try base.open(node, flags: flags, context: context)
    }
    public func readlink(_ node: Node, context: RequestContext) throws -> String {
        try base.readlink(node, context: context)
    }
    public func statistics(of node: Node, context: RequestContext) throws -> Rstatfs {
        try base.statistics(of: node, context: context)
    }
    public func release(_ node: Node) { base.release(node) }

    public func create(in directory: Node, name: String, flags: UInt32, mode: UInt32, gid: UInt32, context: RequestContext) throws -> (Node, any OpenFile) {
        try base.create(in: directory, name: name, flags: flags, mode: mode, gid: gid, context: context)
    }
    public func makeDirectory(in directory: Node, name: String, mode: UInt32, gid: UInt32, context: RequestContext) throws -> Qid {
        try base.makeDirectory(in: directory, name: name, mode: mode, gid: gid, context: context)
    }
    public func makeSymlink(in directory: Node, name: String, target: String, gid: UInt32, context: RequestContext) throws -> Qid {
        try base.makeSymlink(in: directory, name: name, target: target, gid: gid, context: context)
    }
    public func makeNode(in directory: Node, name: String, mode: UInt32, major: UInt32, minor: UInt32, gid: UInt32, context: RequestContext) throws -> Qid {
        try base.makeNode(in: directory, name: name, mode: mode, major: major, minor: minor, gid: gid, context: context)
    }
    public func link(_ node: Node, into directory: Node, name: String, context: RequestContext) throws {
        try base.link(node, into: directory, name: name, context: context)
    }
    public func rename(_ node: Node, into directory: Node, name: String, context: RequestContext) throws {
        try base.rename(node, into: directory, name: name, context: context)
    }
    public func rename(from directory: Node, oldName: String, to newDirectory: Node, newName: String, context: RequestContext) throws {
        try base.rename(from: directory, oldName: oldName, to: newDirectory, newName: newName, context: context)
    }
    public func unlink(in directory: Node, name: String, flags: UInt32, context: RequestContext) throws {
        try base.unlink(in: directory, name: name, flags: flags, context: context)
    }
    public func remove(_ node: Node, context: RequestContext) throws {
        try base.remove(node, context: context)
    }
    public func setAttributes(of node: Node, _ request: Tsetattr, context: RequestContext) throws {
        try base.setAttributes(of: node, request, context: context)
    }
    public func writeStat(of node: Node, _ stat: Stat, context: RequestContext) throws {
        try base.writeStat(of: node, stat, context: context)
    }
}
