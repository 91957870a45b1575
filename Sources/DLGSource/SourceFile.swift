/// A source text with a line table. Tokens and AST nodes keep byte offsets;
/// line and column are computed from the table only when a person needs them.
public final class SourceFile: Sendable {
    /// The path as the user gave it (used in diagnostics).
    public let path: String
    /// The text as UTF-8 bytes.
    public let bytes: [UInt8]
    /// Byte offset of the first byte of each line.
    public let lineStarts: [Int]

    public init(path: String, text: String) {
        self.path = path
        self.bytes = Array(text.utf8)
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
            starts.append(i + 1)
        }
        self.lineStarts = starts
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// 1-based line and column (column counts UTF-8 bytes, as clang and swiftc do).
    public func lineColumn(of offset: Int) -> (line: Int, column: Int) {
        let clamped = max(0, min(offset, bytes.count))
        // Binary search for the last line start <= offset.
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= clamped { lo = mid } else { hi = mid - 1 }
        }
        return (lo + 1, clamped - lineStarts[lo] + 1)
    }

    /// The text of a 1-based line, without its newline.
    public func lineText(_ line: Int) -> String {
        guard line >= 1, line <= lineStarts.count else { return "" }
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        if end > start, end <= bytes.count, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }

    /// The text covered by a range.
    public func text(in range: SourceRange) -> String {
        let s = max(0, min(range.start, bytes.count)), e = max(s, min(range.end, bytes.count))
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }

    /// `path:line:col` for a byte offset.
    public func location(_ offset: Int) -> String {
        let (l, c) = lineColumn(of: offset)
        return "\(path):\(l):\(c)"
    }
}

/// A half-open byte range [start, end) in one source file.
public struct SourceRange: Hashable, Sendable, CustomStringConvertible {
    public var start: Int
    public var end: Int
    public init(_ start: Int, _ end: Int) {
        self.start = start
        self.end = max(start, end)
    }
    public static func point(_ offset: Int) -> SourceRange { SourceRange(offset, offset) }
    /// The smallest range covering both.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(min(start, other.start), max(end, other.end))
    }
    public var description: String { "\(start)..<\(end)" }
}
