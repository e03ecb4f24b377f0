import Testing

@testable import NineP

/// Inputs that once broke the decoder (or would have, with the first version of the wire
/// code), kept as named cases so they stay fixed.
@Suite struct FuzzRegressionTests {
    private func survives(type: UInt8, body: String, dialect: Dialect, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(FuzzHarness.check(type: type, body: hex(body), dialect: dialect) == .ok, sourceLocation: sourceLocation)
    }

    @Test func twalkWithNwname65535AndNoNames() {
        survives(type: Twalk.type, body: "01 00 00 00 02 00 00 00 ff ff", dialect: .linux)
        #expect(decodeErrorCode(type: Twalk.type, body: hex("01 00 00 00 02 00 00 00 ff ff"), dialect: .linux) == .malformedMessage)
    }
}
