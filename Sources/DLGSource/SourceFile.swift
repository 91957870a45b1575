/// A source text with a line table. Tokens and AST nodes keep byte offsets;
/// line and column are computed from the table only when a person needs them.
///
/// A file that uses others (`use "blocks.dlg"`) is one `SourceFile` of several
/// segments: the file itself first, then each file it uses, so that every
/// offset names one place in one file; `location` and the line of an offset
/// are counted within its segment.
public final class SourceFile: Sendable {
    /// One file's text within the source.
    public struct Segment: Sendable, Hashable {
        /// The path as shown in diagnostics.
        public let path: String
        /// The segment's bytes are `start ..< end` of `bytes`.
        public let start: Int
        public let end: Int
        /// The index in `lineStarts` of its first line.
        let firstLine: Int
    }

    /// The path as the user gave it (used in diagnostics): the first segment's.
    public let path: String
    /// The text as UTF-8 bytes.
    public let bytes: [UInt8]
    /// Byte offset of the first byte of each line.
    public let lineStarts: [Int]
    /// The files the source is made of; one for a file that uses none.
    public let segments: [Segment]
    /// Problems found while reading the files it uses (a missing file, a cycle);
    /// the parser reports them with its own.
    public let loadDiagnostics: [Diagnostic]

    public init(path: String, text: String) {
        self.path = path
        self.bytes = Array(text.utf8)
        self.lineStarts = Self.lineStarts(bytes)
        self.segments = [Segment(path: path, start: 0, end: bytes.count, firstLine: 0)]
        self.loadDiagnostics = []
    }

    /// A file and the files it uses, in this order: `parts[0]` is the file
    /// itself. Each part starts on a line of its own, after a separating newline.
    public init(parts: [(path: String, text: String)], diagnostics: [Diagnostic]) {
        precondition(!parts.isEmpty, "a source has at least one file")
        var bytes: [UInt8] = []
        var ranges: [(String, Int, Int)] = []
        for (k, part) in parts.enumerated() {
            let start = bytes.count
            bytes += Array(part.text.utf8)
            ranges.append((part.path, start, bytes.count))
            // A separating newline, so that the end of one file (where an error at its end
            // points) is not the start of the next.
            if k + 1 < parts.count { bytes.append(UInt8(ascii: "\n")) }
        }
        let starts = Self.lineStarts(bytes)
        self.path = parts[0].path
        self.bytes = bytes
        self.lineStarts = starts
        self.segments = ranges.map { path, start, end in
            Segment(path: path, start: start, end: end, firstLine: Self.lineIndex(of: start, in: starts))
        }
        self.loadDiagnostics = diagnostics
    }

    private static func lineStarts(_ bytes: [UInt8]) -> [Int] {
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
            starts.append(i + 1)
        }
        return starts
    }

    /// The index of the last line start ≤ offset.
    private static func lineIndex(of offset: Int, in lineStarts: [Int]) -> Int {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The segment that holds a byte offset (the last one for the end of the text).
    public func segment(containing offset: Int) -> Segment {
        var found = segments[0]
        for s in segments where s.start <= offset { found = s }
        return found
    }

    /// Whether an offset lies in the file itself rather than in a file it uses.
    public func isMain(_ offset: Int) -> Bool { segments.count == 1 || offset < segments[1].start }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The text of the file itself, without the files it uses.
    public var mainText: String { String(decoding: bytes[0..<segments[0].end], as: UTF8.self) }

    /// 1-based line and column within the offset's file (column counts UTF-8 bytes, as clang and swiftc do).
    public func lineColumn(of offset: Int) -> (line: Int, column: Int) {
        let clamped = max(0, min(offset, bytes.count))
        let lo = Self.lineIndex(of: clamped, in: lineStarts)
        return (lo - segment(containing: clamped).firstLine + 1, clamped - lineStarts[lo] + 1)
    }

    /// The text of a 1-based line of the first file, without its newline.
    public func lineText(_ line: Int) -> String {
        guard line >= 1, line <= lineStarts.count else { return "" }
        return lineText(index: line - 1)
    }

    /// The text of the line that holds a byte offset, without its newline.
    public func lineText(containing offset: Int) -> String {
        lineText(index: Self.lineIndex(of: max(0, min(offset, bytes.count)), in: lineStarts))
    }

    private func lineText(index: Int) -> String {
        let start = lineStarts[index]
        var end = index + 1 < lineStarts.count ? lineStarts[index + 1] - 1 : bytes.count
        if end > start, end <= bytes.count, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }

    /// The text covered by a range.
    public func text(in range: SourceRange) -> String {
        let s = max(0, min(range.start, bytes.count)), e = max(s, min(range.end, bytes.count))
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }

    /// `path:line:col` for a byte offset, the path of the file that holds it.
    public func location(_ offset: Int) -> String {
        let (l, c) = lineColumn(of: offset)
        return "\(segment(containing: offset).path):\(l):\(c)"
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
