// Messages of 9P: POSIX record locks.
// Layouts follow intro(5) of the Plan 9 manual for 9P2000, the 9P2000.u extension, and the
// 9P2000.L message set as the Linux kernel and diod define it.

/// `size[4] Tlock tag[2] fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s]`
///
/// 9P2000.L: acquires or releases a POSIX record lock.
public struct Tlock: NinePMessage {
    public static let type: UInt8 = 52

    public var fid: UInt32
    public var type: UInt8
    public var flags: UInt32
    public var start: UInt64
    public var length: UInt64
    public var procId: UInt32
    public var clientId: String

    public init(fid: UInt32, type: UInt8, flags: UInt32, start: UInt64, length: UInt64, procId: UInt32, clientId: String) {
        self.fid = fid
        self.type = type
        self.flags = flags
        self.start = start
        self.length = length
        self.procId = procId
        self.clientId = clientId
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let type = reader.readUInt8() else { return nil }
        guard let flags = reader.readUInt32() else { return nil }
        guard let start = reader.readUInt64() else { return nil }
        guard let length = reader.readUInt64() else { return nil }
        guard let procId = reader.readUInt32() else { return nil }
        guard let clientId = reader.readString() else { return nil }
        self.init(fid: fid, type: type, flags: flags, start: start, length: length, procId: procId, clientId: clientId)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt8(type)
        writer.writeUInt32(flags)
        writer.writeUInt64(start)
        writer.writeUInt64(length)
        writer.writeUInt32(procId)
        writer.writeString(clientId)
    }
}

/// `size[4] Rlock tag[2] status[1]`
///
/// 9P2000.L: the lock's status (success, blocked, error, grace).
public struct Rlock: NinePMessage {
    public static let type: UInt8 = 53

    public var status: UInt8

    public init(status: UInt8) {
        self.status = status
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let status = reader.readUInt8() else { return nil }
        self.init(status: status)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt8(status)
    }
}

/// `size[4] Tgetlock tag[2] fid[4] type[1] start[8] length[8] proc_id[4] client_id[s]`
///
/// 9P2000.L: tests for a conflicting POSIX record lock.
public struct Tgetlock: NinePMessage {
    public static let type: UInt8 = 54

    public var fid: UInt32
    public var type: UInt8
    public var start: UInt64
    public var length: UInt64
    public var procId: UInt32
    public var clientId: String

    public init(fid: UInt32, type: UInt8, start: UInt64, length: UInt64, procId: UInt32, clientId: String) {
        self.fid = fid
        self.type = type
        self.start = start
        self.length = length
        self.procId = procId
        self.clientId = clientId
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let fid = reader.readUInt32() else { return nil }
        guard let type = reader.readUInt8() else { return nil }
        guard let start = reader.readUInt64() else { return nil }
        guard let length = reader.readUInt64() else { return nil }
        guard let procId = reader.readUInt32() else { return nil }
        guard let clientId = reader.readString() else { return nil }
        self.init(fid: fid, type: type, start: start, length: length, procId: procId, clientId: clientId)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt32(fid)
        writer.writeUInt8(type)
        writer.writeUInt64(start)
        writer.writeUInt64(length)
        writer.writeUInt32(procId)
        writer.writeString(clientId)
    }
}

/// `size[4] Rgetlock tag[2] type[1] start[8] length[8] proc_id[4] client_id[s]`
///
/// 9P2000.L: the conflicting lock, or the request with type unlocked when none conflicts.
public struct Rgetlock: NinePMessage {
    public static let type: UInt8 = 55

    public var type: UInt8
    public var start: UInt64
    public var length: UInt64
    public var procId: UInt32
    public var clientId: String

    public init(type: UInt8, start: UInt64, length: UInt64, procId: UInt32, clientId: String) {
        self.type = type
        self.start = start
        self.length = length
        self.procId = procId
        self.clientId = clientId
    }

    public init?(from reader: inout WireReader, dialect: Dialect) {
        guard let type = reader.readUInt8() else { return nil }
        guard let start = reader.readUInt64() else { return nil }
        guard let length = reader.readUInt64() else { return nil }
        guard let procId = reader.readUInt32() else { return nil }
        guard let clientId = reader.readString() else { return nil }
        self.init(type: type, start: start, length: length, procId: procId, clientId: clientId)
    }

    public func write(to writer: inout WireWriter, dialect: Dialect) {
        writer.writeUInt8(type)
        writer.writeUInt64(start)
        writer.writeUInt64(length)
        writer.writeUInt32(procId)
        writer.writeString(clientId)
    }
}
