// Rows of sparse softmax cross-entropy compiled for AVX-512: the operations
// of SIMDMath.logSumExp and of the portable rows in DLGKernels, in the same
// order — the same max, exp (SIMDMath.expFloat), pairwise sum and log — so
// the same bits, in a quarter of the SSE build's instructions. Written with
// this module's own non-generic helpers: a generic DLGOps function that the
// optimizer did not inline would be emitted here as a specialization that
// other modules share, and a kernel without AVX-512 could then run it.

#if arch(x86_64)
import DLGOps

public enum SoftmaxRows {
    /// logsumexp(z) − z[label] over the `n` ≥ 1 logits of one row.
    public static func crossEntropy(_ z: UnsafePointer<Float>, _ n: Int, label: Int) -> Float {
        let (m, ls) = logSumExp(z, n)
        return (m - z[label]) + ls
    }

    /// dz = softmax(z)·g, then dz[label] −= g, over the `n` ≥ 1 logits of one row.
    public static func crossEntropyGradient(_ z: UnsafePointer<Float>, _ dz: UnsafeMutablePointer<Float>, _ n: Int,
                                            label: Int, scale g: Float) {
        let (m, ls) = logSumExp(z, n)
        var i = 0
        while i < n {
            let w = min(16, n &- i)
            let x = w == 16 ? load(z + i) : TileOps.loadPartial(z + i, w)
            let y = VectorMath.exp((x - m) - ls) * g
            if w == 16 { store(y, dz + i) } else { TileOps.storePartial(y, dz + i, w) }
            i &+= 16
        }
        dz[label] -= g
    }

    /// `SIMDMath.logSumExp`: (max, log Σ e^(x−max)).
    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, logSum: Float) {
        if n <= 16 {
            // One vector; padding lanes hold −inf and contribute e^−inf = 0.
            var v = Vector16(repeating: -.infinity)
            for l in 0 ..< n { v[l] = x[l] }
            let m = maximum(v)
            return (m, Float.log(TileOps.horizontalSum(VectorMath.exp(v - m))))
        }
        let m = maximum(x, n)
        return (m, Float.log(sumOfExp(x, n, minus: m)))
    }

    /// Σ e^(x − m) over n values, in `SIMDMath.pairwiseSum`'s order.
    static func sumOfExp(_ x: UnsafePointer<Float>, _ n: Int, minus m: Float) -> Float {
        if n <= 128 {
            return TileOps.pairwiseBlock(n) { i, w in
                if w == 16 { return VectorMath.exp(load(x + i) - m) }
                let e = VectorMath.exp(TileOps.loadPartial(x + i, w) - m)
                return e.replacing(with: 0, where: lanes .>= Float(w))
            }
        }
        let half = (n / 2) & ~15
        return sumOfExp(x, half, minus: m) + sumOfExp(x + half, n - half, minus: m)
    }

    static let lanes = Vector16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

    /// `SIMDMath.extremum` for the max of n ≥ 1 values: lane-wise over vectors (the
    /// last overlapping the one before), then across the lanes; a NaN lane stays
    /// only where it came first, as there.
    static func maximum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        if n < 16 {
            var m = p[0]
            for i in 1 ..< n where p[i] > m { m = p[i] }
            return m
        }
        var acc = load(p)
        var i = 16
        while i + 16 <= n {
            let v = load(p + i)
            acc = acc.replacing(with: v, where: v .> acc)
            i &+= 16
        }
        if i < n {
            let v = load(p + n - 16)
            acc = acc.replacing(with: v, where: v .> acc)
        }
        return maximum(acc)
    }

    /// `SIMDMath.horizontalExtremum` for the max: lane 0, then each lane greater.
    @inline(__always)
    static func maximum(_ v: Vector16) -> Float {
        var m = v[0]
        for j in 1 ..< 16 where v[j] > m { m = v[j] }
        return m
    }
}
#endif
