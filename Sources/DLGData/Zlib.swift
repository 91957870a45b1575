import CZlib

/// gzip (RFC 1952) compression and decompression through the system zlib.
public enum Gzip {
    /// True when `bytes` starts with the gzip signature 1F 8B.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses gzip data (one or more concatenated members; zero bytes
    /// after the last member are ignored). zlib checks each member's CRC-32
    /// and length. A corrupt or incomplete stream throws a
    /// `DataError.corrupt` naming `file` and the compressed byte offset.
    ///
    /// At most `limit` bytes are produced: a stream that decompresses to more
    /// throws (a "gzip bomb" is stopped there), and every growth of the
    /// output is checked against `MemoryBudget` first. With `prefix`, the
    /// first `limit` bytes (or all of a shorter, complete stream) are
    /// returned without error: enough to read a header.
    public static func decompress(_ bytes: [UInt8], file: String, limit: Int = Int.max, prefix: Bool = false) throws -> [UInt8] {
        var hint = 0
        if bytes.count >= 18 {
            // ISIZE, the uncompressed size mod 2^32, ends the (last) member.
            // conversion: widens a UInt32
            hint = Int(readUnsigned(bytes, at: bytes.count - 4, size: 4, bigEndian: false))
        }
        return try bytes.withUnsafeBytes {
            try zlibInflate($0, windowBits: 15 + 32, sizeHint: min(hint, limit), file: file, format: "gzip",
                            multiMember: true, limit: limit, prefix: prefix)
        }
    }

    /// Compresses `bytes` as one gzip member at `level` (0–9).
    public static func compress(_ bytes: [UInt8], level: Int = 6) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try zlibDeflate($0, windowBits: 15 + 16, level: level) }
    }
}

/// CRC-32 (the ISO-HDLC / zip / gzip polynomial) through zlib.
public enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `initial` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var crc = uLong(initial)
        var base = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
        var left = bytes.count
        while left > 0, let p = base {
            let n = min(left, Int(UInt32.max >> 1))
            crc = crc32(crc, p, uInt(n))
            base = p + n
            left -= n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}

/// Raw deflate (RFC 1951, no header), as used inside ZIP archives.
enum RawDeflate {
    /// Inflates to exactly `expectedSize` bytes: more is an error before it is produced.
    static func decompress(_ bytes: UnsafeRawBufferPointer, expectedSize: Int, file: String) throws -> [UInt8] {
        try zlibInflate(bytes, windowBits: -15, sizeHint: expectedSize, file: file, format: "deflate", multiMember: false,
                        limit: expectedSize, prefix: false)
    }

    static func compress(_ bytes: UnsafeRawBufferPointer, level: Int = 6) throws -> [UInt8] {
        try zlibDeflate(bytes, windowBits: -15, level: level)
    }
}

private func zlibMessage(_ stream: z_stream, _ code: Int32) -> String {
    if let m = stream.msg { return String(cString: m) }
    switch code {
    case Z_DATA_ERROR: return "invalid compressed data"
    case Z_MEM_ERROR: return "out of memory"
    case Z_NEED_DICT: return "a preset dictionary is required"
    case Z_BUF_ERROR: return "no progress possible"
    default: return "zlib error \(code)"
    }
}

/// Inflates `input` with zlib. `windowBits` 15+32 auto-detects a zlib or
/// gzip wrapper; −15 is raw deflate. With `multiMember`, further gzip
/// members after the first are decompressed too.
private func zlibInflate(_ input: UnsafeRawBufferPointer, windowBits: Int32, sizeHint: Int,
                         file: String, format: String, multiMember: Bool, limit: Int, prefix: Bool) throws -> [UInt8] {
    var stream = z_stream()
    var rc = inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard rc == Z_OK else {
        throw DataError(file: file, .corrupt(format: format, detail: "cannot start decompression: \(zlibMessage(stream, rc))"))
    }
    defer { inflateEnd(&stream) }

    let base = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
    var consumed = 0            // input bytes handed to zlib and used
    var output = [UInt8]()
    var produced = 0
    // Deflate cannot expand data by more than about 1032:1, so a larger
    // hint (e.g. from a damaged gzip trailer) is not believed.
    let plausible = min(sizeHint, input.count.multipliedReportingOverflow(by: 1032).partialValue)
    // One byte beyond the limit, so that a stream longer than allowed is seen.
    let ceiling = limit == Int.max ? Int.max : limit + 1
    var capacity = min(max(1024, min(plausible > 0 ? plausible : input.count * 4, 1 << 30)), ceiling)
    try MemoryBudget.require(capacity, for: "the decompressed data", file: file)
    output = [UInt8](repeating: 0, count: capacity)

    while true {
        if prefix && produced >= limit { return Array(output[0..<limit]) }
        if produced > limit {
            throw DataError(file: file, .corrupt(format: format, detail:
                "the data decompresses to more than \(limit) bytes, the most it may hold here"))
        }
        if produced == capacity {
            let grown = capacity > ceiling / 2 ? ceiling : capacity * 2
            try MemoryBudget.require(grown, for: "the decompressed data (more than \(formatBytes(capacity)) so far)", file: file)
            capacity = grown
            output.append(contentsOf: repeatElement(0, count: capacity - output.count))
        }
        let chunkIn = min(input.count - consumed, Int(UInt32.max >> 1))
        let chunkOut = min(capacity - produced, Int(UInt32.max >> 1))
        stream.next_in = base.map { $0 + consumed }
        stream.avail_in = uInt(chunkIn)
        rc = output.withUnsafeMutableBytes { out -> Int32 in
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
            stream.avail_out = uInt(chunkOut)
            return inflate(&stream, Z_NO_FLUSH)
        }
        // conversion: zlib counts fit in UInt32, widened
        consumed += chunkIn - Int(stream.avail_in)
        // conversion: zlib counts fit in UInt32, widened
        produced += chunkOut - Int(stream.avail_out)
        stream.next_in = nil
        stream.next_out = nil

        switch rc {
        case Z_OK:
            continue
        case Z_STREAM_END:
            let rest = input.count - consumed
            if multiMember && rest >= 2 && input[consumed] == 0x1F && input[consumed + 1] == 0x8B {
                inflateReset(&stream)
                continue
            }
            if multiMember && rest > 0 && !input[consumed...].allSatisfy({ $0 == 0 }) {
                throw DataError(file: file, .corrupt(format: format, detail:
                    "\(rest) bytes of unexpected data after the end of the compressed stream at byte offset \(consumed)"))
            }
            if produced > limit {
                if prefix { return Array(output[0..<limit]) }
                throw DataError(file: file, .corrupt(format: format, detail:
                    "the data decompresses to more than \(limit) bytes, the most it may hold here"))
            }
            output.removeSubrange(produced...)
            return output
        case Z_BUF_ERROR:
            if consumed >= input.count {
                throw DataError(file: file, .corrupt(format: format, detail:
                    "the compressed stream ends early, after \(input.count) bytes (\(produced) bytes decompressed)"))
            }
            continue  // output buffer was full; grow it
        default:
            throw DataError(file: file, .corrupt(format: format, detail:
                "\(zlibMessage(stream, rc)) (near compressed byte offset \(consumed))"))
        }
    }
}

/// Deflates `input` with zlib; `windowBits` 15+16 writes a gzip wrapper,
/// −15 raw deflate.
private func zlibDeflate(_ input: UnsafeRawBufferPointer, windowBits: Int32, level: Int) throws -> [UInt8] {
    var stream = z_stream()
    // conversion: clamped to 0...9
    let lvl = Int32(max(0, min(9, level)))
    var rc = deflateInit2_(&stream, lvl, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                           zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard rc == Z_OK else {
        throw DataError(file: "deflate", .corrupt(format: "deflate", detail: "cannot start compression: \(zlibMessage(stream, rc))"))
    }
    defer { deflateEnd(&stream) }
    let base = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
    var consumed = 0
    var output = [UInt8](repeating: 0, count: max(64, input.count / 2 + 64))
    var produced = 0
    while true {
        if produced == output.count {
            output.append(contentsOf: repeatElement(0, count: output.count))
        }
        let chunkIn = min(input.count - consumed, Int(UInt32.max >> 1))
        let chunkOut = min(output.count - produced, Int(UInt32.max >> 1))
        let last = consumed + chunkIn == input.count
        stream.next_in = base.map { $0 + consumed }
        stream.avail_in = uInt(chunkIn)
        rc = output.withUnsafeMutableBytes { out -> Int32 in
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
            stream.avail_out = uInt(chunkOut)
            return deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
        }
        // conversion: zlib counts fit in UInt32, widened
        consumed += chunkIn - Int(stream.avail_in)
        // conversion: zlib counts fit in UInt32, widened
        produced += chunkOut - Int(stream.avail_out)
        stream.next_in = nil
        stream.next_out = nil
        switch rc {
        case Z_STREAM_END:
            output.removeSubrange(produced...)
            return output
        case Z_OK, Z_BUF_ERROR:
            continue
        default:
            throw DataError(file: "deflate", .corrupt(format: "deflate", detail: zlibMessage(stream, rc)))
        }
    }
}
