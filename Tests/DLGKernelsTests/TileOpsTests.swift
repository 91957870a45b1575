import Testing
@testable import DLGKernels
#if arch(x86_64)
import DLGKernelsAVX512

/// The AVX-512 loops give bit for bit what the portable loops give, so a
/// result never depends on the CPU it ran on: every op with an AVX-512 loop,
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

    @Test(arguments: [UnaryOp.neg, .square, .relu, .abs, .sqrt])
    func unaryOps(_ op: UnaryOp) {
        for n in Self.lengths {
            let x = Self.values(n, seed: UInt64(n) + 1)
            var tile = [Float](repeating: 7, count: n), portable = tile
            x.withUnsafeBufferPointer { xp in
                tile.withUnsafeMutableBufferPointer { TileOps.unary(op.tileOp!, xp.baseAddress!, $0.baseAddress!, n) }
                portable.withUnsafeMutableBufferPointer { yp in
                    SIMDMath.map(xp.baseAddress!, yp.baseAddress!, n) { UnaryMath.forward(op, $0) }
                }
            }
            Self.expectSameBits(tile, portable, "\(op) n \(n)")
        }
    }

    @Test(arguments: [UnaryOp.relu, .neg, .square])
    func gradients(_ op: UnaryOp) {
        for n in Self.lengths {
            let x = Self.values(n, seed: UInt64(n) + 2), dy = Self.values(n, seed: UInt64(n) + 3)
            var tile = [Float](repeating: 7, count: n), portable = tile
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dp in
                    tile.withUnsafeMutableBufferPointer {
                        TileOps.gradient(op.tileGradient!, x: xp.baseAddress!, dy: dp.baseAddress!, dx: $0.baseAddress!, n)
                    }
                    portable.withUnsafeMutableBufferPointer { out in
                        // The forward output y is not read by these three gradients.
                        SIMDMath.map3(xp.baseAddress!, xp.baseAddress!, dp.baseAddress!, out.baseAddress!, n) {
                            UnaryMath.backward(op, $0, $1, $2)
                        }
                    }
                }
            }
            Self.expectSameBits(tile, portable, "\(op)′ n \(n)")
        }
    }

    @Test(arguments: [BinaryOp.add, .sub, .mul, .div])
    func binaryOps(_ op: BinaryOp) {
        for n in Self.lengths {
            let a = Self.values(n, seed: UInt64(n) + 4), b = Self.values(n, seed: UInt64(n) + 5)
            let s: Float = -1.75
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    let (pa, pb) = (ap.baseAddress!, bp.baseAddress!)
                    let portable: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float> = switch op {
                    case .add: { $0 + $1 }
                    case .sub: { $0 - $1 }
                    case .mul: { $0 * $1 }
                    default: { $0 / $1 }
                    }
                    var tile = [Float](repeating: 7, count: n), want = tile
                    tile.withUnsafeMutableBufferPointer { TileOps.binary(op.tileOp!, pa, pb, $0.baseAddress!, n) }
                    want.withUnsafeMutableBufferPointer { SIMDMath.map2(pa, pb, $0.baseAddress!, n, portable) }
                    Self.expectSameBits(tile, want, "\(op) vector-vector n \(n)")
                    tile.withUnsafeMutableBufferPointer { TileOps.binary(op.tileOp!, pa, scalar: s, $0.baseAddress!, n) }
                    want.withUnsafeMutableBufferPointer { out in
                        SIMDMath.map(pa, out.baseAddress!, n) { portable($0, SIMD16(repeating: s)) }
                    }
                    Self.expectSameBits(tile, want, "\(op) vector-scalar n \(n)")
                    tile.withUnsafeMutableBufferPointer { TileOps.binary(op.tileOp!, scalar: s, pb, $0.baseAddress!, n) }
                    want.withUnsafeMutableBufferPointer { out in
                        SIMDMath.map(pb, out.baseAddress!, n) { portable(SIMD16(repeating: s), $0) }
                    }
                    Self.expectSameBits(tile, want, "\(op) scalar-vector n \(n)")
                }
            }
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
