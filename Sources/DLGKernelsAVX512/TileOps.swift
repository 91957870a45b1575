// Elementwise loops over f32 rows compiled for AVX-512: the steps of
// DLGKernels' fused elementwise kernels and its common unary and binary
// kernels, for the ops that dominate training steps (arithmetic, relu and
// its gradient, square, the sums of reductions). Each computes exactly what
// DLGKernels' portable loops compute, lane by lane and in the same order of
// additions, so results do not depend on which of the two ran: no
// multiply-add is contracted into an FMA, a row's tail goes through the same
// vector code on zero-filled lanes, and `sum` keeps the pairwise order of
// `SIMDMath.pairwiseSum`.

#if arch(x86_64)

public enum TileOps {
    public enum Binary: UInt8, Sendable {
        case add, sub, mul, div
    }

    public enum Unary: UInt8, Sendable {
        /// −x
        case neg
        /// x²
        case square
        /// x ≤ 0 ? 0 : x (a NaN stays NaN)
        case relu
        /// x < 0 ? −x : x, plus 0 (so −0 becomes +0)
        case abs
        /// √x
        case sqrt
    }

    public enum Gradient: UInt8, Sendable {
        /// x > 0 ? dy : 0
        case relu
        /// −dy
        case neg
        /// 2·x·dy
        case square
    }

    @inline(__always)
    static func apply(_ op: Binary, _ a: Vector16, _ b: Vector16) -> Vector16 {
        switch op {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        }
    }

    /// out[i] = a[i] op b[i]; `out` may equal `a` or `b`.
    public static func binary(_ op: Binary, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .add: binaryLoop(.add, a, b, out, n)
        case .sub: binaryLoop(.sub, a, b, out, n)
        case .mul: binaryLoop(.mul, a, b, out, n)
        case .div: binaryLoop(.div, a, b, out, n)
        }
    }

    /// out[i] = f(a[i]) over whole vectors, the tail through `f` on zero-filled lanes.
    @inline(__always)
    static func map(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                    _ f: (Vector16) -> Vector16) {
        var i = 0
        while i + 16 <= n {
            store(f(load(a + i)), out + i)
            i &+= 16
        }
        if i < n { storePartial(f(loadPartial(a + i, n - i)), out + i, n - i) }
    }

    /// out[i] = f(a[i], b[i]), as `map`.
    @inline(__always)
    static func map2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
                     _ f: (Vector16, Vector16) -> Vector16) {
        var i = 0
        while i + 16 <= n {
            store(f(load(a + i), load(b + i)), out + i)
            i &+= 16
        }
        if i < n { storePartial(f(loadPartial(a + i, n - i), loadPartial(b + i, n - i)), out + i, n - i) }
    }

    @inline(__always)
    static func binaryLoop(_ op: Binary, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        map2(a, b, out, n) { apply(op, $0, $1) }
    }

    /// out[i] = a[i] op b.
    public static func binary(_ op: Binary, _ a: UnsafePointer<Float>, scalar b: Float,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .add: scalarRightLoop(.add, a, b, out, n)
        case .sub: scalarRightLoop(.sub, a, b, out, n)
        case .mul: scalarRightLoop(.mul, a, b, out, n)
        case .div: scalarRightLoop(.div, a, b, out, n)
        }
    }

    @inline(__always)
    static func scalarRightLoop(_ op: Binary, _ a: UnsafePointer<Float>, _ b: Float,
                                _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let v = Vector16(repeating: b)
        map(a, out, n) { apply(op, $0, v) }
    }

    /// out[i] = a op b[i].
    public static func binary(_ op: Binary, scalar a: Float, _ b: UnsafePointer<Float>,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .add: scalarLeftLoop(.add, a, b, out, n)
        case .sub: scalarLeftLoop(.sub, a, b, out, n)
        case .mul: scalarLeftLoop(.mul, a, b, out, n)
        case .div: scalarLeftLoop(.div, a, b, out, n)
        }
    }

    @inline(__always)
    static func scalarLeftLoop(_ op: Binary, _ a: Float, _ b: UnsafePointer<Float>,
                               _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let v = Vector16(repeating: a)
        map(b, out, n) { apply(op, v, $0) }
    }

    @inline(__always)
    static func apply(_ op: Unary, _ x: Vector16) -> Vector16 {
        switch op {
        case .neg: return -x
        case .square: return x * x
        case .relu: return x.replacing(with: 0, where: x .<= 0)
        case .abs: return x.replacing(with: -x, where: x .< 0) + 0
        case .sqrt: return x.squareRoot()
        }
    }

    /// y[i] = op(x[i]); `y` may equal `x`.
    public static func unary(_ op: Unary, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .neg: unaryLoop(.neg, x, y, n)
        case .square: unaryLoop(.square, x, y, n)
        case .relu: unaryLoop(.relu, x, y, n)
        case .abs: unaryLoop(.abs, x, y, n)
        case .sqrt: unaryLoop(.sqrt, x, y, n)
        }
    }

    @inline(__always)
    static func unaryLoop(_ op: Unary, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, y, n) { apply(op, $0) }
    }

    @inline(__always)
    static func apply(_ op: Gradient, _ x: Vector16, _ dy: Vector16) -> Vector16 {
        switch op {
        case .relu: return Vector16().replacing(with: dy, where: x .> 0)
        case .neg: return -dy
        case .square: return 2 * x * dy
        }
    }

    /// dx[i] = dy[i]·op′ at x[i]; `dx` may equal `x` or `dy`.
    public static func gradient(_ op: Gradient, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>, _ n: Int) {
        switch op {
        case .relu: gradientLoop(.relu, x, dy, dx, n)
        case .neg: gradientLoop(.neg, x, dy, dx, n)
        case .square: gradientLoop(.square, x, dy, dx, n)
        }
    }

    @inline(__always)
    static func gradientLoop(_ op: Gradient, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        map2(x, dy, dx, n) { apply(op, $0, $1) }
    }

    /// acc[i] += values[i].
    public static func accumulate(_ acc: UnsafeMutablePointer<Float>, _ values: UnsafePointer<Float>, _ n: Int) {
        binaryLoop(.add, UnsafePointer(acc), values, acc, n)
    }

    /// The sum of `n` values, added in the order of `SIMDMath.pairwiseSum`:
    /// up to 128 values in two 16-lane accumulators (32 at a time, then the
    /// rest 16 at a time into the first, zero-filled), combined lane-wise and
    /// then across lanes as `SIMDMath.horizontalSum`; longer runs split in
    /// halves at a multiple of 16.
    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        if n <= 128 {
            var acc0 = Vector16(), acc1 = Vector16()
            var i = 0
            while i + 32 <= n {
                acc0 += load(p + i)
                acc1 += load(p + i + 16)
                i &+= 32
            }
            while i < n {
                let w = min(16, n - i)
                acc0 += w == 16 ? load(p + i) : loadPartial(p + i, w)
                i &+= w
            }
            return horizontalSum(acc0 + acc1)
        }
        let half = (n / 2) & ~15
        return sum(p, half) + sum(p + half, n - half)
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
