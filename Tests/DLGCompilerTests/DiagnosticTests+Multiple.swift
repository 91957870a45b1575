import Testing

/// One run reports every independent error in a file — across statements,
/// models and stages — and nothing that only follows from another error.
/// Also the warnings.
@Suite struct MultipleDiagnosticTests {
    @Test func independentErrorsInSeveralStatements() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[4, 5]
                a = x ①@ W                     #! ① error: '@': inner dimensions differ: f32[B,3] @ f32[4,5] needs 3 = 4
                b = relu(②xx)                  #! ② error: unknown name 'xx'
                c = dense(x, ③2.5)             #! ③ error: argument 'units' of dense must be an integer, got number 2.5
                output y = relu(x)
            }
            """)
    }

    @Test func failedValuesDoNotCascade() {
        // a, b and c are in error; their uses below report nothing more.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[4, 5]
                a = x ①@ W                     #! ① error: '@': inner dimensions differ: f32[B,3] @ f32[4,5] needs 3 = 4
                b = dense(a, 10)
                c = relu(b) + a
                output y = softmax(c)
                minimize mse(y, c)
            }
            """)
    }

    @Test func namesFromBodiesThatCannotRunDoNotCascade() {
        // Neither body runs, so z and w are undefined; they are not reported as unknown.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                if ①x { z = relu(x) }            #! ① error: an 'if' condition must be a compile-time boolean, got tensor f32[B,3]
                for i in 0..<②x { w = relu(x) }  #! ② error: the loop's upper bound must be a compile-time integer, got tensor f32[B,3]
                output y = relu(z) + w
            }
            """)
    }

    @Test func errorsInSeveralModels() {
        assertDiagnostics("""
            model first {
                input x: f32[B, 1, 5, 5]
                output y = ①conv2d(x, filters: 2, kernel: 7)   #! ① error: conv2d 'y': output height is not positive: input height 5, kernel 7, padding 0, stride 1 → (5 + 0 − 7)/1 + 1 = -1
            }
            model second {
                input x: f32[*]
                output y = ②flatten(x)       #! ② error: flatten needs a known rank, but f32[*] has unknown rank
            }
            model third {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func lexicalAndSemanticErrorsTogether() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                input k: i32[B, 3]
                a = x ①& 2                     #! ① error: unexpected character '&'
                b = x ②+ k                     #! ② error: '+': operands have different dtypes: f32[B,3] and i32[B,3]
                c = ③€                         #! ③ error: unexpected character '€' (U+20AC)
                output y = relu(④z)            #! ④ error: unknown name 'z'
            }
            """)
    }

    @Test func syntaxErrorInOneModelAndShapeErrorInAnother() {
        assertDiagnostics("""
            model a {
                input x: f32[B, 3]
                output y = relu(x①             #! ① error: expected ')' to close the argument list of 'relu', found '}'
            }
            model b {
                input x: f32[B, 3]
                param b: f32[4]
                output y = x ②+ b              #! ② error: '+': cannot broadcast f32[B,3] with f32[4]: dimension 1 is 3 in one operand and 4 in the other
            }
            """)
    }

    @Test func errorInABlockCalledTwiceIsReportedOnce() {
        assertDiagnostics("""
            block head(x) {
                return dense(x, ①0)           #! ① error: dense needs a positive number of units, got 0
            }
            model m {
                input x: f32[B, 3]
                a = head(x)
                b = head(x)
                output y = relu(x)
            }
            """)
    }

    @Test func errorsInTrainBlocksAndModels() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = relu(①q)            #! ① error: unknown name 'q'
            }
            train m {
                batch = 32
                ②batch = 64                    #! ② error: train setting 'batch' is given twice
                ③lr = 0.1                      #! ③ error: unknown train setting 'lr'; did you mean 'l1'?
            }
            """)
    }

    // MARK: Warnings

    @Test func zeroInitializedWeightMatrix() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[3, 4] = ①zeros    #! ① warning: 'W' starts with every weight equal (zeros); units that start alike get the same gradient and stay alike
                param b: f32[4] = zeros
                output y = relu(x @ W + b)
            }
            """)
    }

    @Test func constantInitializedLayerWeight() {
        // A zero bias is fine; equal weights are not.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = ①dense(x, 4, init: constant(0.5), bias_init: zeros)    #! ① warning: 'y.weight' starts with every weight equal (constant(0.5)); units that start alike get the same gradient and stay alike
            }
            """)
    }

    @Test func unusedBlock() {
        assertDiagnostics("""
            block ①helper(x) {                #! ① warning: block 'helper' is never used, so its body is not checked
                return relu(x)
            }
            model m {
                input x: f32[B, 3]
                output y = relu(x)
            }
            """)
    }

    @Test func statementAfterReturn() {
        assertDiagnostics("""
            block f(x) {
                return relu(x)
                ①y = x                        #! ① warning: statement after 'return' is never run
            }
            model m {
                input x: f32[B, 3]
                output y = f(x)
            }
            """)
    }

    @Test func nameHidesAFunction() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                ①relu = x                     #! ① warning: 'relu' hides the function of the same name in the rest of this body
                output y = relu
            }
            """)
    }
}
