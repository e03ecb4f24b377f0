import TestSupport
import Testing

@testable import NineP

/// FrameDecoder splits a stream into frames however the bytes arrive, and rejects sizes it
/// must not buffer as soon as the four size bytes are in.
@Suite struct WireFrameDecoderTests {
    /// A few encoded messages of different types, dialects and sizes, back to back.
    static func stream(seed: UInt64) -> (bytes: [UInt8], frames: [Frame], ends: [Int]) {
        var generator = MessageGenerator(seed: seed, maxStringBytes: 300, maxDataBytes: 600)
        var bytes: [UInt8] = []
        var frames: [Frame] = []
        var ends: [Int] = []
        for (index, wireCase) in MessageCatalog.cases.enumerated() where index % 7 == Int(seed % 7) {
            let tag = UInt16(truncatingIfNeeded: index)
            let encoded = generator.message(type: wireCase.type).encode(tag: tag, dialect: wireCase.dialect)
            bytes += encoded
            ends.append(bytes.count)
            frames.append(Frame(type: wireCase.type, tag: tag, body: Array(encoded[7...])))
        }
        return (bytes, frames, ends)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func oneByteAtATime(seed: UInt64) throws {
        let (bytes, expected, ends) = Self.stream(seed: seed)
        #expect(expected.count >= 5)
        var decoder = FrameDecoder(maxSize: 1 << 20)
        var frames: [Frame] = []
        for (index, byte) in bytes.enumerated() {
            decoder.append([byte])
            let frame = try decoder.nextFrame()
            if ends.contains(index + 1) {
                let frame = try #require(frame, "frame ending at byte \(index + 1) not returned")
                frames.append(frame)
                #expect(decoder.bufferedBytes == 0)
            } else {
                #expect(frame == nil, "a frame came out at byte \(index + 1), before it was complete")
            }
            #expect(try decoder.nextFrame() == nil)
        }
        #expect(frames == expected)
    }

    @Test(arguments: [UInt64(11), 12, 13, 14])
    func randomChunks(seed: UInt64) throws {
        let (bytes, expected, _) = Self.stream(seed: seed)
        var rng = SplitMix64(seed: seed)
        var decoder = FrameDecoder(maxSize: 1 << 20)
        var frames: [Frame] = []
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 + rng.below(rng.oneIn(4) ? 2000 : 40))
            bytes[offset..<offset + chunk].withUnsafeBytes { decoder.append($0) }
            offset += chunk
            while let frame = try decoder.nextFrame() { frames.append(frame) }
        }
        #expect(frames == expected)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test func wholeStreamAtOnce() throws {
        let (bytes, expected, _) = Self.stream(seed: 5)
        var decoder = FrameDecoder(maxSize: 1 << 20)
        decoder.append(bytes)
        var frames: [Frame] = []
        while let frame = try decoder.nextFrame() { frames.append(frame) }
        #expect(frames == expected)
    }

    @Test func headerOnlyFrameHasAnEmptyBody() throws {
        var decoder = FrameDecoder(maxSize: 8192)
        decoder.append(hex("07 00 00 00 | 6d | 09 00"))
        #expect(try decoder.nextFrame() == Frame(type: Rflush.type, tag: 9, body: []))
        #expect(try decoder.nextFrame() == nil)
    }

    @Test(arguments: [UInt32(0), 1, 2, 3, 4, 5, 6])
    func sizeBelowHeaderIsRejectedFromTheSizeAlone(size: UInt32) {
        var decoder = FrameDecoder(maxSize: 8192)
        var writer = WireWriter()
        writer.writeUInt32(size)
        decoder.append(writer.bytes)
        #expect(ninePError { () throws(NinePError) in try decoder.nextFrame() }?.code == .malformedMessage)
        // The error is not consumed: the stream stays broken.
        #expect(ninePError { () throws(NinePError) in try decoder.nextFrame() }?.code == .malformedMessage)
    }

    @Test(arguments: [UInt32(8193), 65536, 0x7fff_ffff, 0xffff_ffff])
    func sizeAboveMaxIsRejectedFromTheSizeAlone(size: UInt32) throws {
        var decoder = FrameDecoder(maxSize: 8192)
        var writer = WireWriter()
        writer.writeUInt32(size)
        // Three bytes are not yet a size: more input needed, no error.
        decoder.append(Array(writer.bytes.prefix(3)))
        #expect(try decoder.nextFrame() == nil)
        // The fourth byte settles it, with no body buffered.
        decoder.append(Array(writer.bytes.suffix(1)))
        #expect(ninePError { () throws(NinePError) in try decoder.nextFrame() }?.code == .messageTooLarge)
        #expect(decoder.bufferedBytes == 4)
    }

    @Test func sizeEqualToMaxIsAccepted() throws {
        let message = Message.rread(Rread(data: [UInt8](repeating: 7, count: 8192 - 11)))
        let bytes = message.encode(tag: 1, dialect: .linux)
        #expect(bytes.count == 8192)
        var decoder = FrameDecoder(maxSize: 8192)
        decoder.append(bytes)
        let frame = try #require(try decoder.nextFrame())
        #expect(try Message.decode(frame, dialect: .linux) == message)
    }
}
