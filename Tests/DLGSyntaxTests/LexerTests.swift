import Testing
import DLGSource
@testable import DLGSyntax

private func kinds(_ text: String) -> [TokenKind] {
    Lexer.tokenize(SourceFile(path: "t.dlg", text: text)).tokens.map(\.kind)
}

@Suite struct LexerTests {
    @Test func rangeIsNotAFloat() {
        #expect(kinds("0..<3") == [.integer(0), .punct(.halfOpenRange), .integer(3), .eof])
    }

    @Test func numbers() {
        #expect(kinds("1e-3 2.5 .5 7") == [.float(0.001), .float(2.5), .float(0.5), .integer(7), .eof])
    }

    @Test func keywordsIdentifiersAndComments() {
        #expect(kinds("model m { # comment\n}") == [
            .keyword(.model), .identifier("m"), .punct(.lbrace), .newline, .punct(.rbrace), .eof,
        ])
    }

    @Test func twoCharacterOperators() {
        #expect(kinds("a <= b != c && d || !e") == [
            .identifier("a"), .punct(.lessEqual), .identifier("b"), .punct(.notEqual), .identifier("c"),
            .punct(.and), .identifier("d"), .punct(.or), .punct(.not), .identifier("e"), .eof,
        ])
    }

    @Test func unexpectedCharacterIsReportedAsAnInvalidToken() {
        let file = SourceFile(path: "t.dlg", text: "a $ b")
        let (tokens, diags) = Lexer.tokenize(file)
        #expect(tokens.map(\.kind) == [.identifier("a"), .invalid, .identifier("b"), .eof])
        #expect(diags.all.count == 1)
        #expect(diags.all[0].message == "unexpected character '$'")
        #expect(file.lineColumn(of: diags.all[0].range.start) == (1, 3))
    }

    @Test func longRunOfUnexpectedCharactersIsOneToken() {
        // 100,000 '$' in a row: one token, one error, and no recursion per character.
        let file = SourceFile(path: "t.dlg", text: "a " + String(repeating: "$", count: 100_000) + " b")
        let (tokens, diags) = Lexer.tokenize(file)
        #expect(tokens.map(\.kind) == [.identifier("a"), .invalid, .identifier("b"), .eof])
        #expect(tokens[1].range == SourceRange(2, 100_002))
        #expect(diags.all.map(\.message) == ["unexpected characters '$$$$$$$$$$$$$$$$…' (100000 of them)"])
    }

    @Test func malformedNumbersAreInvalidTokens() {
        let (tokens, diags) = Lexer.tokenize(SourceFile(path: "t.dlg", text: "3x 1e 99999999999999999999 1e400 7"))
        #expect(tokens.map(\.kind) == [.invalid, .invalid, .invalid, .invalid, .integer(7), .eof])
        #expect(diags.all.count == 4)
    }

    @Test func lineTable() {
        let file = SourceFile(path: "t.dlg", text: "ab\ncd\n\nef")
        #expect(file.lineColumn(of: 0) == (1, 1))
        #expect(file.lineColumn(of: 3) == (2, 1))
        #expect(file.lineColumn(of: 4) == (2, 2))
        #expect(file.lineColumn(of: 7) == (4, 1))
        #expect(file.lineText(2) == "cd")
        #expect(file.lineText(3) == "")
    }

    @Test func formatterDrawsCaretAndTildes() {
        let file = SourceFile(path: "m.dlg", text: "model m {\n    y = foo(x)\n}\n")
        let d = Diagnostic(SyntaxDiagnostic.unexpectedCharacter(character: "character '$'"), at: SourceRange(18, 21))
        #expect(d.id == "lex-unexpected-character")
        #expect(DiagnosticsFormatter().format(d, in: file) == """
            m.dlg:2:9: error: unexpected character '$'
                    y = foo(x)
                        ^~~

            """)
    }
}
