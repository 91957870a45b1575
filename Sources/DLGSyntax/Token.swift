import DLGSource

public enum TokenKind: Hashable, Sendable {
    case identifier(String)
    case keyword(Keyword)
    case integer(Int)
    case float(Double)
    case string(String)
    case punct(Punct)
    case newline
    case eof
    /// Text the lexer could not read (unexpected characters, a malformed or
    /// out-of-range number). The lexer has reported it; the parser reads it as
    /// an expression that is already in error and reports nothing more about it.
    case invalid
}

public enum Keyword: String, CaseIterable, Sendable {
    case model, block, train, input, param, output, minimize, `return`
    case `for`, `in`, `if`, then, `else`, `true`, `false`
}

public enum Punct: String, CaseIterable, Sendable {
    case lparen = "(", rparen = ")", lbracket = "[", rbracket = "]", lbrace = "{", rbrace = "}"
    case comma = ",", colon = ":", semicolon = ";", assign = "="
    case plus = "+", minus = "-", star = "*", slash = "/", at = "@", percent = "%"
    case less = "<", greater = ">", lessEqual = "<=", greaterEqual = ">=", equal = "==", notEqual = "!="
    case and = "&&", or = "||", not = "!", halfOpenRange = "..<", dot = "."
}

public struct Token: Sendable, Hashable {
    public var kind: TokenKind
    public var range: SourceRange
    public init(_ kind: TokenKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }
}

extension TokenKind: CustomStringConvertible {
    /// How a token is named in a diagnostic ("expected ')' but found 'model'").
    public var description: String {
        switch self {
        case .identifier(let s): return "identifier '\(s)'"
        case .keyword(let k): return "'\(k.rawValue)'"
        case .integer(let i): return "integer \(i)"
        case .float(let f): return "number \(f)"
        case .string: return "string literal"
        case .punct(let p): return "'\(p.rawValue)'"
        case .newline: return "end of line"
        case .eof: return "end of file"
        case .invalid: return "invalid token"
        }
    }
}
