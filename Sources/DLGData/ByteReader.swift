/// Sequential reading of a byte buffer with bounds checks; running past the
/// end throws `DataError.truncated` naming the file, the offset and what was
/// being read.
struct ByteReader {
    let bytes: [UInt8]
    let file: String
    private(set) var offset: Int

    init(_ bytes: [UInt8], file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    /// Throws unless `n` bytes remain.
    func require(_ n: Int, _ what: String) throws {
        if n > remaining || n < 0 {
            throw DataError(file: file, .truncated(what: what, offset: offset, needed: n, available: max(0, remaining)))
        }
    }

    mutating func skip(_ n: Int, _ what: String) throws {
        try require(n, what)
        offset += n
    }

    mutating func seek(to position: Int, _ what: String) throws {
        guard position >= 0, position <= bytes.count else {
            throw DataError(file: file, .truncated(what: what, offset: position, needed: 1, available: 0))
        }
        offset = position
    }

    /// The next `n` bytes as a range of `bytes`.
    mutating func take(_ n: Int, _ what: String) throws -> Range<Int> {
        try require(n, what)
        defer { offset += n }
        return offset..<(offset + n)
    }

    mutating func u8(_ what: String) throws -> UInt8 {
        try require(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16LE(_ what: String) throws -> UInt16 { UInt16(truncatingIfNeeded: try unsigned(2, bigEndian: false, what)) }
    mutating func u32LE(_ what: String) throws -> UInt32 { UInt32(truncatingIfNeeded: try unsigned(4, bigEndian: false, what)) }
    mutating func u64LE(_ what: String) throws -> UInt64 { try unsigned(8, bigEndian: false, what) }
    mutating func u32BE(_ what: String) throws -> UInt32 { UInt32(truncatingIfNeeded: try unsigned(4, bigEndian: true, what)) }

    private mutating func unsigned(_ size: Int, bigEndian: Bool, _ what: String) throws -> UInt64 {
        try require(size, what)
        defer { offset += size }
        return readUnsigned(bytes, at: offset, size: size, bigEndian: bigEndian)
    }
}

/// An unsigned integer of `size` bytes at `offset` (the caller checked bounds).
func readUnsigned(_ bytes: [UInt8], at offset: Int, size: Int, bigEndian: Bool) -> UInt64 {
    var v: UInt64 = 0
    for k in 0..<size {
        // conversion: widens a UInt8
        let b = UInt64(bytes[offset + (bigEndian ? k : size - 1 - k)])
        v = v << 8 | b
    }
    return v
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }

    mutating func appendBE<T: FixedWidthInteger>(_ value: T) {
        var v = value.bigEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}
