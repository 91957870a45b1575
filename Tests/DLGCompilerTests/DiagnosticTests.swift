import Testing

/// One invalid program per test; each names the class of error it covers.
@Suite struct DiagnosticTests {
    @Test func annotationParserFindsMarkers() {
        let (src, exp) = parseAnnotated("""
            ab ①cd①  #! ① error[e-1]: x #! ① note ③: n2
            ②e #! ② warning[w]: y #! ① note: n1
            f③gh③
            """)
        #expect(src == "ab cd\ne\nfgh")
        typealias P = ExpectedDiagnostic.Place
        #expect(exp == [
            ExpectedDiagnostic(place: P(line: 1, column: 4, endLine: 1, endColumn: 6), severity: "error", id: "e-1", message: "x",
                               notes: [.init(place: P(line: 3, column: 2, endLine: 3, endColumn: 4), message: "n2"),
                                       .init(place: nil, message: "n1")]),
            ExpectedDiagnostic(place: P(line: 2, column: 1, endLine: 2, endColumn: 1), severity: "warning", id: "w", message: "y"),
        ])
    }

    @Test func unknownName() {
        assertDiagnostics("""
            model m {
                input ②x②: f32[B, 3]
                output y = relu(①xx①)       #! ① error[unknown-name]: unknown name 'xx' #! ① note ②: did you mean 'x'?
            }
            """)
    }

    @Test func convOutputNotPositive() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 5, 5]
                output y = ①conv2d(x, filters: 2, kernel: 7)①  #! ① error[window-output]: conv2d 'y': output height is not positive: input height 5, kernel 7, padding 0, stride 1 → (5 + 0 − 7)/1 + 1 = -1 #! ① note: the input is too small for this window: reduce the kernel or stride, add padding, or remove a downsampling layer before it
            }
            """)
    }
}
