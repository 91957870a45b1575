import Foundation
import Testing
import DLGOps
@testable import DLGKernels
#if arch(x86_64)
import DLGKernelsAVX512

/// The AVX-512 module's own exp, expm1, sigmoid and tanh give the bits of
/// `SIMDMath`'s (the definition the portable kernels use) on a sweep that
/// covers each function's branches: the cuts of exp (±88.7, −104), expm1's
/// polynomial range |x| ≤ ln2/2, both signs, zeros of both signs, subnormals,
/// infinities and NaN.
@Suite(.enabled(if: CPUFeatures.hasAVX512, "the AVX-512 loops run on CPUs with AVX-512 only"))
struct VectorMathTests {
    static func sweep() -> [Float] {
        var x: [Float] = [0, -0.0, .infinity, -.infinity, .nan, .leastNormalMagnitude / 4, -.leastNormalMagnitude / 4, .leastNonzeroMagnitude,
                          88.72284, 88.72285, -103.97208, -103.9721, 0.3465736, -0.3465736, 0.34657362, 200, -200]
        var r = RandomStream(seed: 17)
        for _ in 0 ..< 4000 { x.append(r.uniform(Float(-12), Float(12))) }
        for _ in 0 ..< 1000 { x.append(r.uniform(Float(-0.4), Float(0.4))) }
        for _ in 0 ..< 1000 { x.append(r.uniform(Float(-120), Float(120))) }
        while x.count % 16 != 0 { x.append(Float(x.count) / 1000) }
        return x
    }

    static func reference(_ f: VectorMathProbe.Function, _ v: SIMD16<Float>) -> SIMD16<Float> {
        switch f {
        case .exp: SIMDMath.exp(v)
        case .expm1: SIMDMath.expm1(v)
        case .sigmoid: SIMDMath.sigmoid(v)
        case .tanh: SIMDMath.tanh(v)
        }
    }

    @Test(arguments: VectorMathProbe.Function.allCases)
    func sameBitsAsSIMDMath(_ f: VectorMathProbe.Function) {
        let x = Self.sweep()
        var got = [Float](repeating: 7, count: x.count)
        x.withUnsafeBufferPointer { xp in
            got.withUnsafeMutableBufferPointer { VectorMathProbe.apply(f, xp.baseAddress!, $0.baseAddress!, count: x.count) }
        }
        var mismatches: [String] = []
        for i in stride(from: 0, to: x.count, by: 16) {
            let want = Self.reference(f, SIMD16(x[i ..< i + 16]))
            for l in 0 ..< 16 where want[l].bitPattern != got[i + l].bitPattern {
                mismatches.append("\(f)(\(x[i + l])) = \(got[i + l]), SIMDMath: \(want[l])")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        // And the values are the functions' (the bit comparison alone would pass two equal wrong answers).
        for (i, v) in x.enumerated() where v.isFinite && Swift.abs(v) < 80 {
            let d = Double(v)
            let exact: Double = switch f {
            case .exp: Foundation.exp(d)
            case .expm1: Foundation.expm1(d)
            case .sigmoid: 1 / (1 + Foundation.exp(-d))
            case .tanh: Foundation.tanh(d)
            }
            #expect(Swift.abs(Double(got[i]) - exact) <= 4e-7 * Swift.abs(exact) + 1e-44, "\(f)(\(v)) = \(got[i]), exact \(exact)")
        }
    }
}
#endif
