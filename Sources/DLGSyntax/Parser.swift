import DLGSource

/// A recursive-descent parser with error recovery: a syntax error is
/// reported, the parser skips to the end of the statement, and parsing goes on,
/// so that one run reports every independent error in a file.
public struct Parser {
    let file: SourceFile
    var tokens: [Token]
    var index = 0
    /// Inside (), [] newlines are not significant.
    var bracketDepth = 0
    var lastEnd = 0
    /// How many expressions and bodies the parser is inside (bounded by `maxDepth`).
    var nesting = 0
    /// The index of a top-level keyword (`model`, `block`, `train`) that ended
    /// an unclosed body; the missing '}' is reported once, by the innermost body.
    var unclosedBodyEndedAt: Int?
    /// Index of the first token of the statement being parsed, and of the last
    /// invalid token read: a syntax error in a statement that holds an invalid
    /// token follows from the lexical error and is not reported.
    var statementStart = 0
    var lastInvalidToken = -1
    /// The name a statement declares, once read: if the rest of the statement
    /// fails to parse, the name is still defined (as an error value), so that
    /// its uses are not reported as unknown.
    var declaredName: Identifier?
    public private(set) var diagnostics: Diagnostics

    /// The deepest nesting of brackets, calls, operators and bodies the parser
    /// accepts; deeper input is an error, not a stack overflow.
    public static let maxDepth = 256

    public init(file: SourceFile) {
        self.file = file
        let (tokens, diags) = Lexer.tokenize(file)
        self.tokens = tokens
        self.diagnostics = diags
    }

    /// Parses one segment of a source (one file of several).
    public init(file: SourceFile, segment: SourceFile.Segment) {
        self.file = file
        let (tokens, diags) = Lexer.tokenize(file, segment: segment)
        self.tokens = tokens
        self.diagnostics = diags
    }

    /// Lex and parse a file; the unit is returned even when there are errors.
    /// A source of several files (`use`) is parsed file by file: the first
    /// gives every declaration, the files it uses only their blocks; the
    /// problems found while reading them come first.
    public static func parse(_ file: SourceFile) -> (unit: SourceUnit, diagnostics: Diagnostics) {
        guard file.segments.count > 1 || !file.loadDiagnostics.isEmpty else {
            var p = Parser(file: file)
            let unit = p.parseUnit()
            return (unit, p.diagnostics)
        }
        var diagnostics = Diagnostics()
        diagnostics.append(contentsOf: file.loadDiagnostics)
        var declarations: [Declaration] = []
        for (k, segment) in file.segments.enumerated() {
            var p = Parser(file: file, segment: segment)
            let unit = p.parseUnit()
            diagnostics.append(contentsOf: p.diagnostics.all)
            declarations += k == 0 ? unit.declarations : unit.declarations.filter {
                if case .block = $0 { return true }
                return false
            }
        }
        return (SourceUnit(file: file, declarations: declarations), diagnostics)
    }

    // MARK: Token access

    private var current: Token {
        var i = index
        if bracketDepth > 0 {
            while tokens[i].kind == .newline { i += 1 }
        }
        return tokens[i]
    }

    /// The kind of the token `k` positions ahead (newlines skipped inside brackets).
    private func peekKind(_ k: Int) -> TokenKind {
        var i = index, n = 0
        while true {
            if bracketDepth > 0 { while tokens[i].kind == .newline { i += 1 } }
            if n == k || tokens[i].kind == .eof { return tokens[i].kind }
            i += 1
            n += 1
        }
    }

    @discardableResult
    private mutating func advance() -> Token {
        if bracketDepth > 0 { while tokens[index].kind == .newline { index += 1 } }
        let t = tokens[index]
        if t.kind != .eof { index += 1 }
        lastEnd = t.range.end
        return t
    }

    private func at(_ p: Punct) -> Bool { current.kind == .punct(p) }
    private func at(_ k: Keyword) -> Bool { current.kind == .keyword(k) }

    private mutating func skipNewlines() {
        while tokens[index].kind == .newline { index += 1 }
    }

    /// Skips newlines if, after them, the next token is one of `kinds`.
    private mutating func skipNewlines(before kinds: [TokenKind]) {
        var i = index
        while tokens[i].kind == .newline { i += 1 }
        if kinds.contains(tokens[i].kind) { index = i }
    }

    struct SyntaxError: Error {}

    /// Reports a syntax error about the current token, unless that token is
    /// one the lexer already reported as invalid.
    private mutating func syntaxError(_ message: SyntaxDiagnostic, at range: SourceRange) {
        if current.kind == .invalid || lastInvalidToken >= statementStart { return }
        diagnostics.report(message, at: range)
    }

    /// Enters one level of nesting; deeper than `maxDepth` is an error.
    private mutating func enter(_ range: SourceRange) throws(SyntaxError) {
        nesting += 1
        if nesting > Parser.maxDepth {
            nesting -= 1
            diagnostics.report(SyntaxDiagnostic.nestingTooDeep(limit: Parser.maxDepth), at: range)
            throw SyntaxError()
        }
    }

    /// An expression tree deeper than `maxDepth` (a long chain of operators) is an error.
    private mutating func checkDepth(_ e: Expr, at range: SourceRange) throws(SyntaxError) {
        if e.depth > Parser.maxDepth {
            diagnostics.report(SyntaxDiagnostic.expressionTooDeep(limit: Parser.maxDepth), at: range)
            throw SyntaxError()
        }
    }

    /// The place to report a missing token: right after the previous one when
    /// the current token starts a new line, otherwise the current token.
    private func missingTokenRange() -> SourceRange {
        let t = tokens[index]
        if t.kind == .newline || t.kind == .eof || (index > 0 && tokens[index - 1].kind == .newline && bracketDepth == 0) {
            return .point(lastEnd)
        }
        return current.range
    }

    private mutating func expect(_ p: Punct, _ context: SyntaxDiagnostic.TokenContext,
                                 openedAt: SourceRange? = nil) throws(SyntaxError) -> Token {
        if at(p) { return advance() }
        expected(p.rawValue, context, openedAt: openedAt)
        throw SyntaxError()
    }

    /// Reports a missing token (punctuation or keyword) where it belongs.
    private mutating func expected(_ token: String, _ context: SyntaxDiagnostic.TokenContext, openedAt: SourceRange? = nil) {
        syntaxError(.expectedToken(token: token, context: context, found: current.kind.description, opening: openedAt,
                                   openingText: openedAt.map { file.text(in: $0) } ?? ""),
                    at: missingTokenRange())
    }

    private mutating func expectIdentifier(_ context: SyntaxDiagnostic.NameContext) throws(SyntaxError) -> Identifier {
        if case .identifier(let name) = current.kind {
            let t = advance()
            return Identifier(name, t.range)
        }
        if case .keyword(let k) = current.kind {
            diagnostics.report(SyntaxDiagnostic.keywordAsName(keyword: k.rawValue, context), at: current.range)
            throw SyntaxError()
        }
        syntaxError(.expectedName(context, found: current.kind.description), at: missingTokenRange())
        throw SyntaxError()
    }

    /// Skip to the end of the current statement (a newline at bracket depth
    /// zero, a ';'), stopping before a '}' that closes the enclosing body.
    private mutating func synchronize() {
        bracketDepth = 0
        var depth = 0
        while true {
            let k = tokens[index].kind
            switch k {
            case .eof: return
            case .newline where depth == 0: index += 1; return
            case .punct(.semicolon) where depth == 0: index += 1; return
            case .punct(.lbrace): depth += 1
            case .punct(.rbrace):
                if depth == 0 { return }
                depth -= 1
            default: break
            }
            index += 1
        }
    }

    // MARK: Declarations

    public mutating func parseUnit() -> SourceUnit {
        var decls: [Declaration] = []
        while true {
            skipNewlines()
            if current.kind == .eof { break }
            statementStart = index
            do throws(SyntaxError) {
                switch current.kind {
                case .keyword(.model): decls.append(.model(try parseModel()))
                case .keyword(.block): decls.append(.block(try parseBlock()))
                case .keyword(.train): decls.append(.train(try parseTrain()))
                case .identifier("use"):
                    decls.append(.use(try parseUse()))
                default:
                    syntaxError(.expectedDeclaration(found: current.kind.description), at: current.range)
                    throw SyntaxError()
                }
            } catch {
                skipToTopLevel()
            }
        }
        return SourceUnit(file: file, declarations: decls)
    }

    /// After an error outside any body: skip to the next line that starts a declaration.
    private mutating func skipToTopLevel() {
        bracketDepth = 0
        var depth = 0
        while current.kind != .eof {
            let t = advance()
            if t.kind == .punct(.lbrace) { depth += 1 }
            if t.kind == .punct(.rbrace) {
                depth -= 1
                if depth <= 0 { return }
            }
            if t.kind == .newline, depth <= 0 {
                if case .keyword(let k) = current.kind, [.model, .block, .train].contains(k) { return }
            }
        }
    }

    /// `use "file.dlg"` or `use name`, alone on its line.
    private mutating func parseUse() throws(SyntaxError) -> UseDecl {
        let start = advance().range
        let target: UseDecl.Target
        let t = current
        switch t.kind {
        case .string(let path): target = .file(path)
        case .identifier(let name): target = .library(name)
        default:
            syntaxError(.expectedUseTarget(found: t.kind.description), at: t.range)
            throw SyntaxError()
        }
        advance()
        if current.kind != .newline && current.kind != .eof {
            syntaxError(.expectedStatementEnd(found: current.kind.description), at: current.range)
            throw SyntaxError()
        }
        return UseDecl(target: target, targetRange: t.range, range: start.union(t.range))
    }

    private mutating func parseModel() throws(SyntaxError) -> ModelDecl {
        let start = advance().range
        let name = try expectIdentifier(.modelName)
        // Optional compile-time parameters with defaults, set from the command line with --bind.
        let params = at(.lparen) ? try parseParameterList() : []
        let body = try parseBody(.model(name.name))
        return ModelDecl(name: name, parameters: params, body: body, range: start.union(.point(lastEnd)))
    }

    private mutating func parseBlock() throws(SyntaxError) -> BlockDecl {
        let start = advance().range
        let name = try expectIdentifier(.blockName)
        guard at(.lparen) else {
            _ = try expect(.lparen, .afterBlockName)
            throw SyntaxError()
        }
        let params = try parseParameterList()
        let body = try parseBody(.block(name.name))
        return BlockDecl(name: name, parameters: params, body: body, range: start.union(.point(lastEnd)))
    }

    /// `(a, b = 2, …)` after a block or model name.
    private mutating func parseParameterList() throws(SyntaxError) -> [BlockParameter] {
        let open = advance().range
        bracketDepth += 1
        var params: [BlockParameter] = []
        while !at(.rparen) {
            let p = try expectIdentifier(.parameterName)
            var def: Expr?
            if at(.assign) {
                advance()
                def = try parseExpr()
            }
            params.append(BlockParameter(name: p, defaultValue: def))
            if at(.comma) { advance(); continue }
            if !at(.rparen) { _ = try expect(.rparen, .closeParameterList, openedAt: open) }
        }
        bracketDepth -= 1
        advance()
        return params
    }

    private mutating func parseTrain() throws(SyntaxError) -> TrainDecl {
        let start = advance().range
        let model = try expectIdentifier(.trainedModel)
        let open = try expect(.lbrace, .beginTrainSettings).range
        var settings: [TrainSetting] = []
        while true {
            skipNewlines()
            if at(.rbrace) { advance(); break }
            if current.kind == .eof {
                diagnostics.report(SyntaxDiagnostic.unclosedBody(.trainBlock(model: model.name), before: nil, opening: open),
                                   at: .point(lastEnd))
                throw SyntaxError()
            }
            if atDeclarationStart() {
                diagnostics.report(SyntaxDiagnostic.unclosedBody(.trainBlock(model: model.name), before: current.kind.description,
                                                                 opening: open),
                                   at: .point(endOfPreviousToken()))
                break
            }
            statementStart = index
            do throws(SyntaxError) {
                let key = try expectIdentifier(.settingName)
                _ = try expect(.assign, .afterSettingName(key.name))
                let value = try parseExpr()
                settings.append(TrainSetting(key: key, value: value))
                try expectStatementEnd()
            } catch {
                synchronize()
            }
        }
        return TrainDecl(model: model, settings: settings, range: start.union(.point(lastEnd)))
    }

    /// Whether the current token begins a top-level declaration.
    private func atDeclarationStart() -> Bool {
        if case .keyword(let k) = current.kind, k == .model || k == .block || k == .train { return true }
        return false
    }

    /// Where the token before the current one (newlines skipped) ends.
    private func endOfPreviousToken() -> Int {
        var i = index - 1
        while i >= 0, tokens[i].kind == .newline { i -= 1 }
        return i >= 0 ? tokens[i].range.end : 0
    }

    /// `{ statements }`; `owner` names it in messages ("the body of model 'm'", "the body of the loop").
    private mutating func parseBody(_ owner: SyntaxDiagnostic.BodyOwner) throws(SyntaxError) -> [Statement] {
        let open = try expect(.lbrace, .beginBody(owner))
        try enter(open.range)
        defer { nesting -= 1 }
        var body: [Statement] = []
        while true {
            skipNewlines()
            if at(.rbrace) { advance(); return body }
            if current.kind == .eof {
                diagnostics.report(SyntaxDiagnostic.unclosedBody(owner, before: nil, opening: open.range), at: .point(lastEnd))
                throw SyntaxError()
            }
            // A declaration keyword inside a body: the body's '}' is missing.
            // Report it once (in the innermost body) and let the declaration parse.
            if atDeclarationStart() {
                if unclosedBodyEndedAt != index {
                    unclosedBodyEndedAt = index
                    diagnostics.report(SyntaxDiagnostic.unclosedBody(owner, before: current.kind.description, opening: open.range),
                                       at: .point(endOfPreviousToken()))
                }
                return body
            }
            statementStart = index
            declaredName = nil
            do throws(SyntaxError) {
                body.append(try parseStatement())
                declaredName = nil  // parsed whole: nothing to recover
                try expectStatementEnd()
            } catch {
                if let name = declaredName {
                    body.append(Statement(.assign(name, Expr(.error, name.range)), name.range))
                }
                synchronize()
            }
        }
    }

    private mutating func expectStatementEnd() throws(SyntaxError) {
        // A body inside the statement ended at a declaration keyword (its '}'
        // is missing, and was reported): the statement ends there too.
        if unclosedBodyEndedAt == index { return }
        switch tokens[index].kind {
        case .newline, .eof, .punct(.rbrace): return
        case .punct(.semicolon): index += 1
        default:
            syntaxError(.expectedStatementEnd(found: current.kind.description), at: current.range)
            throw SyntaxError()
        }
    }

    // MARK: Statements

    private mutating func parseStatement() throws(SyntaxError) -> Statement {
        let start = current.range
        switch current.kind {
        case .keyword(.input):
            advance()
            let name = try expectIdentifier(.inputName)
            declaredName = name
            _ = try expect(.colon, .afterInputName)
            let type = try parseType()
            return Statement(.input(name, type), start.union(.point(lastEnd)))
        case .keyword(.param):
            advance()
            let name = try expectIdentifier(.paramName)
            declaredName = name
            _ = try expect(.colon, .afterParamName)
            let type = try parseType()
            var initializer: Expr?
            if at(.assign) {
                advance()
                initializer = try parseExpr()
            }
            return Statement(.param(name, type, initializer), start.union(.point(lastEnd)))
        case .keyword(.output):
            advance()
            let name = try expectIdentifier(.outputName)
            declaredName = name
            var value: Expr?
            if at(.assign) {
                advance()
                value = try parseExpr()
            }
            return Statement(.output(name, value), start.union(.point(lastEnd)))
        case .keyword(.minimize):
            advance()
            return Statement(.minimize(try parseExpr()), start.union(.point(lastEnd)))
        case .keyword(.return):
            advance()
            return Statement(.return(try parseExpr()), start.union(.point(lastEnd)))
        case .keyword(.for):
            advance()
            let v = try expectIdentifier(.loopVariable)
            if !at(.in) {
                expected("in", .loopIn)
                throw SyntaxError()
            }
            advance()
            let lo = try parseExpr()
            _ = try expect(.halfOpenRange, .loopRange)
            let hi = try parseExpr()
            let body = try parseBody(.loop)
            return Statement(.forLoop(v, lo, hi, body), start.union(.point(lastEnd)))
        case .keyword(.if):
            advance()
            let cond = try parseExpr()
            if at(.then) {
                diagnostics.report(SyntaxDiagnostic.conditionalAsStatement, at: start)
                throw SyntaxError()
            }
            let thenBody = try parseBody(.ifBody)
            var elseBody: [Statement]?
            skipNewlines(before: [.keyword(.else)])
            if at(.else) {
                advance()
                if at(.if) {
                    try enter(current.range)
                    defer { nesting -= 1 }
                    let nested = try parseStatement()
                    elseBody = [nested]
                } else {
                    elseBody = try parseBody(.elseBody)
                }
            }
            return Statement(.ifStatement(cond, thenBody, elseBody), start.union(.point(lastEnd)))
        case .identifier(let name):
            if peekKind(1) == .punct(.assign) {
                let id = Identifier(name, advance().range)
                declaredName = id
                advance()
                let value = try parseExpr()
                return Statement(.assign(id, value), start.union(.point(lastEnd)))
            }
            let e = try parseExpr()
            diagnostics.report(SyntaxDiagnostic.unusedExpression, at: e.range)
            throw SyntaxError()
        default:
            syntaxError(.expectedStatement(found: current.kind.description), at: current.range)
            throw SyntaxError()
        }
    }

    private mutating func parseType() throws(SyntaxError) -> TypeExpr {
        let dtype = try expectIdentifier(.dtype)
        if !at(.lbracket) {
            // A bare dtype is a scalar.
            return TypeExpr(dtype: dtype, dims: [], range: dtype.range)
        }
        let open = advance().range
        bracketDepth += 1
        defer { bracketDepth -= 1 }
        if at(.star), peekKind(1) == .punct(.rbracket) {
            advance()
            let close = advance().range
            return TypeExpr(dtype: dtype, dims: nil, range: dtype.range.union(close))
        }
        var dims: [Expr] = []
        while !at(.rbracket) {
            dims.append(try parseExpr())
            if at(.comma) { advance(); continue }
            if !at(.rbracket) { _ = try expect(.rbracket, .closeShape, openedAt: open) }
        }
        let close = advance().range
        return TypeExpr(dtype: dtype, dims: dims, range: dtype.range.union(close))
    }

    // MARK: Expressions

    mutating func parseExpr() throws(SyntaxError) -> Expr {
        if at(.if) {
            try enter(current.range)
            defer { nesting -= 1 }
            let start = advance().range
            let cond = try parseExpr()
            skipNewlines(before: [.keyword(.then)])
            if !at(.then) {
                expected("then", .conditionThen)
                throw SyntaxError()
            }
            advance()
            let a = try parseExpr()
            skipNewlines(before: [.keyword(.else)])
            if !at(.else) {
                expected("else", .conditionalElse)
                throw SyntaxError()
            }
            advance()
            let b = try parseExpr()
            let e = Expr(.conditional(cond, a, b), start.union(b.range))
            try checkDepth(e, at: start)
            return e
        }
        return try parseBinary(0)
    }

    private func binaryOperator(_ k: TokenKind) -> BinaryOperator? {
        guard case .punct(let p) = k else { return nil }
        return BinaryOperator(rawValue: p.rawValue)
    }

    private mutating func parseBinary(_ minPrecedence: Int) throws(SyntaxError) -> Expr {
        var lhs = try parseUnary()
        while let op = binaryOperator(current.kind), op.precedence > minPrecedence {
            let opRange = advance().range
            skipNewlines()
            let rhs = try parseBinary(op.precedence)
            lhs = Expr(.binary(op, lhs, rhs, operatorRange: opRange), lhs.range.union(rhs.range))
            try checkDepth(lhs, at: opRange)
        }
        return lhs
    }

    private mutating func parseUnary() throws(SyntaxError) -> Expr {
        if at(.minus) || at(.not) {
            try enter(current.range)
            defer { nesting -= 1 }
            let t = advance()
            let operand = try parseUnary()
            let op: UnaryOperator = t.kind == .punct(.minus) ? .negate : .not
            // Fold a minus into a numeric literal so that `-1` is one literal.
            if op == .negate {
                if case .integer(let v) = operand.kind { return Expr(.integer(-v), t.range.union(operand.range)) }
                if case .float(let v) = operand.kind { return Expr(.float(-v), t.range.union(operand.range)) }
            }
            return Expr(.unary(op, operand), t.range.union(operand.range))
        }
        return try parsePostfix()
    }

    private mutating func parsePostfix() throws(SyntaxError) -> Expr {
        var e = try parsePrimary()
        while true {
            // An index must follow on the same line (outside brackets), so that
            // a list literal on the next line is never read as an index.
            if tokens[index].kind == .punct(.lbracket) || (bracketDepth > 0 && at(.lbracket)) {
                try enter(current.range)
                defer { nesting -= 1 }
                let open = advance().range
                bracketDepth += 1
                let i = try parseExpr()
                let close = try expect(.rbracket, .closeIndex, openedAt: open)
                bracketDepth -= 1
                e = Expr(.index(e, i), e.range.union(close.range))
                try checkDepth(e, at: open)
                continue
            }
            return e
        }
    }

    private mutating func parsePrimary() throws(SyntaxError) -> Expr {
        let t = current
        switch t.kind {
        case .integer(let v): advance(); return Expr(.integer(v), t.range)
        case .float(let v): advance(); return Expr(.float(v), t.range)
        case .string(let s): advance(); return Expr(.string(s), t.range)
        case .keyword(.true): advance(); return Expr(.bool(true), t.range)
        case .keyword(.false): advance(); return Expr(.bool(false), t.range)
        case .keyword(.if): return try parseExpr()
        case .invalid:
            // Already reported by the lexer.
            lastInvalidToken = index
            advance()
            return Expr(.error, t.range)
        case .identifier(let name):
            advance()
            if tokens[index].kind == .punct(.lparen) || (bracketDepth > 0 && at(.lparen)) {
                return try parseCall(Identifier(name, t.range))
            }
            return Expr(.name(name), t.range)
        case .punct(.lparen):
            try enter(t.range)
            defer { nesting -= 1 }
            advance()
            bracketDepth += 1
            let e = try parseExpr()
            let close = try expect(.rparen, .closeParentheses, openedAt: t.range)
            bracketDepth -= 1
            return Expr(e.kind, t.range.union(close.range))
        case .punct(.lbracket):
            try enter(t.range)
            defer { nesting -= 1 }
            advance()
            bracketDepth += 1
            var items: [Expr] = []
            while !at(.rbracket) {
                items.append(try parseExpr())
                if at(.comma) { advance(); continue }
                if !at(.rbracket) { _ = try expect(.rbracket, .closeList, openedAt: t.range) }
            }
            let close = advance()
            bracketDepth -= 1
            return Expr(.list(items), t.range.union(close.range))
        default:
            syntaxError(.expectedExpression(found: t.kind.description), at: missingTokenRange())
            throw SyntaxError()
        }
    }

    private mutating func parseCall(_ callee: Identifier) throws(SyntaxError) -> Expr {
        try enter(current.range)
        defer { nesting -= 1 }
        let open = advance().range
        bracketDepth += 1
        var args: [CallArgument] = []
        var sawLabel = false
        while !at(.rparen) {
            var label: Identifier?
            if case .identifier(let name) = current.kind, peekKind(1) == .punct(.colon) {
                label = Identifier(name, advance().range)
                advance()
                sawLabel = true
            } else if sawLabel {
                let e = try parseExpr()
                diagnostics.report(SyntaxDiagnostic.positionalAfterNamed(callee: callee.name), at: e.range)
                args.append(CallArgument(label: nil, value: e))
                if at(.comma) { advance() }
                continue
            }
            let value = try parseExpr()
            args.append(CallArgument(label: label, value: value))
            if at(.comma) { advance(); continue }
            if !at(.rparen) {
                _ = try expect(.rparen, .closeArguments(callee: callee.name), openedAt: open)
            }
        }
        let close = advance()
        bracketDepth -= 1
        return Expr(.call(callee, args), callee.range.union(close.range))
    }
}
