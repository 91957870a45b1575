import DLGData
import DLGRuntime
import Testing

/// Worked examples from the classic course material, run through the whole
/// pipeline: .dlg source → graph → program → kernels.
@Suite struct TextbookTests {
    /// A 6×6 image, left half 10 and right half 0, convolved with the 3×3
    /// vertical-edge kernel [[1,0,−1]×3]: every window that straddles the
    /// edge sums 3·10 = 30; windows entirely on one side sum to 0.
    @Test func verticalEdgeDetector() throws {
        let p = try lowered("""
            model edge {
                input image: f32[1, 1, 6, 6]
                output y = conv2d(image, filters: 1, kernel: 3, bias: false,
                                  init: [[[[1, 0, -1], [1, 0, -1], [1, 0, -1]]]])
            }
            """)
        let image = (0..<36).map { Float($0 % 6 < 3 ? 10 : 0) }
        let y = try run(p, ["image": try NDArray(image, shape: [1, 1, 6, 6])])["y"]!
        #expect(y.shape == [1, 1, 4, 4])
        #expect(y.toDoubles() == [0, 30, 30, 0, 0, 30, 30, 0, 0, 30, 30, 0, 0, 30, 30, 0])
    }

    /// one_hot in an f64 model gives f64 rows (the model's float type), which meet its f64 values:
    /// Σ (x − one_hot)² per row of x = [[0.5, 0.25, 0], [1, 0, 0]] with labels 1, 0 is
    /// 0.25 + 0.5625 = 0.8125 and 0.
    @Test func oneHotInADoublePrecisionModel() throws {
        let p = try lowered("""
            model m {
                input x: f64[2, 3]
                input label: i32[2]
                output t = one_hot(label, 3)
                output e = sum(square(x - one_hot(label, 3)), axis: 1)
            }
            """)
        #expect(p.floatType == .f64)
        let out = try run(p, ["x": try NDArray([0.5, 0.25, 0, 1, 0, 0], shape: [2, 3]),
                              "label": try NDArray([Int32(1), 0], shape: [2])])
        #expect(out["t"]?.elementType == .f64)
        #expect(out["t"]?.toDoubles() == [0, 1, 0, 1, 0, 0])
        #expect(out["e"]?.toDoubles() == [0.8125, 0])
    }

    /// 'same' padding with a 3×3 kernel keeps 6×6.
    @Test func samePaddingKeepsSize() throws {
        let p = try lowered("""
            model edge {
                input image: f32[1, 1, 6, 6]
                output y = conv2d(image, filters: 1, kernel: 3, pad: same, bias: false,
                                  init: [[[[1, 0, -1], [1, 0, -1], [1, 0, -1]]]])
            }
            """)
        let image = (0..<36).map { Float($0 % 6 < 3 ? 10 : 0) }
        let y = try run(p, ["image": try NDArray(image, shape: [1, 1, 6, 6])])["y"]!
        #expect(y.shape == [1, 1, 6, 6])
        // Row 0 (zero padding above): columns 2 and 3 see 2 rows of 10s → 20; column 0
        // sees −(10+10) on its right neighbour only: 0·left pad + 0 − 10·2 = −20.
        #expect(Array(y.toDoubles()[0..<6]) == [-20, 0, 20, 20, 0, 0])
        #expect(Array(y.toDoubles()[6..<12]) == [-30, 0, 30, 30, 0, 0])
    }

    /// 2×2 max pooling with stride 2 on a hand-written 4×4.
    @Test func maxPooling() throws {
        let p = try lowered("""
            model pool {
                input x: f32[1, 1, 4, 4]
                output y = maxpool(x, kernel: 2, stride: 2)
            }
            """)
        let x: [Float] = [1, 3, 2, 1,
                          4, 2, 0, 1,
                          5, 6, 1, 2,
                          7, 8, 3, 4]
        let y = try run(p, ["x": try NDArray(x, shape: [1, 1, 4, 4])])["y"]!
        #expect(y.toDoubles() == [4, 2, 8, 4])
    }

    /// The 2-2-1 sigmoid network with given weights, forward by hand:
    /// h = σ(x·W1 + b1), ŷ = σ(h·W2 + b2).
    @Test func xorForwardWithGivenWeights() throws {
        let p = try lowered("""
            model xor {
                input x: f32[B, 2]
                param W1: f32[2, 2] = [[0.5, -0.4], [0.3, 0.8]]
                param b1: f32[2] = [0.1, -0.2]
                param W2: f32[2, 1] = [[0.2], [0.4]]
                param b2: f32[1] = [0.05]
                h = sigmoid(x @ W1 + b1)
                output yhat = sigmoid(h @ W2 + b2)
            }
            """, bind: ["B": 4])
        let x: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]
        let y = try run(p, ["x": try NDArray(x, shape: [4, 2])])["yhat"]!.toDoubles()
        func s(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        let expected = (0..<4).map { r -> Double in
            let (a, b) = (Double(x[2 * r]), Double(x[2 * r + 1]))
            let h1 = s(a * 0.5 + b * 0.3 + 0.1), h2 = s(a * -0.4 + b * 0.8 - 0.2)
            return s(h1 * 0.2 + h2 * 0.4 + 0.05)
        }
        expectClose(y, expected, tolerance: 1e-6)
    }
}

import Foundation
