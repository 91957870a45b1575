import DLGCompiler
import DLGSource
import Testing

/// What must be known while compiling: block expansion that never ends, loop
/// bounds, conditions, integer arithmetic, and the limits that keep
/// elaboration finite and sizes representable.
@Suite struct CompileTimeDiagnosticTests {
    // MARK: model parameters

    @Test func modelParameterWithoutDefaultMustBeBound() {
        assertDiagnostics("""
            model m(①width①, depth = 2) {     #! ① error[missing-model-parameter]: model parameter 'width' has no default; give it with --bind width=N
                input x: f32[B, 3]
                output y = dense(x, width)
            }
            """)
        assertClean("""
            model m(width, depth = 2) {
                input x: f32[B, 3]
                output y = dense(x, width)
            }
            """, bindings: ["width": 5])
    }

    @Test func modelParametersTakeTheirDefaultsOrTheBoundValues() throws {
        let source = SourceFile(path: "mlp.dlg", text: """
            model mlp(width = 32, depth = 2) {
                input x: f32[B, 16]
                h = x
                for i in 0..<depth { h = relu(dense(h, width)) }
                output y = dense(h, 1)
            }
            """)
        // Weight shapes: [16, w], then [w, w] for each further hidden layer, then [w, 1].
        func weights(_ bindings: [String: Int]) throws -> [[Int]] {
            let g = try #require(Frontend.compile(source, options: ElaborationOptions(bindings: bindings)).graph)
            return g.params.filter { $0.name?.hasSuffix(".weight") == true }.compactMap { $0.type.shape.knownDims }
        }
        #expect(try weights([:]) == [[16, 32], [32, 32], [32, 1]])
        #expect(try weights(["width": 64, "depth": 3]) == [[16, 64], [64, 64], [64, 64], [64, 1]])
    }

    // MARK: recursion

    @Test func directRecursion() {
        assertDiagnostics("""
            block deeper(x, n) {
                return ①deeper①(relu(x), n - 1)     #! ① error[recursive-block]: block 'deeper' calls itself recursively: deeper → deeper #! ① note: blocks are expanded while compiling, so recursion would never end; use a for loop #! ① note ②: in block 'deeper' called here
            }
            model m {
                input x: f32[B, 3]
                output y = ②deeper②(x, 3)
            }
            """)
    }

    @Test func indirectRecursionThroughThreeBlocks() {
        // Reported once, at the call that closes the cycle; the note chain shows the way there.
        assertDiagnostics("""
            block a(x) { return ③b③(x) }
            block b(x) { return ②c②(x) }
            block c(x) { return ①a①(x) }     #! ① error[recursive-block]: block 'a' calls itself recursively: a → b → c → a #! ① note: blocks are expanded while compiling, so recursion would never end; use a for loop #! ① note ②: in block 'c' called here #! ① note ③: in block 'b' called here #! ① note ④: in block 'a' called here
            model m {
                input x: f32[B, 3]
                output y = ④a④(x)
            }
            """)
    }

    // MARK: loop bounds

    @Test func loopBoundIsATensor() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                for i in 0..<①x① { x = relu(x) }    #! ① error[not-compile-time-integer]: the loop's upper bound must be a compile-time integer, got tensor f32[B,3] #! ① note: tensors are only known when the model runs; use an integer, a block argument or a shape query such as channels(x)
                output y = x
            }
            """)
    }

    @Test func loopBoundIsAFloat() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                for i in 0..<①2.5① { x = relu(x) }    #! ① error[not-compile-time-integer]: the loop's upper bound must be a compile-time integer, got number 2.5 #! ① note: write an integer without a fractional part
                output y = x
            }
            """)
    }

    @Test func loopBoundIsASymbolicSize() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                for i in 0..<①B① { x = relu(x) }    #! ① error[not-compile-time-integer]: the loop's upper bound must be a compile-time integer, got symbolic size B #! ① note: B is a symbolic size; bind it with --bind B=N
                output y = x
            }
            """)
    }

    @Test func loopBoundFromAShapeQueryIsASymbolicSize() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                n = shape(x)[0]
                for i in ①n①..<4 { x = relu(x) }    #! ① error[not-compile-time-integer]: the loop's lower bound must be a compile-time integer, got symbolic size B #! ① note: B is a symbolic size; bind it with --bind B=N
                output y = x
            }
            """)
    }

    @Test func boundSymbolIsACompileTimeInteger() {
        // With --bind B=2 the loop runs twice.
        assertClean("""
            model m {
                input x: f32[B, 3]
                for i in 0..<B { x = relu(x) }
                output y = x
            }
            """, bindings: ["B": 2])
    }

    @Test func loopBoundFromAShapeQueryOnAKnownAxis() {
        assertClean("""
            model m {
                input x: f32[B, 3]
                for i in 0..<shape(x)[1] { x = relu(x) }
                output y = x
            }
            """)
    }

    @Test func loopThatWouldRunTooOften() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                for i in ①0..<1000000000000① { x = relu(x) }    #! ① error[loop-too-long]: the loop 0..<1000000000000 would run 1,000,000,000,000 times; a loop runs at most 100,000 times #! ① note: loops are unrolled while compiling: every iteration adds its layers to the graph
                output y = x
            }
            """)
    }

    @Test func nestedLoopsBeyondTheElaborationBudget() {
        // 1,000 × 1,000 relu statements. Steps: 5 before the loops (the input
        // statement and its dimension 3, the outer loop statement and its two
        // bounds); per outer iteration 3 (inner loop statement and bounds) +
        // 1,000 × 4 (statement, call, argument, relu value) = 4,003. Step
        // 200,001 is step 199,996 − 49 · 4,003 = 3,849 of iteration i = 49:
        // 3 + 961 · 4 + 2, the relu call of j = 961. Elaboration stops there.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                for i in 0..<1000 { for j in 0..<1000 { x = ①relu(x)① } }    #! ① error[elaboration-limit]: the model is too large to elaborate: more than 200,000 steps (statements run, expressions evaluated, operations created) #! ① note: a loop bound or a number of repetitions is probably larger than intended
                output y = x
            }
            """)
    }

    // MARK: conditions and arithmetic

    @Test func conditionIsNotABoolean() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                y = if ①3① then x else relu(x)    #! ① error[not-compile-time-bool]: the condition of 'if … then … else …' must be a compile-time boolean, got integer 3 #! ① note: conditions compare integers known while compiling, e.g. 'if stride != 1 then … else …'
                output z = y
            }
            """)
    }

    @Test func integerOverflow() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                n = 9223372036854775807 ①+① 1     #! ① error[integer-overflow]: integer overflow: 9223372036854775807 + 1 does not fit in 64 bits
                output y = dense(x, n)
            }
            """)
    }

    @Test func divisionByZero() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, 8 ①/① (2 - 2))     #! ① error[division-by-zero]: division by zero
            }
            """)
    }

    @Test func integerDivisionStaysExact() {
        // 12 / 4 = 3 is an integer; 12 / 5 = 2.4 is not, and units must be one.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h = dense(x, 12 / 4)
                output y = dense(h, ①12 / 5①)     #! ① error[bad-argument]: argument 'units' of dense must be an integer, got number 2.4 #! ① note: write an integer without a fractional part
            }
            """)
    }

    // MARK: sizes

    @Test func dimensionTooLarge() {
        assertDiagnostics("""
            model m {
                input x: f32[B, ①99999999999①, ②99999999999②]    #! ① error[size-too-large]: dimension 99,999,999,999 is too large; a size is at most 2,147,483,647 #! ② error[size-too-large]: dimension 99,999,999,999 is too large; a size is at most 2,147,483,647
                output y = relu(x)
            }
            """)
    }

    @Test func tensorWithTooManyElements() {
        // 50,000³ = 1.25·10¹⁴ elements.
        assertDiagnostics("""
            model m {
                input x: ①f32[50000, 50000, 50000]①     #! ① error[tensor-too-large]: the type f32[50000,50000,50000] would hold 125,000,000,000,000 elements; a tensor holds at most 2,147,483,647
                output y = relu(x)
            }
            """)
    }

    @Test func layerWeightWithTooManyElements() {
        // 8 × 999,999,999 = 7,999,999,992 weights.
        assertDiagnostics("""
            model m {
                input x: f32[B, 8]
                output y = ①dense(x, 999999999)①     #! ① error[tensor-too-large]: the weight of dense 'y' f32[8,999999999] would hold 7,999,999,992 elements; a tensor holds at most 2,147,483,647
            }
            """)
    }

    @Test func resultWithTooManyElements() {
        // [B, 65536] × 65536 classes per element: 65,536² = 4,294,967,296 per sample.
        assertDiagnostics("""
            model m {
                input label: i32[B, 65536]
                output y = ①one_hot(label, classes: 65536)①     #! ① error[tensor-too-large]: one_hot: the result f32[B,65536,65536] would hold 4,294,967,296 elements; a tensor holds at most 2,147,483,647
            }
            """)
    }
}

/// Comparisons of symbolic sizes and booleans are compile-time values from either side.
@Suite struct SymbolicComparisonTests {
    @Test func symbolComparesWithIntegersFromEitherSide() {
        assertClean("""
            model m {
                input x: f32[B, 3]
                a = if B == 3 then 1 else 2
                b = if 3 == B then 1 else 2
                c = if (a == 2) == (b == 2) then relu(x) else x
                output y = c
            }
            """)
    }
}
