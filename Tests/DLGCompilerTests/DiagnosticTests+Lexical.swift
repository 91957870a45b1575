import Testing

/// Lexical errors: characters no token starts with, strings and numbers that
/// cannot be read. Each is reported once, at the offending text, and the
/// parser and elaborator add nothing about it.
@Suite struct LexicalDiagnosticTests {
    @Test func unexpectedCharacter() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = relu(x) ①$① 2     #! ① error[lex-unexpected-character]: unexpected character '$'
            }
            """)
    }

    @Test func runOfUnexpectedCharactersIsOneError() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = x ①`~?①      #! ① error[lex-unexpected-character]: unexpected characters '`~?'
            }
            """)
    }

    @Test func nonASCIICharacterIsNamedWithItsCodePoint() {
        // '→' is U+2192; the column counts UTF-8 bytes, and the marker sits before it.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = x ①→① x     #! ① error[lex-unexpected-character]: unexpected character '→' (U+2192)
            }
            """)
    }

    @Test func controlCharacter() {
        // The 'x' after the bad character is not reported as a stray token.
        assertDiagnostics("model m {\n    input x: f32[B, 3]\n    output y = ①\u{7}①x   #! ① error[lex-unexpected-character]: unexpected control character U+0007\n}")
    }

    @Test func unexpectedCharacterInsideACallLeavesTheRestChecked() {
        // The invalid argument is dropped silently; the unknown name after it is still found.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                y = maximum(①$①, x)       #! ① error[lex-unexpected-character]: unexpected character '$'
                output z = relu(②w②)      #! ② error[unknown-name]: unknown name 'w'
            }
            """)
    }

    @Test func unterminatedString() {
        // The string runs to the end of the line and takes the ')' with it; the
        // missing ')' follows from that and is not reported.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, 4, name: ①"①fc1)     #! ① error[lex-unterminated-string]: unterminated string literal #! ① note: a string must close with '"' on the same line
            }
            """)
    }

    @Test func unknownEscapeInString() {
        assertDiagnostics(#"""
            model m {
                input x: f32[B, 3]
                output y = dense(x, 4, name: "fc①\q①1")     #! ① error[lex-bad-escape]: unknown escape sequence '\q' in string
            }
            """#)
    }

    @Test func exponentWithoutDigits() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = leaky_relu(x, ①1.5e①)     #! ① error[lex-bad-number]: malformed number '1.5e': the exponent has no digits
            }
            """)
    }

    @Test func lettersGluedToANumber() {
        // The malformed filter count is not also reported as a non-positive one.
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 8, 8]
                output y = conv2d(x, filters: ①3x①, kernel: 3)     #! ① error[lex-bad-number]: malformed number '3x': letters directly after digits
            }
            """)
    }

    @Test func integerTooLarge() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, ①99999999999999999999①)     #! ① error[lex-number-out-of-range]: integer '99999999999999999999' does not fit in 64 bits (at most 9223372036854775807)
            }
            """)
    }

    @Test func floatTooLarge() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = leaky_relu(x, ①1e999①)     #! ① error[lex-number-out-of-range]: number '1e999' is too large for a 64-bit float (at most about 1.8e308)
            }
            """)
    }

    @Test func lexicalErrorsOnSeveralLinesAreAllReported() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                a = x ①^① 2         #! ① error[lex-unexpected-character]: unexpected character '^'
                b = ②0x1F②          #! ② error[lex-bad-number]: malformed number '0x1F': letters directly after digits
                output y = relu(x)
            }
            """)
    }
}
