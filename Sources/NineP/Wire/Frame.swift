/// One 9P frame: `size[4] type[1] tag[2]` and the body that follows.
public struct Frame: Sendable, Hashable {
    public var type: UInt8
    public var tag: UInt16
    public var body: [UInt8]

    /// The smallest frame: the header alone.
    public static let headerSize = 7

    public init(type: UInt8, tag: UInt16, body: [UInt8]) {
        self.type = type
        self.tag = tag
        self.body = body
    }
}

extension Message {
    /// The complete frame bytes of this message.
    public func encode(tag: UInt16, dialect: Dialect) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: 64)
        writer.writeUInt32(0)
        writer.writeUInt8(type)
        writer.writeUInt16(tag)
        writeBody(to: &writer, dialect: dialect)
        writer.patchUInt32(UInt32(truncatingIfNeeded: writer.bytes.count), at: 0)
        return writer.bytes
    }

    /// Decodes a frame's body. A body that is short, has bytes left over, or has an unknown
    /// type is an error; nothing here traps on hostile values.
    /// - Throws: ``NinePError`` with ``NinePError/Code/malformedMessage`` or
    ///   ``NinePError/Code/unknownMessageType``.
    public static func decode(_ frame: Frame, dialect: Dialect) throws(NinePError) -> Message {
        guard let name = Message.name(ofType: frame.type) else {
            throw NinePError(.unknownMessageType, errno: .notSupported, "unknown message type \(frame.type)")
        }
        var reader = WireReader(frame.body)
        guard let message = Message.readBody(type: frame.type, from: &reader, dialect: dialect) else {
            throw .malformed("\(name) is truncated or inconsistent (\(frame.body.count) body bytes)")
        }
        guard reader.readableBytes == 0 else {
            throw .malformed("\(name) has \(reader.readableBytes) bytes past its end")
        }
        return message
    }
}

/// Splits a byte stream into frames.
///
/// A frame's `size[4]` is checked against `maxSize` (the negotiated msize) as soon as the
/// four bytes are in, before the body is buffered, so a hostile size never causes an
/// allocation.
public struct FrameDecoder: Sendable {
    /// The largest frame accepted; a bigger `size[4]` is an error.
    public var maxSize: UInt32
    private var buffer = ByteQueue()

    public init(maxSize: UInt32) {
        self.maxSize = maxSize
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedBytes: Int { buffer.count }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, or nil when more bytes are needed.
    /// - Throws: ``NinePError`` when the size is below the header size or above `maxSize`;
    ///   the stream cannot be resynchronised after that and must be closed.
    public mutating func nextFrame() throws(NinePError) -> Frame? {
        let available = buffer.count
        guard available >= 4 else { return nil }
        let size =
            UInt32(buffer[0]) | UInt32(buffer[1]) << 8 | UInt32(buffer[2]) << 16
            | UInt32(buffer[3]) << 24
        guard size >= UInt32(Frame.headerSize) else {
            throw .malformed("frame size \(size) is smaller than a header")
        }
        guard size <= maxSize else {
            throw NinePError(
                .messageTooLarge, errno: .messageTooLong,
                "frame of \(size) bytes exceeds msize \(maxSize)")
        }
        guard available >= Int(size) else { return nil }
        let type = buffer[4]
        let tag = UInt16(buffer[5]) | UInt16(buffer[6]) << 8
        buffer.drop(Frame.headerSize)
        return Frame(type: type, tag: tag, body: buffer.take(upTo: Int(size) - Frame.headerSize))
    }
}
