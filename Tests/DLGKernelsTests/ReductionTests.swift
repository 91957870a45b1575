import Testing
@testable import DLGKernels

/// Reductions written out index by index, in Double.
enum ReductionReference {
    /// The flat output index (kept-dims layout) of each input element.
    static func outputIndex(_ flat: Int, _ shape: [Int], _ axes: Set<Int>) -> Int {
        var idx = EWSupport.unflatten(flat, shape)
        var kept = shape
        for a in axes {
            idx[a] = 0
            kept[a] = 1
        }
        return zip(idx, EWSupport.strides(kept)).reduce(0) { $0 + $1.0 * $1.1 }
    }

    static func outputCount(_ shape: [Int], _ axes: Set<Int>) -> Int {
        shape.indices.filter { !axes.contains($0) }.reduce(1) { $0 * shape[$1] }
    }

    /// (result, Σ|x| per output) for sum, mean, max, min.
    static func reduce(_ op: ReduceOp, _ x: [Double], _ shape: [Int], _ axes: Set<Int>) -> ([Double], [Double]) {
        let m = outputCount(shape, axes)
        var r = [Double](repeating: op == .max ? -.infinity : (op == .min ? .infinity : 0), count: m)
        var mag = [Double](repeating: 0, count: m)
        var cnt = [Int](repeating: 0, count: m)
        for i in x.indices {
            let o = outputIndex(i, shape, axes)
            switch op {
            case .sum, .mean: r[o] += x[i]
            case .max: r[o] = Swift.max(r[o], x[i])
            case .min: r[o] = Swift.min(r[o], x[i])
            }
            mag[o] += Swift.abs(x[i])
            cnt[o] += 1
        }
        if op == .mean {
            for o in 0..<m {
                r[o] /= Double(cnt[o])
                mag[o] /= Double(cnt[o])
            }
        }
        return (r, mag)
    }

    /// dx with dy routed to the first (row-major) extremum of each output.
    static func route(_ isMin: Bool, _ x: [Double], _ dy: [Double], _ shape: [Int], _ axes: Set<Int>) -> [Double] {
        var best = [Int?](repeating: nil, count: dy.count)
        for i in x.indices {
            let o = outputIndex(i, shape, axes)
            if let b = best[o] {
                if isMin ? x[i] < x[b] : x[i] > x[b] { best[o] = i }
            } else {
                best[o] = i
            }
        }
        var dx = [Double](repeating: 0, count: x.count)
        for o in dy.indices { if let b = best[o] { dx[b] = dy[o] } }
        return dx
    }
}

@Suite struct ReductionTests {
    /// Last axis, leading axis, NCHW batch-norm axes [0, 2, 3], a middle axis
    /// long enough for the pairwise recursion (20 > 8 rows), separated axis
    /// groups (two and three steps, so intermediates alternate between both
    /// scratch buffers), no axes, all axes, size-1 axes.
    static let cases: [([Int], [Int])] = [
        ([7], [0]), ([1], [0]), ([3, 17], [1]), ([33, 5], [0]), ([2, 3, 5, 7], [0, 2, 3]),
        ([4, 5, 6], [0, 2]), ([3, 4, 5, 6], [1, 3]), ([2, 3, 4], []), ([5, 1, 7], [1]),
        ([2, 3, 4], [0, 1, 2]), ([17, 33], [0, 1]), ([9, 20, 3], [1]), ([100, 3], [0]),
        ([2, 33, 17], [-1]), ([130, 2], [1]), ([3, 300], [1]),
        ([2, 3, 4, 5, 3], [0, 2, 4]), ([3, 2, 5, 2, 4, 3], [1, 3, 5]),
    ]

    @Test func planShapes() throws {
        let p = try ReductionPlan(shape: [2, 3, 4], axes: [1])
        #expect(p.keptShape == [2, 1, 4] && p.outputShape == [2, 4] && p.reducedCount == 3 && p.outputCount == 8)
        #expect(try ReductionPlan(shape: [2, 3, 4], axes: [-1]).axes == [2])
        let all = try ReductionPlan(shape: [2, 3], axes: [1, 0])
        #expect(all.outputShape == [] && all.outputCount == 1 && all.axes == [0, 1])
        #expect(try ReductionPlan(shape: [2, 3], axes: []).outputShape == [2, 3])
    }

    @Test func badAxesAreErrorValues() {
        #expect(throws: ReductionError.axisOutOfRange(axis: 3, rank: 3)) { try ReductionPlan(shape: [1, 2, 3], axes: [3]) }
        #expect(throws: ReductionError.axisOutOfRange(axis: -4, rank: 3)) { try ReductionPlan(shape: [1, 2, 3], axes: [-4]) }
        #expect(throws: ReductionError.duplicateAxis(axis: -3)) { try ReductionPlan(shape: [1, 2, 3], axes: [0, -3]) }
        #expect(throws: ReductionError.negativeDimension(shape: [2, -1])) { try ReductionPlan(shape: [2, -1], axes: [0]) }
    }

    /// Sum and mean within rtol·Σ|x| (the scale of summation error when the
    /// exact sum cancels); max and min exactly.
    func check<T: KernelScalar>(_ op: ReduceOp, _ shape: [Int], _ axes: [Int], _: T.Type, threads: Int = 1,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try ReductionPlan(shape: shape, axes: axes)
        let x = EWSupport.rounded(EWSupport.values(plan.inputCount, -1, 1, seed: UInt64(plan.inputCount)), T.self)
        let got = EWSupport.run(x, T.self, outCount: plan.outputCount) { xp, yp in reduce(op, plan, xp, yp, threads: threads) }
        if threads > 1 {
            // Each output is computed as on one thread: the same bits.
            let one = EWSupport.run(x, T.self, outCount: plan.outputCount) { xp, yp in reduce(op, plan, xp, yp) }
            #expect(got.map(\.bitPattern) == one.map(\.bitPattern), "\(op) \(shape) axes \(axes) on \(threads) threads",
                    sourceLocation: sourceLocation)
            // In a caller's scratch of `scratchBytes`: the same bits, and nothing written past its end.
            let bytes = plan.scratchBytes(threads: threads, elementSize: MemoryLayout<T>.stride)
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes + 256, alignment: 64)
            defer { scratch.deallocate() }
            scratch.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes + 256)
            let inScratch = EWSupport.run(x, T.self, outCount: plan.outputCount) { xp, yp in
                reduce(op, plan, xp, yp, threads: threads, scratch: scratch)
            }
            #expect(inScratch.map(\.bitPattern) == one.map(\.bitPattern), sourceLocation: sourceLocation)
            let guardBytes = UnsafeBufferPointer(start: (scratch + bytes).assumingMemoryBound(to: UInt8.self), count: 256)
            #expect(guardBytes.allSatisfy { $0 == 0xA5 }, "\(op) \(shape) wrote past its scratch", sourceLocation: sourceLocation)
        }
        let (want, mag) = ReductionReference.reduce(op, x, shape, Set(plan.axes))
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for i in 0..<Swift.min(got.count, want.count) {
            let tol = (op == .sum || op == .mean) ? EWSupport.rtol(T.self) * mag[i] : 0
            #expect(Swift.abs(got[i] - want[i]) <= tol,
                    "\(op) \(shape) axes \(axes) \(T.dtypeName) [\(i)]: \(got[i]) vs \(want[i])",
                    sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [ReduceOp.sum, .mean, .max, .min])
    func forwardMatchesNaive(_ op: ReduceOp) throws {
        for (shape, axes) in Self.cases {
            try check(op, shape, axes, Float.self)
            try check(op, shape, axes, Double.self)
        }
    }

    /// From `ReductionKernels.parallelMinimum` elements the first step splits
    /// over threads: rows (batchnorm's sums over [N, C, H, W] without C),
    /// outer blocks, and a single outer block (a bias gradient over the
    /// batch): for max and min 16-column blocks with a short last one, for
    /// sum and mean the top subtrees of the pairwise sum over the rows (2 of
    /// them at 2 and 3 threads, 4 at 4 threads, an odd number of rows so that
    /// halves differ), each on whole rows. Every result is bit for bit what
    /// one thread computes (`check`).
    @Test(arguments: [ReduceOp.sum, .mean, .max, .min])
    func largeReductionsSplitOverThreads(_ op: ReduceOp) throws {
        #expect(4 * 8 * 64 * 64 == ReductionKernels.parallelMinimum)
        #expect(ReductionKernels.rowLeaves(1040, threads: 2) == 2)
        #expect(ReductionKernels.rowLeaves(1040, threads: 3) == 2)
        #expect(ReductionKernels.rowLeaves(1999, threads: 4) == 4)
        #expect(ReductionKernels.rowLeaves(17, threads: 4) == 2)
        #expect(ReductionKernels.rowLeaves(8, threads: 4) == 1)
        for (shape, axes, threads) in [([4, 8, 64, 64], [0, 2, 3], 2), ([3, 347, 130], [1], 3), ([1040, 130], [0], 2),
                                       ([1040, 130], [0], 3), ([1999, 72], [0], 4), ([7, 2048, 20], [0, 1], 2)] {
            try check(op, shape, axes, Float.self, threads: threads)
        }
    }

    @Test func randomShapesAndAxes() throws {
        var rng = RandomStream(seed: 99)
        let dims = [1, 2, 3, 7, 17]
        for _ in 0..<30 {
            let rank = 1 + rng.below(4)
            let shape = (0..<rank).map { _ in dims[rng.below(dims.count)] }
            let axes = (0..<rank).filter { _ in rng.below(2) == 0 }
            try check(.sum, shape, axes, Float.self)
            try check(.max, shape, axes, Double.self)
        }
    }

    /// 2^18 copies of Float(0.1): the exact sum is 2^18·Float(0.1). Pairwise
    /// summation stays within 1e-6 relative; a plain left-to-right Float loop
    /// (computed here for comparison) is off by far more, so the test would
    /// catch a sequential implementation. Same for a strided (leading-axis) sum.
    @Test func pairwiseSummationKeepsErrorSmall() throws {
        let n = 1 << 18
        let v = Float(0.1)
        let exact = Double(n) * Double(v)
        var sequential: Float = 0
        for _ in 0..<n { sequential += v }
        let sequentialError = Swift.abs(Double(sequential) - exact) / exact

        let x = [Float](repeating: v, count: n)
        var y: [Float] = [0, 0]
        let contiguous = try ReductionPlan(shape: [n], axes: [0])
        let strided = try ReductionPlan(shape: [n / 2, 2], axes: [0])
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                reduce(.sum, contiguous, xp.baseAddress!, yp.baseAddress!)
            }
        }
        let contiguousError = Swift.abs(Double(y[0]) - exact) / exact
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                reduce(.sum, strided, xp.baseAddress!, yp.baseAddress!)
            }
        }
        let stridedError = Swift.abs(Double(y[0]) - exact / 2) / (exact / 2)
        #expect(contiguousError < 1e-6)
        #expect(stridedError < 1e-6)
        #expect(sequentialError > 10 * Swift.max(contiguousError, stridedError, 1e-8))
    }

    func checkBackward<T: KernelScalar>(_ op: ReduceOp, _ shape: [Int], _ axes: [Int], _: T.Type,
                                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try ReductionPlan(shape: shape, axes: axes)
        // Integer-valued x in a small range, so max/min have ties to resolve.
        let x = EWSupport.values(plan.inputCount, -3, 3, seed: 12).map { $0.rounded(.down) }
        let dy = EWSupport.rounded(EWSupport.values(plan.outputCount, -1, 1, seed: 13), T.self)
        let got = EWSupport.run2(x, dy, T.self, outCount: plan.inputCount) { xp, gp, dxp in
            reduceBackward(op, plan, x: xp, dy: gp, dx: dxp)
        }
        let s = Set(plan.axes)
        let want: [Double] = switch op {
        case .sum: x.indices.map { dy[ReductionReference.outputIndex($0, shape, s)] }
        case .mean: x.indices.map { dy[ReductionReference.outputIndex($0, shape, s)] / Double(plan.reducedCount) }
        case .max: ReductionReference.route(false, x, dy, shape, s)
        case .min: ReductionReference.route(true, x, dy, shape, s)
        }
        EWSupport.expectClose(got, want, rtol: EWSupport.rtol(T.self), "\(op) backward \(shape) axes \(axes)",
                              sourceLocation: sourceLocation)
    }

    @Test(arguments: [ReduceOp.sum, .mean, .max, .min])
    func backwardMatchesNaive(_ op: ReduceOp) throws {
        for (shape, axes) in Self.cases {
            try checkBackward(op, shape, axes, Float.self)
            try checkBackward(op, shape, axes, Double.self)
        }
    }

    /// Worked by hand: x = [[1, 3, 3], [2, 2, 0]], dy = [10, 20].
    @Test func extremumGradientGoesToTheFirstOne() throws {
        let x: [Double] = [1, 3, 3, 2, 2, 0]
        let rows = try ReductionPlan(shape: [2, 3], axes: [1])
        func back(_ plan: ReductionPlan, _ isMin: Bool, _ dy: [Double]) -> [Double] {
            EWSupport.run2(x, dy, Float.self, outCount: 6) { xp, gp, dxp in
                if isMin { reduceMinBackward(plan, x: xp, dy: gp, dx: dxp) } else { reduceMaxBackward(plan, x: xp, dy: gp, dx: dxp) }
            }
        }
        // Row maxima 3 (first at column 1) and 2 (first at column 0); minima 1 (col 0) and 0 (col 2).
        #expect(back(rows, false, [10, 20]) == [0, 10, 0, 20, 0, 0])
        #expect(back(rows, true, [10, 20]) == [10, 0, 0, 0, 0, 20])
        // Column maxima: 2 (row 1), 3 (row 0), 3 (row 0).
        let cols = try ReductionPlan(shape: [2, 3], axes: [0])
        #expect(back(cols, false, [1, 2, 3]) == [0, 2, 3, 1, 0, 0])
        // Over everything the max 3 appears twice; the first (flat index 1) wins.
        let all = try ReductionPlan(shape: [2, 3], axes: [0, 1])
        #expect(back(all, false, [7]) == [0, 7, 0, 0, 0, 0])
    }

    /// L(x) = Σ w·reduce(x); ∂L/∂x from the backward kernel against central
    /// differences in Double (max/min at points with distinct values).
    @Test(arguments: [ReduceOp.sum, .mean, .max, .min])
    func backwardMatchesFiniteDifferences(_ op: ReduceOp) throws {
        let shape = [3, 4, 5], axes = [0, 2]
        let plan = try ReductionPlan(shape: shape, axes: axes)
        let x = EWSupport.values(plan.inputCount, -2, 2, seed: 21)
        let w = EWSupport.values(plan.outputCount, -1, 1, seed: 22)
        func loss(_ x: [Double]) -> Double {
            let y = EWSupport.run(x, Double.self, outCount: plan.outputCount) { xp, yp in reduce(op, plan, xp, yp) }
            return zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let grad = EWSupport.run2(x, w, Double.self, outCount: plan.inputCount) { xp, wp, gp in
            reduceBackward(op, plan, x: xp, dy: wp, dx: gp)
        }
        let h = 1e-6
        for i in [0, 7, 19, 33, 59] {
            var xp = x, xm = x
            xp[i] += h
            xm[i] -= h
            let fd = (loss(xp) - loss(xm)) / (2 * h)
            #expect(Swift.abs(fd - grad[i]) <= 1e-7 * (Swift.abs(fd) + 1), "\(op) x[\(i)]: \(grad[i]) vs \(fd)")
        }
    }

    /// Reducing zero elements gives the identity of the op (mean: 0/0 = NaN).
    @Test func emptyReductionsGiveTheIdentity() throws {
        let plan = try ReductionPlan(shape: [3, 0], axes: [1])
        for (op, want) in [(ReduceOp.sum, 0.0), (.max, -.infinity), (.min, .infinity)] {
            let y = EWSupport.run([], Float.self, outCount: 3) { xp, yp in reduce(op, plan, xp, yp) }
            #expect(y == [want, want, want], "\(op)")
        }
        let mean = EWSupport.run([], Double.self, outCount: 3) { xp, yp in reduce(.mean, plan, xp, yp) }
        #expect(mean.allSatisfy { $0.isNaN })
    }

    @Test func argmaxAlongTheLastAxis() {
        // By hand: [1, 3, 3] → 1 (first of the ties), [−1, −2, −1] → 0.
        let x: [Float] = [1, 3, 3, -1, -2, -1]
        var out: [Int32] = [9, 9]
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in argmaxLastAxis(xp.baseAddress!, rows: 2, n: 3, op.baseAddress!) }
        }
        #expect(out == [1, 0])
        for n in [1, 17, 33] {
            let rows = 5
            let v = EWSupport.values(rows * n, -3, 3, seed: UInt64(n)).map { $0.rounded(.down) }
            var got = [Int32](repeating: -7, count: rows)
            v.withUnsafeBufferPointer { vp in
                got.withUnsafeMutableBufferPointer { gp in argmaxLastAxis(vp.baseAddress!, rows: rows, n: n, gp.baseAddress!) }
            }
            let want = (0..<rows).map { r in
                Int32(v[(r * n)..<(r * n + n)].firstIndex(of: v[(r * n)..<(r * n + n)].max()!)! - r * n)
            }
            #expect(got == want, "n=\(n)")
        }
    }
}
