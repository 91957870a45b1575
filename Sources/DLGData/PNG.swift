import CZlib

/// Writes 8-bit PNG images (PNG specification, 2nd edition): the signature, an IHDR chunk,
/// one IDAT chunk holding the zlib stream (RFC 1950: a 2-byte header, deflate data and the
/// Adler-32 of the uncompressed bytes) of the scanlines, each led by filter byte 0, and IEND.
public enum PNG {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes `pixels`, `height` rows of `width` pixels of `channels` bytes each:
    /// 1 (grayscale, colour type 0) or 3 (RGB, colour type 2).
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws -> [UInt8] {
        guard width > 0, height > 0, width < 1 << 24, height < 1 << 24 else {
            throw DataError(file: "PNG", .invalid("image size \(width)×\(height) must be positive and below 2²⁴"))
        }
        guard channels == 1 || channels == 3 else {
            throw DataError(file: "PNG", .unsupported("\(channels) channels; PNG images here are gray (1) or RGB (3)"))
        }
        guard pixels.count == width * height * channels else {
            throw DataError(file: "PNG", .shapeMismatch(what: "pixel bytes", expected: [width * height * channels], found: [pixels.count]))
        }
        var raw = [UInt8]()
        raw.reserveCapacity(height * (width * channels + 1))
        let row = width * channels
        for y in 0..<height {
            raw.append(0)   // filter: none
            raw.append(contentsOf: pixels[(y * row)..<((y + 1) * row)])
        }
        var zlib: [UInt8] = [0x78, 0x9C]   // deflate, 32 KiB window, default level; (0x78·256 + 0x9C) % 31 == 0
        zlib += try raw.withUnsafeBytes { try RawDeflate.compress($0) }
        zlib += bigEndian(adler(raw))
        var out = signature
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))   // conversion: width and height were checked to lie in 1..<2²⁴
        header += [8, channels == 1 ? 0 : 2, 0, 0, 0]   // bit depth, colour type, compression, filter, interlace
        try chunk("IHDR", header, into: &out)
        try chunk("IDAT", zlib, into: &out)
        try chunk("IEND", [], into: &out)
        return out
    }

    /// Writes the image atomically.
    public static func write(width: Int, height: Int, channels: Int, pixels: [UInt8], to path: String) throws {
        try AtomicFile.write(try encode(width: width, height: height, channels: channels, pixels: pixels), to: path)
    }

    static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) throws {
        guard data.count <= Int(UInt32.max) else {
            throw DataError(file: "PNG", .invalid("a \(type) chunk of \(data.count) bytes is more than a PNG chunk holds (2³² − 1)"))
        }
        let typeBytes = Array(type.utf8)
        out += bigEndian(UInt32(data.count))   // conversion: checked just above to fit in UInt32
        out += typeBytes
        out += data
        out += bigEndian(CRC32.checksum(typeBytes + data))
    }

    static func adler(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { p in
            UInt32(truncatingIfNeeded: adler32(adler32(0, nil, 0), p.baseAddress, uInt(p.count)))
        }
    }

    // conversion: each byte is shifted or masked to below 256 first
    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}
