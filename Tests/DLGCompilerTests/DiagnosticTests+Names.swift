import Testing

/// Names that do not resolve: values, functions, initializers, dtypes, train
/// settings and models. Uses of a name whose declaration failed stay silent.
@Suite struct NameDiagnosticTests {
    @Test func unknownNameWithSuggestion() {
        // 'imgae' is one transposition (two edits) from 'image'.
        assertDiagnostics("""
            model m {
                input ②image②: f32[B, 1, 28, 28]
                output y = relu(①imgae①)       #! ① error[unknown-name]: unknown name 'imgae' #! ① note ②: did you mean 'image'?
            }
            """)
    }

    @Test func unknownNameInsideBlockSeesOnlyItsParameters() {
        // 'w' exists in the model but not inside the block.
        assertDiagnostics("""
            block scale(x) {
                return x * ①w①                 #! ① error[unknown-name]: unknown name 'w' #! ① note: a block sees only its parameters and its own bindings
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
                output y = ①dens①(x, 10)      #! ① error[unknown-function]: unknown function 'dens' #! ① note: did you mean 'dense'?
            }
            """)
    }

    @Test func functionUsedAsAValue() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = x + ①relu①         #! ① error[function-as-value]: 'relu' is a function; call it, as in relu(x)
            }
            """)
    }

    @Test func valueCalledAsAFunction() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                h = relu(x)
                output y = ①h①(x)             #! ① error[not-callable]: 'h' is a value, not a function
            }
            """)
    }

    @Test func unknownInitializer() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[3, 2] = ①xavier_unifrom①    #! ① error[unknown-initializer]: unknown initializer 'xavier_unifrom'; did you mean 'xavier_uniform'?
                output y = x @ W
            }
            """)
    }

    @Test func unknownDType() {
        // The failed input still defines 'x', so its use is not reported again.
        assertDiagnostics("""
            model m {
                input x: ①f16①[B, 3]          #! ① error[unknown-dtype]: unknown dtype 'f16' #! ① note: dtypes are f32, f64 and i32
                output y = relu(x)
            }
            """)
    }

    @Test func redefinedInput() {
        assertDiagnostics("""
            model m {
                input ②x②: f32[B, 3]
                input ①x①: f32[B, 4]          #! ① error[redefinition]: 'x' is already defined #! ① note ②: previous definition here
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
                ①epoch① = 4                    #! ① error[unknown-setting]: unknown train setting 'epoch'; did you mean 'epochs'? #! ① note: settings: allow_nonfinite, augment, batch, checkpoint, clip_norm, clip_value, data, early_stopping, epochs, freeze, inputs, l1, l2, loss_every, metric, min_delta, normalize, optimizer, patience, schedule, seed, shuffle, sync_batchnorm, test, threads, validation, weight_decay
            }
            train ②mm② {                      #! ② error[unknown-trained-model]: train block refers to unknown model 'mm'; did you mean 'm'?
                epochs = 4
            }
            """)
    }
}
