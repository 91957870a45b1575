import DLGGraph
import DLGKernels

extension Executor {
    /// The instruction a region step would be on its own, with operands
    /// resolved to the fused instruction's buffers (used for the library
    /// kernel heading an epilogue region).
    func standalone(_ step: FusedRegion.Step, of ins: Instruction) -> Instruction? {
        var inputs: [Buffer] = []
        for o in step.operands {
            guard case .input(let i) = o else { return nil }
            inputs.append(ins.inputs[i])
        }
        return Instruction(op: step.op, inputs: inputs, output: ins.output, attrs: step.attrs, value: ins.value,
                           label: step.label, loc: ins.loc)
    }

    static func workspaceBytesFused(_ ins: Instruction, floatType: DType, threads: Int) throws(ExecutionError) -> Int {
        if let r = ins.attrs.region, let last = r.steps.last, last.op.decl.fusion == .reduction {
            // Accumulators of the reduction's workers beyond the first.
            return FusedElementwiseKernel.Reduction.partialCount(outputs: ins.output.count, threads: threads) * floatType.byteSize
        }
        guard let r = ins.attrs.region, let a = r.anchor, !isOuterProduct(a, of: ins) else { return 0 }
        // The GEMM accumulates into the output itself: no scratch.
        if gemmAccumulation(r.steps, of: ins) != nil { return 0 }
        var inputs: [Buffer] = []
        for o in a.operands { if case .input(let i) = o { inputs.append(ins.inputs[i]) } }
        let pseudo = Instruction(op: a.op, inputs: inputs, output: ins.output, attrs: a.attrs, value: ins.value, label: nil, loc: nil)
        var bytes = try workspaceBytes(pseudo, floatType: floatType, threads: threads)
        // Written over one of its inputs: the library kernel's result waits in scratch after its own workspace.
        if writesOverInput(ins) { bytes = align64(bytes) + ins.output.count * floatType.byteSize }
        return bytes
    }

    static func writesOverInput(_ ins: Instruction) -> Bool {
        ins.inputs.contains { $0.location == ins.output.location }
    }

    static func align64(_ x: Int) -> Int { (x + 63) / 64 * 64 }

    /// A 2-D matmul whose contraction has length 1 heading an epilogue region:
    /// C[i, j] = op(A)[i, 0] · op(B)[0, j], an outer product (a dense layer's
    /// weight gradient at batch 1). It runs as the first step of the
    /// elementwise loop, so that with the optimizer's epilogue the velocity
    /// update is one pass over the weight-sized tensor instead of a GEMM
    /// writing scratch and a second pass reading it back. Only for rows of
    /// at least 64 elements.
    static func isOuterProduct(_ step: FusedRegion.Step, of ins: Instruction) -> Bool {
        guard step.op == .matmul, step.operands.count == 2 else { return false }
        var shapes: [[Int]] = []
        for o in step.operands {
            guard case .input(let i) = o else { return false }
            shapes.append(ins.inputs[i].shape)
        }
        guard shapes.allSatisfy({ $0.count == 2 }), ins.output.shape.count == 2 else { return false }
        let ta = step.attrs.matmul.transposeA
        let k = ta ? shapes[0][0] : shapes[0][1]
        // Rows of fewer than 64 elements cost the loop more in per-row dispatch than
        // the GEMM's extra pass (a 256×10 logits layer ran 8× slower this way).
        return k == 1 && ins.output.shape[1] >= 64
    }

    /// What a matmul region adds to the product when that is all it does:
    /// `#0 + X` (beta 1) or `#0 + c·X`, with `c` an immediate or a
    /// one-element input, X an input of the output's shape and type. Such a
    /// region runs as one GEMM, C ← op(A)·op(B) + c·C with C = X (momentum's
    /// v ← 0.9·v + ∂w, written over v; a sum of a product and another value),
    /// instead of a GEMM into scratch and a pass reading both back. Not when
    /// the output is also one of the matmul's operands (C may not overlap A
    /// or B).
    struct GemmAccumulation: Equatable {
        enum Beta: Equatable { case immediate(Double), input(Int) }
        var input: Int
        var beta: Beta
    }

    static func gemmAccumulation(_ steps: [FusedRegion.Step], of ins: Instruction) -> GemmAccumulation? {
        guard let anchor = steps.first, anchor.op == .matmul, steps.count == 2 || steps.count == 3,
              let sum = steps.last, sum.op == .add, sum.operands.count == 2 else { return nil }
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
            guard other == .step(1), scaled.op == .mul, scaled.operands.count == 2 else { return nil }
            var found: (Int, GemmAccumulation.Beta)? = nil
            for (t, c) in [(scaled.operands[0], scaled.operands[1]), (scaled.operands[1], scaled.operands[0])] {
                guard case .input(let i) = t, ins.inputs[i].shape == ins.output.shape else { continue }
                if case .scalar(let v) = c { found = (i, .immediate(v)); break }
                // (Not a scale stored where the output goes: the copy of X into the output would overwrite it.)
                if case .input(let j) = c, ins.inputs[j].count == 1, ins.inputs[j].dtype == ins.output.dtype,
                   ins.inputs[j].location != ins.output.location {
                    found = (i, .input(j))
                    break
                }
            }
            guard let found else { return nil }
            (x, beta) = found
        }
        let target = ins.inputs[x]
        guard target.shape == ins.output.shape, target.dtype == ins.output.dtype else { return nil }
        // The matmul's own operands must not be the output (C may not overlap A or B).
        for o in anchor.operands {
            guard case .input(let i) = o, ins.inputs[i].location != ins.output.location else { return nil }
        }
        return GemmAccumulation(input: x, beta: beta)
    }

    func compileFused<T: KernelScalar>(_ ins: Instruction, _: T.Type) throws(ExecutionError) -> Call {
        guard let region = ins.attrs.region, !region.steps.isEmpty else {
            throw ExecutionError("a fused op without a region")
        }
        var outShape = ins.output.shape
        var steps = region.steps
        // A reduction finishing the region: the loop runs over its input's shape and folds into the output.
        var reduction: FusedElementwiseKernel.Reduction? = nil
        // (Fusion never heads such a region with a library kernel, whose output would be the full-size chain.)
        if let last = steps.last, last.op.decl.fusion == .reduction, steps.count >= 2, region.anchor == nil,
           last.operands == [.step(steps.count - 2)] {
            guard let shape = steps[steps.count - 2].type.shape.knownDims, let op = Executor.reduceOp(last.op) else {
                throw ExecutionError("a fused \(last.op.rawValue) over a chain of unknown shape")
            }
            let plan: ReductionPlan
            do { plan = try ReductionPlan(shape: shape, axes: last.attrs.reduce.normalizedAxes(rank: shape.count)) } catch {
                throw ExecutionError(error.description)
            }
            reduction = FusedElementwiseKernel.Reduction(op: op, shape: shape, axes: Set(plan.axes))
            outShape = shape
            steps.removeLast()
        }
        var head: Call? = nil
        var anchorSource: UnsafePointer<T>? = nil
        // An outer product heading the region runs inside the elementwise loop (see `isOuterProduct`).
        let outerProduct = region.anchor.map { Executor.isOuterProduct($0, of: ins) } ?? false
        // An epilogue region: the library kernel writes the output, the rest finishes it in place.
        if let anchor = region.anchor, !outerProduct {
            guard let a = standalone(anchor, of: ins) else { throw ExecutionError("the region's first step reads a step") }
            if let acc = Executor.gemmAccumulation(steps, of: ins) {
                let x = UnsafePointer(pointer(ins.inputs[acc.input], T.self)), out = pointer(ins.output, T.self)
                let count = ins.output.count
                let inPlace = ins.inputs[acc.input].location == ins.output.location
                let beta: UnsafePointer<T>?
                let constant: T
                switch acc.beta {
                case .immediate(let c): (beta, constant) = (nil, T(c))
                case .input(let j): (beta, constant) = (UnsafePointer(pointer(ins.inputs[j], T.self)), 0)
                }
                let product = try compileMatmul(a, T.self, output: out) { beta?.pointee ?? constant }
                if inPlace { return product }
                return { () throws(ExecutionError) in
                    out.update(from: x, count: count)
                    try product()
                }
            }
            // conv2d + bias + one of the activations the conv kernel applies while writing.
            if anchor.op == .conv2d, steps.count <= 3, steps.count >= 2, steps[1].op == .bias_add,
               steps[1].operands.first == .step(0), case .input(let bi)? = steps[1].operands.last,
               steps[1].attrs.axis == 1 {
                var epilogue: UnaryFunction?? = steps.count == 2 ? .some(nil) : nil
                if steps.count == 3, steps[2].operands == [.step(1)], [.relu, .sigmoid, .tanh, .leaky_relu].contains(steps[2].op) {
                    epilogue = .some(UnaryFunction(steps[2].op, alpha: steps[2].attrs.alpha))
                }
                if let epilogue {
                    let g = try Executor.convGeometry(x: a.inputs[0].shape, w: a.inputs[1].shape, attrs: a.attrs)
                    let x = pointer(a.inputs[0], T.self), w = pointer(a.inputs[1], T.self)
                    let b = pointer(ins.inputs[bi], T.self), out = pointer(ins.output, T.self)
                    let ws = UnsafeMutableBufferPointer<T>(start: workspace.assumingMemoryBound(to: T.self),
                                                            count: workspaceBytes / MemoryLayout<T>.stride)
                    let threads = self.threads
                    return { Conv2D.forward(g, input: x, weight: w, bias: b, epilogue: epilogue, output: out, workspace: ws, threads: threads) }
                }
            }
            if Executor.writesOverInput(ins) {
                // The epilogue writes over an input the library kernel does not read (an optimizer's
                // state updated in place): the kernel's result goes to scratch after its own workspace.
                var scratch = a
                let kernelBytes = try Executor.workspaceBytes(a, floatType: program.floatType, threads: threads)
                scratch.output = Buffer(location: .arena(-1), dtype: a.output.dtype, shape: a.output.shape)
                let offset = Executor.align64(kernelBytes)
                let scratchPointer = (workspace + offset).assumingMemoryBound(to: T.self)
                head = try compile(scratch, T.self, outputPointer: scratchPointer)
                anchorSource = UnsafePointer(scratchPointer)
            } else {
                head = try compile(a, T.self)
            }
            steps.removeFirst()
        }
        // Views: one per (step, input operand); the anchor's result is a view of the output itself.
        var views: [(input: Int, strides: [Int])] = []
        let outputInput = ins.inputs.count
        let shift = head == nil ? 0 : 1
        var kernelSteps: [FusedElementwiseKernel.Step] = []
        for step in steps {
            var operands: [FusedElementwiseKernel.Operand] = []
            for (k, o) in step.operands.enumerated() {
                switch o {
                case .scalar(let v): operands.append(.immediate(v))
                case .step(let j):
                    if head != nil, j == 0 {
                        views.append((outputInput, FusedElementwiseKernel.broadcastStrides(outShape, to: outShape)))
                        operands.append(.view(views.count - 1))
                    } else {
                        operands.append(.step(j - shift))
                    }
                case .input(let i):
                    let shape = ins.inputs[i].shape
                    let strides: [Int]
                    if step.op == .matmul {
                        // op(A)[i, 0] and op(B)[0, j] sit at offsets i and j whether or not stored transposed.
                        strides = k == 0 ? [1, 0] : [0, 1]
                    } else if step.op == .bias_add, k == 1 {
                        let axis = step.attrs.axis
                        strides = FusedElementwiseKernel.axisStrides(axis: axis < 0 ? axis + outShape.count : axis, of: outShape)
                    } else {
                        strides = FusedElementwiseKernel.broadcastStrides(shape, to: outShape)
                    }
                    views.append((i, strides))
                    operands.append(.view(views.count - 1))
                }
            }
            let code: FusedElementwiseKernel.Code
            if step.op == .bias_add {
                code = .binary(.add)
            } else if step.op == .matmul {
                code = .binary(.mul)
            } else if step.op == .stop_gradient || step.op == .broadcast_to {
                // broadcast_to: its operand's view already repeats it over the stretched axes.
                code = .copy
            } else if step.op == .unary_grad {
                code = .unaryGrad(step.attrs.unaryGrad)
            } else if let b = Executor.binaryOp(step.op) {
                code = .binary(b)
            } else if let u = UnaryFunction(step.op, alpha: step.attrs.alpha) {
                code = .unary(u)
            } else {
                throw ExecutionError("\(step.op.rawValue) cannot run inside a fused elementwise kernel")
            }
            kernelSteps.append(FusedElementwiseKernel.Step(code: code, operands: operands))
        }
        let kernel = FusedElementwiseKernel(steps: kernelSteps, shape: outShape, views: views, reduction: reduction)
        let out = pointer(ins.output, T.self)
        if reduction != nil {
            let partials = workspaceBytes > 0 ? workspace.assumingMemoryBound(to: T.self) : nil
            let pointers: [UnsafePointer<T>] = ins.inputs.map { UnsafePointer(pointer($0, T.self)) }
            let threads = self.threads
            return { kernel.run(pointers, out, threads: threads, partials: partials) }
        }
        let pointers: [UnsafePointer<T>] = ins.inputs.map { UnsafePointer(pointer($0, T.self)) } + [anchorSource ?? UnsafePointer(out)]
        let threads = self.threads
        if let head {
            return { () throws(ExecutionError) in
                try head()
                kernel.run(pointers, out, threads: threads)
            }
        }
        return { kernel.run(pointers, out, threads: threads) }
    }
}
