import CZlib
import Foundation
import Testing
@testable import DLGData

@Suite("PNG")
struct PNGTests {
    /// Reads a PNG back with a plain reader written here: the signature, then chunks of
    /// length, type, data and CRC-32; IHDR's fields; IDAT inflated with zlib's `uncompress`
    /// (which checks the zlib header and the Adler-32); one filter byte 0 per scanline.
    func decode(_ png: [UInt8]) throws -> (width: Int, height: Int, colorType: UInt8, pixels: [UInt8]) {
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var at = 8
        var chunks: [(String, [UInt8])] = []
        func be32(_ i: Int) -> Int { Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3]) }
        while at < png.count {
            let n = be32(at)
            let type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            let data = Array(png[(at + 8)..<(at + 8 + n)])
            let crc = UInt32(be32(at + 8 + n))
            let computed = Array(png[(at + 4)..<(at + 8 + n)]).withUnsafeBufferPointer {
                UInt32(crc32(0, $0.baseAddress, uInt($0.count)))
            }
            #expect(crc == computed, "CRC of \(type)")
            chunks.append((type, data))
            at += 12 + n
        }
        #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
        let h = chunks[0].1
        let width = Int(h[0]) << 24 | Int(h[1]) << 16 | Int(h[2]) << 8 | Int(h[3])
        let height = Int(h[4]) << 24 | Int(h[5]) << 16 | Int(h[6]) << 8 | Int(h[7])
        #expect(h[8] == 8 && h[10] == 0 && h[11] == 0 && h[12] == 0)
        let bytesPerPixel = h[9] == 2 ? 3 : 1
        var raw = [UInt8](repeating: 0, count: height * (width * bytesPerPixel + 1))
        var rawLength = uLong(raw.count)
        let z = chunks[1].1
        let rc = raw.withUnsafeMutableBufferPointer { out in
            z.withUnsafeBufferPointer { uncompress(out.baseAddress, &rawLength, $0.baseAddress, uLong($0.count)) }
        }
        #expect(rc == Z_OK && Int(rawLength) == raw.count)
        var pixels: [UInt8] = []
        let row = width * bytesPerPixel
        for y in 0..<height {
            #expect(raw[y * (row + 1)] == 0)
            pixels += raw[(y * (row + 1) + 1)..<((y + 1) * (row + 1))]
        }
        return (width, height, h[9], pixels)
    }

    @Test func grayAndRGBImagesReadBack() throws {
        let gray: [UInt8] = (0..<(5 * 3)).map { UInt8($0 * 17) }
        let g = try decode(try PNG.encode(width: 5, height: 3, channels: 1, pixels: gray))
        #expect(g.width == 5 && g.height == 3 && g.colorType == 0 && g.pixels == gray)
        let rgb: [UInt8] = (0..<(4 * 2 * 3)).map { UInt8(($0 * 37) % 256) }
        let c = try decode(try PNG.encode(width: 4, height: 2, channels: 3, pixels: rgb))
        #expect(c.width == 4 && c.height == 2 && c.colorType == 2 && c.pixels == rgb)
    }

    @Test func badImagesAreRefused() {
        #expect(throws: DataError.self) { try PNG.encode(width: 0, height: 3, channels: 1, pixels: []) }
        #expect(throws: DataError.self) { try PNG.encode(width: 2, height: 2, channels: 2, pixels: [0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: DataError.self) { try PNG.encode(width: 2, height: 2, channels: 1, pixels: [0, 0, 0]) }
    }
}
