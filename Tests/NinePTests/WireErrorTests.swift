import TestSupport
import SystemPackage
import Testing

@testable import NineP

/// NinePError as the wire sees it: the errno of Rlerror, the string of Rerror.
@Suite struct WireErrorTests {
    @Test func decodingErrorsCarryProtocolErrno() {
        let error = NinePError.malformed("short")
        #expect(error.code == .malformedMessage)
        #expect(error.errno == .protocolError)
        #expect(error.description == "short")
        #expect(NinePError.violation("x").code == .protocolViolation)
        #expect(NinePError.closed().code == .connectionClosed)
        #expect(NinePError.timedOut().errno == .timedOut)
    }

    @Test func fileSystemErrorTakesStrerrorText() {
        let error = NinePError(.noSuchFileOrDirectory)
        #expect(error.code == .fileSystem)
        #expect(error.message == "No such file or directory")
        #expect(NinePError(.permissionDenied, "nope").message == "nope")
        #expect(NinePError.text(for: .readOnlyFileSystem) == "Read-only file system")
    }

    @Test func errnoRoundTripsThroughItsOwnText() {
        // A .u or 9P2000 peer that only sends our own strerror text still maps back.
        for errno in [Errno.noSuchFileOrDirectory, .permissionDenied, .readOnlyFileSystem, .notDirectory, .isDirectory] {
            #expect(NinePError.errno(forMessage: NinePError.text(for: errno)) == errno, "\(errno)")
        }
    }

    @Test(arguments: [
        ("file does not exist", Errno.noSuchFileOrDirectory), ("permission denied", .permissionDenied),
        ("unknown fid", .badFileDescriptor), ("something else entirely", .ioError), ("", .ioError),
    ])
    func planNineStringsMapToErrno(message: String, errno: Errno) {
        #expect(NinePError.errno(forMessage: message) == errno)
    }

    @Test func frameErrorsHaveDistinctCodes() {
        var decoder = FrameDecoder(maxSize: 100)
        decoder.append(hex("65 00 00 00"))
        let tooLarge = ninePError { () throws(NinePError) in try decoder.nextFrame() }
        #expect(tooLarge?.code == .messageTooLarge)
        #expect(tooLarge?.errno == .messageTooLong)
        let unknown = ninePError { () throws(NinePError) in try Message.decode(Frame(type: 0, tag: 0, body: []), dialect: .linux) }
        #expect(unknown?.code == .unknownMessageType)
        #expect(unknown?.code != tooLarge?.code)
    }
}
