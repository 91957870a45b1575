/// NumPy's `.npy` format, versions 1.0, 2.0 and 3.0.
///
/// Layout: the magic `\x93NUMPY`, a major and a minor version byte, the
/// header length (UInt16 little-endian in 1.0, UInt32 in 2.0 and 3.0), the
/// header — a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded
/// with spaces and ended by a newline — then the raw elements.
///
/// Supported dtypes: `<f4` f32, `<f8` f64, `<i4` i32, `<i8` i64, `|u1` u8
/// and `|b1` (booleans, read as u8 0/1). `=` (native) counts as
/// little-endian; big-endian (`>f4`, …) is rejected. Fortran-order arrays
/// are transposed into row-major order on reading.
public enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// The longest header read (NumPy's default `max_header_size`).
    public static let maxHeaderLength = 10_000
    /// The deepest nesting of brackets in a header (a real one has 2).
    public static let maxHeaderDepth = 16

    /// Reads a `.npy` file.
    public static func read(_ path: String) throws -> NDArray {
        try decode(try readFileBytes(path), file: path)
    }

    /// Decodes `.npy` bytes; `file` names the source in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws -> NDArray {
        var r = ByteReader(bytes, file: file)
        guard bytes.starts(with: magic) else {
            throw DataError(file: file, .badMagic(format: "npy", expected: magic, found: Array(bytes.prefix(6))))
        }
        try r.skip(6, "npy magic number")
        let major = try r.u8("npy version")
        let minor = try r.u8("npy version")
        let headerLength: Int
        switch (major, minor) {
        case (1, 0): headerLength = Int(try r.u16LE("npy header length"))
        case (2, 0), (3, 0): headerLength = Int(try r.u32LE("npy header length"))
        default:
            throw DataError(file: file, .badHeader(field: "version", message:
                "\(major).\(minor) is not a known npy version (1.0, 2.0, 3.0)"))
        }
        // NumPy refuses headers longer than 10,000 bytes (np.load's
        // max_header_size) as unsafe to evaluate; so does this reader.
        guard headerLength <= maxHeaderLength else {
            throw DataError(file: file, .badHeader(field: "header length", message:
                "\(headerLength) bytes is longer than the \(maxHeaderLength) bytes a npy header may have"))
        }
        let h = try r.take(headerLength, "npy header")
        let headerText = String(decoding: bytes[h], as: UTF8.self)
        let header = try parseHeader(headerText, file: file, allowLongSuffix: major < 3)
        let n = try elementCount(of: header.shape, what: file)
        let (needed, overflow) = n.multipliedReportingOverflow(by: header.type.byteSize)
        guard !overflow else {
            throw DataError(file: file, .badHeader(field: "shape", message: "\(shapeText(header.shape)) is too large"))
        }
        let data = try r.take(needed, "npy data (\(header.type)\(shapeText(header.shape)))")
        if r.remaining > 0 {
            throw DataError(file: file, .invalid(
                "\(r.remaining) unexpected bytes after the npy data, which ends at byte offset \(data.upperBound)"))
        }
        if !header.fortranOrder {
            return try bytes[data].withUnsafeBytes {
                try NDArray.decode(header.type, shape: header.shape, bytes: $0, bigEndian: false, file: file)
            }
        }
        // Column-major data of shape S is row-major data of shape reversed(S)
        // with its axes reversed.
        let reversed = try bytes[data].withUnsafeBytes {
            try NDArray.decode(header.type, shape: header.shape.reversed(), bytes: $0, bigEndian: false, file: file)
        }
        return try reversed.permuted(Array((0..<header.shape.count).reversed()))
    }

    struct Header {
        var type: ElementType
        var fortranOrder: Bool
        var shape: [Int]
    }

    static let supported = "<f4, <f8, <i4, <i8, |u1, |b1"

    /// The element type for a descr string such as `<f4`.
    static func elementType(descr: String, file: String) throws -> ElementType {
        guard let order = descr.first, descr.count >= 2 else {
            throw DataError(file: file, .unknownDType(dtype: descr, supported: supported))
        }
        let code = String(descr.dropFirst())
        let type: ElementType
        switch code {
        case "f4": type = .f32
        case "f8": type = .f64
        case "i4": type = .i32
        case "i8": type = .i64
        case "u1", "b1": type = .u8
        default:
            throw DataError(file: file, .unknownDType(dtype: descr, supported: supported))
        }
        switch order {
        case "<", "|", "=":
            return type
        case ">":
            if type.byteSize == 1 { return type }
            throw DataError(file: file, .unsupported(
                "big-endian dtype '\(descr)'; save the array as little-endian (e.g. a.astype('<\(code)'))"))
        default:
            throw DataError(file: file, .unknownDType(dtype: descr, supported: supported))
        }
    }

    static func parseHeader(_ text: String, file: String, allowLongSuffix: Bool = true) throws -> Header {
        var parser = PyLiteralParser(text: Array(text.unicodeScalars), file: file)
        parser.allowLongSuffix = allowLongSuffix
        let value = try parser.parseTop()
        guard case .dict(let entries) = value else {
            throw DataError(file: file, .badHeader(field: "header", message: "not a Python dict: \(text)"))
        }
        var descr: String?, fortran: Bool?, shape: [Int]?
        for (key, v) in entries {
            switch key {
            case "descr":
                guard case .string(let s) = v else {
                    throw DataError(file: file, .unsupported("structured dtype \(v.text); only plain numeric dtypes are read"))
                }
                descr = s
            case "fortran_order":
                guard case .bool(let b) = v else {
                    throw DataError(file: file, .badHeader(field: "fortran_order", message: "\(v.text) is not True or False"))
                }
                fortran = b
            case "shape":
                guard case .tuple(let items) = v else {
                    throw DataError(file: file, .badHeader(field: "shape", message: "\(v.text) is not a tuple"))
                }
                var dims = [Int]()
                for item in items {
                    guard case .int(let d) = item, d >= 0 else {
                        throw DataError(file: file, .badHeader(field: "shape", message: "\(v.text) is not a tuple of non-negative integers"))
                    }
                    dims.append(d)
                }
                shape = dims
            default:
                throw DataError(file: file, .badHeader(field: key, message: "unexpected key in the npy header"))
            }
        }
        guard let descr else { throw DataError(file: file, .badHeader(field: "descr", message: "missing")) }
        guard let fortran else { throw DataError(file: file, .badHeader(field: "fortran_order", message: "missing")) }
        guard let shape else { throw DataError(file: file, .badHeader(field: "shape", message: "missing")) }
        return Header(type: try elementType(descr: descr, file: file), fortranOrder: fortran, shape: shape)
    }

    /// The descr string written for each element type.
    static func descr(_ type: ElementType) -> String {
        switch type {
        case .f32: return "<f4"
        case .f64: return "<f8"
        case .i32: return "<i4"
        case .i64: return "<i8"
        case .u8: return "|u1"
        }
    }

    /// Encodes `array` as `.npy`: version 1.0 (2.0 if the header exceeds
    /// 65535 bytes), C order, the whole preamble padded to a multiple of 64
    /// bytes as NumPy does.
    public static func encode(_ array: NDArray) -> [UInt8] {
        let dims = array.shape.map(String.init)
        let shape = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr(array.elementType))', 'fortran_order': False, 'shape': \(shape), }"
        var version: UInt8 = 1
        var prefix = 10
        if (10 + dict.utf8.count + 1 + 63) / 64 * 64 - 10 > 65535 {
            version = 2
            prefix = 12
        }
        let total = prefix + dict.utf8.count + 1
        let padded = (total + 63) / 64 * 64
        dict += String(repeating: " ", count: padded - total) + "\n"
        var out = magic + [version, 0]
        let length = dict.utf8.count
        // conversion: version 1 only below 65536 bytes; a header is far below 2^32
        if version == 1 { out.appendLE(UInt16(length)) } else { out.appendLE(UInt32(length)) }
        out.append(contentsOf: dict.utf8)
        out.reserveCapacity(out.count + array.byteCount)
        array.withLittleEndianBytes { out.append(contentsOf: $0) }
        return out
    }

    /// Writes `array` as a `.npy` file, atomically.
    public static func write(_ array: NDArray, to path: String) throws {
        try AtomicFile.write(encode(array), to: path)
    }
}

/// A Python literal as found in npy headers.
enum PyValue {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyValue])
    case list([PyValue])
    case dict([(String, PyValue)])

    var text: String {
        switch self {
        case .string(let s): return "'\(s)'"
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple(let items): return "(" + items.map(\.text).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .list(let items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .dict(let entries): return "{" + entries.map { "'\($0.0)': \($0.1.text)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A parser for the Python literals of npy headers: dicts, tuples, lists,
/// strings, integers (an old `L` suffix allowed), True, False, None.
///
/// It accepts no more than Python's `ast.literal_eval` does for such
/// headers (NumPy's reader), and less: nesting deeper than
/// `NPY.maxHeaderDepth` is refused rather than recursed into, integers with
/// leading zeros (a syntax error in Python 3) are refused, as are escapes
/// in strings, and an `L` suffix is read only where NumPy reads it
/// (versions 1.0 and 2.0, upper case).
struct PyLiteralParser {
    let text: [Unicode.Scalar]
    let file: String
    var position = 0
    var depth = 0
    var allowLongSuffix = true

    init(text: [Unicode.Scalar], file: String) {
        self.text = text
        self.file = file
    }

    private func error(_ message: String) -> DataError {
        let context = String(String.UnicodeScalarView(text[min(position, text.count)...].prefix(30)))
        return DataError(file: file, .badHeader(field: "header", message: "\(message) at character \(position): \"\(context)\""))
    }

    private mutating func skipSpace() {
        while position < text.count, text[position] == " " || text[position] == "\n"
            || text[position] == "\t" || text[position] == "\r" {
            position += 1
        }
    }

    mutating func parseTop() throws -> PyValue {
        let v = try parseValue()
        skipSpace()
        guard position == text.count else { throw error("unexpected text after the header dict") }
        return v
    }

    private mutating func expect(_ c: Unicode.Scalar) throws {
        skipSpace()
        guard position < text.count, text[position] == c else { throw error("expected '\(c)'") }
        position += 1
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    private mutating func items<T>(close: Unicode.Scalar, _ item: (inout PyLiteralParser) throws -> T) throws -> ([T], trailingComma: Bool) {
        var out = [T]()
        var trailing = false
        while true {
            skipSpace()
            guard position < text.count else { throw error("unexpected end, expected '\(close)'") }
            if text[position] == close {
                position += 1
                return (out, trailing)
            }
            if !out.isEmpty && !trailing { throw error("expected ',' or '\(close)'") }
            out.append(try item(&self))
            skipSpace()
            trailing = false
            if position < text.count, text[position] == "," {
                position += 1
                trailing = true
            }
        }
    }

    mutating func parseValue() throws -> PyValue {
        skipSpace()
        guard position < text.count else { throw error("unexpected end") }
        let c = text[position]
        if c == "{" || c == "(" || c == "[" {
            depth += 1
            guard depth <= NPY.maxHeaderDepth else { throw error("nested more than \(NPY.maxHeaderDepth) deep") }
        }
        defer { if c == "{" || c == "(" || c == "[" { depth -= 1 } }
        switch c {
        case "{":
            position += 1
            let (entries, _) = try items(close: "}") { p -> (String, PyValue) in
                guard case .string(let key) = try p.parseValue() else { throw p.error("dict keys must be strings") }
                try p.expect(":")
                return (key, try p.parseValue())
            }
            return .dict(entries)
        case "(":
            position += 1
            let (values, trailing) = try items(close: ")") { try $0.parseValue() }
            if values.count == 1 && !trailing { return values[0] }  // parenthesized expression
            return .tuple(values)
        case "[":
            position += 1
            return .list(try items(close: "]") { try $0.parseValue() }.0)
        case "'", "\"":
            position += 1
            var s = String.UnicodeScalarView()
            while true {
                guard position < text.count else { throw error("unterminated string") }
                let d = text[position]
                position += 1
                if d == c { break }
                if d == "\\" { throw error("escape sequences are not read in npy headers") }
                s.append(d)
            }
            return .string(String(s))
        default:
            if c == "-" || ("0"..."9").contains(c) {
                let start = position
                position += 1
                while position < text.count, ("0"..."9").contains(text[position]) { position += 1 }
                let digits = String(String.UnicodeScalarView(text[start..<position]))
                if allowLongSuffix, position < text.count, text[position] == "L" { position += 1 }
                let magnitude = digits.hasPrefix("-") ? digits.dropFirst() : Substring(digits)
                if magnitude.count > 1, magnitude.first == "0", magnitude.contains(where: { $0 != "0" }) {
                    throw error("integer \(digits) has a leading zero")
                }
                // conversion: parses text (failable)
                guard let v = Int(digits) else { throw error("integer \(digits) out of range") }
                return .int(v)
            }
            var word = String.UnicodeScalarView()
            while position < text.count, text[position].properties.isAlphabetic || text[position] == "_" {
                word.append(text[position])
                position += 1
            }
            switch String(word) {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default: throw error("unexpected '\(String(word).isEmpty ? String(c) : String(word))'")
            }
        }
    }
}
