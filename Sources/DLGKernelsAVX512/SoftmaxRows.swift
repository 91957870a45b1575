// Rows of sparse softmax cross-entropy compiled for AVX-512. The math is
// SIMDMath's (logSumExp, exp), inlined here, which DLGKernels' portable rows
// run too: the same operations in the same order, so the same bits, only
// four times fewer instructions than the SSE build of the same code.

#if arch(x86_64)
import DLGOps

public enum SoftmaxRows {
    /// logsumexp(z) − z[label] over the `n` logits of one row.
    public static func crossEntropy(_ z: UnsafePointer<Float>, _ n: Int, label: Int) -> Float {
        let (m, ls) = SIMDMath.logSumExp(z, n)
        return (m - z[label]) + ls
    }

    /// dz = softmax(z)·g, then dz[label] −= g, over the `n` logits of one row.
    public static func crossEntropyGradient(_ z: UnsafePointer<Float>, _ dz: UnsafeMutablePointer<Float>, _ n: Int,
                                            label: Int, scale g: Float) {
        let (m, ls) = SIMDMath.logSumExp(z, n)
        // SIMDMath.map's loop written out: its closure would be a call per vector here.
        var i = 0
        while i < n {
            let w = min(16, n &- i)
            let x = w == 16 ? SIMDMath.load(z + i) : SIMDMath.loadPartial(z + i, w, fill: 0)
            let y = SIMDMath.exp((x - m) - ls) * g
            if w == 16 { SIMDMath.store(y, dz + i) } else { SIMDMath.storePartial(y, dz + i, w) }
            i &+= 16
        }
        dz[label] -= g
    }
}
#endif
