import Testing

/// Names that do not resolve: values, functions, initializers, dtypes, train
/// settings and models. Uses of a name whose declaration failed stay silent.
@Suite struct NameDiagnosticTests {
    @Test func unknownNameWithSuggestion() {
        // 'imgae' is one transposition (two edits) from 'image'.
        assertDiagnostics("""
            model m {
                input image: f32[B, 1, 28, 28]
                output y = relu(①imgae)        #! ① error: unknown name 'imgae'
            }
            """)
    }

    @Test func unknownNameInsideBlockSeesOnlyItsParameters() {
        // 'w' exists in the model but not inside the block.
        assertDiagnostics("""
            block scale(x) {
                return x * ①w                  #! ① error: unknown name 'w'
            }
            model m {
                input x: f32[B, 3]
                w = relu(x)
                output y = scale(x)
            }
            """)
    }

    @Test func unknownFunctionWithSuggestion() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = ①dens(x, 10)       #! ① error: unknown function 'dens'
            }
            """)
    }

    @Test func functionUsedAsAValue() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = x + ①relu          #! ① error: 'relu' is a function; call it, as in relu(x)
            }
            """)
    }

    @Test func valueCalledAsAFunction() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h = relu(x)
                output y = ①h(x)              #! ① error: 'h' is a value, not a function
            }
            """)
    }

    @Test func unknownInitializer() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[3, 2] = ①xavier_unifrom     #! ① error: unknown initializer 'xavier_unifrom'; did you mean 'xavier_uniform'?
                output y = x @ W
            }
            """)
    }

    @Test func unknownDType() {
        // The failed input still defines 'x', so its use is not reported again.
        assertDiagnostics("""
            model m {
                input x: ①f16[B, 3]           #! ① error: unknown dtype 'f16'
                output y = relu(x)
            }
            """)
    }

    @Test func redefinedInput() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                input ①x: f32[B, 4]           #! ① error: 'x' is already defined
                output y = relu(x)
            }
            """)
    }

    @Test func symbolicSizeUsedAsAName() {
        // B names the batch size of x; it is a value (a symbolic size), usable in reshape.
        assertClean("""
            model m {
                input x: f32[B, 784]
                output y = relu(reshape(x, [B, 1, 28, 28]))
            }
            """)
    }

    @Test func unknownTrainSettingAndModel() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = relu(x)
            }
            train m {
                ①epoch = 4                     #! ① error: unknown train setting 'epoch'; did you mean 'epochs'?
            }
            train ②mm {                       #! ② error: train block refers to unknown model 'mm'; did you mean 'm'?
                epochs = 4
            }
            """)
    }
}
