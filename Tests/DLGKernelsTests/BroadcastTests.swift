import Testing
@testable import DLGKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// NumPy broadcasting written out index by index.
enum BroadcastReference {
    static func outputShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        return (0..<rank).map { pa[$0] == 1 ? pb[$0] : pa[$0] }
    }

    /// The flat index in an operand of `shape` read by output multi-index `idx`.
    static func operandIndex(_ idx: [Int], _ shape: [Int]) -> Int {
        let pad = idx.count - shape.count
        let st = EWSupport.strides(shape)
        var k = 0
        for i in 0..<shape.count where shape[i] != 1 { k += idx[pad + i] * st[i] }
        return k
    }

    static func op(_ op: Op, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        case .pow: pow(a, b)
        case .maximum: Swift.max(a, b)
        case .minimum: Swift.min(a, b)
        case .greater: a > b ? 1 : 0
        case .greater_equal: a >= b ? 1 : 0
        case .equal: a == b ? 1 : 0
        default: .nan
        }
    }

    static func binary(_ o: Op, _ a: [Double], _ sa: [Int], _ b: [Double], _ sb: [Int]) -> [Double] {
        let out = outputShape(sa, sb)
        return (0..<EWSupport.count(out)).map { flat in
            let idx = EWSupport.unflatten(flat, out)
            return op(o, a[operandIndex(idx, sa)], b[operandIndex(idx, sb)])
        }
    }

    /// Σ of grad over the output positions that read each operand element,
    /// and the matching Σ|grad| (the scale of the summation error).
    static func reduceTo(_ grad: [Double], _ out: [Int], _ shape: [Int]) -> (sum: [Double], abs: [Double]) {
        var s = [Double](repeating: 0, count: EWSupport.count(shape))
        var a = s
        for flat in grad.indices {
            let k = operandIndex(EWSupport.unflatten(flat, out), shape)
            s[k] += grad[flat]
            a[k] += Swift.abs(grad[flat])
        }
        return (s, a)
    }
}

@Suite struct BroadcastTests {
    /// Shape pairs covering every path: same shape (also across ranks), scalar
    /// on either side, row vector, column, NCHW channel vector on either side,
    /// and general N-d broadcasts where both operands repeat.
    static let pairs: [([Int], [Int])] = [
        ([2, 3], [2, 3]), ([1, 17], [17]), ([5, 7], [1]), ([], [4, 17]),
        ([6, 33], [33]), ([3, 17], [3, 1]), ([2, 3, 5, 7], [1, 3, 1, 1]), ([3, 1, 1], [2, 3, 4, 5]),
        ([3, 1, 5], [4, 1]), ([4, 1, 6], [1, 5, 1]), ([2, 1, 3, 1], [7, 1, 1]), ([1, 1], [1]),
        ([7], [16, 7]), ([2, 1, 33], [2, 5, 33]), ([1, 4, 1, 3], [2, 1, 5, 3]),
    ]

    @Test func planShapesAndPaths() throws {
        func path(_ a: [Int], _ b: [Int]) throws -> BroadcastPlan.Path { try BroadcastPlan(lhs: a, rhs: b).path }
        #expect(try BroadcastPlan(lhs: [4, 1, 5], rhs: [3, 1]).outputShape == [4, 3, 5])
        #expect(try BroadcastPlan(lhs: [], rhs: [2, 2]).outputShape == [2, 2])
        #expect(try path([2, 3], [2, 3]) == .sameShape)
        #expect(try path([1, 17], [17]) == .sameShape)
        #expect(try path([5, 7], [1]) == .rhsScalar)
        #expect(try path([], [4, 17]) == .lhsScalar)
        #expect(try path([6, 33], [33]) == .rhsMiddle(outer: 6, mid: 33, inner: 1))
        #expect(try path([3, 17], [3, 1]) == .rhsMiddle(outer: 1, mid: 3, inner: 17))
        #expect(try path([2, 3, 5, 7], [1, 3, 1, 1]) == .rhsMiddle(outer: 2, mid: 3, inner: 35))
        #expect(try path([3, 1, 1], [2, 3, 4, 5]) == .lhsMiddle(outer: 2, mid: 3, inner: 20))
        #expect(try path([3, 1, 5], [4, 1]) == .general)
    }

    @Test func mismatchIsAnErrorValue() {
        #expect(throws: BroadcastError.mismatch(lhs: [2, 3], rhs: [4], axis: 1, lhsSize: 3, rhsSize: 4)) {
            try BroadcastPlan(lhs: [2, 3], rhs: [4])
        }
        do {
            _ = try BroadcastPlan(lhs: [5, 2, 3], rhs: [4, 1])
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("[5, 2, 3]") && error.description.contains("2 and 4"))
        }
        #expect(throws: BroadcastError.negativeDimension(shape: [-1])) { try BroadcastPlan(lhs: [-1], rhs: [1]) }
        #expect(throws: BroadcastError.cannotReduce(from: [2, 3], to: [4])) {
            try ReduceToShapePlan(from: [2, 3], to: [4])
        }
        #expect(throws: BroadcastError.cannotReduce(from: [3], to: [2, 3])) {
            try ReduceToShapePlan(from: [3], to: [2, 3])
        }
    }

    /// Operand values for an op: positive bases for pow, small integers for
    /// the comparisons (so that ties occur), nonzero divisors for div.
    static func operands(_ op: Op, _ na: Int, _ nb: Int, seed: UInt64) -> ([Double], [Double]) {
        var a = EWSupport.values(na, -3, 3, seed: seed), b = EWSupport.values(nb, -3, 3, seed: seed + 1)
        switch op {
        case .pow:
            a = a.map { 0.5 + Swift.abs($0) / 2 }
            b = b.map { $0 / 1.5 }
        case .greater, .greater_equal, .equal, .maximum, .minimum:
            a = a.map { ($0 / 1.5).rounded(.down) }
            b = b.map { ($0 / 1.5).rounded(.down) }
        case .div:
            b = b.map { Swift.abs($0) < 0.2 ? $0 + 0.5 : $0 }
        default: break
        }
        return (a, b)
    }

    func check<T: KernelScalar>(_ op: Op, _ sa: [Int], _ sb: [Int], _: T.Type,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try BroadcastPlan(lhs: sa, rhs: sb)
        let (a0, b0) = Self.operands(op, EWSupport.count(sa), EWSupport.count(sb), seed: UInt64(sa.count * 31 + sb.count))
        let a = EWSupport.rounded(a0, T.self), b = EWSupport.rounded(b0, T.self)
        let got = EWSupport.run2(a, b, T.self, outCount: plan.outputCount) { ap, bp, op2 in binary(op, plan, ap, bp, op2) }
        let want = BroadcastReference.binary(op, a, sa, b, sb)
        EWSupport.expectClose(got, want, rtol: EWSupport.rtol(T.self), "\(op) \(sa) \(sb) \(T.dtypeName)",
                              sourceLocation: sourceLocation)
    }

    @Test(arguments: Op.allCases.filter(\.isBinaryFunction))
    func binaryMatchesNaiveBroadcast(_ op: Op) throws {
        for (sa, sb) in Self.pairs {
            try check(op, sa, sb, Float.self)
            try check(op, sa, sb, Double.self)
            try check(op, sb, sa, Double.self)
        }
    }

    /// Random shape pairs of ranks 0–4 (dims from {1, 2, 3, 5, 7, 17}), one
    /// operand a random broadcastable reduction of the other's shape.
    @Test func randomShapesMatchNaiveBroadcast() throws {
        var rng = RandomStream(seed: 2024)
        let dimChoices = [1, 2, 3, 5, 7, 17]
        for trial in 0..<40 {
            let rank = rng.below(5)
            let full = (0..<rank).map { _ in dimChoices[rng.below(dimChoices.count)] }
            var small = full.map { rng.below(2) == 0 ? 1 : $0 }
            small.removeFirst(rng.below(rank + 1))
            let (sa, sb) = trial % 2 == 0 ? (full, small) : (small, full)
            try check(.sub, sa, sb, Float.self)
            try check(.mul, sa, sb, Double.self)
        }
    }

    @Test func inPlaceOnTheFullOperand() throws {
        for (sa, sb) in [([4, 33], [33]), ([5, 9], [5, 9]), ([2, 3, 4], [1, 3, 1])] {
            let plan = try BroadcastPlan(lhs: sa, rhs: sb)
            var a = EWSupport.values(plan.outputCount, -1, 1, seed: 3)
            let b = EWSupport.values(EWSupport.count(sb), -1, 1, seed: 4)
            let want = BroadcastReference.binary(.add, a, sa, b, sb)
            a.withUnsafeMutableBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in binary(.add, plan, UnsafePointer(ap.baseAddress!), bp.baseAddress!, ap.baseAddress!) }
            }
            #expect(a == want)
        }
    }

    /// Sums are compared with a tolerance relative to Σ|terms|, the scale of
    /// any summation's rounding error (the exact sum may cancel to near 0).
    func checkReduceToShape<T: KernelScalar>(_ sa: [Int], _ sb: [Int], _: T.Type,
                                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try BroadcastPlan(lhs: sa, rhs: sb)
        let g = EWSupport.rounded(EWSupport.values(plan.outputCount, -1, 1, seed: 77), T.self)
        for (operand, shape) in [(BroadcastOperand.lhs, sa), (.rhs, sb)] {
            let rp = plan.gradientPlan(for: operand)
            let n = EWSupport.count(shape)
            let got = EWSupport.run(g, T.self, outCount: n) { gp, rp2 in reduceToShape(rp, gp, rp2) }
            let (want, scale) = BroadcastReference.reduceTo(g, plan.outputShape, shape)
            for i in 0..<n {
                #expect(Swift.abs(got[i] - want[i]) <= EWSupport.rtol(T.self) * scale[i],
                        "\(sa) \(sb) \(operand) [\(i)]: \(got[i]) vs \(want[i])", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func reduceToShapeMatchesNaiveSums() throws {
        for (sa, sb) in Self.pairs {
            try checkReduceToShape(sa, sb, Float.self)
            try checkReduceToShape(sa, sb, Double.self)
        }
    }

    /// L(b) = Σ w ⊙ (a + b) broadcast; ∂L/∂b = reduceToShape(w), checked by
    /// central differences on a few components of b.
    @Test func reduceToShapeIsTheGradientOfBroadcasting() throws {
        let sa = [2, 3, 5, 7], sb = [1, 3, 1, 1]
        let plan = try BroadcastPlan(lhs: sa, rhs: sb)
        let a = EWSupport.values(plan.outputCount, -1, 1, seed: 1)
        let w = EWSupport.values(plan.outputCount, -1, 1, seed: 2)
        let b = [0.3, -0.2, 0.9]
        func loss(_ b: [Double]) -> Double {
            let y = EWSupport.run2(a, b, Double.self, outCount: plan.outputCount) { ap, bp, yp in binary(.add, plan, ap, bp, yp) }
            return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let grad = EWSupport.run(w, Double.self, outCount: 3) { wp, gp in
            reduceToShape(plan.gradientPlan(for: .rhs), wp, gp)
        }
        let h = 1e-6
        for c in 0..<3 {
            var bp = b, bm = b
            bp[c] += h
            bm[c] -= h
            let fd = (loss(bp) - loss(bm)) / (2 * h)
            #expect(Swift.abs(fd - grad[c]) <= 1e-7 * (Swift.abs(fd) + 1))
        }
    }

    func checkBiasAdd<T: KernelScalar>(_ shape: [Int], axis: Int, _: T.Type,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
        let n = EWSupport.count(shape), c = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        let x = EWSupport.rounded(EWSupport.values(n, -2, 2, seed: 5), T.self)
        let bias = EWSupport.rounded(EWSupport.values(c, -2, 2, seed: 6), T.self)
        let got = EWSupport.run2(x, bias, T.self, outCount: n) { xp, bp, yp in
            biasAdd(xp, bp, yp, shape: shape, axis: axis)
        }
        let want = (0..<n).map { x[$0] + bias[($0 / inner) % c] }
        EWSupport.expectClose(got, want, rtol: EWSupport.rtol(T.self), "biasAdd \(shape) axis \(axis)",
                              sourceLocation: sourceLocation)
        let dbias = EWSupport.run(x, T.self, outCount: c) { dyp, dbp in
            biasAddBackward(dyp, dbp, shape: shape, axis: axis)
        }
        var sums = [Double](repeating: 0, count: c), mags = sums
        for i in 0..<n {
            sums[(i / inner) % c] += x[i]
            mags[(i / inner) % c] += Swift.abs(x[i])
        }
        for k in 0..<c {
            #expect(Swift.abs(dbias[k] - sums[k]) <= EWSupport.rtol(T.self) * mags[k],
                    "biasAddBackward \(shape) axis \(axis) [\(k)]: \(dbias[k]) vs \(sums[k])",
                    sourceLocation: sourceLocation)
        }
    }

    /// L(b) = Σ w ⊙ biasAdd(x, b); ∂L/∂b = biasAddBackward(w), checked by
    /// central differences in Double.
    @Test func biasAddBackwardMatchesFiniteDifferences() {
        let shape = [2, 3, 5], n = 30
        let x = EWSupport.values(n, -1, 1, seed: 61), w = EWSupport.values(n, -1, 1, seed: 62)
        let b = [0.5, -1.5, 2.0]
        func loss(_ b: [Double]) -> Double {
            let y = EWSupport.run2(x, b, Double.self, outCount: n) { xp, bp, yp in biasAdd(xp, bp, yp, shape: shape, axis: 1) }
            return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let grad = EWSupport.run(w, Double.self, outCount: 3) { wp, gp in biasAddBackward(wp, gp, shape: shape, axis: 1) }
        let h = 1e-6
        for c in 0..<3 {
            var bp = b, bm = b
            bp[c] += h
            bm[c] -= h
            let fd = (loss(bp) - loss(bm)) / (2 * h)
            #expect(Swift.abs(fd - grad[c]) <= 1e-7 * (Swift.abs(fd) + 1))
        }
    }

    @Test func biasAddAndItsBackward() {
        for (shape, axis) in [([2, 3, 5], 1), ([4, 7], 1), ([5, 2], 0), ([2, 3, 17, 1], 1), ([3, 33], 1), ([1], 0)] {
            checkBiasAdd(shape, axis: axis, Float.self)
            checkBiasAdd(shape, axis: axis, Double.self)
        }
    }
}
