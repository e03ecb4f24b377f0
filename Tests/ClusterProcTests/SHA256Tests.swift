@testable import ClusterProcNode
import TestSupport
import Testing

/// The hash behind shared-key authentication, against the published vectors.
@Suite struct SHA256Tests {
    /// FIPS 180-4 examples (and the empty message).
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func digest(message: String, expected: String) {
        #expect(hexString(SHA256.hash(Array(message.utf8)), separator: "") == expected)
    }

    /// One million "a", fed in pieces of every awkward size: block boundaries, the padding
    /// edge (55 and 56 bytes left) and pieces longer than a block.
    @Test(arguments: [1, 55, 56, 63, 64, 65, 1000, 1_000_000])
    func millionAs(pieceSize: Int) {
        var hasher = SHA256()
        var left = 1_000_000
        while left > 0 {
            let piece = min(pieceSize, left)
            hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: piece))
            left -= piece
        }
        #expect(hexString(hasher.finalize(), separator: "") == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Messages of every length around the padding edges hash the same whole or split.
    @Test func splitEqualsWhole() {
        for length in 0...200 {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let whole = SHA256.hash(message)
            for cut in [0, length / 3, length / 2, length] {
                var hasher = SHA256()
                hasher.update(Array(message[..<cut]))
                hasher.update(Array(message[cut...]))
                #expect(hasher.finalize() == whole, "length \(length), cut at \(cut)")
            }
        }
    }

    /// RFC 4231 test cases 1–4, 6 and 7 (case 5 truncates the output, which we never do).
    @Test(arguments: [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(1...25), [UInt8](repeating: 0xcd, count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([UInt8](repeating: 0xaa, count: 131),
         Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ] as [([UInt8], [UInt8], String)])
    func hmac(key: [UInt8], message: [UInt8], expected: String) {
        let code = HMACSHA256.code(key: key, message: message)
        #expect(hexString(code, separator: "") == expected)
        #expect(HMACSHA256.isValid(code, key: key, message: message))
    }

    @Test func hmacRejectsAnyChangedByteAndWrongLengths() {
        let key = [UInt8](repeating: 7, count: 32), message = Array("Tattach".utf8)
        let code = HMACSHA256.code(key: key, message: message)
        for index in code.indices {
            var changed = code
            changed[index] ^= 1
            #expect(!HMACSHA256.isValid(changed, key: key, message: message))
        }
        #expect(!HMACSHA256.isValid(Array(code.dropLast()), key: key, message: message))
        #expect(!HMACSHA256.isValid([], key: key, message: message))
        #expect(!HMACSHA256.isValid(code, key: key, message: message + [0]))
    }
}
