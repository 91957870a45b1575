import Testing

/// Syntax errors: each is reported where the missing or unexpected token is,
/// the parser skips to the end of the statement and goes on, and nothing that
/// follows from the skipped statement is reported.
@Suite struct SyntaxDiagnosticTests {
    @Test func missingCloseParenAtEndOfLine() {
        // The ')' is missing where the line ends, right after 'x'; h is still defined.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h = relu②(②x①               #! ① error[syntax-expected-token]: expected ')' to close the argument list of 'relu', found 'output' #! ① note ②: to match this '('
                output y = relu(h)
            }
            """)
    }

    @Test func missingCloseBracketInShape() {
        // x is declared (as an error), so its use is not reported as unknown.
        assertDiagnostics("""
            model m {
                input x: f32②[②B, 3 ①4①]     #! ① error[syntax-expected-token]: expected ']' to close the shape, found integer 4 #! ① note ②: to match this '['
                output y = relu(x)
            }
            """)
    }

    @Test func missingCloseBraceAtEndOfFile() {
        assertDiagnostics("""
            model m ②{②
                input x: f32[B, 3]
                output y = relu(x)①          #! ① error[syntax-unclosed-body]: expected '}' to close the body of model 'm', found end of file #! ① note ②: to match this '{'
            """)
    }

    @Test func missingCloseBraceBeforeNextModel() {
        // Reported once, where model 'a' should have ended; model 'b' is still checked.
        assertDiagnostics("""
            model a ②{②
                input x: f32[B, 3]
                output y = relu(x)①          #! ① error[syntax-unclosed-body]: expected '}' to close the body of model 'a' before 'model' #! ① note ②: to match this '{'

            model b {
                input x: f32[B, 3]
                output y = relu(③z③)         #! ③ error[unknown-name]: unknown name 'z'
            }
            """)
    }

    @Test func missingCloseBraceOfLoopBeforeNextModel() {
        // Only the innermost open body is reported, not the model around it.
        assertDiagnostics("""
            model a {
                input x: f32[B, 3]
                for i in 0..<2 ②{②
                    x = relu(x)①             #! ① error[syntax-unclosed-body]: expected '}' to close the body of the loop before 'model' #! ① note ②: to match this '{'
            model b {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func strayTokenAfterStatement() {
        // The statement before the stray token still counts: h is checked below.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h = dense(x, 4)①)①           #! ① error[syntax-expected-end-of-statement]: expected end of line after the statement, found ')'
                output y = h ②@② h           #! ② error[matmul-mismatch]: '@': inner dimensions differ: f32[B,4] @ f32[B,4] needs 4 = B #! ② note: in a @ b the last dimension of a must equal the first of b
            }
            """)
    }

    @Test func keywordUsedAsOutputName() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output ①for① = relu(x)      #! ① error[syntax-keyword-as-name]: 'for' is a keyword and cannot be used as an output name
            }
            """)
    }

    @Test func keywordUsedAsInputName() {
        // The input is not declared, so 'in' is not looked up later either.
        assertDiagnostics("""
            model m {
                input ①in①: f32[B, 3]       #! ① error[syntax-keyword-as-name]: 'in' is a keyword and cannot be used as an input name
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func keywordUsedAsBlockParameter() {
        assertDiagnostics("""
            block twice(x, ①then①) {        #! ① error[syntax-keyword-as-name]: 'then' is a keyword and cannot be used as a parameter name
                return x + x
            }
            model m {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func positionalArgumentAfterNamed() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(units: 4, ①x①)      #! ① error[syntax-positional-after-named]: positional argument after a named argument in call to 'dense'
            }
            """)
    }

    @Test func missingExpressionAfterEquals() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h =①                         #! ① error[syntax-expected-expression]: expected an expression, found end of line
                output y = relu(x)
            }
            """)
    }

    @Test func missingElseInConditionalExpression() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h = if 1 > 0 then relu(x)①   #! ① error[syntax-expected-token]: expected 'else' in 'if … then … else …', found end of line #! ① note: an 'if' expression needs both branches
                output y = relu(x)
            }
            """)
    }

    @Test func loopWithoutIn() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                for i ①0①..<3 { x = relu(x) }    #! ① error[syntax-expected-token]: expected 'in' after the loop variable, found integer 0
                output y = relu(x)
            }
            """)
    }

    @Test func expressionWhoseResultIsUnused() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                ①relu(x)①                     #! ① error[syntax-unused-expression]: expression result is unused; assign it to a name, or mark it with 'output' or 'minimize'
                output y = relu(x)
            }
            """)
    }

    @Test func statementAtTopLevel() {
        assertDiagnostics("""
            ①x① = 3                           #! ① error[syntax-top-level]: expected 'model', 'block', 'train' or 'use' at top level, found identifier 'x'
            model m {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func missingBraceAfterModelName() {
        assertDiagnostics("""
            model m ①[①                       #! ① error[syntax-expected-token]: expected '{' to begin the body of model 'm', found '['
            }
            model n {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func nestingDeeperThanTheLimit() {
        // The model body is one level; 256 parentheses inside it make 257.
        let open = String(repeating: "(", count: 255)
        let close = String(repeating: ")", count: 256)
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = \(open)①(①x\(close)    #! ① error[syntax-too-deep]: nesting is too deep: more than 256 levels of brackets, calls, operators or bodies #! ① note: split the expression with intermediate names
            }
            """)
    }

    @Test func nestingAtTheLimitIsAccepted() {
        // The model body and 255 parentheses: 256 levels.
        let open = String(repeating: "(", count: 255), close = String(repeating: ")", count: 255)
        assertClean("""
            model m {
                input x: f32[B, 3]
                output y = \(open)x\(close)
            }
            """)
    }

    @Test func operatorChainDeeperThanTheLimit() {
        // x + x + … is a left-leaning tree; the 256th '+' makes it 257 levels deep.
        let terms = String(repeating: " + x", count: 255)
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = x\(terms) ①+① x + x     #! ① error[syntax-too-deep]: expression is too deep: more than 256 nested operations #! ① note: split the expression with intermediate names
            }
            """)
    }
}
