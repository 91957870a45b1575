import DLGCompiler
import DLGSource
import Testing

/// Type and shape errors found while elaborating: dtypes, matrix products,
/// broadcasting, convolution channels, window sizes, ranks. Operator errors
/// point at the operator; layer errors at the call; argument errors at the
/// argument. Every message carries the shapes and numbers involved.
@Suite struct ShapeDiagnosticTests {
    // MARK: dtype

    @Test func dtypeMismatchInAddition() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                input k: i32[B, 3]
                output y = x ①+① k         #! ① error[dtype-mismatch]: '+': operands have different dtypes: f32[B,3] and i32[B,3] #! ① note: convert one side with cast(x, dtype: f32) or declare both with the same dtype
            }
            """)
    }

    @Test func dtypeMismatchInMatmul() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f64[3, 2]
                output y = x ①@① W         #! ① error[dtype-mismatch]: '@': operands have different dtypes: f32[B,3] and f64[3,2] #! ① note: convert one side with cast(x, dtype: f32) or declare both with the same dtype
            }
            """)
    }

    @Test func dtypeMismatchBetweenPredictionAndTarget() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                input label: i32[B, 1]
                h = dense(x, 1)
                minimize ①mse(h, label)①   #! ① error[loss-dtype-mismatch]: mse: prediction f32[B,1] and target i32[B,1] have different dtypes #! ① note: integer class labels go with cross_entropy(logits, labels)
            }
            """)
    }

    /// Values of both float types that never meet in one op still cannot run in one program: the
    /// first value of the other type is the error, with a note at the value that set the type.
    @Test func mixedFloatTypesAreAnErrorAtTheFirstValueOfTheOtherType() {
        assertDiagnostics("""
            model m {
                input ②x②: f64[B, 3]
                input label: i32[B]
                output p = dense(x, 3)
                output q = ①one_hot(label, 3, dtype: f32)①     #! ① error[mixed-float-types]: the model mixes f32 and f64 values: this is f32[B,3], but the model computes in f64 #! ① note ②: the model's first floating-point value, f64[B,3], is here #! ① note: a program computes in one float type; convert with cast(x, dtype: f64) or declare f32 throughout
            }
            """)
        assertDiagnostics("""
            model m {
                input ②x②: f32[B, 3]
                output y = ①cast(x, f64)①     #! ① error[mixed-float-types]: the model mixes f32 and f64 values: this is f64[B,3], but the model computes in f32 #! ① note ②: the model's first floating-point value, f32[B,3], is here #! ① note: a program computes in one float type; convert with cast(x, dtype: f32) or declare f64 throughout
            }
            """)
    }

    /// one_hot without a dtype produces the model's float type, so it meets f64 values.
    @Test func oneHotTakesTheModelsFloatType() {
        assertDiagnostics("""
            model m {
                input x: f64[B, 3]
                input label: i32[B]
                output logits = dense(x, 3)
                minimize cross_entropy(logits, one_hot(label, 3)) + mse(softmax(logits), one_hot(label, 3))
            }
            """)
    }

    // MARK: matmul

    @Test func matmulInnerDimensionMismatch() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param W: f32[4, 5]
                output y = x ①@① W         #! ① error[matmul-mismatch]: '@': inner dimensions differ: f32[B,3] @ f32[4,5] needs 3 = 4 #! ① note: in a @ b the last dimension of a must equal the first of b
            }
            """)
    }

    @Test func matmulInnerMismatchAfterTranspose() {
        // transpose_b makes W [2, 3] act as [3, 2]: the inner sizes are 4 and 3.
        assertDiagnostics("""
            model m {
                input x: f32[B, 4]
                param W: f32[2, 3]
                output y = ①matmul(x, W, transpose_b: true)①    #! ① error[matmul-mismatch]: matmul: inner dimensions differ: f32[B,4] @ f32[2,3] needs 4 = 3 #! ① note: in a @ b the last dimension of a must equal the first of b
            }
            """)
    }

    @Test func matmulOfAVector() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param v: f32[3]
                output y = x ①@① v         #! ① error[not-matrix]: '@': right operand must be a matrix (rank ≥ 2), got f32[3]
            }
            """)
    }

    // MARK: broadcasting

    @Test func broadcastMismatch() {
        // Right-aligned: axis 1 has 3 and 4, neither of them 1.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                param b: f32[4]
                output y = x ①+① b         #! ① error[broadcast-mismatch]: '+': cannot broadcast f32[B,3] with f32[4]: dimension 1 is 3 in one operand and 4 in the other #! ① note: broadcasting aligns shapes from the right; each pair of dimensions must be equal or one of them 1
            }
            """)
    }

    @Test func broadcastMismatchInAFunctionCall() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 2, 5]
                input z: f32[B, 3, 5]
                output y = ①maximum(x, z)①   #! ① error[broadcast-mismatch]: maximum: cannot broadcast f32[B,2,5] with f32[B,3,5]: dimension 1 is 2 in one operand and 3 in the other #! ① note: broadcasting aligns shapes from the right; each pair of dimensions must be equal or one of them 1
            }
            """)
    }

    @Test func lossOperandsMustHaveOneShape() {
        // [B, 1] against [B] would broadcast to [B, B] and compare every pair.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                input t: f32[B]
                h = dense(x, 1)
                minimize ①mse(h, t)①       #! ① error[loss-shape-mismatch]: mse: prediction f32[B,1] and target f32[B] must have the same shape
            }
            """)
    }

    // MARK: convolution channels

    @Test func convFilterChannelMismatch() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3, 8, 8]
                param K: f32[4, 2, 3, 3]
                output y = ①conv2d(x, K)①   #! ① error[conv-channel-mismatch]: conv2d: input has 3 channels but the filter expects 2 (filter f32[4,2,3,3])
            }
            """)
    }

    @Test func convGroupsMustDivideChannels() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3, 8, 8]
                output y = conv2d(x, filters: 4, kernel: 3, groups: ①2①)   #! ① error[conv-channel-mismatch]: conv2d 'y': groups 2 must divide both the input channels 3 and the filters 4
            }
            """)
    }

    @Test func groupedFilterChannelMismatch() {
        // With groups 2 each filter sees 4 / 2 = 2 channels, but K has 1 per filter.
        assertDiagnostics("""
            model m {
                input x: f32[B, 4, 8, 8]
                param K: f32[6, 1, 3, 3]
                output y = ①conv2d(x, K, groups: 2)①   #! ① error[conv-channel-mismatch]: conv2d: input has 4 channels but the filter expects 2 (filter f32[6,1,3,3], groups 2)
            }
            """)
    }

    // MARK: window sizes

    // conv2d's non-positive height, (5 + 0 − 7)/1 + 1 = −1, is DiagnosticTests.convOutputNotPositive.

    @Test func convOutputWidthNotPositiveWithStrideAndPadding() {
        // Width: ⌊(4 + 2·1 − 9)/2⌋ + 1 = ⌊−3/2⌋ + 1 = −2 + 1 = −1 (the height, 12, is fine: (12 + 2 − 9)/2 + 1 = 3).
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 12, 4]
                output y = ①conv2d(x, filters: 2, kernel: 9, stride: 2, pad: 1)①  #! ① error[window-output]: conv2d 'y': output width is not positive: input width 4, kernel 9, padding 1, stride 2 → (4 + 2·1 − 9)/2 + 1 = -1 #! ① note: the input is too small for this window: reduce the kernel or stride, add padding, or remove a downsampling layer before it
            }
            """)
    }

    @Test func dilatedConvOutputNotPositive() {
        // Effective kernel 2·(3 − 1) + 1 = 5 on an input of 4: (4 + 0 − 5)/1 + 1 = 0.
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 4, 4]
                output y = ①conv2d(x, filters: 2, kernel: 3, dilation: 2)①  #! ① error[window-output]: conv2d 'y': output height is not positive: input height 4, kernel 3 (dilation 2, effective 5), padding 0, stride 1 → (4 + 0 − 5)/1 + 1 = 0 #! ① note: the input is too small for this window: reduce the kernel or stride, add padding, or remove a downsampling layer before it
            }
            """)
    }

    @Test func poolOutputNotPositive() {
        // The stride defaults to the window: ⌊(8 + 0 − 9)/9⌋ + 1 = −1 + 1 = 0.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3, 8, 8]
                output y = ①maxpool(x, kernel: 9)①  #! ① error[window-output]: maxpool 'y': output height is not positive: input height 8, kernel 9, padding 0, stride 9 → (8 + 0 − 9)/9 + 1 = 0 #! ① note: the input is too small for this window: reduce the kernel or stride, add padding, or remove a downsampling layer before it
            }
            """)
    }

    @Test func poolOutputFractionalWithExactRounding() {
        // (8 − 3)/2 + 1 = 3.5: floor would silently drop the last row, exact refuses.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3, 8, 8]
                output y = ①maxpool(x, kernel: 3, stride: 2, round: exact)①  #! ① error[window-output]: maxpool 'y': output height is fractional: input height 8, kernel 3, padding 0, stride 2 → (8 + 0 − 3)/2 + 1 = 3.5 #! ① note: round: exact requires (n + padding − kernel) to be a multiple of the stride; use round: floor or ceil, or change the padding
            }
            """)
    }

    @Test func convOutputFractionalWithExactRounding() {
        // Width (10 + 0 − 3)/2 + 1 = 4.5; the height (9 − 3)/2 + 1 = 4 is exact.
        assertDiagnostics("""
            model m {
                input x: f32[B, 1, 9, 10]
                output y = ①conv2d(x, filters: 2, kernel: 3, stride: 2, round: exact)①  #! ① error[window-output]: conv2d 'y': output width is fractional: input width 10, kernel 3, padding 0, stride 2 → (10 + 0 − 3)/2 + 1 = 4.5 #! ① note: round: exact requires (n + padding − kernel) to be a multiple of the stride; use round: floor or ceil, or change the padding
            }
            """)
    }

    @Test func floorRoundingIsTheDefault() {
        // The same pooling as above without round: exact gives ⌊3.5⌋ = 3 and a warning about the dropped row and column.
        assertDiagnostics("""
            model m {
                input x: f32[B, 3, 8, 8]
                output y = ①②maxpool(x, kernel: 3, stride: 2)①②  #! ① warning[dropped-input]: maxpool 'y': the last input row of 8 falls outside every window (stride 2, kernel 3) and is ignored #! ① note: pad: same keeps every input position #! ② warning[dropped-input]: maxpool 'y': the last input column of 8 falls outside every window (stride 2, kernel 3) and is ignored #! ② note: pad: same keeps every input position
            }
            """)
    }

    // MARK: ranks

    @Test func flattenOfUnknownRank() {
        assertDiagnostics("""
            model m {
                input x: f32[*]
                output y = ①flatten(x)①      #! ① error[unknown-rank]: flatten needs a known rank, but f32[*] has unknown rank #! ① note: declare the input with a full shape such as f32[B, 1, 28, 28]
            }
            """)
    }

    @Test func denseOfUnknownRank() {
        assertDiagnostics("""
            model m {
                input x: f32[*]
                output y = ①dense(x, 4)①      #! ① error[unknown-rank]: dense 'y' needs input of rank ≥ 2 ([batch, features]), got a tensor of unknown rank
            }
            """)
    }

    @Test func convOnAFlatInput() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 784]
                output y = ①conv2d(x, filters: 6, kernel: 5)①    #! ① error[layer-input]: conv2d 'y' needs an NCHW input of rank 4, got f32[B,784] #! ① note: reshape a flat input to images first, e.g. reshape(x, [B, 1, 28, 28])
            }
            """)
    }

    @Test func softmaxAxisOutOfRange() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 10]
                output y = softmax(x, axis: ①2①)    #! ① error[bad-axis]: softmax: axis 2 is out of range for f32[B,10]; it has 2 axes: 0…1, or −2…−1 from the end
            }
            """)
    }

    @Test func reshapeToADifferentElementCount() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 784]
                output y = ①reshape(x, [B, 1, 28, 27])①    #! ① error[reshape-count]: reshape: cannot reshape f32[B,784] to [B,1,28,27]: element counts differ
            }
            """)
    }

    @Test func sliceOutOfRange() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                output y = ①slice(x, axis: 1, start: 5)①    #! ① error[slice-range]: slice: 5..<end of axis 1 (size 3) is empty or out of range
            }
            """)
    }

    @Test func minimizeOfANonScalar() {
        assertDiagnostics("""
            model m {
                input x: f32[B, 3]
                minimize ①relu(x)①         #! ① error[minimize-not-scalar]: minimize needs a scalar, but this is f32[B,3] #! ① note: reduce it with mean(…) or sum(…), or use a loss such as mse(yhat, y)
            }
            """)
    }
}
