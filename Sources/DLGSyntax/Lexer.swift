import DLGSource

/// Turns source bytes into tokens. Never fails: a malformed token becomes a
/// diagnostic and lexing continues after it.
public struct Lexer {
    let file: SourceFile
    var pos = 0
    public private(set) var diagnostics = Diagnostics()

    /// The end of the bytes to read: the end of the segment being read.
    let end: Int

    public init(file: SourceFile) {
        self.file = file
        self.end = file.bytes.count
    }

    /// Reads the bytes of one segment of a source (one file of several).
    public init(file: SourceFile, segment: SourceFile.Segment) {
        self.file = file
        self.pos = segment.start
        self.end = segment.end
    }

    public static func tokenize(_ file: SourceFile) -> (tokens: [Token], diagnostics: Diagnostics) {
        tokenize(Lexer(file: file))
    }

    /// The tokens of one segment of a source; its end is the end of that file.
    public static func tokenize(_ file: SourceFile, segment: SourceFile.Segment) -> (tokens: [Token], diagnostics: Diagnostics) {
        tokenize(Lexer(file: file, segment: segment))
    }

    private static func tokenize(_ start: Lexer) -> (tokens: [Token], diagnostics: Diagnostics) {
        var lexer = start
        var tokens: [Token] = []
        while true {
            let t = lexer.next()
            tokens.append(t)
            if t.kind == .eof { break }
        }
        return (tokens, lexer.diagnostics)
    }

    private var bytes: [UInt8] { file.bytes }

    private func peek(_ k: Int = 0) -> UInt8? {
        pos + k < end ? bytes[pos + k] : nil
    }

    private static func isIdentStart(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || b == 95
    }
    private static func isIdentContinue(_ b: UInt8) -> Bool { isIdentStart(b) || isDigit(b) }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    public mutating func next() -> Token {
        // Skip spaces, tabs, carriage returns and comments.
        while let b = peek() {
            if b == 32 || b == 9 || b == 13 { pos += 1; continue }
            if b == UInt8(ascii: "#") {
                while let c = peek(), c != 10 { pos += 1 }
                continue
            }
            break
        }
        let start = pos
        guard let b = peek() else { return Token(.eof, .point(end)) }
        if b == 10 {
            pos += 1
            return Token(.newline, SourceRange(start, pos))
        }
        if Lexer.isIdentStart(b) {
            while let c = peek(), Lexer.isIdentContinue(c) { pos += 1 }
            let text = String(decoding: bytes[start..<pos], as: UTF8.self)
            if let kw = Keyword(rawValue: text) { return Token(.keyword(kw), SourceRange(start, pos)) }
            return Token(.identifier(text), SourceRange(start, pos))
        }
        if Lexer.isDigit(b) || (b == UInt8(ascii: ".") && peek(1).map(Lexer.isDigit) == true) {
            return number(start)
        }
        if b == UInt8(ascii: "\"") { return string(start) }
        if let p = punctuation() {
            return Token(.punct(p), SourceRange(start, pos))
        }
        // Unexpected characters: a run of them is one error and one invalid
        // token (a multi-byte UTF-8 sequence is one character).
        var count = 0
        var shownPrefix = ""
        var first = ""
        var printable = true
        while let c = peek(), count == 0 || startsUnexpectedCharacter(c) {
            let s = pos
            pos += 1
            while let d = peek(), d & 0xC0 == 0x80 { pos += 1 }
            if c < 32 || c == 127 { printable = false }
            if count < 16 {
                let shown = String(decoding: bytes[s..<pos], as: UTF8.self)
                if count == 0 { first = SyntaxDiagnostic.describe(character: shown) }
                shownPrefix += shown
            }
            count += 1
        }
        let range = SourceRange(start, pos)
        if count == 1 {
            diagnostics.report(SyntaxDiagnostic.unexpectedCharacter(character: first), at: range)
        } else {
            diagnostics.report(SyntaxDiagnostic.unexpectedCharacters(first: first, shown: shownPrefix, count: count, printable: printable),
                               at: range)
        }
        return Token(.invalid, range)
    }

    /// The punctuation at the current position, longest match first; advances past it.
    private mutating func punctuation() -> Punct? {
        guard let b = peek() else { return nil }
        let next = peek(1)
        func two(_ p: Punct) -> Punct { pos += 2; return p }
        func one(_ p: Punct) -> Punct { pos += 1; return p }
        switch b {
        case UInt8(ascii: "("): return one(.lparen)
        case UInt8(ascii: ")"): return one(.rparen)
        case UInt8(ascii: "["): return one(.lbracket)
        case UInt8(ascii: "]"): return one(.rbracket)
        case UInt8(ascii: "{"): return one(.lbrace)
        case UInt8(ascii: "}"): return one(.rbrace)
        case UInt8(ascii: ","): return one(.comma)
        case UInt8(ascii: ":"): return one(.colon)
        case UInt8(ascii: ";"): return one(.semicolon)
        case UInt8(ascii: "+"): return one(.plus)
        case UInt8(ascii: "-"): return one(.minus)
        case UInt8(ascii: "*"): return one(.star)
        case UInt8(ascii: "/"): return one(.slash)
        case UInt8(ascii: "@"): return one(.at)
        case UInt8(ascii: "%"): return one(.percent)
        case UInt8(ascii: "="): return next == UInt8(ascii: "=") ? two(.equal) : one(.assign)
        case UInt8(ascii: "<"): return next == UInt8(ascii: "=") ? two(.lessEqual) : one(.less)
        case UInt8(ascii: ">"): return next == UInt8(ascii: "=") ? two(.greaterEqual) : one(.greater)
        case UInt8(ascii: "!"): return next == UInt8(ascii: "=") ? two(.notEqual) : one(.not)
        case UInt8(ascii: "&"): return next == UInt8(ascii: "&") ? two(.and) : nil
        case UInt8(ascii: "|"): return next == UInt8(ascii: "|") ? two(.or) : nil
        case UInt8(ascii: "."):
            if next == UInt8(ascii: "."), peek(2) == UInt8(ascii: "<") {
                pos += 3
                return .halfOpenRange
            }
            return one(.dot)
        default: return nil
        }
    }

    /// Whether the byte at the current position starts a character no token can begin with.
    private func startsUnexpectedCharacter(_ b: UInt8) -> Bool {
        switch b {
        case 32, 9, 13, 10, UInt8(ascii: "#"), UInt8(ascii: "\""): return false
        case _ where Lexer.isIdentStart(b) || Lexer.isDigit(b): return false
        case UInt8(ascii: "&"): return peek(1) != UInt8(ascii: "&")
        case UInt8(ascii: "|"): return peek(1) != UInt8(ascii: "|")
        default:
            return !"()[]{},:;+-*/@%=<>!.".utf8.contains(b)
        }
    }

    private mutating func number(_ start: Int) -> Token {
        var isFloat = false
        while let c = peek(), Lexer.isDigit(c) || c == UInt8(ascii: "_") { pos += 1 }
        // A fraction only when a digit follows the dot, so that `0..<3` lexes as 0, ..<, 3.
        if peek() == UInt8(ascii: "."), let d = peek(1), Lexer.isDigit(d) {
            isFloat = true
            pos += 1
            while let c = peek(), Lexer.isDigit(c) || c == UInt8(ascii: "_") { pos += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var k = 1
            if let s = peek(1), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { k = 2 }
            if let d = peek(k), Lexer.isDigit(d) {
                isFloat = true
                pos += k
                while let c = peek(), Lexer.isDigit(c) { pos += 1 }
            } else {
                pos += k
                let range = SourceRange(start, pos)
                diagnostics.report(SyntaxDiagnostic.exponentWithoutDigits(number: file.text(in: range)), at: range)
                return Token(.invalid, range)
            }
        }
        // Letters glued to a number (`3x`, `5px`) are a typo, not two tokens.
        if let c = peek(), Lexer.isIdentStart(c) {
            while let c = peek(), Lexer.isIdentContinue(c) { pos += 1 }
            let range = SourceRange(start, pos)
            diagnostics.report(SyntaxDiagnostic.lettersAfterDigits(number: file.text(in: range)), at: range)
            return Token(.invalid, range)
        }
        let range = SourceRange(start, pos)
        let text = String(file.text(in: range).filter { $0 != "_" })
        if isFloat {
            if let v = Double(text), v.isFinite { return Token(.float(v), range) }
            diagnostics.report(SyntaxDiagnostic.floatTooLarge(number: file.text(in: range)), at: range)
            return Token(.invalid, range)
        }
        if let v = Int(text) { return Token(.integer(v), range) }
        diagnostics.report(SyntaxDiagnostic.integerTooLarge(number: file.text(in: range)), at: range)
        return Token(.invalid, range)
    }

    private mutating func string(_ start: Int) -> Token {
        pos += 1
        var value: [UInt8] = []
        while let c = peek() {
            if c == 10 { break }
            pos += 1
            if c == UInt8(ascii: "\"") { return Token(.string(String(decoding: value, as: UTF8.self)), SourceRange(start, pos)) }
            if c == UInt8(ascii: "\\"), let e = peek() {
                pos += 1
                switch e {
                case UInt8(ascii: "n"): value.append(10)
                case UInt8(ascii: "t"): value.append(9)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): value.append(e)
                default:
                    diagnostics.report(SyntaxDiagnostic.badEscape(sequence: "\\" + String(UnicodeScalar(e))),
                                       at: SourceRange(pos - 2, pos))
                }
                continue
            }
            value.append(c)
        }
        diagnostics.report(SyntaxDiagnostic.unterminatedString, at: SourceRange(start, start + 1))
        return Token(.invalid, SourceRange(start, pos))
    }
}
