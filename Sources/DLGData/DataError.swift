/// The one error type of DLGData.
///
/// Every error carries `file` — the path of the file being read or written,
/// or, for errors about an in-memory object, a short description of that
/// object (an array's type such as `f32[3, 4]`, or `dataset 'xor'`) — and a
/// `kind` that says what is wrong, with the numbers involved. `description`
/// is the message people read; it always starts with `file`.
///
/// Byte offsets in messages count from the start of the data that was being
/// decoded. For gzip-compressed files that is the decompressed stream, and
/// the `file` text then says `(decompressed)`.
public struct DataError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The first bytes are not the format's signature.
        case badMagic(format: String, expected: [UInt8], found: [UInt8])
        /// `needed` bytes of `what` were required starting at byte `offset`,
        /// but only `available` bytes remain (the data ends at
        /// `offset + available`).
        case truncated(what: String, offset: Int, needed: Int, available: Int)
        /// A header field has a value the format does not allow.
        case badHeader(field: String, message: String)
        /// Two shapes that must agree do not.
        case shapeMismatch(what: String, expected: [Int], found: [Int])
        /// A dtype name or code this reader does not know (`supported` lists
        /// the ones it does).
        case unknownDType(dtype: String, supported: String)
        /// A CSV cell that cannot be used. `row` is the 1-based line number
        /// where the record starts (the header is line 1), `column` the
        /// 1-based column number, `columnName` its header name when known.
        case csv(row: Int, column: Int, columnName: String?, text: String, message: String)
        /// The requested label column is not in the header.
        case labelColumnNotFound(label: String, columns: [String])
        /// A dataset with no samples where samples are required.
        case emptyDataset(detail: String)
        /// Compressed or archived data that cannot be decoded.
        case corrupt(format: String, detail: String)
        /// An operating-system call failed (`operation` such as "open for
        /// reading"; `detail` the system's message).
        case io(operation: String, detail: String)
        /// A value that is well-formed but not allowed here.
        case invalid(String)
        /// A valid feature of the format that this reader does not support.
        case unsupported(String)
        /// Allocating `needed` bytes for `what` was refused before it was
        /// tried: only `available` may be allocated, set by `bound`
        /// (see `MemoryBudget`).
        case memory(what: String, needed: Int, available: Int, bound: String)
    }

    /// The file path, or a description of the in-memory object concerned.
    public var file: String
    public var kind: Kind

    public init(file: String, _ kind: Kind) {
        self.file = file
        self.kind = kind
    }

    public var description: String {
        "\(file): \(message)"
    }

    /// The message without the leading file name.
    public var message: String {
        switch kind {
        case let .badMagic(format, expected, found):
            return "bad magic number for \(format): expected \(hexBytes(expected)), found \(hexBytes(found))"
        case let .truncated(what, offset, needed, available):
            return "truncated \(what): needed \(needed) bytes at byte offset \(offset), "
                + "but the data ends at byte offset \(offset + available) "
                + "(\(needed - available) bytes missing)"
        case let .badHeader(field, message):
            return "bad header field '\(field)': \(message)"
        case let .shapeMismatch(what, expected, found):
            return "shape mismatch for \(what): expected \(shapeText(expected)), found \(shapeText(found))"
        case let .unknownDType(dtype, supported):
            return "unknown dtype '\(dtype)' (supported: \(supported))"
        case let .csv(row, column, columnName, text, message):
            let name = columnName.map { " (\"\($0)\")" } ?? ""
            return "row \(row), column \(column)\(name): \(message): \"\(text)\""
        case let .labelColumnNotFound(label, columns):
            let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            return "label column \"\(label)\" not found; the columns are \(list)"
        case let .emptyDataset(detail):
            return "empty dataset: \(detail)"
        case let .corrupt(format, detail):
            return "corrupt \(format) data: \(detail)"
        case let .io(operation, detail):
            return "cannot \(operation): \(detail)"
        case let .invalid(text):
            return text
        case let .unsupported(text):
            return "unsupported: \(text)"
        case let .memory(what, needed, available, bound):
            return "\(what) needs \(formatBytes(needed)) (\(needed) bytes), more than the \(formatBytes(available)) "
                + "that may be allocated: \(bound); nothing was allocated"
        }
    }
}

/// `[0x1F, 0x8B]` → `0x1F8B`; an empty list → `(nothing)`.
func hexBytes(_ bytes: [UInt8]) -> String {
    if bytes.isEmpty { return "(nothing)" }
    let digits: [Character] = Array("0123456789ABCDEF")
    var s = "0x"
    for b in bytes {
        // conversion: widens a UInt8 nibble
        s.append(digits[Int(b >> 4)])
        // conversion: widens a UInt8 nibble
        s.append(digits[Int(b & 15)])
    }
    return s
}

/// `[2, 3]` → `[2, 3]`.
func shapeText(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
