import Testing
@testable import DLGKernels

/// An elementwise chain finished by a reduction, run as one loop
/// (`FusedElementwiseKernel` with a `Reduction`), against the chain computed
/// element by element in Double and reduced by `ReductionReference`.
@Suite struct FusedReductionTests {
    /// x·scale[c] + 0.5 over an NCHW tensor x with a per-channel scale (a broadcast view), then reduced.
    static func check(_ op: ReduceOp, shape: [Int], axes: Set<Int>, threads: Int,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let count = shape.reduce(1, *)
        let x = EWSupport.rounded(EWSupport.values(count, -2, 2, seed: 7), Float.self)
        let scale = EWSupport.rounded(EWSupport.values(shape[1], 0.5, 1.5, seed: 8), Float.self)
        let plane = shape[2...].reduce(1, *)
        let chain = x.indices.map { i in x[i] * scale[(i / plane) % shape[1]] + 0.5 }
        let (want, magnitude) = ReductionReference.reduce(op, chain, shape, axes)

        let steps: [FusedElementwiseKernel.Step] = [
            .init(code: .binary(.mul), operands: [.view(0), .view(1)]),
            .init(code: .binary(.add), operands: [.step(0), .immediate(0.5)]),
        ]
        let views = [(input: 0, strides: FusedElementwiseKernel.broadcastStrides(shape, to: shape)),
                     (input: 1, strides: FusedElementwiseKernel.axisStrides(axis: 1, of: shape))]
        let reduction = FusedElementwiseKernel.Reduction(op: op, shape: shape, axes: axes)
        #expect(reduction.count == want.count, sourceLocation: sourceLocation)
        let kernel = FusedElementwiseKernel(steps: steps, shape: shape, views: views, reduction: reduction)
        let xs = x.map(Float.init), ss = scale.map(Float.init)
        // The output starts as garbage: the kernel must not read what was there.
        var out = [Float](repeating: .nan, count: reduction.count)
        var partials = [Float](repeating: .nan, count: max(1, reduction.partialCount(threads: threads)))
        xs.withUnsafeBufferPointer { xp in
            ss.withUnsafeBufferPointer { sp in
                out.withUnsafeMutableBufferPointer { op in
                    partials.withUnsafeMutableBufferPointer { pp in
                        kernel.run([xp.baseAddress!, sp.baseAddress!], op.baseAddress!, threads: threads,
                                   partials: pp.baseAddress!)
                    }
                }
            }
        }
        // Float sums of many terms: within a few ulps of the magnitude summed.
        let got = out.map(Double.init)
        for i in want.indices {
            let tolerance = 1e-5 * max(magnitude[i], 1)
            #expect(abs(got[i] - want[i]) <= tolerance,
                    "\(op) over \(axes.sorted()) of \(shape) [\(i)]: got \(got[i]), expected \(want[i])",
                    sourceLocation: sourceLocation)
        }
    }

    /// Batchnorm's statistics: over batch and spatial axes, one value per channel.
    @Test(arguments: [1, 2])
    func perChannelSum(threads: Int) {
        Self.check(.sum, shape: [8, 6, 30, 30], axes: [0, 2, 3], threads: threads)
        Self.check(.mean, shape: [8, 6, 30, 30], axes: [0, 2, 3], threads: threads)
    }

    /// The innermost axes kept (a bias gradient: a sum over the batch), so each tile folds element by element.
    @Test(arguments: [1, 2])
    func keptInnerAxes(threads: Int) {
        Self.check(.sum, shape: [8, 6, 30, 30], axes: [0], threads: threads)
        Self.check(.max, shape: [8, 6, 30, 30], axes: [0, 1], threads: threads)
    }

    /// Everything to one value, and an inner axis reduced between kept ones; small shapes run on one thread.
    @Test(arguments: [1, 2])
    func allAndMiddleAxes(threads: Int) {
        Self.check(.min, shape: [8, 6, 30, 30], axes: [0, 1, 2, 3], threads: threads)
        Self.check(.mean, shape: [8, 6, 30, 30], axes: [2], threads: threads)
        Self.check(.sum, shape: [3, 2, 5, 7], axes: [1, 3], threads: threads)
    }

    /// Short rows (planes of 8×8 and 4×4, a tile per row, the per-channel
    /// scale one value per row) give the same sums.
    @Test(arguments: [1, 2])
    func shortRows(threads: Int) {
        Self.check(.sum, shape: [64, 6, 8, 8], axes: [0, 2, 3], threads: threads)
        Self.check(.mean, shape: [32, 5, 4, 4], axes: [0, 2, 3], threads: threads)
        Self.check(.sum, shape: [64, 6, 8, 8], axes: [0], threads: threads)
        Self.check(.max, shape: [9, 7, 3, 5], axes: [1, 3], threads: threads)
    }

    /// The chain without a reduction over short rows: every element exactly
    /// as the same two Float operations written out.
    @Test(arguments: [1, 2])
    func shortRowsElementwise(threads: Int) {
        for shape in [[64, 6, 8, 8], [33, 5, 2, 4]] {
            let count = shape.reduce(1, *)
            let x = EWSupport.rounded(EWSupport.values(count, -2, 2, seed: 9), Float.self)
            let scale = EWSupport.rounded(EWSupport.values(shape[1], 0.5, 1.5, seed: 10), Float.self)
            let plane = shape[2...].reduce(1, *)
            let want = x.indices.map { i in Double(Float(x[i]) * Float(scale[(i / plane) % shape[1]]) + 0.5) }
            let kernel = FusedElementwiseKernel(
                steps: [.init(code: .binary(.mul), operands: [.view(0), .view(1)]),
                        .init(code: .binary(.add), operands: [.step(0), .immediate(0.5)])],
                shape: shape,
                views: [(input: 0, strides: FusedElementwiseKernel.broadcastStrides(shape, to: shape)),
                        (input: 1, strides: FusedElementwiseKernel.axisStrides(axis: 1, of: shape))])
            let xs = x.map(Float.init), ss = scale.map(Float.init)
            var out = [Float](repeating: .nan, count: count)
            xs.withUnsafeBufferPointer { xp in
                ss.withUnsafeBufferPointer { sp in
                    out.withUnsafeMutableBufferPointer { kernel.run([xp.baseAddress!, sp.baseAddress!], $0.baseAddress!, threads: threads) }
                }
            }
            EWSupport.expectClose(out.map(Double.init), want, rtol: 0, "\(shape) threads \(threads)")
        }
    }

    /// A reduced axis of size 0: the identity, and NaN for a mean, as `reduce` gives.
    @Test func emptyReduction() {
        let reduction = FusedElementwiseKernel.Reduction(op: .mean, shape: [0, 3], axes: [0])
        let kernel = FusedElementwiseKernel(steps: [.init(code: .copy, operands: [.view(0)])], shape: [0, 3],
                                            views: [(input: 0, strides: [3, 1])], reduction: reduction)
        var out = [Float](repeating: 1, count: 3)
        let x: [Float] = [0]
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { kernel.run([xp.baseAddress!], $0.baseAddress!) }
        }
        #expect(out.allSatisfy { $0.isNaN })
        let sum = FusedElementwiseKernel(steps: [.init(code: .copy, operands: [.view(0)])], shape: [0, 3],
                                         views: [(input: 0, strides: [3, 1])],
                                         reduction: .init(op: .sum, shape: [0, 3], axes: [0]))
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { sum.run([xp.baseAddress!], $0.baseAddress!) }
        }
        #expect(out == [0, 0, 0])
    }
}
