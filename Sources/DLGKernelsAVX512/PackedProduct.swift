// The AVX-512 matrix product of DLGKernels' `PackedGemm`: C = A·B (+ bias,
// then an activation) where B — a weight matrix that stays constant over many
// products (an inference program's parameter) — was packed once into column
// panels of 32, each panel k rows of 32 contiguous floats (zeros past B's last
// column). A tile of 8 rows × 32 columns of C is kept in sixteen zmm
// accumulators over the whole inner dimension, each step loading the panel's
// row κ (two vectors) and broadcasting A's eight elements of column κ, with a
// fused multiply-add per accumulator; the bias and the activation are applied
// as the tile is stored. C[i, j] is the chain s ← 0; s ← fma(A(i, κ), B(κ, j), s)
// for κ = 0, 1, …, k − 1, whatever tile it lies in (s ← C[i, j] instead of 0
// when the epilogue accumulates: C ← C + A·B).

#if arch(x86_64)
import DLGOps

public enum PackedProduct {
    /// Columns per panel.
    public static let panelWidth = 32

    /// Packs columns `32·p ..< 32·p + 32` of B (k × n, B(κ, j) =
    /// b[κ·rowStride + j·columnStride]) for each panel p of `panels` into
    /// `packed + p·32·k`: row κ of a panel is its 32 columns of B's row κ,
    /// zeros past column n.
    public static func pack(b: UnsafePointer<Float>, rowStride: Int, columnStride: Int, k: Int, n: Int,
                            panels: Range<Int>, into packed: UnsafeMutablePointer<Float>) {
        for p in panels {
            let j0 = p &* panelWidth
            let width = min(panelWidth, n - j0)
            var out = packed + p &* panelWidth &* k
            if columnStride == 1 {
                var row = b + j0
                for _ in 0 ..< k {
                    if width == panelWidth {
                        store(load(row), out)
                        store(load(row + 16), out + 16)
                    } else {
                        for l in 0 ..< width { out[l] = row[l] }
                        for l in width ..< panelWidth { out[l] = 0 }
                    }
                    row += rowStride
                    out += panelWidth
                }
            } else {
                // B stored transposed: column j is contiguous along κ when rowStride is 1.
                for l in 0 ..< panelWidth {
                    var q = out + l
                    if l < width {
                        var src = b + (j0 &+ l) &* columnStride
                        for _ in 0 ..< k {
                            q[0] = src[0]
                            src += rowStride
                            q += panelWidth
                        }
                    } else {
                        for _ in 0 ..< k {
                            q[0] = 0
                            q += panelWidth
                        }
                    }
                }
            }
        }
    }

    /// The epilogue applied as a tile is stored.
    public struct Epilogue {
        /// n values, one per column of C, added to every row; nil adds nothing.
        public var bias: UnsafePointer<Float>?
        /// Applied after the bias (relu in registers; any other function over
        /// the stored row of the tile, while it is in cache); nil applies nothing.
        public var activation: UnaryFunction?
        /// C ← C + A·B: each accumulator starts from C's element instead of 0, so
        /// that C[i, j] stays one chain of fused multiply-adds, s ← C[i, j] first,
        /// also when the inner dimension is multiplied in blocks, one call each.
        public var accumulate: Bool
        public init(bias: UnsafePointer<Float>? = nil, activation: UnaryFunction? = nil, accumulate: Bool = false) {
            self.bias = bias
            self.activation = activation
            self.accumulate = accumulate
        }
    }

    /// Rows `rows` and panels `panels` of C (m × n, row stride ldc) ←
    /// A·B (+ epilogue), A(i, κ) = a[i·aRowStride + κ·aColumnStride], B packed
    /// by `pack` (all panels of B at `packed`).
    public static func run(a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int, packed: UnsafePointer<Float>,
                           k: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, panels: Range<Int>,
                           epilogue: Epilogue) {
        let relu = epilogue.activation?.op == .relu
        let other = relu ? nil : epilogue.activation
        for p in panels {
            let j0 = p &* panelWidth
            let width = min(panelWidth, n - j0)
            var bias0 = Vector16(), bias1 = Vector16()
            if let bias = epilogue.bias {
                if width == panelWidth {
                    bias0 = load(bias + j0)
                    bias1 = load(bias + j0 + 16)
                } else {
                    for l in 0 ..< width {
                        if l < 16 { bias0[l] = bias[j0 + l] } else { bias1[l - 16] = bias[j0 + l] }
                    }
                }
            }
            let tile = Tile(packed: packed + p &* panelWidth &* k, k: k, aColumnStride: aColumnStride, ldc: ldc,
                            width: width, addBias: epilogue.bias != nil, bias0: bias0, bias1: bias1, relu: relu,
                            accumulate: epilogue.accumulate)
            var i = rows.lowerBound
            while i < rows.upperBound {
                let height = min(8, rows.upperBound - i)
                let pa = a + i &* aRowStride, pc = c + i &* ldc + j0
                if height > 4 {
                    tile.rows8(a: pa, aRowStride: aRowStride, height: height, c: pc)
                } else {
                    tile.rows4(a: pa, aRowStride: aRowStride, height: height, c: pc)
                }
                if let f = other {
                    for r in 0 ..< height {
                        let row = pc + r &* ldc
                        TileOps.unary(f, row, row, width)
                    }
                }
                i += height
            }
        }
    }

    struct Tile {
        let packed: UnsafePointer<Float>, k: Int, aColumnStride: Int, ldc: Int, width: Int
        let addBias: Bool, bias0: Vector16, bias1: Vector16, relu: Bool, accumulate: Bool

        /// The two vectors of C's row at `p` (zeros past `width`): the start of an accumulating chain.
        @inline(__always)
        func start(_ p: UnsafeMutablePointer<Float>) -> (Vector16, Vector16) {
            if width == PackedProduct.panelWidth { return (load(p), load(p + 16)) }
            var v0 = Vector16(), v1 = Vector16()
            for l in 0 ..< width {
                if l < 16 { v0[l] = p[l] } else { v1[l - 16] = p[l] }
            }
            return (v0, v1)
        }

        /// One row of the tile: s0, s1 (+ bias, relu) into C's row at `p`.
        @inline(__always)
        func finish(_ s0: Vector16, _ s1: Vector16, _ p: UnsafeMutablePointer<Float>) {
            var v0 = s0, v1 = s1
            if addBias {
                v0 = v0 + bias0
                v1 = v1 + bias1
            }
            if relu {
                v0 = Elementwise.Relu.forward(v0, 0)
                v1 = Elementwise.Relu.forward(v1, 0)
            }
            if width == PackedProduct.panelWidth {
                store(v0, p)
                store(v1, p + 16)
            } else {
                for l in 0 ..< width { p[l] = l < 16 ? v0[l] : v1[l - 16] }
            }
        }

        /// Rows i ..< i + height of the panel, 4 < height ≤ 8: rows past
        /// `height` repeat the last one and are not stored.
        @inline(never)
        func rows8(a: UnsafePointer<Float>, aRowStride: Int, height: Int, c: UnsafeMutablePointer<Float>) {
            let last = height &- 1
            let a0 = a, a1 = a + aRowStride, a2 = a + 2 &* aRowStride, a3 = a + 3 &* aRowStride
            let a4 = a + min(4, last) &* aRowStride, a5 = a + min(5, last) &* aRowStride
            let a6 = a + min(6, last) &* aRowStride, a7 = a + min(7, last) &* aRowStride
            var s00 = Vector16(), s01 = Vector16(), s10 = Vector16(), s11 = Vector16()
            var s20 = Vector16(), s21 = Vector16(), s30 = Vector16(), s31 = Vector16()
            var s40 = Vector16(), s41 = Vector16(), s50 = Vector16(), s51 = Vector16()
            var s60 = Vector16(), s61 = Vector16(), s70 = Vector16(), s71 = Vector16()
            if accumulate {
                // Rows past `height` start from the last row (they are not stored).
                (s00, s01) = start(c)
                (s10, s11) = start(c + ldc)
                (s20, s21) = start(c + 2 &* ldc)
                (s30, s31) = start(c + 3 &* ldc)
                (s40, s41) = start(c + min(4, last) &* ldc)
                (s50, s51) = start(c + min(5, last) &* ldc)
                (s60, s61) = start(c + min(6, last) &* ldc)
                (s70, s71) = start(c + min(7, last) &* ldc)
            }
            var pb = packed
            var o = 0
            let step = aColumnStride
            for _ in 0 ..< k {
                let b0 = load(pb), b1 = load(pb + 16)
                var x = Vector16(repeating: a0[o])
                s00 = s00.addingProduct(x, b0); s01 = s01.addingProduct(x, b1)
                x = Vector16(repeating: a1[o])
                s10 = s10.addingProduct(x, b0); s11 = s11.addingProduct(x, b1)
                x = Vector16(repeating: a2[o])
                s20 = s20.addingProduct(x, b0); s21 = s21.addingProduct(x, b1)
                x = Vector16(repeating: a3[o])
                s30 = s30.addingProduct(x, b0); s31 = s31.addingProduct(x, b1)
                x = Vector16(repeating: a4[o])
                s40 = s40.addingProduct(x, b0); s41 = s41.addingProduct(x, b1)
                x = Vector16(repeating: a5[o])
                s50 = s50.addingProduct(x, b0); s51 = s51.addingProduct(x, b1)
                x = Vector16(repeating: a6[o])
                s60 = s60.addingProduct(x, b0); s61 = s61.addingProduct(x, b1)
                x = Vector16(repeating: a7[o])
                s70 = s70.addingProduct(x, b0); s71 = s71.addingProduct(x, b1)
                o &+= step
                pb += PackedProduct.panelWidth
            }
            finish(s00, s01, c)
            finish(s10, s11, c + ldc)
            finish(s20, s21, c + 2 &* ldc)
            finish(s30, s31, c + 3 &* ldc)
            finish(s40, s41, c + 4 &* ldc)
            if height > 5 { finish(s50, s51, c + 5 &* ldc) }
            if height > 6 { finish(s60, s61, c + 6 &* ldc) }
            if height > 7 { finish(s70, s71, c + 7 &* ldc) }
        }

        /// Rows i ..< i + height of the panel, 1 ≤ height ≤ 4: rows past
        /// `height` repeat the last one and are not stored.
        @inline(never)
        func rows4(a: UnsafePointer<Float>, aRowStride: Int, height: Int, c: UnsafeMutablePointer<Float>) {
            let last = height &- 1
            let a0 = a, a1 = a + min(1, last) &* aRowStride
            let a2 = a + min(2, last) &* aRowStride, a3 = a + min(3, last) &* aRowStride
            var s00 = Vector16(), s01 = Vector16(), s10 = Vector16(), s11 = Vector16()
            var s20 = Vector16(), s21 = Vector16(), s30 = Vector16(), s31 = Vector16()
            if accumulate {
                (s00, s01) = start(c)
                (s10, s11) = start(c + min(1, last) &* ldc)
                (s20, s21) = start(c + min(2, last) &* ldc)
                (s30, s31) = start(c + min(3, last) &* ldc)
            }
            var pb = packed
            var o = 0
            let step = aColumnStride
            for _ in 0 ..< k {
                let b0 = load(pb), b1 = load(pb + 16)
                var x = Vector16(repeating: a0[o])
                s00 = s00.addingProduct(x, b0); s01 = s01.addingProduct(x, b1)
                x = Vector16(repeating: a1[o])
                s10 = s10.addingProduct(x, b0); s11 = s11.addingProduct(x, b1)
                x = Vector16(repeating: a2[o])
                s20 = s20.addingProduct(x, b0); s21 = s21.addingProduct(x, b1)
                x = Vector16(repeating: a3[o])
                s30 = s30.addingProduct(x, b0); s31 = s31.addingProduct(x, b1)
                o &+= step
                pb += PackedProduct.panelWidth
            }
            finish(s00, s01, c)
            if height > 1 { finish(s10, s11, c + ldc) }
            if height > 2 { finish(s20, s21, c + 2 &* ldc) }
            if height > 3 { finish(s30, s31, c + 3 &* ldc) }
        }
    }
}

#endif
