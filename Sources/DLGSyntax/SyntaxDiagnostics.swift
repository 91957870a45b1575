import DLGSource

/// Every message of the lexer and the parser. The lexer and the parser pick a
/// case and a place; the text, the notes and the ID are written here only.
public enum SyntaxDiagnostic: DiagnosticCatalog {
    public enum Kind: String, CaseIterable, Sendable {
        case unexpectedCharacter = "lex-unexpected-character"
        case badNumber = "lex-bad-number"
        case numberOutOfRange = "lex-number-out-of-range"
        case badEscape = "lex-bad-escape"
        case unterminatedString = "lex-unterminated-string"
        case expectedDeclaration = "syntax-top-level"
        case tooDeep = "syntax-too-deep"
        case expectedToken = "syntax-expected-token"
        case expectedName = "syntax-expected-name"
        case keywordAsName = "syntax-keyword-as-name"
        case unclosedBody = "syntax-unclosed-body"
        case expectedStatementEnd = "syntax-expected-end-of-statement"
        case expectedStatement = "syntax-expected-statement"
        case expectedExpression = "syntax-expected-expression"
        case conditionalAsStatement = "syntax-if-expression-statement"
        case unusedExpression = "syntax-unused-expression"
        case positionalAfterNamed = "syntax-positional-after-named"
        case expectedUseTarget = "syntax-use-target"
        case useMissingFile = "use-missing-file"
        case useUnknownModule = "use-unknown-module"
        case useCycle = "use-cycle"
    }

    /// Where a name is expected: completes "expected …" and "cannot be used as …".
    public enum NameContext: Sendable, Hashable {
        case modelName, blockName, parameterName, trainedModel, settingName, inputName, paramName, outputName
        case loopVariable, dtype

        /// What is expected, and where.
        var expected: String {
            switch self {
            case .modelName: "a model name after 'model'"
            case .blockName: "a block name after 'block'"
            case .parameterName: "a parameter name"
            case .trainedModel: "the name of the model to train after 'train'"
            case .settingName: "a setting name"
            case .inputName: "an input name after 'input'"
            case .paramName: "a parameter name after 'param'"
            case .outputName: "an output name after 'output'"
            case .loopVariable: "a loop variable after 'for'"
            case .dtype: "a dtype (f32, f64 or i32)"
            }
        }

        /// What is expected, without where: "'input' is a keyword and cannot be used as an input name".
        var noun: String {
            switch self {
            case .modelName: "a model name"
            case .blockName: "a block name"
            case .trainedModel: "the name of the model to train"
            case .inputName: "an input name"
            case .paramName: "a parameter name"
            case .outputName: "an output name"
            case .loopVariable: "a loop variable"
            case .parameterName, .settingName, .dtype: expected
            }
        }
    }

    /// Where a token is expected: completes "expected ':' …".
    public enum TokenContext: Sendable, Hashable {
        case afterBlockName, closeParameterList, beginTrainSettings, afterSettingName(String), beginBody(BodyOwner)
        case afterInputName, afterParamName, loopIn, loopRange, closeShape, closeIndex, closeParentheses, closeList
        case closeArguments(callee: String), conditionThen, conditionalElse

        var text: String {
            switch self {
            case .afterBlockName: "after the block name"
            case .closeParameterList: "to close the parameter list"
            case .beginTrainSettings: "to begin the train settings"
            case .afterSettingName(let key): "after setting name '\(key)'"
            case .beginBody(let owner): "to begin \(owner.body)"
            case .afterInputName: "after the input name, then a type such as f32[B, 784]"
            case .afterParamName: "after the parameter name, then a type such as f32[784, 10]"
            case .loopIn: "after the loop variable"
            case .loopRange: "in the loop range (for i in 0..<n)"
            case .closeShape: "to close the shape"
            case .closeIndex: "to close the index"
            case .closeParentheses: "to close the parenthesized expression"
            case .closeList: "to close the list"
            case .closeArguments(let callee): "to close the argument list of '\(callee)'"
            case .conditionThen: "after the condition"
            case .conditionalElse: "in 'if … then … else …'"
            }
        }
    }

    /// What a `{ … }` belongs to.
    public enum BodyOwner: Sendable, Hashable {
        case model(String), block(String), loop, ifBody, elseBody, trainBlock(model: String)

        var body: String {
            switch self {
            case .model(let name): "the body of model '\(name)'"
            case .block(let name): "the body of block '\(name)'"
            case .loop: "the body of the loop"
            case .ifBody: "the body of 'if'"
            case .elseBody: "the body of 'else'"
            case .trainBlock(let model): "the train block of '\(model)'"
            }
        }
    }

    // Lexer
    /// One character no token starts with, as `Lexer` shows it ("character '$'").
    case unexpectedCharacter(character: String)
    /// A run of them: the first, up to 16 shown, how many, and whether all print.
    case unexpectedCharacters(first: String, shown: String, count: Int, printable: Bool)
    case exponentWithoutDigits(number: String)
    case lettersAfterDigits(number: String)
    case floatTooLarge(number: String)
    case integerTooLarge(number: String)
    case badEscape(sequence: String)
    case unterminatedString

    // Parser
    case expectedDeclaration(found: String)
    case nestingTooDeep(limit: Int)
    case expressionTooDeep(limit: Int)
    /// `token` as written (`)`, `in`); `opening` the bracket it would close.
    case expectedToken(token: String, context: TokenContext, found: String, opening: SourceRange? = nil, openingText: String = "")
    case expectedName(NameContext, found: String)
    case keywordAsName(keyword: String, NameContext)
    /// A `}` is missing: at the end of the file (`before` nil) or before a declaration keyword.
    case unclosedBody(BodyOwner, before: String?, opening: SourceRange)
    case expectedStatementEnd(found: String)
    case expectedStatement(found: String)
    case expectedExpression(found: String)
    case conditionalAsStatement
    case unusedExpression
    case positionalAfterNamed(callee: String)
    case expectedUseTarget(found: String)
    // Reading the files a file uses
    /// `path` as written; `resolved` where it was looked for; `reason` the system's.
    case useMissingFile(path: String, resolved: String, reason: String)
    case useUnknownModule(name: String, known: [String])
    /// `chain`: the files from the one used again back to it ("a.dlg", "b.dlg", "a.dlg");
    /// `earlier`: the `use` lines of the cycle before the one reported, `chain[i]`'s use of `chain[i + 1]`.
    case useCycle(chain: [String], earlier: [SourceRange])

    public static let phase = "syntax"

    public var kind: Kind {
        switch self {
        case .unexpectedCharacter, .unexpectedCharacters: .unexpectedCharacter
        case .exponentWithoutDigits, .lettersAfterDigits: .badNumber
        case .floatTooLarge, .integerTooLarge: .numberOutOfRange
        case .badEscape: .badEscape
        case .unterminatedString: .unterminatedString
        case .expectedDeclaration: .expectedDeclaration
        case .nestingTooDeep, .expressionTooDeep: .tooDeep
        case .expectedToken: .expectedToken
        case .expectedName: .expectedName
        case .keywordAsName: .keywordAsName
        case .unclosedBody: .unclosedBody
        case .expectedStatementEnd: .expectedStatementEnd
        case .expectedStatement: .expectedStatement
        case .expectedExpression: .expectedExpression
        case .conditionalAsStatement: .conditionalAsStatement
        case .unusedExpression: .unusedExpression
        case .positionalAfterNamed: .positionalAfterNamed
        case .expectedUseTarget: .expectedUseTarget
        case .useMissingFile: .useMissingFile
        case .useUnknownModule: .useUnknownModule
        case .useCycle: .useCycle
        }
    }

    public var message: String {
        switch self {
        case .unexpectedCharacter(let c): "unexpected \(c)"
        case .unexpectedCharacters(let first, let shown, let count, let printable):
            "unexpected " + (printable && count <= 16 ? "characters '\(shown)'"
                : printable ? "characters '\(shown)…' (\(count) of them)"
                : "\(count) characters, starting with \(first)")
        case .exponentWithoutDigits(let n): "malformed number '\(n)': the exponent has no digits"
        case .lettersAfterDigits(let n): "malformed number '\(n)': letters directly after digits"
        case .floatTooLarge(let n): "number '\(n)' is too large for a 64-bit float (at most about 1.8e308)"
        case .integerTooLarge(let n): "integer '\(n)' does not fit in 64 bits (at most 9223372036854775807)"
        case .badEscape(let s): "unknown escape sequence '\(s)' in string"
        case .unterminatedString: "unterminated string literal"
        case .expectedDeclaration(let found): "expected 'model', 'block', 'train' or 'use' at top level, found \(found)"
        case .expectedUseTarget(let found): "expected a file path in quotes or a library module name after 'use', found \(found)"
        case .useMissingFile(let path, let resolved, let reason):
            resolved == path ? "cannot use '\(path)': \(reason)" : "cannot use '\(path)' (\(resolved)): \(reason)"
        case .useUnknownModule(let name, let known):
            "no library module '\(name)'; the bundled library has " + known.joined(separator: ", ")
        case .useCycle(let chain, _): "'\(chain.first ?? "")' uses itself: " + chain.joined(separator: " → ")
        case .nestingTooDeep(let limit):
            "nesting is too deep: more than \(limit) levels of brackets, calls, operators or bodies"
        case .expressionTooDeep(let limit): "expression is too deep: more than \(limit) nested operations"
        case .expectedToken(let token, let context, let found, _, _): "expected '\(token)' \(context.text), found \(found)"
        case .expectedName(let context, let found): "expected \(context.expected), found \(found)"
        case .keywordAsName(let keyword, let context): "'\(keyword)' is a keyword and cannot be used as \(context.noun)"
        case .unclosedBody(let owner, let before, _):
            "expected '}' to close \(owner.body)" + (before.map { " before \($0)" } ?? ", found end of file")
        case .expectedStatementEnd(let found): "expected end of line after the statement, found \(found)"
        case .expectedStatement(let found): "expected a statement, found \(found)"
        case .expectedExpression(let found): "expected an expression, found \(found)"
        case .conditionalAsStatement: "an 'if … then … else …' expression must be assigned to a name"
        case .unusedExpression: "expression result is unused; assign it to a name, or mark it with 'output' or 'minimize'"
        case .positionalAfterNamed(let callee): "positional argument after a named argument in call to '\(callee)'"
        }
    }

    public var notes: [DiagnosticNote] {
        switch self {
        case .unterminatedString: [DiagnosticNote("a string must close with '\"' on the same line")]
        case .nestingTooDeep, .expressionTooDeep: [DiagnosticNote("split the expression with intermediate names")]
        case .expectedToken(_, let context, _, let opening, let text):
            (opening.map { [DiagnosticNote("to match this '\(text)'", at: $0)] } ?? [])
                + (context == .conditionalElse ? [DiagnosticNote("an 'if' expression needs both branches")] : [])
        case .unclosedBody(_, _, let opening): [DiagnosticNote("to match this '{'", at: opening)]
        case .useMissingFile: [DiagnosticNote("a quoted path is relative to the file that uses it; a bare name is a module of the bundled library")]
        case .useCycle(let chain, let earlier):
            earlier.enumerated().map { i, r in
                DiagnosticNote("'\(chain[min(i, chain.count - 1)])' uses '\(chain[min(i + 1, chain.count - 1)])' here", at: r)
            }
        case .conditionalAsStatement:
            [DiagnosticNote("write 'name = if … then … else …', or use 'if cond { … }' for statements")]
        default: []
        }
    }

    /// How the lexer shows a character it cannot read: `character '$'`,
    /// `character 'é' (U+00E9)`, `control character U+0007`.
    public static func describe(character shown: String) -> String {
        guard let s = shown.unicodeScalars.first else { return "character ''" }
        if s.value < 32 || s.value == 127 {
            return "control character U+" + hex(s.value)
        }
        if shown.unicodeScalars.count == 1, s.value > 127 {
            return "character '\(shown)' (U+\(hex(s.value)))"
        }
        return "character '\(shown)'"
    }

    private static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    public static let examples: [SyntaxDiagnostic] = [
        .unexpectedCharacter(character: describe(character: "$")),
        .unexpectedCharacters(first: describe(character: "$"), shown: "$$$", count: 3, printable: true),
        .unexpectedCharacters(first: describe(character: "\u{7}"), shown: "", count: 20, printable: false),
        .exponentWithoutDigits(number: "‹number›"),
        .lettersAfterDigits(number: "‹number›"),
        .floatTooLarge(number: "‹number›"),
        .integerTooLarge(number: "‹number›"),
        .badEscape(sequence: "\\q"),
        .unterminatedString,
        .expectedDeclaration(found: "‹token›"),
        .nestingTooDeep(limit: 256),
        .expressionTooDeep(limit: 256),
        .expectedToken(token: ")", context: .closeArguments(callee: "‹name›"), found: "‹token›", opening: .point(0), openingText: "("),
        .expectedToken(token: "else", context: .conditionalElse, found: "‹token›"),
        .expectedName(.inputName, found: "‹token›"),
        .keywordAsName(keyword: "‹keyword›", .inputName),
        .unclosedBody(.model("‹name›"), before: nil, opening: .point(0)),
        .unclosedBody(.model("‹name›"), before: "‹keyword›", opening: .point(0)),
        .expectedStatementEnd(found: "‹token›"),
        .expectedStatement(found: "‹token›"),
        .expectedExpression(found: "‹token›"),
        .conditionalAsStatement,
        .unusedExpression,
        .positionalAfterNamed(callee: "‹name›"),
        .expectedUseTarget(found: "‹token›"),
        .useMissingFile(path: "‹path›", resolved: "‹resolved path›", reason: "‹reason›"),
        .useUnknownModule(name: "‹name›", known: ["‹modules›"]),
        .useCycle(chain: ["‹a.dlg›", "‹b.dlg›", "‹a.dlg›"], earlier: [.point(0)]),
    ]
}
