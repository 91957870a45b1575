import Testing

/// Calls with a wrong, unknown, missing or surplus argument, to built-ins and
/// to blocks. The error points at the argument (or, when one is missing, at
/// the function's name).
@Suite struct ArgumentDiagnosticTests {
    @Test func unknownArgumentName() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, 4, ①activaton①: relu)    #! ① error[unknown-argument]: dense has no argument 'activaton' #! ① note: did you mean 'activation'? #! ① note: dense takes: x, units, bias, init, bias_init, activation, name
            }
            """)
    }

    @Test func missingRequiredArgument() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = ①dense①(x)         #! ① error[missing-argument]: dense needs argument 'units' (an integer)
            }
            """)
    }

    @Test func fractionalWhereAnIntegerIsNeeded() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, ①2.5①)    #! ① error[bad-argument]: argument 'units' of dense must be an integer, got number 2.5 #! ① note: write an integer without a fractional part
            }
            """)
    }

    @Test func stringWhereAnIntegerIsNeeded() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, units: ①"ten"①)    #! ① error[bad-argument]: argument 'units' of dense must be an integer, got string "ten"
            }
            """)
    }

    @Test func integerWhereABooleanIsNeeded() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, 4, bias: ①1①)    #! ① error[bad-argument]: argument 'bias' of dense must be true or false, got integer 1
            }
            """)
    }

    @Test func argumentGivenTwice() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = dense(x, 4, ①units①: 5)    #! ① error[duplicate-argument]: argument 'units' is given twice
            }
            """)
    }

    @Test func tooManyPositionalArguments() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = relu(x, ①x①)       #! ① error[too-many-arguments]: relu takes 1 positional argument but 2 were given
            }
            """)
    }

    @Test func wordOutOfItsSet() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 8, 8]
                output y = maxpool(x, kernel: 2, round: ①nearest①)    #! ① error[bad-argument]: argument 'round' of maxpool must be one of floor, ceil, exact; 'nearest' is not
            }
            """)
    }

    @Test func negativePadding() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 8, 8]
                output y = conv2d(x, filters: 2, kernel: 3, pad: ①-1①)    #! ① error[bad-argument]: argument 'pad' of conv2d must be same, valid, an integer, [h, w] or [top, bottom, left, right], got integer -1
            }
            """)
    }

    @Test func kernelOfZero() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 8, 8]
                output y = conv2d(x, filters: 2, kernel: ①[3, 0]①)    #! ① error[bad-argument]: argument 'kernel' of conv2d must be a positive integer or a pair [h, w], got list of 2
            }
            """)
    }

    @Test func unknownDTypeWord() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = cast(x, dtype: ①f16①)    #! ① error[bad-argument]: argument 'dtype' of cast must be a dtype (f32, f64 or i32); 'f16' is not
            }
            """)
    }

    @Test func blockCalledWithTooFewArguments() {
        assertDiagnostics("""
            block ②add②(a, b) {
                return a + b
            }
            model m {
                input x: f32[B, 3]
                output y = ①add①(x)           #! ① error[block-arity]: block 'add' takes 2 arguments but 1 was given; missing 'b' #! ① note ②: 'add' is defined here
            }
            """)
    }

    @Test func blockCalledWithTooManyArguments() {
        // The error points at the first argument beyond the parameter list.
        assertDiagnostics("""
            block ②add②(a, b) {
                return a + b
            }
            model m {
                input x: f32[B, 3]
                output y = add(x, x, ①x①, x)     #! ① error[block-arity]: block 'add' takes 2 arguments but 4 were given #! ① note ②: 'add' is defined here
            }
            """)
    }

    @Test func blockWithDefaultsCalledWithTooFewArguments() {
        assertDiagnostics("""
            block ②layer②(x, width, act = 1) {
                return dense(x, width)
            }
            model m {
                input x: f32[B, 3]
                output y = ①layer①(x)           #! ① error[block-arity]: block 'layer' takes 2 to 3 arguments but 1 was given; missing 'width' #! ① note ②: 'layer' is defined here
            }
            """)
    }

    @Test func blockCalledWithUnknownParameterName() {
        // The misspelt name is the missing one: that is not reported a second time.
        assertDiagnostics("""
            block ②layer②(x, width) {
                return dense(x, width)
            }
            model m {
                input x: f32[B, 3]
                output y = layer(x, ①widht①: 4)     #! ① error[unknown-argument]: block 'layer' has no parameter 'widht'; did you mean 'width'? #! ① note ②: 'layer' is defined here
            }
            """)
    }
}
