import Testing

/// One invalid program per test; each names the class of error it covers.
@Suite struct DiagnosticTests {
    @Test func annotationParserFindsMarkers() {
        let (src, exp) = parseAnnotated("ab ①cd  #! ① error: x\n②e #! ② warning: y")
        #expect(src == "ab cd\ne")
        #expect(exp == [ExpectedDiagnostic(line: 1, column: 4, severity: "error", message: "x"),
                        ExpectedDiagnostic(line: 2, column: 1, severity: "warning", message: "y")])
    }

    @Test func unknownName() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = relu(①xx)        #! ① error: unknown name 'xx'
            }
            """)
    }

    @Test func convOutputNotPositive() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 5, 5]
                output y = ①conv2d(x, filters: 2, kernel: 7)   #! ① error: conv2d 'y': output height is not positive: input height 5, kernel 7, padding 0, stride 1 → (5 + 0 − 7)/1 + 1 = -1
            }
            """)
    }
}
