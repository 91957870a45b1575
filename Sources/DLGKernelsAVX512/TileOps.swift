// Elementwise loops over f32 rows compiled for AVX-512: the unary and
// binary functions of DLGKernels' kernels and of the steps of its fused
// elementwise kernels, convolution epilogues, and the sums of reductions.
// The math is the functions' one definition in DLGOps, compiled here for
// AVX-512, so each loop computes exactly what DLGKernels' portable loops
// compute, lane by lane and in the same order of additions, and results do
// not depend on which of the two ran: no multiply-add is contracted into an
// FMA, a row's tail goes through the same vector code on zero-filled lanes,
// and `sum` keeps the pairwise order of `SIMDMath.pairwiseSum`.

#if arch(x86_64)
import DLGOps

public enum TileOps {
    /// y[i] = f(x[i]); `y` may equal `x`.
    public static func unary(_ f: UnaryFunction, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        _ = f.op.visitUnary(UnaryLoop(x: x, y: y, n: n, a: Float(f.alpha)))
    }

    /// dx[i] = dy[i]·f′ at (x[i], y[i]); `dx` may equal any operand.
    public static func gradient(_ f: UnaryFunction, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, _ n: Int) {
        _ = f.op.visitUnary(GradientLoop(x: x, y: y, dy: dy, dx: dx, n: n, a: Float(f.alpha)))
    }

    /// dst[i] = f(src[i] + bias), or src[i] + bias without f: a convolution's
    /// epilogue. `dst` may equal `src`.
    public static func biasUnary(_ f: UnaryFunction?, _ src: UnsafePointer<Float>, bias: Float,
                                 _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let b = Vector16(repeating: bias)
        guard let f else {
            SIMDMath.map(src, dst, n) { $0 + b }
            return
        }
        _ = f.op.visitUnary(BiasUnaryLoop(x: src, y: dst, n: n, a: Float(f.alpha), bias: b))
    }

    /// out[i] = a[i] op b[i] for a binary function `op`; `out` may equal `a` or `b`.
    public static func binary(_ op: Op, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        _ = op.visitBinary(PairLoop(a: a, b: b, out: out, n: n))
    }

    /// out[i] = a[i] op b.
    public static func binary(_ op: Op, _ a: UnsafePointer<Float>, scalar b: Float,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        _ = op.visitBinary(ScalarRightLoop(a: a, b: Vector16(repeating: b), out: out, n: n))
    }

    /// out[i] = a op b[i].
    public static func binary(_ op: Op, scalar a: Float, _ b: UnsafePointer<Float>,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        _ = op.visitBinary(ScalarLeftLoop(a: Vector16(repeating: a), b: b, out: out, n: n))
    }

    struct UnaryLoop: UnaryVisitor {
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int, a: Float
        @inline(__always)
        func visit<F: UnaryDefinition>(_: F.Type) {
            let a = self.a
            SIMDMath.map(x, y, n) { F.forward($0, a) }
        }
    }

    struct BiasUnaryLoop: UnaryVisitor {
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int, a: Float, bias: Vector16
        @inline(__always)
        func visit<F: UnaryDefinition>(_: F.Type) {
            let a = self.a, b = bias
            SIMDMath.map(x, y, n) { F.forward($0 + b, a) }
        }
    }

    struct GradientLoop: UnaryVisitor {
        let x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>
        let dx: UnsafeMutablePointer<Float>, n: Int, a: Float
        @inline(__always)
        func visit<F: UnaryDefinition>(_: F.Type) {
            let a = self.a
            SIMDMath.map3(x, y, dy, dx, n) { F.backward($0, $1, $2, a) }
        }
    }

    struct PairLoop: BinaryVisitor {
        let a: UnsafePointer<Float>, b: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, n: Int
        @inline(__always)
        func visit<F: BinaryDefinition>(_: F.Type) { SIMDMath.map2(a, b, out, n) { F.forward($0, $1) } }
    }

    struct ScalarRightLoop: BinaryVisitor {
        let a: UnsafePointer<Float>, b: Vector16, out: UnsafeMutablePointer<Float>, n: Int
        @inline(__always)
        func visit<F: BinaryDefinition>(_: F.Type) {
            let v = b
            SIMDMath.map(a, out, n) { F.forward($0, v) }
        }
    }

    struct ScalarLeftLoop: BinaryVisitor {
        let a: Vector16, b: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, n: Int
        @inline(__always)
        func visit<F: BinaryDefinition>(_: F.Type) {
            let v = a
            SIMDMath.map(b, out, n) { F.forward(v, $0) }
        }
    }

    /// acc[i] += values[i].
    public static func accumulate(_ acc: UnsafeMutablePointer<Float>, _ values: UnsafePointer<Float>, _ n: Int) {
        SIMDMath.map2(UnsafePointer(acc), values, acc, n) { $0 + $1 }
    }

    /// The sum of `n` values, added in the order of `SIMDMath.pairwiseSum`:
    /// up to 128 values in two 16-lane accumulators (32 at a time, then the
    /// rest 16 at a time into the first, zero-filled), combined lane-wise and
    /// then across lanes as `SIMDMath.horizontalSum`; longer runs split in
    /// halves at a multiple of 16.
    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        if n <= 128 { return pairwiseBlock(n) { i, w in w == 16 ? load(p + i) : loadPartial(p + i, w) } }
        let half = (n / 2) & ~15
        return sum(p, half) + sum(p + half, n - half)
    }

    /// The sum of `n` ≤ 128 values, `term(i, w)` giving values i ..< i + w
    /// (w ≤ 16, the other lanes 0), in `SIMDMath.pairwiseSum`'s order for a block.
    @inline(__always)
    static func pairwiseBlock(_ n: Int, _ term: (Int, Int) -> Vector16) -> Float {
        var acc0 = Vector16(), acc1 = Vector16()
        var i = 0
        while i + 32 <= n {
            acc0 += term(i, 16)
            acc1 += term(i + 16, 16)
            i &+= 32
        }
        while i < n {
            let w = min(16, n - i)
            acc0 += term(i, w)
            i &+= w
        }
        return horizontalSum(acc0 + acc1)
    }

    /// The first `n` (< 16) lanes from `p`, the others 0.
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ n: Int) -> Vector16 {
        var v = Vector16()
        for l in 0 ..< n { v[l] = p[l] }
        return v
    }

    /// Stores the first `n` (< 16) lanes.
    @inline(__always)
    static func storePartial(_ v: Vector16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for l in 0 ..< n { p[l] = v[l] }
    }

    @inline(__always)
    static func horizontalSum(_ v: Vector16) -> Float {
        var h0 = v[0] + v[8], h1 = v[1] + v[9], h2 = v[2] + v[10], h3 = v[3] + v[11]
        let h4 = v[4] + v[12], h5 = v[5] + v[13], h6 = v[6] + v[14], h7 = v[7] + v[15]
        h0 += h4; h1 += h5; h2 += h6; h3 += h7
        return (h0 + h2) + (h1 + h3)
    }
}

#endif
