/// The contents of a `.safetensors` file.
public struct SafetensorsFile: Sendable, Equatable {
    /// The tensors in the order their data is laid out in the file (for
    /// files written by `Safetensors.write`, the order they were given).
    public var tensors: [NamedArray]
    /// The `__metadata__` string map (empty when absent).
    public var metadata: [String: String]

    public init(tensors: [NamedArray], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> NDArray? {
        tensors.first { $0.name == name }?.array
    }
}

/// The safetensors format.
///
/// Layout: an 8-byte little-endian header length N; N bytes of JSON,
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
/// …, "__metadata__": {"key": "value", …}}`; then the data buffer, with
/// each tensor's little-endian row-major bytes at `[begin, end)` relative
/// to the buffer's start. Dtypes: F32, F64, I32, I64, U8 (and BOOL, read as
/// u8).
public enum Safetensors {
    /// Reads a `.safetensors` file.
    public static func read(_ path: String) throws -> SafetensorsFile {
        try decode(try readFileBytes(path), file: path)
    }

    static let supported = "F32, F64, I32, I64, U8, BOOL"
    /// The longest header read (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000

    static func elementType(_ name: String) -> ElementType? {
        switch name {
        case "F32": return .f32
        case "F64": return .f64
        case "I32": return .i32
        case "I64": return .i64
        case "U8", "BOOL": return .u8
        default: return nil
        }
    }

    static func dtypeName(_ type: ElementType) -> String {
        switch type {
        case .f32: return "F32"
        case .f64: return "F64"
        case .i32: return "I32"
        case .i64: return "I64"
        case .u8: return "U8"
        }
    }

    /// Decodes safetensors bytes; `file` names the source in errors, and
    /// errors about one tensor name it as "`file` (tensor 'w')". Checks that
    /// every tensor's offsets lie within the data buffer, that its byte size
    /// equals its element count × dtype size, and that the tensors cover the
    /// buffer exactly, back to back (no overlap, gap or trailing bytes).
    public static func decode(_ bytes: [UInt8], file: String) throws -> SafetensorsFile {
        var r = ByteReader(bytes, file: file)
        let n64 = try r.u64LE("safetensors header length")
        // conversion: a positive constant
        guard n64 <= UInt64(maxHeaderLength) else {
            throw DataError(file: file, .badHeader(field: "header length", message:
                "\(n64) bytes is more than the \(maxHeaderLength) bytes a safetensors header may have"))
        }
        // conversion: a count is non-negative
        guard n64 <= UInt64(r.remaining) else {
            throw DataError(file: file, .truncated(what: "safetensors header", offset: 8,
                                                   // conversion: compared with Int.max first
                                                   needed: n64 > UInt64(Int.max) ? Int.max : Int(n64),
                                                   available: r.remaining))
        }
        // conversion: checked ≤ the bytes remaining above
        let headerRange = try r.take(Int(n64), "safetensors header")
        guard bytes[headerRange].first == UInt8(ascii: "{") else {
            throw DataError(file: file, .badHeader(field: "JSON header", message:
                "does not start with '{' (the header length \(n64) may be wrong)"))
        }
        var parser = JSONParser(bytes, range: headerRange, file: file, what: "JSON header")
        guard case .object(let members) = try parser.parseDocument() else {
            throw DataError(file: file, .badHeader(field: "JSON header", message: "not a JSON object"))
        }
        let dataStart = headerRange.upperBound
        let bufferSize = bytes.count - dataStart

        struct Entry {
            var name: String, type: ElementType, shape: [Int], begin: Int, end: Int, order: Int
        }
        var entries = [Entry]()
        var metadata = [String: String]()
        var seen = Set<String>()
        for (order, (name, value)) in members.enumerated() {
            guard seen.insert(name).inserted else {
                throw DataError(file: file, .badHeader(field: name, message: "appears twice in the header"))
            }
            if name == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw DataError(file: file, .badHeader(field: "__metadata__", message: "is not an object of strings"))
                }
                for (k, v) in pairs {
                    guard case .string(let s) = v else {
                        throw DataError(file: file, .badHeader(field: "__metadata__", message: "value of '\(k)' is \(v.text), not a string"))
                    }
                    metadata[k] = s
                }
                continue
            }
            let tensorFile = "\(file) (tensor '\(name)')"
            guard case .object(let fields) = value else {
                throw DataError(file: tensorFile, .badHeader(field: name, message: "is not an object"))
            }
            func field(_ key: String) throws -> JSONValue {
                guard let v = fields.first(where: { $0.0 == key })?.1 else {
                    throw DataError(file: tensorFile, .badHeader(field: key, message: "missing"))
                }
                return v
            }
            guard case .string(let dtype) = try field("dtype") else {
                throw DataError(file: tensorFile, .badHeader(field: "dtype", message: "is not a string"))
            }
            guard let type = elementType(dtype) else {
                throw DataError(file: tensorFile, .unknownDType(dtype: dtype, supported: supported))
            }
            let shapeValue = try field("shape")
            var shape = [Int]()
            if case .array(let dims) = shapeValue {
                shape = dims.compactMap(\.unsignedInt)
            }
            guard case .array(let dims) = shapeValue, shape.count == dims.count else {
                throw DataError(file: tensorFile, .badHeader(field: "shape", message: "\(shapeValue.text) is not a list of non-negative integers"))
            }
            let offsetsValue = try field("data_offsets")
            guard case .array(let offs) = offsetsValue, offs.count == 2,
                  let begin = offs[0].unsignedInt, let end = offs[1].unsignedInt else {
                throw DataError(file: tensorFile, .badHeader(field: "data_offsets", message: "\(offsetsValue.text) is not two non-negative integers"))
            }
            guard begin <= end, end <= bufferSize else {
                throw DataError(file: tensorFile, .badHeader(field: "data_offsets", message:
                    "[\(begin), \(end)] is not a range within the \(bufferSize)-byte data buffer"))
            }
            let count = try elementCount(of: shape, what: tensorFile)
            let (size, overflow) = count.multipliedReportingOverflow(by: type.byteSize)
            guard !overflow, size == end - begin else {
                throw DataError(file: tensorFile, .badHeader(field: "data_offsets", message:
                    "[\(begin), \(end)] spans \(end - begin) bytes but \(dtype)\(shapeText(shape)) needs \(overflow ? "more" : String(size))"))
            }
            entries.append(Entry(name: name, type: type, shape: shape, begin: begin, end: end, order: order))
        }
        // The tensors must cover the data buffer exactly, back to back: no
        // overlap, no gap, no bytes after the last (as the reference
        // implementation requires).
        entries.sort { ($0.begin, $0.end, $0.order) < ($1.begin, $1.end, $1.order) }
        var covered = 0
        var previous: Entry?
        for e in entries {
            if e.begin != covered {
                let detail = e.begin < covered
                    ? "[\(e.begin), \(e.end)] overlaps tensor '\(previous?.name ?? "")' at [\(previous?.begin ?? 0), \(previous?.end ?? 0)]"
                    : "[\(e.begin), \(e.end)] leaves bytes \(covered)..<\(e.begin) of the data buffer unused"
                throw DataError(file: "\(file) (tensor '\(e.name)')", .badHeader(field: "data_offsets", message: detail))
            }
            covered = e.end
            previous = e
        }
        if covered != bufferSize {
            throw DataError(file: file, .invalid(
                "the tensors cover \(covered) bytes of the \(bufferSize)-byte data buffer; "
                + "\(bufferSize - covered) bytes after byte offset \(dataStart + covered) belong to no tensor "
                + "(the header length \(n64) may be wrong)"))
        }
        var tensors = [NamedArray]()
        for e in entries {
            let array = try bytes[(dataStart + e.begin)..<(dataStart + e.end)].withUnsafeBytes {
                try NDArray.decode(e.type, shape: e.shape, bytes: $0, bigEndian: false, file: "\(file) (tensor '\(e.name)')")
            }
            tensors.append(NamedArray(e.name, array))
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// The header JSON (padded with spaces to a multiple of 8 bytes) for
    /// tensors laid out back to back in the given order.
    static func header(_ tensors: [NamedArray], metadata: [String: String]) throws -> [UInt8] {
        var seen = Set<String>()
        var members = [String]()
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { jsonQuoted($0) + ":" + jsonQuoted(metadata[$0]!) }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__", seen.insert(t.name).inserted else {
                throw DataError(file: "safetensors", .invalid("tensor name '\(t.name)' is empty, reserved or repeated"))
            }
            let end = offset + t.array.byteCount
            let shape = "[" + t.array.shape.map(String.init).joined(separator: ",") + "]"
            members.append(jsonQuoted(t.name) + ":{\"dtype\":\"\(dtypeName(t.array.elementType))\",\"shape\":\(shape),"
                           + "\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var json = Array(("{" + members.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        return json
    }

    /// The complete file contents for `tensors` (in that order) and `metadata`
    /// (keys written sorted).
    public static func encode(_ tensors: [NamedArray], metadata: [String: String] = [:]) throws -> [UInt8] {
        let json = try header(tensors, metadata: metadata)
        var out = [UInt8]()
        // conversion: a count is non-negative
        out.appendLE(UInt64(json.count))
        out.append(contentsOf: json)
        for t in tensors { t.array.withLittleEndianBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes a `.safetensors` file atomically (see `AtomicFile`), streaming
    /// each tensor's bytes. Throws for an empty, repeated or reserved
    /// (`__metadata__`) tensor name.
    public static func write(_ tensors: [NamedArray], metadata: [String: String] = [:], to path: String) throws {
        let json = try header(tensors, metadata: metadata)
        try AtomicFile.write(to: path) { w in
            var length = [UInt8]()
            // conversion: a count is non-negative
            length.appendLE(UInt64(json.count))
            try w.write(length)
            try w.write(json)
            for t in tensors { try t.array.withLittleEndianBytes { try w.write($0) } }
        }
    }
}
