/// Comma-separated values with a header row (RFC 4180 quoting).
///
/// Fields are separated by the delimiter (`,` by default); records end at
/// LF or CR LF. A field in double quotes may contain delimiters, line
/// breaks and doubled quotes (`""` for one `"`). Unquoted fields are
/// trimmed of spaces and tabs. Blank lines are skipped; a UTF-8 byte-order
/// mark at the start is ignored. Errors give the row as the 1-based line
/// number where the record starts (the header is line 1) and the column as
/// a 1-based number with its header name.
public enum CSV {
    /// A parsed file: the header and the records as text.
    public struct Table: Sendable, Equatable {
        public var header: [String]
        /// The records after the header, each with `header.count` fields.
        public var rows: [[String]]
        /// The line number where each record of `rows` starts.
        public var lineNumbers: [Int]
    }

    /// Splits CSV text into header and records. Throws on an unterminated
    /// quoted field, text after a closing quote, a record whose field count
    /// differs from the header's, or a file without a header.
    public static func parse(_ bytes: [UInt8], file: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> Table {
        var parser = Parser(bytes: bytes, file: file, delimiter: delimiter)
        guard let (_, header) = try parser.nextRecord() else {
            throw DataError(file: file, .emptyDataset(detail: "no header row"))
        }
        var rows = [[String]]()
        var lines = [Int]()
        while let (line, fields) = try parser.nextRecord() {
            try checkFieldCount(fields, line: line, header: header, file: file, delimiter: delimiter)
            rows.append(fields)
            lines.append(line)
        }
        return Table(header: header, rows: rows, lineNumbers: lines)
    }

    /// Throws unless a record has as many fields as the header.
    static func checkFieldCount(_ fields: [String], line: Int, header: [String], file: String, delimiter: UInt8) throws {
        guard fields.count != header.count else { return }
        let column = min(fields.count, header.count) + 1
        throw DataError(file: file, .csv(
            row: line, column: column, columnName: column <= header.count ? header[column - 1] : nil,
            text: fields.joined(separator: String(UnicodeScalar(delimiter))),
            message: "the record has \(fields.count) fields but the header has \(header.count)"))
    }

    /// Reads a CSV file as a dataset.
    ///
    /// With `label`, that column (found by exact header name) becomes the
    /// labels and every other column, in file order, a feature; without, all
    /// columns are features. Features are `[N, F]` of `featureType` (f32 or
    /// f64). Labels of a float type are `[N, 1]` (regression targets such as
    /// the `y` of a truth table); labels of an integer type (i32, i64, u8)
    /// are `[N]` class indices and each cell must be an integer in range.
    /// Every cell must be a number (`Double` syntax, e.g. `1`, `-2.5e3`),
    /// and a finite one (`nan`, `inf` are refused) unless `allowNonFinite`.
    public static func read(_ path: String, label: String? = nil, labelType: ElementType = .f32,
                            featureType: ElementType = .f32,
                            delimiter: UInt8 = UInt8(ascii: ","), allowNonFinite: Bool = false) throws -> Dataset {
        try dataset(from: try readFileBytes(path), file: path, label: label, labelType: labelType,
                    featureType: featureType, delimiter: delimiter, allowNonFinite: allowNonFinite)
    }

    /// As `read`, from CSV bytes in memory; `file` names the source in errors.
    /// Records are converted as they are read (no table of text is kept);
    /// the memory the numbers need, at most one value per delimiter or line
    /// break, is checked against `MemoryBudget` first.
    public static func dataset(from bytes: [UInt8], file: String, label: String? = nil,
                               labelType: ElementType = .f32, featureType: ElementType = .f32,
                               delimiter: UInt8 = UInt8(ascii: ","), allowNonFinite: Bool = false) throws -> Dataset {
        guard featureType.isFloatingPoint else {
            throw DataError(file: file, .unsupported("CSV features must be f32 or f64, not \(featureType)"))
        }
        var cells = 1
        for b in bytes where b == delimiter || b == UInt8(ascii: "\n") { cells += 1 }
        // Doubles while reading, then the converted arrays.
        try MemoryBudget.require(cells * (8 + featureType.byteSize), for: "the numbers of up to \(cells) cells", file: file)
        var parser = Parser(bytes: bytes, file: file, delimiter: delimiter)
        guard let (_, header) = try parser.nextRecord() else {
            throw DataError(file: file, .emptyDataset(detail: "no header row"))
        }
        var labelIndex: Int? = nil
        if let label {
            guard let k = header.firstIndex(of: label) else {
                throw DataError(file: file, .labelColumnNotFound(label: label, columns: header))
            }
            labelIndex = k
        }
        let featureColumns = header.indices.filter { $0 != labelIndex }
        var features = [Double]()
        var labels = [Double]()
        var n = 0
        while let (line, row) = try parser.nextRecord() {
            try checkFieldCount(row, line: line, header: header, file: file, delimiter: delimiter)
            guard !featureColumns.isEmpty else { break }
            for c in featureColumns {
                features.append(try number(row[c], row: line, column: c, header: header, file: file, as: featureType,
                                           allowNonFinite: allowNonFinite))
            }
            if let k = labelIndex {
                labels.append(try number(row[k], row: line, column: k, header: header, file: file, as: labelType,
                                         allowNonFinite: allowNonFinite))
            }
            n += 1
        }
        guard !featureColumns.isEmpty else {
            throw DataError(file: file, .emptyDataset(detail: "no feature columns besides the label \"\(label ?? "")\""))
        }
        guard n > 0 else {
            throw DataError(file: file, .emptyDataset(detail: "the file has a header but no data rows"))
        }
        let featureArray = try NDArray(features, shape: [n, featureColumns.count]).converted(to: featureType)
        var labelArray: NDArray? = nil
        if labelIndex != nil {
            let shape = labelType.isFloatingPoint ? [n, 1] : [n]
            labelArray = try NDArray(labels, shape: shape).converted(to: labelType)
        }
        return try Dataset(name: file, features: featureArray, labels: labelArray)
    }

    private static func number(_ text: String, row: Int, column: Int, header: [String], file: String,
                               as type: ElementType, allowNonFinite: Bool) throws -> Double {
        func fail(_ message: String) -> DataError {
            DataError(file: file, .csv(row: row, column: column + 1, columnName: header[column],
                                       text: text, message: message))
        }
        guard !text.isEmpty else { throw fail("empty cell") }
        guard let v = Double(text) else { throw fail("not a number") }
        switch type {
        case .f32, .f64:
            if !allowNonFinite && !v.isFinite {
                throw fail("not a finite number (set allow_nonfinite = true to read NaN and infinity)")
            }
            if !allowNonFinite && type == .f32 && !Float(v).isFinite {
                throw fail("beyond the range of f32")
            }
            return v
        case .i32:
            guard Int32(exactly: v) != nil else { throw fail("not an integer in the range of i32") }
        case .i64:
            guard Int64(exactly: v) != nil else { throw fail("not an integer in the range of i64") }
        case .u8:
            guard UInt8(exactly: v) != nil else { throw fail("not an integer in 0...255") }
        }
        return v
    }

    /// A record-at-a-time reader of CSV bytes.
    struct Parser {
        let bytes: [UInt8]
        let file: String
        let delimiter: UInt8
        var position = 0
        var line = 1

        init(bytes: [UInt8], file: String, delimiter: UInt8) {
            self.bytes = bytes
            self.file = file
            self.delimiter = delimiter
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        }

        private static let quote = UInt8(ascii: "\"")
        private static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")

        private func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

        /// The next record and the line where it starts, or nil at the end.
        mutating func nextRecord() throws -> (Int, [String])? {
            // Skip blank (empty or whitespace-only) lines.
            while position < bytes.count {
                var p = position
                while p < bytes.count && isBlank(bytes[p]) { p += 1 }
                if p < bytes.count && bytes[p] == Self.cr && p + 1 < bytes.count && bytes[p + 1] == Self.lf { p += 1 }
                if p < bytes.count && bytes[p] == Self.lf {
                    position = p + 1
                    line += 1
                } else if p == bytes.count {
                    position = p
                } else {
                    break
                }
            }
            guard position < bytes.count else { return nil }
            let start = line
            var fields = [String]()
            while true {
                let (field, ended) = try nextField(recordLine: start, column: fields.count + 1)
                fields.append(field)
                if ended { return (start, fields) }
            }
        }

        /// Reads one field; `ended` is true when it was the record's last.
        private mutating func nextField(recordLine: Int, column: Int) throws -> (String, Bool) {
            while position < bytes.count && isBlank(bytes[position]) { position += 1 }
            if position < bytes.count && bytes[position] == Self.quote {
                position += 1
                var value = [UInt8]()
                while true {
                    guard position < bytes.count else {
                        throw DataError(file: file, .csv(
                            row: recordLine, column: column, columnName: nil,
                            text: String(decoding: value.prefix(40), as: UTF8.self),
                            message: "unterminated quoted field"))
                    }
                    let b = bytes[position]
                    position += 1
                    if b == Self.quote {
                        if position < bytes.count && bytes[position] == Self.quote {
                            value.append(Self.quote)
                            position += 1
                        } else {
                            break
                        }
                    } else {
                        if b == Self.lf { line += 1 }
                        value.append(b)
                    }
                }
                while position < bytes.count && isBlank(bytes[position]) { position += 1 }
                let text = String(decoding: value, as: UTF8.self)
                if let ended = endOfField() { return (text, ended) }
                var junkEnd = position
                while junkEnd < bytes.count && bytes[junkEnd] != delimiter && bytes[junkEnd] != Self.lf { junkEnd += 1 }
                throw DataError(file: file, .csv(
                    row: recordLine, column: column, columnName: nil,
                    text: String(decoding: bytes[position..<junkEnd], as: UTF8.self),
                    message: "unexpected text after the closing quote of field \"\(text)\""))
            }
            let begin = position
            while position < bytes.count && bytes[position] != delimiter
                && bytes[position] != Self.lf && bytes[position] != Self.cr {
                position += 1
            }
            var end = position
            while end > begin && isBlank(bytes[end - 1]) { end -= 1 }
            let text = String(decoding: bytes[begin..<end], as: UTF8.self)
            if let ended = endOfField() { return (text, ended) }
            // A lone CR inside a field: keep it as text up to the next separator.
            throw DataError(file: file, .csv(
                row: recordLine, column: column, columnName: nil, text: text,
                message: "carriage return without a line feed"))
        }

        /// Consumes the separator after a field: delimiter → false, line
        /// end or end of input → true, anything else → nil (not consumed).
        private mutating func endOfField() -> Bool? {
            guard position < bytes.count else { return true }
            let b = bytes[position]
            if b == delimiter {
                position += 1
                return false
            }
            if b == Self.lf {
                position += 1
                line += 1
                return true
            }
            if b == Self.cr && position + 1 < bytes.count && bytes[position + 1] == Self.lf {
                position += 2
                line += 1
                return true
            }
            if b == Self.cr && position + 1 == bytes.count {
                position += 1
                return true
            }
            return nil
        }
    }

    // MARK: Writing

    /// CSV text for columns of equal length. Each array's first axis is the
    /// row; an array `[N]` or `[N, 1]` gives one column named `name`, an
    /// array `[N, k, …]` gives `rowSize` columns named `name_0`, `name_1`, ….
    /// Floats are written in Swift's shortest round-trip form, integers in
    /// decimal; lines end with LF. Names are quoted when they contain a
    /// comma, quote, line break or surrounding spaces.
    public static func encode(columns: [NamedArray]) throws -> String {
        guard !columns.isEmpty else {
            throw DataError(file: "CSV", .emptyDataset(detail: "no columns to write"))
        }
        // A scalar is one row of one value.
        let columns = try columns.map { $0.array.rank == 0 ? NamedArray($0.name, try $0.array.reshaped([1])) : $0 }
        let first = columns[0]
        let n = first.array.rowCount
        var header = [String]()
        for c in columns {
            guard c.array.rank >= 1, c.array.shape[0] == n else {
                throw DataError(file: "CSV column '\(c.name)'", .shapeMismatch(
                    what: "the number of rows", expected: [n], found: [c.array.rank >= 1 ? c.array.shape[0] : 0]))
            }
            if c.array.rowSize == 1 {
                header.append(c.name)
            } else {
                for j in 0..<c.array.rowSize { header.append("\(c.name)_\(j)") }
            }
        }
        var out = header.map(quoted).joined(separator: ",") + "\n"
        let texts: [[String]] = columns.map { c in
            switch c.array.storage {
            case .f32(let a): return a.map { $0.description }
            case .f64(let a): return a.map { $0.description }
            case .i32(let a): return a.map { $0.description }
            case .i64(let a): return a.map { $0.description }
            case .u8(let a): return a.map { $0.description }
            }
        }
        for r in 0..<n {
            var cells = [String]()
            for (c, t) in zip(columns, texts) {
                let w = c.array.rowSize
                cells.append(contentsOf: t[(r * w)..<(r * w + w)])
            }
            out += cells.joined(separator: ",")
            out += "\n"
        }
        return out
    }

    /// Writes `encode(columns:)` to `path` atomically.
    public static func write(columns: [NamedArray], to path: String) throws {
        try AtomicFile.write(try encode(columns: columns), to: path)
    }

    static func quoted(_ name: String) -> String {
        let special = name.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            || name.first == " " || name.last == " " || name.isEmpty
        guard special else { return name }
        var out = "\""
        for ch in name {
            if ch == "\"" { out += "\"\"" } else { out.append(ch) }
        }
        return out + "\""
    }
}
