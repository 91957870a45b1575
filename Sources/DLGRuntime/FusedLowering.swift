import DLGGraph
import DLGKernels

/// How a fused region becomes one kernel, decided once when the program is
/// made: which library kernel heads it (and whether it writes scratch
/// because the output overwrites an input), whether the whole region is a
/// single library call (a GEMM that accumulates, a convolution with its bias
/// and activation), and the elementwise loop that finishes it.
enum FusedLowering {
    static func kernel(_ c: KernelContext) throws(LoweringError) -> Kernel {
        let region = c.attrs.fused.region
        guard !region.steps.isEmpty else { throw LoweringError(message: "a fused op without a region") }
        var steps = region.steps
        var shape = c.output.shape
        // A reduction finishing the region: the loop runs over its input's shape and folds into the output.
        // (Fusion never heads such a region with a library kernel, whose output would be the full-size chain.)
        var reduction: FusedChain.Reduction? = nil
        if let last = steps.last, let op = KernelTable.reductions[last.op], steps.count >= 2, region.anchor == nil,
           last.operands == [.step(steps.count - 2)] {
            guard let s = steps[steps.count - 2].type.shape.knownDims else {
                throw LoweringError(message: "a fused \(last.op.rawValue) over a chain of unknown shape")
            }
            let axes = last.attrs.reduce.normalizedAxes(rank: s.count)
            do { _ = try ReductionPlan(shape: s, axes: axes) } catch { throw LoweringError(message: error.description) }
            reduction = FusedChain.Reduction(op: op, axes: axes)
            shape = s
            steps.removeLast()
        }
        var head: Kernel? = nil
        var headToScratch = false
        // An outer product heading the region runs inside the elementwise loop (see `isOuterProduct`).
        let outerProduct = region.anchor.map { isOuterProduct($0, c) } ?? false
        if let anchor = region.anchor, !outerProduct {
            let operands = try anchorInputs(anchor)
            if case .matmul(let m) = anchor.attrs {
                // A product plus X (times a scale) is one GEMM accumulating into X.
                if let acc = gemmAccumulation(steps, c) {
                    return try KernelTable.matmul(c, a: operands[0], b: operands[1], attrs: m, accumulate: acc)
                }
                head = try KernelTable.matmul(c, a: operands[0], b: operands[1], attrs: m, accumulate: nil)
            } else {
                let g = try KernelTable.convGeometry(anchor.attrs.conv, x: c.shape(operands[0]), w: c.shape(operands[1]),
                                                     y: c.output.shape)
                // A convolution, its bias and one activation: the convolution applies them as it writes.
                if let (bias, activation) = convolutionEpilogue(steps, c) {
                    return .convolution(g, x: operands[0], w: operands[1], bias: bias, activation: activation)
                }
                head = .convolution(g, x: operands[0], w: operands[1], bias: nil, activation: nil)
            }
            // Written over one of its inputs (which the library kernel does not read): its result waits in scratch.
            headToScratch = c.overwrites != nil
            steps.removeFirst()
        }
        return .fused(FusedKernel(head: head, headToScratch: headToScratch,
                                  chain: try chain(steps, shape: shape, reduction: reduction, headed: head != nil, c)))
    }

    /// The instruction inputs a library kernel heading a region reads.
    static func anchorInputs(_ step: FusedRegion.Step) throws(LoweringError) -> [Int] {
        var out: [Int] = []
        for o in step.operands {
            guard case .input(let i) = o else { throw LoweringError(message: "the region's first step reads a step") }
            out.append(i)
        }
        return out
    }

    /// The elementwise loop over `shape`: one view per (step, input operand); with a head, step 0's
    /// result is read through a view of the head's result (input index `inputs.count`).
    static func chain(_ steps: [FusedRegion.Step], shape: [Int], reduction: FusedChain.Reduction?, headed: Bool,
                      _ c: KernelContext) throws(LoweringError) -> FusedChain {
        var views: [FusedChain.View] = []
        let headInput = c.inputs.count
        let shift = headed ? 1 : 0
        var codes: [FusedElementwiseKernel.Step] = []
        codes.reserveCapacity(steps.count)
        for step in steps {
            guard let code = KernelTable.fusedSteps[step.op] else {
                throw LoweringError(message: "\(step.op.rawValue) cannot run inside a fused elementwise kernel")
            }
            var operands: [FusedElementwiseKernel.Operand] = []
            operands.reserveCapacity(step.operands.count)
            for (k, o) in step.operands.enumerated() {
                switch o {
                case .scalar(let v): operands.append(.immediate(v))
                case .step(let j):
                    if headed, j == 0 {
                        views.append(.init(input: headInput, strides: FusedElementwiseKernel.broadcastStrides(shape, to: shape)))
                        operands.append(.view(views.count - 1))
                    } else {
                        operands.append(.step(j - shift))
                    }
                case .input(let i):
                    let strides: [Int]
                    if case .matmul = step.attrs {
                        // An outer product: op(A)[i, 0] and op(B)[0, j] sit at offsets i and j whether or not stored transposed.
                        strides = k == 0 ? [1, 0] : [0, 1]
                    } else if case .axis(let axis) = step.attrs, k == 1 {
                        // bias_add: the bias runs along its axis.
                        strides = FusedElementwiseKernel.axisStrides(axis: axis < 0 ? axis + shape.count : axis, of: shape)
                    } else {
                        strides = FusedElementwiseKernel.broadcastStrides(c.shape(i), to: shape)
                    }
                    views.append(.init(input: i, strides: strides))
                    operands.append(.view(views.count - 1))
                }
            }
            codes.append(FusedElementwiseKernel.Step(code: code(step), operands: operands))
        }
        return FusedChain(steps: codes, shape: shape, views: views, reduction: reduction)
    }

    /// A 2-D matmul whose contraction has length 1 heading an epilogue region:
    /// C[i, j] = op(A)[i, 0] · op(B)[0, j], an outer product (a dense layer's
    /// weight gradient at batch 1). It runs as the first step of the
    /// elementwise loop, so that with the optimizer's epilogue the velocity
    /// update is one pass over the weight-sized tensor instead of a GEMM
    /// writing scratch and a second pass reading it back. Only for rows of
    /// at least 64 elements.
    static func isOuterProduct(_ step: FusedRegion.Step, _ c: KernelContext) -> Bool {
        guard case .matmul(let m) = step.attrs, step.operands.count == 2 else { return false }
        var shapes: [[Int]] = []
        for o in step.operands {
            guard case .input(let i) = o else { return false }
            shapes.append(c.shape(i))
        }
        guard shapes.allSatisfy({ $0.count == 2 }), c.output.shape.count == 2 else { return false }
        let k = m.transposeA ? shapes[0][0] : shapes[0][1]
        // Rows of fewer than 64 elements cost the loop more in per-row dispatch than
        // the GEMM's extra pass (a 256×10 logits layer ran 8× slower this way).
        return k == 1 && c.output.shape[1] >= 64
    }

    /// What a matmul region adds to the product when that is all it does:
    /// `#0 + X` (beta 1) or `#0 + c·X`, with `c` an immediate or a
    /// one-element input, X an input of the output's shape and type. Such a
    /// region runs as one GEMM, C ← op(A)·op(B) + c·C with C = X (momentum's
    /// v ← 0.9·v + ∂w, written over v; a sum of a product and another value),
    /// instead of a GEMM into scratch and a pass reading both back. Not when
    /// the output is also one of the matmul's operands (C may not overlap A
    /// or B).
    static func gemmAccumulation(_ steps: [FusedRegion.Step], _ c: KernelContext) -> GemmAccumulation? {
        guard let anchor = steps.first, case .matmul = anchor.attrs, steps.count == 2 || steps.count == 3,
              let sum = steps.last, sum.operands.count == 2, KernelTable.isAddition(sum) else { return nil }
        // The sum's other operand: X itself (two steps) or step 1, c·X (three).
        let others = sum.operands.filter { $0 != .step(0) }
        guard others.count == 1, let other = others.first else { return nil }
        let x: Int
        var beta = GemmAccumulation.Beta.immediate(1)
        if steps.count == 2 {
            guard case .input(let i) = other else { return nil }
            x = i
        } else {
            let scaled = steps[1]
            guard other == .step(1), KernelTable.isMultiplication(scaled), scaled.operands.count == 2 else { return nil }
            var found: (Int, GemmAccumulation.Beta)? = nil
            for (t, s) in [(scaled.operands[0], scaled.operands[1]), (scaled.operands[1], scaled.operands[0])] {
                guard case .input(let i) = t, c.inputs[i].shape == c.output.shape else { continue }
                if case .scalar(let v) = s { found = (i, .immediate(v)); break }
                // (Not a scale stored where the output goes: the copy of X into the output would overwrite it.)
                if case .input(let j) = s, c.inputs[j].count == 1, c.inputs[j].dtype == c.output.dtype,
                   c.inputs[j].location != c.output.location {
                    found = (i, .input(j))
                    break
                }
            }
            guard let found else { return nil }
            (x, beta) = found
        }
        let target = c.inputs[x]
        guard target.shape == c.output.shape, target.dtype == c.output.dtype else { return nil }
        // The matmul's own operands must not be the output (C may not overlap A or B).
        for o in anchor.operands {
            guard case .input(let i) = o, c.inputs[i].location != c.output.location else { return nil }
        }
        return GemmAccumulation(source: x, beta: beta, inPlace: target.location == c.output.location)
    }

    /// conv2d + bias along the channels + at most one unary function: what the convolution
    /// applies as it writes its output. Nil otherwise.
    static func convolutionEpilogue(_ steps: [FusedRegion.Step], _ c: KernelContext) -> (bias: Int, activation: UnaryFunction?)? {
        guard steps.count == 2 || steps.count == 3, case .axis(1) = steps[1].attrs, steps[1].operands.first == .step(0),
              case .input(let bias)? = steps[1].operands.last, steps[1].operands.count == 2 else { return nil }
        if steps.count == 2 { return (bias, nil) }
        guard steps[2].operands == [.step(1)], let f = UnaryFunction(steps[2].op, alpha: steps[2].attrs.alpha) else { return nil }
        return (bias, f)
    }
}
