import Foundation
import Testing
import DLGOps
@testable import DLGKernels
#if arch(x86_64)
import DLGKernelsAVX512

/// The AVX-512 rows of sparse softmax cross-entropy give the bits of the
/// portable rows (SIMDMath.logSumExp and exp, run here as the portable
/// kernels run them), and both are within float rounding of the definition
/// computed in Double: loss = log Σ e^z − z[label], dz = softmax(z)·g − g·[j = label].
@Suite(.enabled(if: CPUFeatures.hasAVX512, "the AVX-512 loops run on CPUs with AVX-512 only"))
struct SoftmaxRowsTests {
    @Test(arguments: [1, 5, 16, 17, 64, 100, 300])
    func sameBitsAsThePortableRow(classes n: Int) {
        var r = RandomStream(seed: UInt64(40 + n))
        for trial in 0 ..< 20 {
            let scale: Float = trial < 10 ? 3 : 40
            let z = (0 ..< n).map { _ in r.uniform(-scale, scale) }
            let label = Int(r.uniform(Float(0), Float(n))) % n
            let g = r.uniform(Float(0.1), Float(2))
            z.withUnsafeBufferPointer { zp in
                let p = zp.baseAddress!
                // The portable row, as softmaxCrossEntropy(Backward) computes it off AVX-512.
                let (m, ls) = SIMDMath.logSumExp(p, n)
                let lossPortable = (m - p[label]) + ls
                var dzPortable = [Float](repeating: .nan, count: n)
                dzPortable.withUnsafeMutableBufferPointer { SIMDMath.map(p, $0.baseAddress!, n) { SIMDMath.exp(($0 - m) - ls) * g } }
                dzPortable[label] -= g
                let loss = SoftmaxRows.crossEntropy(p, n, label: label)
                var dz = [Float](repeating: .nan, count: n)
                dz.withUnsafeMutableBufferPointer { SoftmaxRows.crossEntropyGradient(p, $0.baseAddress!, n, label: label, scale: g) }
                #expect(loss.bitPattern == lossPortable.bitPattern, "n \(n) trial \(trial)")
                #expect(dz.map(\.bitPattern) == dzPortable.map(\.bitPattern), "n \(n) trial \(trial)")
                // The definition in Double.
                let zd = z.map(Double.init), md = zd.max()!
                let sum = zd.reduce(0) { $0 + Foundation.exp($1 - md) }
                let lossRef = md + Foundation.log(sum) - zd[label]
                #expect(abs(Double(loss) - lossRef) <= 1e-5 * (1 + abs(lossRef)), "n \(n) trial \(trial)")
                for j in 0 ..< n {
                    let ref = Foundation.exp(zd[j] - md) / sum * Double(g) - (j == label ? Double(g) : 0)
                    #expect(abs(Double(dz[j]) - ref) <= 1e-5 * (1 + abs(ref)), "n \(n) trial \(trial) j \(j)")
                }
            }
        }
    }
}
#endif
