import NineP

/// Runs one fuzz input through the decoder and checks what came out: every input must end in
/// messages, a NinePError of a decoding kind, or a frame still waiting for bytes; a message
/// that decodes must survive its own re-encoding.
enum FuzzHarness {
    enum Verdict: Equatable {
        case ok
        case broken(String)
    }

    static let decodingCodes: Set<NinePError.Code> = [.malformedMessage, .unknownMessageType, .messageTooLarge]

    /// Decodes a frame body of the given type.
    static func check(type: UInt8, body: [UInt8], dialect: Dialect) -> Verdict {
        check(frame: Frame(type: type, tag: 0x4242, body: body), dialect: dialect)
    }

    static func check(frame: Frame, dialect: Dialect) -> Verdict {
        let message: Message
        do throws(NinePError) {
            message = try Message.decode(frame, dialect: dialect)
        } catch {
            return decodingCodes.contains(error.code) ? .ok : .broken("unexpected error code \(error.code)")
        }
        guard message.type == frame.type else { return .broken("decoded \(message.type) from type \(frame.type)") }
        // Decoding what we would send gives the same value back.
        let again = message.encode(tag: frame.tag, dialect: dialect)
        var decoder = FrameDecoder(maxSize: .max)
        decoder.append(again)
        do throws(NinePError) {
            guard let reframed = try decoder.nextFrame(), decoder.bufferedBytes == 0 else {
                return .broken("re-encoding of \(message) is not one frame")
            }
            let redecoded = try Message.decode(reframed, dialect: dialect)
            if redecoded == message { return .ok }
            // Invalid UTF-8 is repaired to U+FFFD (three bytes for one), so a long repaired
            // string may no longer fit its s[2] and is cut on the way out; that is by design.
            if "\(message)".contains("\u{FFFD}") && again.count <= 7 + frame.body.count * 3 { return .ok }
            return .broken("\(message) re-decodes as \(redecoded)")
        } catch {
            return .broken("re-encoding of \(message) does not decode: \(error)")
        }
    }

    /// Feeds raw stream bytes to a FrameDecoder and decodes every frame that comes out.
    static func check(stream: [UInt8], maxSize: UInt32, dialect: Dialect) -> Verdict {
        var decoder = FrameDecoder(maxSize: maxSize)
        decoder.append(stream)
        while true {
            let frame: Frame?
            do throws(NinePError) {
                frame = try decoder.nextFrame()
            } catch {
                return decodingCodes.contains(error.code) ? .ok : .broken("unexpected frame error \(error.code)")
            }
            guard let frame else { return .ok }
            if 7 + frame.body.count > Int(maxSize) { return .broken("frame larger than msize \(maxSize)") }
            let verdict = check(frame: frame, dialect: dialect)
            if verdict != .ok { return verdict }
        }
    }
}
