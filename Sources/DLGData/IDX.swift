/// The IDX format of the MNIST family.
///
/// Layout: two zero bytes, a type code, the number of dimensions `d`; then
/// `d` big-endian UInt32 sizes; then the elements, row-major, big-endian.
/// Type codes: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
/// Files may be gzip-compressed (detected by the 1F 8B signature).
public enum IDX {
    /// Reads an IDX file, plain or gzip. i8 and i16 data are widened to
    /// i32; the other codes map to u8, i32, f32, f64.
    public static func read(_ path: String) throws -> NDArray {
        try decode(try readFileBytes(path), file: path)
    }

    /// Decodes IDX bytes (plain or gzip); `file` names the source in errors.
    /// For gzip input, offsets in errors about the content count bytes of
    /// the decompressed stream and the file is named "`file` (decompressed)".
    ///
    /// A gzip stream is decompressed in two steps: first the header (at most
    /// 4 + 4 · 255 bytes), whose dimensions give the size of the whole file;
    /// that size is checked against `MemoryBudget`, and the stream is then
    /// decompressed to at most that many bytes — a stream that holds more
    /// (a "gzip bomb") is refused without inflating the rest.
    public static func decode(_ bytes: [UInt8], file: String) throws -> NDArray {
        if Gzip.isGzip(bytes) {
            let inner = "\(file) (decompressed)"
            let head = try Gzip.decompress(bytes, file: file, limit: 4 + 4 * 255, prefix: true)
            let total = try declaredSize(head, file: inner)
            try MemoryBudget.require(total, for: "the decompressed IDX data (its header declares \(total) bytes)", file: file)
            let content = try Gzip.decompress(bytes, file: file, limit: total)
            return try decodePlain(content, file: inner)
        }
        return try decodePlain(bytes, file: file)
    }

    /// The size of the whole IDX file (header and data) that a header
    /// declares; the header's own errors as in `decodePlain`.
    static func declaredSize(_ bytes: [UInt8], file: String) throws -> Int {
        var r = ByteReader(bytes, file: file)
        let (type, sourceSize, shape) = try readHeader(&r, file: file)
        _ = type
        let n = try elementCount(of: shape, what: file)
        let (needed, overflow) = n.multipliedReportingOverflow(by: sourceSize)
        let (total, overflow2) = needed.addingReportingOverflow(r.offset)
        if overflow || overflow2 {
            throw DataError(file: file, .badHeader(field: "dimensions", message: "\(shapeText(shape)) is too large"))
        }
        return total
    }

    static func readHeader(_ r: inout ByteReader, file: String) throws -> (type: ElementType, sourceSize: Int, shape: [Int]) {
        let magic = try r.take(2, "IDX magic number")
        guard r.bytes[magic] == [0, 0] else {
            throw DataError(file: file, .badMagic(format: "IDX", expected: [0, 0], found: Array(r.bytes[magic])))
        }
        let code = try r.u8("IDX type code")
        let ndim = Int(try r.u8("IDX dimension count"))
        let type: ElementType
        let sourceSize: Int
        switch code {
        case 0x08: type = .u8; sourceSize = 1
        case 0x09: type = .i32; sourceSize = 1
        case 0x0B: type = .i32; sourceSize = 2
        case 0x0C: type = .i32; sourceSize = 4
        case 0x0D: type = .f32; sourceSize = 4
        case 0x0E: type = .f64; sourceSize = 8
        default:
            throw DataError(file: file, .badHeader(field: "type code", message:
                "\(hexBytes([code])) at byte offset 2 is not an IDX type "
                + "(0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)"))
        }
        guard ndim >= 1 else {
            throw DataError(file: file, .badHeader(field: "dimension count", message: "0 dimensions; IDX data has at least one"))
        }
        var shape = [Int]()
        for k in 0..<ndim {
            shape.append(Int(try r.u32BE("IDX size of dimension \(k)")))
        }
        return (type, sourceSize, shape)
    }

    static func decodePlain(_ bytes: [UInt8], file: String) throws -> NDArray {
        var r = ByteReader(bytes, file: file)
        let (type, sourceSize, shape) = try readHeader(&r, file: file)
        let code = bytes[2]
        let n = try elementCount(of: shape, what: file)
        let (needed, overflow) = n.multipliedReportingOverflow(by: sourceSize)
        let what = "IDX data (\(shapeText(shape)), \(sourceSize)-byte elements)"
        if overflow {
            throw DataError(file: file, .badHeader(field: "dimensions", message: "\(shapeText(shape)) is too large"))
        }
        let range = try r.take(needed, what)
        let decoded = type == .u8 ? n : n * type.byteSize
        try MemoryBudget.require(decoded, for: "the array \(type)\(shapeText(shape))", file: file)
        if r.remaining > 0 {
            throw DataError(file: file, .invalid(
                "\(r.remaining) unexpected bytes after the IDX data, which ends at byte offset \(range.upperBound)"))
        }
        switch code {
        case 0x09:
            // conversion: widens an Int8
            let values = bytes[range].map { Int32(Int8(bitPattern: $0)) }
            return NDArray(unchecked: shape, .i32(values))
        case 0x0B:
            var values = [Int32]()
            values.reserveCapacity(n)
            var p = range.lowerBound
            for _ in 0..<n {
                // conversion: widens an Int16 (and UInt8 to UInt16)
                values.append(Int32(Int16(bitPattern: UInt16(bytes[p]) << 8 | UInt16(bytes[p + 1]))))
                p += 2
            }
            return NDArray(unchecked: shape, .i32(values))
        default:
            return try bytes[range].withUnsafeBytes {
                try NDArray.decode(type, shape: shape, bytes: $0, bigEndian: true, file: file)
            }
        }
    }

    /// Encodes an array as IDX: u8 → 0x08, i32 → 0x0C, f32 → 0x0D,
    /// f64 → 0x0E. i64 has no IDX code and throws, as do scalars and arrays
    /// of more than 255 dimensions or with a dimension ≥ 2³².
    public static func encode(_ array: NDArray) throws -> [UInt8] {
        let code: UInt8
        switch array.elementType {
        case .u8: code = 0x08
        case .i32: code = 0x0C
        case .f32: code = 0x0D
        case .f64: code = 0x0E
        case .i64: throw DataError(file: array.description, .unsupported("IDX has no 64-bit integer type"))
        }
        guard array.rank >= 1, array.rank <= 255 else {
            throw DataError(file: array.description, .unsupported("IDX needs 1 to 255 dimensions"))
        }
        // conversion: rank checked to be 1...255 above
        var out: [UInt8] = [0, 0, code, UInt8(array.rank)]
        for d in array.shape {
            guard let d32 = UInt32(exactly: d) else {
                throw DataError(file: array.description, .unsupported("dimension \(d) does not fit in IDX's UInt32"))
            }
            out.appendBE(d32)
        }
        out.reserveCapacity(out.count + array.byteCount)
        switch array.storage {
        case .u8(let a): out.append(contentsOf: a)
        case .i32(let a): for v in a { out.appendBE(v) }
        case .f32(let a): for v in a { out.appendBE(v.bitPattern) }
        case .f64(let a): for v in a { out.appendBE(v.bitPattern) }
        case .i64: break
        }
        return out
    }

    /// Writes `array` as an IDX file (gzip-compressed when `gzip` is true),
    /// atomically (see `AtomicFile`).
    public static func write(_ array: NDArray, to path: String, gzip: Bool = false) throws {
        var bytes = try encode(array)
        if gzip { bytes = try Gzip.compress(bytes) }
        try AtomicFile.write(bytes, to: path)
    }
}
