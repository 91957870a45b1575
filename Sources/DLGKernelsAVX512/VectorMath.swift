// This module's f32 exp, expm1, sigmoid and tanh: `SIMDMath`'s definitions
// (DLGOps), compiled here, for AVX-512, with the same bits (VectorMathTests
// checks).
//
// Why not call `SIMDMath.sigmoid` directly: a kernel here gets the generic
// function's Float specialization, and when the optimizer does not inline it
// (a large caller), the call goes to the one specialization the linker keeps
// of the copies every module emits, compiled for the baseline (SSE, four
// lanes, no AVX); the generic `compare` / `select` also reach the lanes one by
// one there. So exp and expm1 come from SIMDMath's transparent Float paths
// (always inlined, so compiled in this module), and sigmoid and tanh, a few
// lines each, are spelled here on `SIMD16<Float>` directly, where each
// comparison is one vcmpps into a mask register and each select one masked
// move, in the operations and order of SIMDMath's.
//
// No `addingProduct`: a fused multiply-add rounds once and would change the bits.

#if arch(x86_64)
import DLGOps

enum VectorMath {
    /// |x| with |−0| = +0, as `SIMDMath.abs`.
    @_transparent
    static func abs(_ x: Vector16) -> Vector16 {
        x.replacing(with: -x, where: x .< 0) + 0
    }

    /// e^x: `SIMDMath.expFloat` (transparent, so compiled here).
    @_transparent
    static func exp(_ x: Vector16) -> Vector16 { SIMDMath.expFloat(x) }

    /// e^x − 1: `SIMDMath.expm1Float` (transparent, so compiled here).
    @_transparent
    static func expm1(_ x: Vector16) -> Vector16 { SIMDMath.expm1Float(x) }

    /// 1/(1+e^−x), as `SIMDMath.sigmoid`: e = e^−|x|, 1/(1+e) for x ≥ 0, e/(1+e) below.
    @_transparent
    static func sigmoid(_ x: Vector16) -> Vector16 {
        let e = exp(-abs(x))
        let s = 1 / (1 + e)
        return s.replacing(with: e * s, where: x .< 0)
    }

    /// tanh, as `SIMDMath.tanh`: u = expm1(−2|x|), tanh|x| = −u/(u+2), the sign restored.
    @_transparent
    static func tanh(_ x: Vector16) -> Vector16 {
        let u = expm1(-2 * abs(x))
        let t = -u / (u + 2)
        return t.replacing(with: -t, where: x .< 0)
    }
}

/// The module's vector math over a buffer, for tests: `y[i] = f(x[i])`,
/// `count` a multiple of 16.
public enum VectorMathProbe {
    public enum Function: CaseIterable, Sendable { case exp, expm1, sigmoid, tanh }

    public static func apply(_ f: Function, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count % 16 == 0, "count must be a multiple of 16")
        var i = 0
        while i < count {
            let v = load(x + i)
            let r: Vector16 = switch f {
            case .exp: VectorMath.exp(v)
            case .expm1: VectorMath.expm1(v)
            case .sigmoid: VectorMath.sigmoid(v)
            case .tanh: VectorMath.tanh(v)
            }
            store(r, y + i)
            i &+= 16
        }
    }
}

#endif
