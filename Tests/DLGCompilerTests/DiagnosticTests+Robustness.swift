import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax
import Testing

/// Runs every front-end stage the fuzz target runs (Fuzz/Sources/FuzzFrontend):
/// parse and print the tree, check the file, compile its first model in both
/// forms, and on success run shape inference with the verifier and every
/// printer. The input must not trap; a graph that elaborated cleanly must
/// verify. Returns the diagnostics of the check.
@discardableResult
func exerciseFrontend(_ text: String, bindings: [String: Int] = [:],
                      sourceLocation: SourceLocation = #_sourceLocation) -> (file: SourceFile, diagnostics: Diagnostics) {
    let file = SourceFile(path: "fuzz.dlg", text: text)
    let (unit, _) = Parser.parse(file)
    _ = ASTPrinter.print(unit)
    let diags = Frontend.check(file, options: ElaborationOptions(training: true, bindings: bindings))
    _ = DiagnosticsFormatter(colors: true).format(diags.sorted, in: file)
    for d in diags.all {
        #expect(d.range.start >= 0 && d.range.end <= file.bytes.count, "diagnostic outside the file: \(d.message)",
                sourceLocation: sourceLocation)
    }
    for training in [true, false] {
        let result = Frontend.compile(file, options: ElaborationOptions(training: training, bindings: bindings))
        guard !result.hasErrors, var graph = result.graph else { continue }
        var context = PassContext(verify: true)
        _ = Pipeline.run(&graph, upTo: .shapes, context: &context)
        #expect(context.diagnostics.all.filter { $0.id == "verifier" }.isEmpty, sourceLocation: sourceLocation)
        _ = TextPrinter.print(graph, options: PrintOptions(stage: "shapes", showCosts: true))
        _ = JSONPrinter.json(graph, stage: "shapes").serialized(pretty: true)
        _ = DotPrinter.dot(graph, stage: "shapes")
        let summary = ModelSummary(graph)
        _ = summary.text()
        _ = summary.json().serialized()
    }
    return (file, diags)
}

/// The diagnostics of a check as `line:column: severity[id]: message`, in order.
func rendered(_ r: (file: SourceFile, diagnostics: Diagnostics)) -> [String] {
    r.diagnostics.sorted.map { d in
        let (l, c) = r.file.lineColumn(of: d.range.start)
        return "\(l):\(c): \(d.severity.rawValue)[\(d.id)]: \(d.message)"
    }
}

/// Inputs that once crashed, trapped or hung the front end — found by hand
/// while hardening it or by the fuzzer (Docs/fuzzing.md) — each now a test:
/// it must run through every stage without trapping and give the diagnostics
/// written here.
@Suite struct RobustnessTests {
    // MARK: stack depth

    @Test func twentyThousandParentheses() {
        // Overflowed the stack in the recursive-descent parser. The model body
        // is level 1; the 256th parenthesis, at column 16 + 255, is one too many.
        let n = 20_000
        let r = exerciseFrontend("model m {\n    input x: f32[B, 3]\n    output y = "
            + String(repeating: "(", count: n) + "x" + String(repeating: ")", count: n) + "\n}\n")
        #expect(rendered(r) == ["3:271: error[syntax-too-deep]: nesting is too deep: more than 256 levels of brackets, calls, operators or bodies"])
    }

    @Test func fiftyThousandTermSum() {
        // x + x + … built a left-leaning tree 50,000 deep without parser
        // recursion; walking (and freeing) it overflowed the stack. The k-th '+'
        // is at column 18 + 4(k − 1); the 256th makes the tree 257 deep.
        let r = exerciseFrontend("model m {\n    input x: f32[B, 3]\n    output y = x"
            + String(repeating: " + x", count: 50_000) + "\n}\n")
        #expect(rendered(r) == ["3:\(18 + 4 * 255): error[syntax-too-deep]: expression is too deep: more than 256 nested operations"])
    }

    @Test func twentyThousandMinusSigns() {
        // `- - - … 1` folds into one literal, so the tree stays shallow while the
        // parser recursed once per sign. The 256th '-' (column 16 + 2·255) is too deep.
        let r = exerciseFrontend("model m {\n    input x: f32[B, 3]\n    output y = x * "
            + String(repeating: "- ", count: 20_000) + "1\n}\n")
        #expect(rendered(r) == ["3:\(20 + 2 * 255): error[syntax-too-deep]: nesting is too deep: more than 256 levels of brackets, calls, operators or bodies"])
    }

    @Test func deeplyNestedLists() {
        let n = 20_000
        let r = exerciseFrontend("model m {\n    input x: f32[B, 3]\n    output y = x + "
            + String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n) + "\n}\n")
        #expect(rendered(r) == ["3:\(20 + 255): error[syntax-too-deep]: nesting is too deep: more than 256 levels of brackets, calls, operators or bodies"])
    }

    @Test func deeplyNestedLoops() {
        // 300 nested loop bodies inside the model body: the 256th '{' is too deep.
        var text = "model m {\n    input x: f32[B, 3]\n"
        for _ in 0..<300 { text += "for i in 0..<1 {\n" }
        text += "x = relu(x)\n" + String(repeating: "}\n", count: 300) + "    output y = x\n}\n"
        let r = exerciseFrontend(text)
        // The k-th loop is on line 2 + k, its body at level 1 + k.
        #expect(rendered(r).first == "\(2 + 256):16: error[syntax-too-deep]: nesting is too deep: more than 256 levels of brackets, calls, operators or bodies")
    }

    @Test func loopsAndConditionsNestedToTheParserLimitElaborate() {
        // 127 loops, each with an 'if' inside, within the model body: 255 levels.
        var text = "model m {\n    input x: f32[B, 3]\n"
        for _ in 0..<127 { text += "for i in 0..<1 { if i == 0 {\n" }
        text += "x = relu(x)\n" + String(repeating: "} }\n", count: 127) + "    output y = x\n}\n"
        #expect(rendered(exerciseFrontend(text)) == [])
    }

    @Test func longChainOfBlockCalls() {
        // b0 calls b1 calls … b99: the 65th call in the chain (b64, called in b63) is too deep.
        var text = ""
        for i in 0..<100 { text += "block b\(i)(x) { return \(i == 99 ? "relu(x)" : "b\(i + 1)(x)") }\n" }
        text += "model m {\n    input x: f32[B, 3]\n    output y = b0(x)\n}\n"
        let r = exerciseFrontend(text)
        #expect(rendered(r) == ["64:23: error[elaboration-limit]: block calls are nested too deeply: more than 64 blocks call each other"])
    }

    @Test func deepExpressionsInsideDeepBlockCalls() {
        // Each block returns relu(relu(…(next block(x))…)) 100 deep. Evaluation
        // levels: the call of b0 is 1, its relus 2…101, the call of b1 102, its
        // relus 103…202, the call of b2 203, its relus 204…: level 301 is b2's
        // 98th relu, on line 3 at column 22 + 5·97. (In a debug build each level
        // takes about 16 KB of stack: 1,000 levels overflowed a test thread's 8 MB.)
        var text = ""
        for i in 0..<6 {
            let inner = i == 5 ? "x" : "b\(i + 1)(x)"
            text += "block b\(i)(x) { return " + String(repeating: "relu(", count: 100) + inner
                + String(repeating: ")", count: 100) + " }\n"
        }
        text += "model m {\n    input x: f32[B, 3]\n    output y = b0(x)\n}\n"
        let r = exerciseFrontend(text)
        #expect(rendered(r) == ["3:\(22 + 5 * 97): error[elaboration-limit]: expressions and block calls are nested too deeply: more than 300 levels"])
    }

    @Test func callsNestedToTheParserLimitElaborate() {
        // 255 nested calls inside the model body: as deep as the parser allows,
        // and within the evaluation limit.
        let r = exerciseFrontend("model m {\n    input x: f32[B, 3]\n    output y = " + String(repeating: "relu(", count: 255) + "x"
            + String(repeating: ")", count: 255) + "\n}\n")
        #expect(rendered(r) == [])
    }

    @Test func manyUnexpectedCharacters() {
        // The lexer recursed once per unexpected character.
        let r = exerciseFrontend("model m {\n    input x: f32[B, 3]\n    y = x " + String(repeating: "$", count: 50_000)
            + "\n    output o = x\n}\n")
        #expect(rendered(r) == ["3:11: error[lex-unexpected-character]: unexpected characters '$$$$$$$$$$$$$$$$…' (50000 of them)"])
    }

    // MARK: integer overflow

    @Test func overflowingCompileTimeArithmetic() {
        // Each of these trapped: Int(Double) of 2⁶³, Int.min / −1, Int.min % −1, −Int.min.
        let r = exerciseFrontend("""
            model m {
                input x: f32[B, 3]
                a = 9223372036854775807 * 2
                b = (-9223372036854775807 - 1) / -1
                c = (-9223372036854775807 - 1) % -1
                d = -(-9223372036854775807 - 1)
                e = 9007199254740993 - 9007199254740992
                output y = dense(x, e)
            }
            """)
        #expect(rendered(r) == [
            "3:29: error[integer-overflow]: integer overflow: 9223372036854775807 * 2 does not fit in 64 bits",
            "4:36: error[integer-overflow]: integer overflow: -9223372036854775808 / -1 does not fit in 64 bits",
            "5:36: error[integer-overflow]: integer overflow: -9223372036854775808 % -1 does not fit in 64 bits",
            "6:9: error[integer-overflow]: integer overflow: -(-9223372036854775808) does not fit in 64 bits",
        ])
    }

    @Test func hugeSizesInArguments() {
        // Padding, kernels and strides near 2⁶³ overflowed the window arithmetic.
        let r = exerciseFrontend("""
            model m {
                input x: f32[B, 1, 8, 8]
                a = conv2d(x, filters: 2, kernel: 3, pad: 9223372036854775807)
                b = maxpool(x, kernel: [9223372036854775807, 2])
                c = conv2d(x, filters: 2, kernel: 3, stride: 4611686018427387904, dilation: 4611686018427387904)
                d = conv2d(x, filters: 2, kernel: 3, pad: 2147483647)
                e = slice(x, axis: 2, start: 1, end: 3, step: 9223372036854775807)
                f = reshape(x, [2147483647, 2147483647, 2147483647])
                output y = relu(x)
            }
            """)
        #expect(rendered(r) == [
            "3:47: error[size-too-large]: argument 'pad' of conv2d: 9,223,372,036,854,775,807 is too large; a size is at most 2,147,483,647",
            "4:28: error[size-too-large]: argument 'kernel' of maxpool: 9,223,372,036,854,775,807 is too large; a size is at most 2,147,483,647",
            "5:50: error[size-too-large]: argument 'stride' of conv2d: 4,611,686,018,427,387,904 is too large; a size is at most 2,147,483,647",
            "5:81: error[size-too-large]: argument 'dilation' of conv2d: 4,611,686,018,427,387,904 is too large; a size is at most 2,147,483,647",
            // (8 + 2·2147483647 − 3)/1 + 1 = 4,294,967,300 rows: too many for one tensor.
            "6:9: error[tensor-too-large]: conv2d 'd': the result f32[B,2,4294967300,4294967300] would hold about 3.689349e+19 elements; a tensor holds at most 2,147,483,647",
            "7:51: error[size-too-large]: slice: step 9,223,372,036,854,775,807 is too large; a size is at most 2,147,483,647",
            "8:9: error[tensor-too-large]: reshape: the target shape would hold about 9.9035203e+27 elements; a tensor holds at most 2,147,483,647",
        ])
    }

    @Test func hugeBindingOfASymbol() {
        // --bind B=2⁶³−1 made every size and byte count overflow.
        let r = exerciseFrontend("""
            model m {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """, bindings: ["B": Int.max])
        #expect(rendered(r) == [
            "2:11: error[tensor-too-large]: input 'x' with the bound sizes f32[9223372036854775807,3] would hold about 2.7670116e+19 elements; a tensor holds at most 2,147,483,647",
        ])
    }

    @Test func largestAcceptedSizesStayWithinCountsAndPrinters() {
        // A tensor of exactly 2³¹ − 1 elements and a window as large as allowed:
        // sizes, bytes and FLOP counts must not overflow in the printers.
        let r = exerciseFrontend("""
            model m {
                input x: f32[1, 1, 1, 2147483647]
                input z: f32[2147483647, 1]
                param W: f32[1, 2147483647]
                p = maxpool(x, kernel: [1, 2147483647])
                q = z @ W
                output y = relu(p)
            }
            """)
        #expect(rendered(r) == [
            // (2³¹ − 1)² = 4,611,686,014,132,420,609, exactly.
            "6:11: error[tensor-too-large]: '@': the result f32[2147483647,2147483647] would hold 4,611,686,014,132,420,609 elements; a tensor holds at most 2,147,483,647",
        ])
        let ok = exerciseFrontend("""
            model m {
                input x: f32[1, 1, 1, 2147483647]
                param W: f32[2147483647, 1]
                output y = maxpool(x, kernel: [1, 2147483647])
                output z = flatten(x) @ W
            }
            """)
        #expect(rendered(ok) == [])
    }

    // MARK: odd input

    @Test func invalidUTF8AndControlBytes() {
        // Invalid UTF-8 is decoded as U+FFFD; NUL and other control bytes are unexpected characters.
        let bytes: [UInt8] = Array("model m {\n    input x: f32[B, 3]\n    y = x ".utf8) + [0xFF, 0xFE, 0x00, 0x80]
            + Array("\n    output o = relu(x)\n}\n".utf8)
        let r = exerciseFrontend(String(decoding: bytes, as: UTF8.self))
        #expect(rendered(r) == ["3:11: error[lex-unexpected-character]: unexpected 4 characters, starting with character '\u{FFFD}' (U+FFFD)"])
    }

    @Test func emptyAndCommentOnlyFiles() {
        for text in ["", "\n\n\n", "# only a comment", "\r\n\t  "] {
            #expect(rendered(exerciseFrontend(text)) == ["1:1: error[no-model]: no model in fuzz.dlg"])
        }
    }

    @Test func modelWithoutAName() {
        let r = exerciseFrontend("model {\n}\nmodel")
        #expect(rendered(r) == [
            "1:7: error[syntax-expected-name]: expected a model name after 'model', found '{'",
            "3:6: error[syntax-expected-name]: expected a model name after 'model', found end of file",
        ])
    }
}
