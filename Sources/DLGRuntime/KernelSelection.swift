import DLGGraph
import DLGKernels

/// Chooses and configures the kernel of each instruction, once.
extension Executor {
    typealias Call = () throws(ExecutionError) -> Void

    static func unaryOp(_ name: String, alpha: Double?) -> UnaryFunction? {
        Op(rawValue: name).flatMap { UnaryFunction($0, alpha: alpha) }
    }

    /// The reduction a reduce op computes.
    static func reduceOp(_ op: Op) -> ReduceOp? {
        switch op {
        case .reduce_sum: .sum
        case .reduce_mean: .mean
        case .reduce_max: .max
        case .reduce_min: .min
        default: nil
        }
    }

    static func binaryOp(_ op: Op) -> Op? { op.isBinaryFunction ? op : nil }

    static func convGeometry(x: [Int], w: [Int], attrs: Attributes) throws(ExecutionError) -> Conv2DGeometry {
        let a = attrs.conv
        do {
            return try Conv2DGeometry(n: x[0], c: x[1], h: x[2], w: x[3], filters: w[0], kernelH: w[2], kernelW: w[3],
                                      strideH: a.stride[0], strideW: a.stride[1], padTop: a.pad[0], padBottom: a.pad[1],
                                      padLeft: a.pad[2], padRight: a.pad[3], dilationH: a.dilation[0],
                                      dilationW: a.dilation[1], groups: a.groups)
        } catch {
            throw ExecutionError(error.message)
        }
    }

    static func poolGeometry(x: [Int], y: [Int], attrs: Attributes) throws(ExecutionError) -> (Pool2DGeometry, PoolKind) {
        let a = attrs.pool
        let kind: PoolKind = a.kind == .max ? .max : a.kind == .min ? .min : .average(countIncludePad: a.countIncludePad)
        do {
            let g = try Pool2DGeometry(n: x[0], c: x[1], h: x[2], w: x[3], kernelH: a.kernel[0], kernelW: a.kernel[1],
                                       strideH: a.stride[0], strideW: a.stride[1], padTop: a.pad[0], padBottom: a.pad[1],
                                       padLeft: a.pad[2], padRight: a.pad[3], oh: y[2], ow: y[3])
            return (g, kind)
        } catch {
            throw ExecutionError(error.message)
        }
    }

    static func workspaceBytes(_ ins: Instruction, floatType: DType, threads: Int) throws(ExecutionError) -> Int {
        if ins.op == .fused { return try workspaceBytesFused(ins, floatType: floatType, threads: threads) }
        func count<T: KernelScalar>(_: T.Type) throws(ExecutionError) -> Int {
            switch ins.op {
            case .conv2d:
                return Conv2D.workspaceCount(.forward, for: try convGeometry(x: ins.inputs[0].shape, w: ins.inputs[1].shape, attrs: ins.attrs),
                                             threads: threads, as: T.self) * MemoryLayout<T>.stride
            case .conv2d_grad_input:
                return Conv2D.workspaceCount(.backwardInput, for: try convGeometry(x: ins.output.shape, w: ins.inputs[1].shape, attrs: ins.attrs),
                                             threads: threads, as: T.self) * MemoryLayout<T>.stride
            case .conv2d_grad_weight:
                return Conv2D.workspaceCount(.backwardWeight, for: try convGeometry(x: ins.inputs[0].shape, w: ins.output.shape, attrs: ins.attrs),
                                             threads: threads, as: T.self) * MemoryLayout<T>.stride
            case .reduce_sum, .reduce_mean, .reduce_max, .reduce_min, .reduce_max_grad, .reduce_min_grad:
                let s = ins.inputs[0].shape
                guard let plan = try? ReductionPlan(shape: s, axes: ins.attrs.reduce.normalizedAxes(rank: s.count)) else { return 0 }
                return plan.scratchBytes(threads: threads, elementSize: MemoryLayout<T>.stride)
            case .matmul:
                // The partial products of a GEMM split along its inner dimension.
                return (try singleGemm(ins)?.workspaceCount(threads: threads) ?? 0) * MemoryLayout<T>.stride
            default:
                return 0
            }
        }
        return floatType == .f64 ? try count(Double.self) : try count(Float.self)
    }

    /// Softmax geometry: the shape viewed as [outer, n, inner] around `axis`.
    static func around(_ shape: [Int], axis: Int) -> (Int, Int, Int) {
        let ax = axis < 0 ? axis + shape.count : axis
        return (shape[..<ax].reduce(1, *), shape[ax], shape[(ax + 1)...].reduce(1, *))
    }

    func compile<T: KernelScalar>(_ ins: Instruction, _: T.Type, outputPointer: UnsafeMutablePointer<T>? = nil) throws(ExecutionError) -> Call {
        let out = outputPointer ?? pointer(ins.output, T.self)
        let n = ins.output.count
        func input(_ i: Int) -> UnsafeMutablePointer<T> { pointer(ins.inputs[i], T.self) }
        func shape(_ i: Int) -> [Int] { ins.inputs[i].shape }
        let threads = self.threads
        let ws = UnsafeMutableBufferPointer<T>(start: workspace.assumingMemoryBound(to: T.self),
                                                count: workspaceBytes / MemoryLayout<T>.stride)

        if let u = UnaryFunction(ins.op, alpha: ins.attrs.alpha) {
            let x = input(0)
            return { Threads.elementwise(n, threads: threads) { r in unary(u, x + r.lowerBound, out + r.lowerBound, count: r.count) } }
        }
        if let b = Executor.binaryOp(ins.op) {
            let plan: BroadcastPlan
            do { plan = try BroadcastPlan(lhs: shape(0), rhs: shape(1)) } catch { throw ExecutionError(error.description) }
            let (x, y) = (input(0), input(1))
            if plan.path == .sameShape {
                return {
                    Threads.elementwise(n, threads: threads) { r in
                        binary(b, x + r.lowerBound, y + r.lowerBound, out + r.lowerBound, count: r.count)
                    }
                }
            }
            return { binary(b, plan, x, y, out) }
        }
        switch ins.op {
        case .fused:
            return try compileFused(ins, T.self)
        case .unary_grad:
            let u = ins.attrs.unaryGrad
            let (x, y, dy) = (input(0), input(1), input(2))
            return {
                Threads.elementwise(n, threads: threads) { r in
                    let o = r.lowerBound
                    unaryBackward(u, x: x + o, y: y + o, dy: dy + o, dx: out + o, count: r.count)
                }
            }
        case .bias_add:
            let (x, b) = (input(0), input(1))
            let s = shape(0)
            let axis = ins.attrs.axis < 0 ? ins.attrs.axis + s.count : ins.attrs.axis
            return { biasAdd(x, b, out, shape: s, axis: axis) }
        case .reduce_sum, .reduce_mean, .reduce_max, .reduce_min, .reduce_max_grad, .reduce_min_grad:
            let s = shape(0)
            let plan: ReductionPlan
            do { plan = try ReductionPlan(shape: s, axes: ins.attrs.reduce.normalizedAxes(rank: s.count)) } catch {
                throw ExecutionError(error.description)
            }
            let x = input(0)
            // The plan's scratch is in the workspace (see `workspaceBytes`).
            let scratch = workspace
            if let r = Executor.reduceOp(ins.op) { return { reduce(r, plan, x, out, threads: threads, scratch: scratch) } }
            switch ins.op {
            case .reduce_max_grad:
                let dy = input(1)
                return { reduceMaxBackward(plan, x: x, dy: dy, dx: out, scratch: scratch) }
            default:
                let dy = input(1)
                return { reduceMinBackward(plan, x: x, dy: dy, dx: out, scratch: scratch) }
            }
        case .axis_size:
            let s = shape(0)
            let axes = ins.attrs.axes.map { $0 < 0 ? $0 + s.count : $0 }
            let size = T(axes.reduce(1) { $0 * s[$1] })
            return { out.pointee = size }
        case .reshape, .stop_gradient:
            let x = input(0)
            if UnsafeMutablePointer(x) == out { return {} }
            return { out.update(from: x, count: n) }
        case .transpose:
            let plan: TransposePlan
            do { plan = try TransposePlan(shape: shape(0), perm: ins.attrs.perm) } catch {
                throw ExecutionError(error.description)
            }
            let x = input(0)
            return { transpose(plan, x, out) }
        case .broadcast_to:
            let plan: BroadcastToPlan
            do { plan = try BroadcastToPlan(from: shape(0), to: ins.output.shape) } catch { throw ExecutionError(error.description) }
            let x = input(0)
            return { broadcastTo(plan, x, out) }
        case .concat:
            let plan: ConcatPlan
            let r = shape(0).count
            let axis = ins.attrs.axis < 0 ? ins.attrs.axis + r : ins.attrs.axis
            do { plan = try ConcatPlan(shapes: ins.inputs.map(\.shape), axis: axis) } catch { throw ExecutionError(error.description) }
            let xs = ins.inputs.indices.map { UnsafePointer(input($0)) }
            return { concat(plan, xs, out) }
        case .slice, .slice_grad:
            let full = ins.op == .slice ? shape(0) : ins.output.shape
            let a = ins.attrs.slice
            let starts = a.starts, steps = a.steps
            let ends = zip(a.ends, full).map { min($0, $1) }
            let plan: SlicePlan
            do { plan = try SlicePlan(shape: full, start: starts, end: ends, step: steps) } catch { throw ExecutionError(error.description) }
            let x = input(0)
            if ins.op == .slice { return { slice(plan, x, out) } }
            return { sliceBackward(plan, x, out) }
        case .pad, .pad_grad:
            let full = ins.op == .pad ? shape(0) : ins.output.shape
            let pads = ins.attrs.pad.pads
            let r = full.count
            guard r >= 2, pads.count == 2 * r, pads[..<(2 * (r - 2))].allSatisfy({ $0 == 0 }) else {
                throw ExecutionError("padding is supported on the last two axes only")
            }
            let mode: PadMode
            switch ins.attrs.pad.mode {
            case .constant: mode = .constant(ins.attrs.pad.value)
            case .replicate: mode = .replicate
            case .reflect: mode = .reflect
            case .zero: mode = .zero
            }
            let lead = full[..<(r - 2)].reduce(1, *)
            let g: Pad2DGeometry
            do {
                g = try Pad2DGeometry(n: lead, c: 1, h: full[r - 2], w: full[r - 1], top: pads[2 * r - 4],
                                      bottom: pads[2 * r - 3], left: pads[2 * r - 2], right: pads[2 * r - 1], mode: mode)
            } catch { throw ExecutionError(error.message) }
            let x = input(0)
            if ins.op == .pad { return { Pad2D.forward(g, input: x, output: out, threads: threads) } }
            return { Pad2D.backward(g, gradOutput: x, gradInput: out, threads: threads) }
        case .one_hot:
            let labels = pointer(ins.inputs[0], Int32.self)
            let classes = ins.attrs.oneHot.classes
            let rows = ins.inputs[0].count
            return { () throws(ExecutionError) in
                do throws(LabelError) { try oneHot(labels: labels, count: rows, classes: classes, out) } catch {
                    throw ExecutionError("label \(error.label) in row \(error.row) is out of range for \(classes) classes")
                }
            }
        case .cast:
            switch (ins.inputs[0].dtype, ins.output.dtype) {
            case (.i32, .i32):
                let x = pointer(ins.inputs[0], Int32.self), y = pointer(ins.output, Int32.self)
                return { y.update(from: x, count: n) }
            case (.i32, _):
                let x = pointer(ins.inputs[0], Int32.self)
                return { cast(x, out, count: n) }
            case (_, .i32):
                let x = input(0), y = pointer(ins.output, Int32.self)
                return { cast(x, y, count: n) }
            default:
                let x = input(0)
                return { out.update(from: x, count: n) }
            }
        case .matmul:
            return try compileMatmul(ins, T.self, output: out)
        case .conv2d:
            let g = try Executor.convGeometry(x: shape(0), w: shape(1), attrs: ins.attrs)
            let (x, w) = (input(0), input(1))
            return { Conv2D.forward(g, input: x, weight: w, bias: nil, epilogue: .none, output: out, workspace: ws, threads: threads) }
        case .conv2d_grad_input:
            let g = try Executor.convGeometry(x: ins.output.shape, w: shape(1), attrs: ins.attrs)
            let (dy, w) = (input(0), input(1))
            return { Conv2D.backwardInput(g, gradOutput: dy, weight: w, gradInput: out, workspace: ws, threads: threads) }
        case .conv2d_grad_weight:
            let g = try Executor.convGeometry(x: shape(0), w: ins.output.shape, attrs: ins.attrs)
            let (x, dy) = (input(0), input(1))
            return { Conv2D.backwardWeight(g, input: x, gradOutput: dy, gradWeight: out, gradBias: nil, workspace: ws, threads: threads) }
        case .pool2d:
            let (g, kind) = try Executor.poolGeometry(x: shape(0), y: ins.output.shape, attrs: ins.attrs)
            let x = input(0)
            return { Pool2D.forward(g, kind: kind, input: x, output: out, threads: threads) }
        case .pool2d_grad:
            let (g, kind) = try Executor.poolGeometry(x: shape(0), y: shape(1), attrs: ins.attrs)
            let (x, dy) = (input(0), input(1))
            return { Pool2D.backward(g, kind: kind, input: x, gradOutput: dy, gradInput: out, threads: threads) }
        case .softmax, .log_softmax:
            let (o, k, i) = Executor.around(shape(0), axis: ins.attrs.axis)
            let x = input(0)
            if ins.op == .softmax { return { softmax(x, out, outer: o, n: k, inner: i) } }
            return { logSoftmax(x, out, outer: o, n: k, inner: i) }
        case .softmax_grad, .log_softmax_grad:
            let (o, k, i) = Executor.around(shape(0), axis: ins.attrs.axis)
            let (y, dy) = (input(0), input(1))
            if ins.op == .softmax_grad { return { softmaxBackward(y: y, dy: dy, dx: out, outer: o, n: k, inner: i) } }
            return { logSoftmaxBackward(y: y, dy: dy, dx: out, outer: o, n: k, inner: i) }
        case .sparse_softmax_ce, .sparse_softmax_ce_grad:
            let z = input(0)
            let labels = pointer(ins.inputs[1], Int32.self)
            let (rows, classes) = (shape(0)[0], shape(0)[1])
            if ins.op == .sparse_softmax_ce {
                return { () throws(ExecutionError) in
                    do throws(LabelError) { try softmaxCrossEntropy(logits: z, labels: labels, loss: out, rows: rows, classes: classes) } catch {
                        throw ExecutionError("label \(error.label) in row \(error.row) is out of range for \(classes) classes")
                    }
                }
            }
            let dl = input(2)
            return { () throws(ExecutionError) in
                do throws(LabelError) { try softmaxCrossEntropyBackward(logits: z, labels: labels, dloss: dl, dlogits: out, rows: rows, classes: classes) } catch {
                    throw ExecutionError("label \(error.label) in row \(error.row) is out of range for \(classes) classes")
                }
            }
        case .softmax_ce:
            let (z, t) = (input(0), input(1))
            let (rows, classes) = (shape(0)[0], shape(0)[1])
            return { softmaxCrossEntropy(logits: z, targets: t, loss: out, rows: rows, classes: classes) }
        case .softmax_ce_grad:
            let (z, t, dl) = (input(0), input(1), input(2))
            let (rows, classes) = (shape(0)[0], shape(0)[1])
            return { softmaxCrossEntropyBackward(logits: z, targets: t, dloss: dl, dlogits: out, rows: rows, classes: classes) }
        case .dropout_mask:
            let rate = ins.attrs.dropout.rate
            let stream = UInt64(ins.attrs.dropout.stream)
            let control = self.control
            return { () throws(ExecutionError) in
                // A fresh mask per (seed, step, stream), independent of threading.
                let key = splitMix64(control[0] &+ splitMix64(control[1] &* 0x9E37_79B9_7F4A_7C15 &+ stream))
                do throws(DropoutError) { try dropoutMask(out, range: 0..<n, rate: rate, seed: key, offset: 0) } catch {
                    throw ExecutionError(error.description)
                }
            }
        default:
            throw ExecutionError("no kernel for \(ins.op.rawValue)")
        }
    }

    /// A matmul's operands as GEMM sizes: C[m×n] = op(a)[m×k]·op(b)[k×n] for each of
    /// `batch` items of a, whose last two axes are `aRows`×`aCols` as stored.
    struct MatmulGeometry {
        let transA: Bool, transB: Bool, m: Int, n: Int, k: Int, batch: Int, aRows: Int, aCols: Int
        /// b is a single matrix (rank 2), shared by every item of a.
        let sharedB: Bool
        let bRows: Int, bCols: Int
    }

    static func matmulGeometry(_ ins: Instruction) -> MatmulGeometry {
        let ta = ins.attrs.matmul.transposeA, tb = ins.attrs.matmul.transposeB
        let sa = ins.inputs[0].shape, sb = ins.inputs[1].shape
        let (ra, rb) = (sa[sa.count - 2], sa[sa.count - 1])
        let (br, bc) = (sb[sb.count - 2], sb[sb.count - 1])
        return MatmulGeometry(transA: ta, transB: tb, m: ta ? rb : ra, n: tb ? br : bc, k: ta ? ra : rb,
                              batch: sa.dropLast(2).reduce(1, *), aRows: ra, aCols: rb, sharedB: sb.count == 2,
                              bRows: br, bCols: bc)
    }

    /// The one GEMM a matmul runs as when it is one: b a matrix and a not
    /// transposed (a's batch axes fold into M), or no batch axes; nil for a
    /// batch of GEMMs.
    static func singleGemm(_ ins: Instruction) throws(ExecutionError) -> GemmPlan? {
        let g = matmulGeometry(ins)
        do {
            if g.sharedB, !g.transA { return try GemmPlan(m: g.batch * g.m, n: g.n, k: g.k, transA: false, transB: g.transB) }
            return g.batch == 1 ? try GemmPlan(m: g.m, n: g.n, k: g.k, transA: g.transA, transB: g.transB) : nil
        } catch {
            throw ExecutionError(error.message)
        }
    }

    /// a [..., M, K] @ b [K, N], or with equal batch axes, through the GEMM wrapper;
    /// C ← a @ b + beta()·C, beta read at each run (0 by default: C is overwritten).
    /// A single GEMM gets the workspace when it holds the plan's partial products.
    func compileMatmul<T: KernelScalar>(_ ins: Instruction, _: T.Type, output c: UnsafeMutablePointer<T>,
                                        beta: @escaping () -> T = { 0 }) throws(ExecutionError) -> Call {
        let a = pointer(ins.inputs[0], T.self), b = pointer(ins.inputs[1], T.self)
        let threads = self.threads
        if let plan = try Executor.singleGemm(ins) {
            let count = workspaceBytes / MemoryLayout<T>.stride
            let ws = count >= plan.workspaceCount(threads: threads)
                ? UnsafeMutableBufferPointer<T>(start: workspace.assumingMemoryBound(to: T.self), count: count) : nil
            return { plan.run(a: a, b: b, c: c, beta: beta(), threads: threads, workspace: ws) }
        }
        let g = Executor.matmulGeometry(ins)
        do {
            let plan = try GemmPlan(m: g.m, n: g.n, k: g.k, transA: g.transA, transB: g.transB)
            let batched = try BatchedGemmPlan(plan, batch: g.batch, strideA: g.aRows * g.aCols,
                                              strideB: g.sharedB ? 0 : g.bRows * g.bCols, strideC: g.m * g.n)
            return { batched.run(a: a, b: b, c: c, beta: beta(), threads: threads) }
        } catch {
            throw ExecutionError(error.message)
        }
    }
}
