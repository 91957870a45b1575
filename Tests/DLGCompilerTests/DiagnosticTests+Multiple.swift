import Testing

/// One run reports every independent error in a file — across statements,
/// models and stages — and nothing that only follows from another error.
/// Also the warnings.
@Suite struct MultipleDiagnosticTests {
    @Test func independentErrorsInSeveralStatements() {
        assertDiagnostics("""
            model m {
                input ③x③: f32[B, 3]
                param W: f32[4, 5]
                a = x ①@① W                    #! ① error[matmul-mismatch]: '@': inner dimensions differ: f32[B,3] @ f32[4,5] needs 3 = 4 #! ① note: in a @ b the last dimension of a must equal the first of b
                b = relu(②xx②)                 #! ② error[unknown-name]: unknown name 'xx' #! ② note ③: did you mean 'x'?
                c = dense(x, ④2.5④)            #! ④ error[bad-argument]: argument 'units' of dense must be an integer, got number 2.5 #! ④ note: write an integer without a fractional part
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
                a = x ①@① W                    #! ① error[matmul-mismatch]: '@': inner dimensions differ: f32[B,3] @ f32[4,5] needs 3 = 4 #! ① note: in a @ b the last dimension of a must equal the first of b
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
                if ①x① { z = relu(x) }           #! ① error[not-compile-time-bool]: an 'if' condition must be a compile-time boolean, got tensor f32[B,3] #! ① note: conditions compare integers known while compiling, e.g. 'if stride != 1 then … else …'
                for i in 0..<②x② { w = relu(x) }  #! ② error[not-compile-time-integer]: the loop's upper bound must be a compile-time integer, got tensor f32[B,3] #! ② note: tensors are only known when the model runs; use an integer, a block argument or a shape query such as channels(x)
                output y = relu(z) + w
            }
            """)
    }

    @Test func errorsInSeveralModels() {
        assertDiagnostics("""
            model first {
                input x: f32[B, 1, 5, 5]
                output y = ①conv2d(x, filters: 2, kernel: 7)①  #! ① error[window-output]: conv2d 'y': output height is not positive: input height 5, kernel 7, padding 0, stride 1 → (5 + 0 − 7)/1 + 1 = -1 #! ① note: the input is too small for this window: reduce the kernel or stride, add padding, or remove a downsampling layer before it
            }
            model second {
                input x: f32[*]
                output y = ②flatten(x)②      #! ② error[unknown-rank]: flatten needs a known rank, but f32[*] has unknown rank #! ② note: declare the input with a full shape such as f32[B, 1, 28, 28]
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
                a = x ①&① 2                    #! ① error[lex-unexpected-character]: unexpected character '&'
                b = x ②+② k                    #! ② error[dtype-mismatch]: '+': operands have different dtypes: f32[B,3] and i32[B,3] #! ② note: convert one side with cast(x, dtype: f32) or declare both with the same dtype
                c = ③€③                        #! ③ error[lex-unexpected-character]: unexpected character '€' (U+20AC)
                output y = relu(④z④)           #! ④ error[unknown-name]: unknown name 'z'
            }
            """)
    }

    @Test func syntaxErrorInOneModelAndShapeErrorInAnother() {
        assertDiagnostics("""
            model a {
                input x: f32[B, 3]
                output y = relu②(②x①           #! ① error[syntax-expected-token]: expected ')' to close the argument list of 'relu', found '}' #! ① note ②: to match this '('
            }
            model b {
                input x: f32[B, 3]
                param b: f32[4]
                output y = x ③+③ b             #! ③ error[broadcast-mismatch]: '+': cannot broadcast f32[B,3] with f32[4]: dimension 1 is 3 in one operand and 4 in the other #! ③ note: broadcasting aligns shapes from the right; each pair of dimensions must be equal or one of them 1
            }
            """)
    }

    @Test func errorInABlockCalledTwiceIsReportedOnce() {
        assertDiagnostics("""
            block head(x) {
                return dense(x, ①0①)          #! ① error[argument-out-of-range]: dense needs a positive number of units, got 0
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
                output y = relu(①q①)           #! ① error[unknown-name]: unknown name 'q'
            }
            train m {
                ③batch③ = 32
                ②batch② = 64                   #! ② error[duplicate-setting]: train setting 'batch' is given twice #! ② note ③: first given here
                ④lr④ = 0.1                     #! ④ error[unknown-setting]: unknown train setting 'lr'; did you mean 'l1'? #! ④ note: settings: allow_nonfinite, augment, batch, checkpoint, clip_norm, clip_value, data, early_stopping, epochs, freeze, inputs, l1, l2, loss_every, metric, min_delta, normalize, optimizer, patience, schedule, seed, shuffle, sync_batchnorm, test, threads, validation, weight_decay
            }
            """)
    }

    // MARK: Warnings

    @Test func zeroInitializedWeightMatrix() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[3, 4] = ①zeros①   #! ① warning[symmetric-init]: 'W' starts with every weight equal (zeros); units that start alike get the same gradient and stay alike #! ① note: break the symmetry with a random initializer such as xavier_uniform or he_normal
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
                output y = ①dense(x, 4, init: constant(0.5), bias_init: zeros)①   #! ① warning[symmetric-init]: 'y.weight' starts with every weight equal (constant(0.5)); units that start alike get the same gradient and stay alike #! ① note: break the symmetry with a random initializer such as xavier_uniform or he_normal
            }
            """)
    }

    @Test func unusedBlock() {
        assertDiagnostics("""
            block ①helper①(x) {               #! ① warning[unused-block]: block 'helper' is never used, so its body is not checked
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
                ①y = x①                       #! ① warning[unreachable]: statement after 'return' is never run
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
                ①relu① = x                    #! ① warning[shadows-function]: 'relu' hides the function of the same name in the rest of this body
                output y = relu
            }
            """)
    }
}
