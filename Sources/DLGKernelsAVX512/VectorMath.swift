// This module's own f32 exp, expm1, sigmoid and tanh: the same operations, in
// the same order, as `SIMDMath`'s Float path (DLGOps), so they give the same
// bits (VectorMathTests checks), but compiled here, for AVX-512.
//
// Why a copy: a kernel here that calls `SIMDMath.sigmoid` gets the generic
// function's Float specialization, and when the optimizer does not inline it
// (a large caller), the call goes to the one specialization the linker keeps
// of the copies every module emits, compiled for the baseline (SSE, four
// lanes, no AVX). The generic `compare` / `select` also reach the lanes one
// by one there. Written on `SIMD16<Float>` directly, each comparison is one
// vcmpps into a mask register and each select one masked move.
//
// No `addingProduct`: a fused multiply-add rounds once and would change the bits.

#if arch(x86_64)

enum VectorMath {
    /// |x| with |−0| = +0, as `SIMDMath.abs`.
    @_transparent
    static func abs(_ x: Vector16) -> Vector16 {
        x.replacing(with: -x, where: x .< 0) + 0
    }

    /// e^x, as `SIMDMath.exp` on Float: x = k·ln2 + r, a degree-7 Taylor
    /// polynomial for e^r, 2^k applied in two halves (so k = 128 does not overflow the exponent).
    @_transparent
    static func exp(_ x: Vector16) -> Vector16 {
        let hiCut: Float = 88.72284, loCut: Float = -103.97208
        let xc = x.replacing(with: hiCut, where: x .> hiCut).replacing(with: loCut, where: x .< loCut)
        let magic: Float = 12_582_912    // 1.5·2^23
        let t = xc * 1.442_695_04 + magic
        let k = t - magic
        let r = (xc - k * 0.693_359_375) - k * -2.121_944_4e-4
        var p = Vector16(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let ki = unsafeBitCast(t, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
        let e1 = ki &>> 1
        let e2 = ki &- e1
        let s1 = unsafeBitCast((e1 &+ 127) &<< 23, to: Vector16.self)
        let s2 = unsafeBitCast((e2 &+ 127) &<< 23, to: Vector16.self)
        return (p * s1 * s2)
            .replacing(with: .infinity, where: x .> hiCut)
            .replacing(with: 0, where: x .< loCut)
    }

    /// e^x − 1, as `SIMDMath.expm1` on Float: a Taylor polynomial for |x| ≤ ln2/2, e^x − 1 elsewhere.
    @_transparent
    static func expm1(_ x: Vector16) -> Vector16 {
        var p = Vector16(repeating: 1.0 / 40_320)
        p = p * x + 1.0 / 5_040
        p = p * x + 1.0 / 720
        p = p * x + 1.0 / 120
        p = p * x + 1.0 / 24
        p = p * x + 1.0 / 6
        p = p * x + 0.5
        p = p * x + 1
        let small = x * p
        let large = exp(x) - 1
        return large.replacing(with: small, where: abs(x) .<= 0.346_573_6)
    }

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
