import Testing
@testable import DLGKernels
#if arch(x86_64)
import DLGKernelsAVX512

/// The AVX-512 loops give bit for bit what the portable loops give, so a
/// result never depends on the CPU it ran on: every elementwise function,
/// on lengths around the 16-lane vectors (their scalar tails) and on values
/// that include zeros of both signs, infinities and NaN.
@Suite(.enabled(if: CPUFeatures.hasAVX512, "the AVX-512 loops run on CPUs with AVX-512 only"))
struct TileOpsTests {
    static let lengths = [0, 1, 7, 15, 16, 17, 31, 32, 33, 100, 128, 129, 517]

    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var r = RandomStream(seed: seed)
        let special: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1e-40, -3, 2.5]
        return (0 ..< n).map { i in i % 11 == 5 ? special[(i / 11) % special.count] : r.uniform(Float(-4), Float(4)) }
    }

    static func expectSameBits(_ a: [Float], _ b: [Float], _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(what)", sourceLocation: sourceLocation)
    }

    /// Values inside each function's domain, with the special values mixed in.
    static func inputs(_ f: UnaryFunction, _ n: Int, seed: UInt64) -> [Float] {
        let x = values(n, seed: seed)
        return [.log, .sqrt, .rsqrt].contains(f.op) ? x.map { $0.isNaN ? $0 : Swift.abs($0) } : x
    }

    @Test(arguments: UnaryFunction.all + [fn(.leaky_relu, alpha: 0.3), fn(.elu, alpha: 0.7)])
    func unaryFunctions(_ f: UnaryFunction) {
        for n in Self.lengths {
            let x = Self.inputs(f, n, seed: UInt64(n) + 1)
            var tile = [Float](repeating: 7, count: n), portable = tile
            x.withUnsafeBufferPointer { xp in
                tile.withUnsafeMutableBufferPointer { TileOps.unary(f, xp.baseAddress!, $0.baseAddress!, n) }
                portable.withUnsafeMutableBufferPointer { yp in
                    _ = f.op.visitUnary(UnaryLoop(x: xp.baseAddress!, y: yp.baseAddress!, count: n, a: Float(f.alpha)))
                }
            }
            Self.expectSameBits(tile, portable, "\(f) n \(n)")
        }
    }

    @Test(arguments: UnaryFunction.all + [fn(.leaky_relu, alpha: 0.3), fn(.elu, alpha: 0.7)])
    func gradients(_ f: UnaryFunction) {
        for n in Self.lengths {
            let x = Self.inputs(f, n, seed: UInt64(n) + 2), dy = Self.values(n, seed: UInt64(n) + 3)
            var y = [Float](repeating: 0, count: n)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { TileOps.unary(f, xp.baseAddress!, $0.baseAddress!, n) }
            }
            var tile = [Float](repeating: 7, count: n), portable = tile
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    dy.withUnsafeBufferPointer { dp in
                        tile.withUnsafeMutableBufferPointer {
                            TileOps.gradient(f, x: xp.baseAddress!, y: yp.baseAddress!, dy: dp.baseAddress!, dx: $0.baseAddress!, n)
                        }
                        portable.withUnsafeMutableBufferPointer { out in
                            _ = f.op.visitUnary(UnaryBackwardLoop(x: xp.baseAddress!, y: yp.baseAddress!, dy: dp.baseAddress!,
                                                                  dx: out.baseAddress!, count: n, a: Float(f.alpha)))
                        }
                    }
                }
            }
            Self.expectSameBits(tile, portable, "\(f)′ n \(n)")
        }
    }

    @Test(arguments: Op.allCases.filter(\.isBinaryFunction))
    func binaryFunctions(_ op: Op) {
        for n in Self.lengths {
            let a = Self.values(n, seed: UInt64(n) + 4), b = Self.values(n, seed: UInt64(n) + 5)
            let s: Float = -1.75
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    let (pa, pb) = (ap.baseAddress!, bp.baseAddress!)
                    var tile = [Float](repeating: 7, count: n), want = tile
                    tile.withUnsafeMutableBufferPointer { TileOps.binary(op, pa, pb, $0.baseAddress!, n) }
                    want.withUnsafeMutableBufferPointer { _ = op.visitBinary(FusedElementwiseKernel.PairLoop(a: pa, b: pb, out: $0.baseAddress!, n: n)) }
                    Self.expectSameBits(tile, want, "\(op) vector-vector n \(n)")
                    tile.withUnsafeMutableBufferPointer { TileOps.binary(op, pa, scalar: s, $0.baseAddress!, n) }
                    want.withUnsafeMutableBufferPointer {
                        _ = op.visitBinary(FusedElementwiseKernel.ScalarRightLoop(a: pa, b: SIMD16(repeating: s), out: $0.baseAddress!, n: n))
                    }
                    Self.expectSameBits(tile, want, "\(op) vector-scalar n \(n)")
                    tile.withUnsafeMutableBufferPointer { TileOps.binary(op, scalar: s, pb, $0.baseAddress!, n) }
                    want.withUnsafeMutableBufferPointer {
                        _ = op.visitBinary(FusedElementwiseKernel.ScalarLeftLoop(a: SIMD16(repeating: s), b: pb, out: $0.baseAddress!, n: n))
                    }
                    Self.expectSameBits(tile, want, "\(op) scalar-vector n \(n)")
                }
            }
        }
    }

    /// A convolution's epilogue, f(x + bias), as the portable loop computes it.
    @Test(arguments: [nil, fn(.relu), fn(.sigmoid), fn(.tanh), fn(.leaky_relu, alpha: 0.2), fn(.gelu)] as [UnaryFunction?])
    func epilogues(_ f: UnaryFunction?) {
        for n in Self.lengths {
            let x = Self.values(n, seed: UInt64(n) + 7)
            var tile = [Float](repeating: 7, count: n), portable = tile
            x.withUnsafeBufferPointer { xp in
                tile.withUnsafeMutableBufferPointer { TileOps.biasUnary(f, xp.baseAddress!, bias: 0.375, $0.baseAddress!, n) }
                portable.withUnsafeMutableBufferPointer { out in
                    let b = SIMD16<Float>(repeating: 0.375)
                    if let f {
                        _ = f.op.visitUnary(Conv2D.BiasEpilogueLoop(x: xp.baseAddress!, y: out.baseAddress!, count: n,
                                                                     a: Float(f.alpha), bias: b))
                    } else {
                        SIMDMath.map(xp.baseAddress!, out.baseAddress!, n) { $0 + b }
                    }
                }
            }
            Self.expectSameBits(tile, portable, "epilogue \(f.map(\.description) ?? "none") n \(n)")
        }
    }

    /// The sum keeps the pairwise order: equal bits to `SIMDMath.sum`, on
    /// values whose rounded sum depends on the order of the additions (a 1e8
    /// among values of a few units).
    @Test func sums() {
        for n in Self.lengths + [1000, 4099] {
            var x = Self.values(n, seed: UInt64(n) + 6).map { $0.isFinite ? $0 : 1 }
            if n > 3 { x[n / 2] = 1e8 }
            x.withUnsafeBufferPointer { p in
                let tile = TileOps.sum(p.baseAddress!, n), portable = SIMDMath.sum(p.baseAddress!, n)
                #expect(tile.bitPattern == portable.bitPattern, "n \(n): \(tile) vs \(portable)")
            }
        }
        // By hand: 1…100 sums to 5050 exactly in any order.
        let ramp = (1 ... 100).map(Float.init)
        #expect(ramp.withUnsafeBufferPointer { TileOps.sum($0.baseAddress!, 100) } == 5050)
    }
}
#endif
