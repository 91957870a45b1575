import Testing
@testable import DLGKernels

@Suite struct LayoutTests {
    /// y[i0, …] = x[j] with j[perm[k]] = i_k, index by index.
    static func naiveTranspose(_ x: [Double], _ shape: [Int], _ perm: [Int]) -> [Double] {
        let out = perm.map { shape[$0] }
        let st = EWSupport.strides(shape)
        return (0..<x.count).map { f in
            let idx = EWSupport.unflatten(f, out)
            var k = 0
            for i in 0..<perm.count { k += idx[i] * st[perm[i]] }
            return x[k]
        }
    }

    static func permutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    func checkTranspose<T: KernelScalar>(_ shape: [Int], _ perm: [Int], _: T.Type,
                                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try TransposePlan(shape: shape, perm: perm)
        let x = EWSupport.rounded(EWSupport.values(plan.count, -1, 1, seed: 1), T.self)
        let got = EWSupport.run(x, T.self, outCount: plan.count) { xp, yp in transpose(plan, xp, yp) }
        #expect(plan.outputShape == perm.map { shape[$0] }, sourceLocation: sourceLocation)
        #expect(got == Self.naiveTranspose(x, shape, perm), "\(shape) perm \(perm)", sourceLocation: sourceLocation)
    }

    @Test func transposeMatchesNaive() throws {
        for (shape, perm) in [([33, 17], [1, 0]), ([70, 45], [1, 0]), ([3, 7, 17], [0, 2, 1]), ([4], [0]),
                              ([], []), ([2, 1, 3], [2, 1, 0]), ([1, 5, 1, 3], [3, 2, 1, 0]),
                              ([512, 9], [1, 0]), ([3, 512], [1, 0])] {  // power-of-two rows: 8 × 8 tiles
            try checkTranspose(shape, perm, Float.self)
            try checkTranspose(shape, perm, Double.self)
        }
        for perm in Self.permutations(4) {
            try checkTranspose([2, 3, 5, 7], perm, Float.self)
        }
    }

    @Test func transposePicksTheBlockedMatrixPath() throws {
        guard case .matrix(1, 33, 17) = try TransposePlan(shape: [33, 17], perm: [1, 0]).kind else {
            Issue.record("2-D transpose should use the blocked matrix path")
            return
        }
        // [B, M, N] → [B, N, M] is a batch of matrix transposes; [M, N, K] → [K, M, N] merges (M, N).
        guard case .matrix(3, 7, 17) = try TransposePlan(shape: [3, 7, 17], perm: [0, 2, 1]).kind,
              case .matrix(1, 6, 5) = try TransposePlan(shape: [2, 3, 5], perm: [2, 0, 1]).kind else {
            Issue.record("batched / merged transposes should use the matrix path")
            return
        }
    }

    @Test func invalidPermutationIsAnErrorValue() {
        #expect(throws: LayoutError.invalidPermutation(perm: [0, 0], rank: 2)) { try TransposePlan(shape: [2, 3], perm: [0, 0]) }
        #expect(throws: LayoutError.invalidPermutation(perm: [0, 2], rank: 2)) { try TransposePlan(shape: [2, 3], perm: [0, 2]) }
        #expect(throws: LayoutError.invalidPermutation(perm: [0], rank: 2)) { try TransposePlan(shape: [2, 3], perm: [0]) }
    }

    func checkConcat<T: KernelScalar>(_ shapes: [[Int]], axis: Int, _: T.Type,
                                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try ConcatPlan(shapes: shapes, axis: axis)
        let a = plan.axis
        let inputs = shapes.enumerated().map { k, s in
            EWSupport.rounded(EWSupport.values(EWSupport.count(s), -1, 1, seed: UInt64(k)), T.self).map { T($0) }
        }
        let n = EWSupport.count(plan.outputShape)
        var out = [T](repeating: 0, count: n + 1)
        // One spare element each, so that an empty input still has a base address.
        withPointers(inputs.map { $0 + [0] }) { ptrs in
            out.withUnsafeMutableBufferPointer { op in concat(plan, ptrs, op.baseAddress!) }
        }
        // Naive: output coordinate c on the axis falls in the input whose range covers it.
        var want = [Double]()
        for f in 0..<n {
            var idx = EWSupport.unflatten(f, plan.outputShape)
            var k = 0
            while idx[a] >= shapes[k][a] {
                idx[a] -= shapes[k][a]
                k += 1
            }
            want.append(Double(inputs[k][zip(idx, EWSupport.strides(shapes[k])).reduce(0) { $0 + $1.0 * $1.1 }]))
        }
        #expect(out.prefix(n).map(Double.init) == want, "concat \(shapes) axis \(axis)", sourceLocation: sourceLocation)
        var out2 = [T](repeating: 0, count: n + 1)
        withPointers(inputs.map { $0 + [0] }) { ptrs in
            out2.withUnsafeMutableBufferPointer { op in concat(plan, ptrs, op.baseAddress!, threads: 2) }
        }
        #expect(out2.prefix(n).map(Double.init) == want, "concat \(shapes) axis \(axis) on 2 threads", sourceLocation: sourceLocation)
        // Split (the backward) gives the inputs back.
        var parts = shapes.map { [T](repeating: -1, count: EWSupport.count($0) + 1) }
        withMutablePointers(&parts) { ptrs in
            out.withUnsafeBufferPointer { op in concatBackward(plan, op.baseAddress!, ptrs) }
        }
        for k in shapes.indices {
            #expect(Array(parts[k].prefix(inputs[k].count)) == inputs[k], "split part \(k)", sourceLocation: sourceLocation)
        }
    }

    func withPointers<T>(_ arrays: [[T]], _ body: ([UnsafePointer<T>]) -> Void) {
        var ptrs: [UnsafePointer<T>] = []
        func go(_ i: Int) {
            if i == arrays.count { body(ptrs); return }
            arrays[i].withUnsafeBufferPointer { p in
                ptrs.append(p.baseAddress!)
                go(i + 1)
            }
        }
        go(0)
    }

    func withMutablePointers<T>(_ arrays: inout [[T]], _ body: ([UnsafeMutablePointer<T>]) -> Void) {
        var ptrs: [UnsafeMutablePointer<T>] = []
        func go(_ i: Int, _ arrays: inout [[T]]) {
            if i == arrays.count { body(ptrs); return }
            var a = arrays[i]
            a.withUnsafeMutableBufferPointer { p in
                ptrs.append(p.baseAddress!)
                go(i + 1, &arrays)
            }
            arrays[i] = a
        }
        go(0, &arrays)
    }

    @Test func concatAndSplitMatchNaive() throws {
        try checkConcat([[2, 3, 4], [2, 1, 4], [2, 5, 4]], axis: 1, Float.self)
        try checkConcat([[2, 3], [7, 3], [1, 3]], axis: 0, Double.self)
        try checkConcat([[3, 17], [3, 16], [3, 1]], axis: -1, Float.self)
        try checkConcat([[4, 5]], axis: 1, Double.self)
        try checkConcat([[2, 0, 3], [2, 2, 3]], axis: 1, Float.self)
        // Big enough to split over two threads (200 outer positions of 600).
        try checkConcat([[200, 1, 256], [200, 63, 256]], axis: 1, Float.self)
    }

    @Test func concatMismatchIsAnErrorValue() {
        #expect(throws: LayoutError.concatNoInputs) { try ConcatPlan(shapes: [], axis: 0) }
        #expect(throws: LayoutError.axisOutOfRange(axis: 2, rank: 2)) { try ConcatPlan(shapes: [[1, 2]], axis: 2) }
        #expect(throws: LayoutError.concatRankMismatch(input: 1, rank: 1, expected: 2)) {
            try ConcatPlan(shapes: [[1, 2], [2]], axis: 0)
        }
        #expect(throws: LayoutError.concatSizeMismatch(input: 1, axis: 1, size: 3, expected: 2)) {
            try ConcatPlan(shapes: [[1, 2], [4, 3]], axis: 0)
        }
    }

    func checkSlice<T: KernelScalar>(_ shape: [Int], _ start: [Int], _ end: [Int], _ step: [Int], _: T.Type,
                                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let plan = try SlicePlan(shape: shape, start: start, end: end, step: step)
        let x = EWSupport.rounded(EWSupport.values(plan.inputCount, -1, 1, seed: 9), T.self)
        let got = EWSupport.run(x, T.self, outCount: plan.outputCount) { xp, yp in slice(plan, xp, yp) }
        // Naive: output index i on each axis reads start + i·step.
        let st = EWSupport.strides(shape)
        var want: [Double] = []
        var scatter = [Double](repeating: 0, count: plan.inputCount)
        let dy = EWSupport.rounded(EWSupport.values(plan.outputCount, 1, 2, seed: 10), T.self)
        for f in 0..<plan.outputCount {
            let idx = EWSupport.unflatten(f, plan.outputShape)
            var k = 0
            for a in shape.indices { k += (start[a] + idx[a] * step[a]) * st[a] }
            want.append(x[k])
            scatter[k] = dy[f]
        }
        #expect(plan.outputShape == shape.indices.map { (end[$0] - start[$0] + step[$0] - 1) / step[$0] },
                sourceLocation: sourceLocation)
        #expect(got == want, "slice \(shape) \(start)..<\(end) by \(step)", sourceLocation: sourceLocation)
        let got2 = EWSupport.run(x, T.self, outCount: plan.outputCount) { xp, yp in slice(plan, xp, yp, threads: 2) }
        #expect(got2 == want, "slice \(shape) \(start)..<\(end) by \(step) on 2 threads", sourceLocation: sourceLocation)
        let dx = EWSupport.run(dy, T.self, outCount: plan.inputCount) { gp, dxp in sliceBackward(plan, gp, dxp) }
        #expect(dx == scatter, "slice backward", sourceLocation: sourceLocation)
        let dx2 = EWSupport.run(dy, T.self, outCount: plan.inputCount) { gp, dxp in sliceBackward(plan, gp, dxp, threads: 2) }
        #expect(dx2 == scatter, "slice backward on 2 threads", sourceLocation: sourceLocation)
    }

    @Test func sliceAndItsBackwardMatchNaive() throws {
        try checkSlice([7, 9, 5], [1, 0, 2], [7, 9, 5], [2, 3, 1], Float.self)
        try checkSlice([33], [3], [30], [4], Double.self)
        try checkSlice([4, 17], [0, 0], [4, 17], [1, 1], Float.self)
        try checkSlice([4, 17], [1, 1], [3, 16], [1, 1], Double.self)
        try checkSlice([5, 6], [2, 0], [2, 6], [1, 1], Float.self)   // empty along axis 0
        try checkSlice([2, 3, 4, 5], [0, 1, 0, 4], [2, 3, 4, 5], [1, 1, 3, 1], Double.self)
        // Big enough that the copies and the backward's zeros split over two threads (600 rows of 150).
        try checkSlice([600, 300], [0, 10], [600, 160], [1, 1], Float.self)
    }

    @Test func badSliceIsAnErrorValue() {
        #expect(throws: LayoutError.sliceStep(axis: 0, step: 0)) { try SlicePlan(shape: [4], start: [0], end: [4], step: [0]) }
        #expect(throws: LayoutError.sliceOutOfRange(axis: 1, start: 0, end: 5, size: 4)) {
            try SlicePlan(shape: [2, 4], start: [0, 0], end: [2, 5], step: [1, 1])
        }
        #expect(throws: LayoutError.sliceOutOfRange(axis: 0, start: 3, end: 2, size: 4)) {
            try SlicePlan(shape: [4], start: [3], end: [2], step: [1])
        }
        #expect(throws: LayoutError.sliceRankMismatch(rank: 2, starts: 1, ends: 2, steps: 2)) {
            try SlicePlan(shape: [2, 4], start: [0], end: [2, 4], step: [1, 1])
        }
    }

    @Test func broadcastToMatchesNaive() throws {
        for (from, to) in [([3, 1], [2, 3, 4]), ([1], [5]), ([], [2, 2]), ([4], [3, 4]), ([2, 1, 3], [2, 5, 3]),
                           ([17], [17]), ([1, 33], [2, 33])] {
            let plan = try BroadcastToPlan(from: from, to: to)
            let x = EWSupport.values(EWSupport.count(from), -1, 1, seed: 2)
            let got = EWSupport.run(x, Double.self, outCount: plan.outputCount) { xp, yp in broadcastTo(plan, xp, yp) }
            let want = (0..<EWSupport.count(to)).map { x[BroadcastReference.operandIndex(EWSupport.unflatten($0, to), from)] }
            #expect(got == want, "\(from) → \(to)")
        }
        #expect(throws: LayoutError.notBroadcastable(from: [3], to: [4], axis: 0)) { try BroadcastToPlan(from: [3], to: [4]) }
        #expect(throws: LayoutError.notBroadcastable(from: [2, 3], to: [3], axis: 0)) { try BroadcastToPlan(from: [2, 3], to: [3]) }
    }

    @Test func oneHotEncodesLabels() {
        func encode(_ labels: [Int32], _ classes: Int) -> ([Float], LabelError?) {
            var out = [Float](repeating: -1, count: labels.count * classes + 1)
            var err: LabelError? = nil
            labels.withUnsafeBufferPointer { lp in
                out.withUnsafeMutableBufferPointer { op in
                    do throws(LabelError) {
                        try oneHot(labels: lp.baseAddress!, count: labels.count, classes: classes, op.baseAddress!)
                    } catch { err = error }
                }
            }
            return (Array(out.prefix(labels.count * classes)), err)
        }
        let (good, e1) = encode([2, 0, 1], 3)
        #expect(good == [0, 0, 1, 1, 0, 0, 0, 1, 0] && e1 == nil)
        let (bad, e2) = encode([1, 5, -1], 3)
        #expect(bad == [0, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(e2 == LabelError(row: 1, label: 5, classes: 3))
    }

    @Test func castsConvertAndSaturate() {
        let ints: [Int32] = [0, -7, 123_456, Int32.max, Int32.min]
        var f = [Float](repeating: 0, count: 5), d = [Double](repeating: 0, count: 5)
        ints.withUnsafeBufferPointer { ip in
            f.withUnsafeMutableBufferPointer { cast(ip.baseAddress!, $0.baseAddress!, count: 5) }
            d.withUnsafeMutableBufferPointer { cast(ip.baseAddress!, $0.baseAddress!, count: 5) }
        }
        #expect(d == ints.map(Double.init))
        #expect(f == ints.map(Float.init))

        // Toward zero; beyond Int32 (and ±inf) saturate; NaN → 0.
        let reals: [Float] = [1.7, -1.7, 2.5, -0.0, 3e9, -3e9, .nan, .infinity, -.infinity, 2_147_483_520]
        var back = [Int32](repeating: 9, count: reals.count)
        reals.withUnsafeBufferPointer { rp in
            back.withUnsafeMutableBufferPointer { cast(rp.baseAddress!, $0.baseAddress!, count: reals.count) }
        }
        #expect(back == [1, -1, 2, 0, Int32.max, Int32.min, 0, Int32.max, Int32.min, 2_147_483_520])

        let wide: [Double] = [0.1, -2.5, 1e40, 1e-50]
        var narrow = [Float](repeating: 9, count: 4)
        wide.withUnsafeBufferPointer { wp in
            narrow.withUnsafeMutableBufferPointer { cast(wp.baseAddress!, $0.baseAddress!, count: 4) }
        }
        #expect(narrow == [Float(0.1), -2.5, .infinity, 0])
        var again = [Double](repeating: 9, count: 4)
        narrow.withUnsafeBufferPointer { np in
            again.withUnsafeMutableBufferPointer { cast(np.baseAddress!, $0.baseAddress!, count: 4) }
        }
        #expect(again == [Double(Float(0.1)), -2.5, .infinity, 0])
    }
}
