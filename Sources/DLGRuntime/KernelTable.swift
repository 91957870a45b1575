import DLGGraph
import DLGKernels

/// What a kernel rule sees: the node, its operands' and result's concrete
/// shapes and buffers, and the graph.
public struct KernelContext {
    public let node: Node
    public let graph: Graph
    public let inputs: [Buffer]
    public let output: Buffer
    /// The operand the output is written over (decided by memory planning), if any.
    public let overwrites: Int?

    public func shape(_ i: Int) -> [Int] { inputs[i].shape }
    public var attrs: Attributes { node.attrs }
}

/// How an op's node becomes a kernel: the lowering routine the kernel table names for it.
public enum KernelRule: Sendable, Hashable {
    case unary, unaryGradient, binary, copyOrAlias, biasAdd
    case reduce(ReduceOp)
    case extremumGradient(minimum: Bool)
    case axisSize, transpose, broadcast, concat, slice, sliceGradient, pad, padGradient, oneHot, cast, gather, gatherGradient
    case matmul, convolution, convolutionGradInput, convolutionGradWeight, pooling, poolingGradient
    case softmax(log: Bool)
    case softmaxGradient(log: Bool)
    case causalSoftmax, select, reverse
    case crossEntropy(sparse: Bool)
    case crossEntropyGradient(sparse: Bool)
    case dropoutMask, fused, lstmScan, lstmScanGradient
    case collective(CollectiveKernel)
}

/// The one table that binds ops to kernels, keyed by op: each op's node
/// becomes one kernel call, chosen and configured here, once, when the
/// program is made. Every op but the sources (storage, not work) has an
/// entry; a test checks it. This is the only runtime file that names ops.
public enum KernelTable {
    public static let rules: [Op: KernelRule] = {
        var t: [Op: KernelRule] = [:]
        for op in Op.unaryFunctions { t[op] = .unary }
        for op in Op.allCases where op.isBinaryFunction { t[op] = .binary }
        let named: [Op: KernelRule] = [
            .stop_gradient: .copyOrAlias, .unary_grad: .unaryGradient, .bias_add: .biasAdd,
            .reduce_sum: .reduce(.sum), .reduce_mean: .reduce(.mean), .reduce_max: .reduce(.max), .reduce_min: .reduce(.min),
            .reduce_max_grad: .extremumGradient(minimum: false), .reduce_min_grad: .extremumGradient(minimum: true),
            .axis_size: .axisSize, .reshape: .copyOrAlias, .transpose: .transpose, .broadcast_to: .broadcast, .concat: .concat,
            .slice: .slice, .slice_grad: .sliceGradient, .pad: .pad, .pad_grad: .padGradient, .one_hot: .oneHot, .cast: .cast,
            .gather: .gather, .gather_grad: .gatherGradient, .reverse: .reverse, .where: .select,
            .causal_softmax: .causalSoftmax,
            .matmul: .matmul, .conv2d: .convolution, .conv2d_grad_input: .convolutionGradInput,
            .conv2d_grad_weight: .convolutionGradWeight, .pool2d: .pooling, .pool2d_grad: .poolingGradient,
            .softmax: .softmax(log: false), .log_softmax: .softmax(log: true), .softmax_grad: .softmaxGradient(log: false),
            .log_softmax_grad: .softmaxGradient(log: true), .softmax_ce: .crossEntropy(sparse: false),
            .sparse_softmax_ce: .crossEntropy(sparse: true), .softmax_ce_grad: .crossEntropyGradient(sparse: false),
            .sparse_softmax_ce_grad: .crossEntropyGradient(sparse: true), .dropout_mask: .dropoutMask, .fused: .fused,
            .lstm_scan: .lstmScan, .lstm_scan_grad: .lstmScanGradient,
            .allreduce: .collective(.sum), .allreduce_start: .collective(.start), .allreduce_wait: .collective(.wait),
        ]
        t.merge(named) { _, new in new }
        return t
    }()

    /// The kernel of a node by its rule.
    public static func kernel(_ rule: KernelRule, _ c: KernelContext) throws(LoweringError) -> Kernel {
        switch rule {
        case .unary:
            guard let f = UnaryFunction(c.node.op, alpha: c.attrs.alpha) else {
                throw LoweringError(message: "\(c.node.op.rawValue) is not a unary function")
            }
            return .unary(f)
        case .unaryGradient: return .unaryGradient(c.attrs.unaryGrad)
        case .binary: return try binary(c)
        case .copyOrAlias: return copyOrAlias(c)
        case .biasAdd:
            let s = c.shape(0)
            return .biasAdd(shape: s, axis: c.attrs.axis < 0 ? c.attrs.axis + s.count : c.attrs.axis)
        case .reduce(let op): return .reduce(op, try reduction(c))
        case .extremumGradient(let minimum): return .extremumGradient(minimum: minimum, try reduction(c))
        case .axisSize:
            let s = c.shape(0)
            return .fill(Double(c.attrs.axes.map { $0 < 0 ? $0 + s.count : $0 }.reduce(1) { $0 * s[$1] }))
        case .transpose:
            do { return .transpose(try TransposePlan(shape: c.shape(0), perm: c.attrs.perm)) } catch { throw layout(error) }
        case .broadcast:
            do { return .broadcast(try BroadcastToPlan(from: c.shape(0), to: c.output.shape)) } catch { throw layout(error) }
        case .concat:
            do { return .concat(try ConcatPlan(shapes: c.inputs.map(\.shape), axis: c.attrs.axis)) } catch { throw layout(error) }
        case .slice: return .slice(try slicePlan(c, full: c.shape(0)))
        case .sliceGradient: return .sliceGradient(try slicePlan(c, full: c.output.shape))
        case .pad: return .pad(try padGeometry(c, full: c.shape(0)))
        case .padGradient: return .padGradient(try padGeometry(c, full: c.output.shape))
        case .oneHot: return .oneHot(classes: c.attrs.oneHot.classes)
        case .cast: return c.inputs[0].dtype == c.output.dtype ? copyOrAlias(c) : .convert
        case .gather:
            let t = c.shape(0)
            return .gather(rows: t[0], width: t[1], indices: indexSource(c, operand: 1))
        case .gatherGradient:
            let t = c.output.shape
            return .gatherGradient(rows: t[0], width: t[1], indices: indexSource(c, operand: 0))
        case .matmul: return try matmul(c, a: 0, b: 1, attrs: c.attrs.matmul, accumulate: nil)
        case .convolution:
            return .convolution(try convGeometry(c.attrs.conv, x: c.shape(0), w: c.shape(1), y: c.output.shape),
                                x: 0, w: 1, bias: nil, activation: nil)
        case .convolutionGradInput:
            return .convolutionGradInput(try convGeometry(c.attrs.conv, x: c.output.shape, w: c.shape(1), y: c.shape(0)))
        case .convolutionGradWeight:
            return .convolutionGradWeight(try convGeometry(c.attrs.conv, x: c.shape(0), w: c.output.shape, y: c.shape(1)))
        case .pooling:
            let (g, k) = try poolGeometry(c.attrs.pool, x: c.shape(0), y: c.output.shape)
            return .pooling(g, k)
        case .poolingGradient:
            let (g, k) = try poolGeometry(c.attrs.pool, x: c.shape(0), y: c.shape(1))
            return .poolingGradient(g, k)
        case .softmax(let log): return .softmax(rows(c.shape(0), axis: c.attrs.axis), log: log)
        case .softmaxGradient(let log): return .softmaxGradient(rows(c.shape(0), axis: c.attrs.axis), log: log)
        case .causalSoftmax:
            let s = c.shape(0)
            return .causalSoftmax(outer: s.dropLast(2).reduce(1, *), queries: s[s.count - 2], keys: s[s.count - 1])
        case .select: return .select(integerCondition: c.inputs[0].dtype == .i32)
        case .reverse: return .reverseAxis(rows(c.shape(0), axis: c.attrs.axis))
        case .crossEntropy(let sparse):
            let z = c.shape(0)
            return .crossEntropy(rows: z.dropLast().reduce(1, *), classes: z.last!, sparse: sparse)
        case .crossEntropyGradient(let sparse):
            let z = c.shape(0)
            return .crossEntropyGradient(rows: z.dropLast().reduce(1, *), classes: z.last!, sparse: sparse)
        case .dropoutMask: return .dropoutMask(rate: c.attrs.dropout.rate, stream: c.attrs.dropout.stream)
        case .fused: return try FusedLowering.kernel(c)
        case .lstmScan: return .lstmScan(scanGeometry(c))
        case .lstmScanGradient: return .lstmScanGradient(scanGeometry(c))
        case .collective(let k): return .collective(k)
        }
    }

    /// An lstm_scan's (or its gradient's) sizes: [B, T, ·] from its first operand, H from w_hh [4H, H];
    /// the gradient's third operand is dtape [B, T, 6H] or dh [B, T, H].
    static func scanGeometry(_ c: KernelContext) -> LSTMScanGeometry {
        let x = c.shape(0), h = c.shape(1)[1]
        let backward = c.node.op == .lstm_scan_grad
        return LSTMScanGeometry(batch: x[0], steps: x[1], hidden: h, reverse: c.attrs.scan.reverse,
                                initialStates: c.inputs.count > (backward ? 3 : 2),
                                dhOnly: backward && c.shape(2).last == h)
    }

    static func layout(_ e: LayoutError) -> LoweringError { LoweringError(message: e.description) }

    /// How messages name a gather's indices: the model input they are, if they are one.
    static func indexSource(_ c: KernelContext, operand: Int) -> IndexSource {
        let n = c.graph[c.node.inputs[operand]]
        let name = n.op == .input ? "input '\(n.name ?? "?")'" : "the indices"
        return IndexSource(name: name, shape: c.shape(operand))
    }

    /// How a step of a fused elementwise loop computes, by the step's op.
    static let fusedSteps: [Op: @Sendable (FusedRegion.Step) -> FusedElementwiseKernel.Code] = {
        var t: [Op: @Sendable (FusedRegion.Step) -> FusedElementwiseKernel.Code] = [:]
        for op in Op.unaryFunctions { t[op] = { s in .unary(UnaryFunction(s.op, alpha: s.attrs.alpha)!) } }
        for op in Op.allCases where op.isBinaryFunction { t[op] = { s in .binary(s.op) } }
        t[.unary_grad] = { s in .unaryGrad(s.attrs.unaryGrad) }
        // bias_add reads its bias through a view along the axis: an add.
        t[.bias_add] = { _ in .binary(.add) }
        // An outer product's operands are views of a column and a row: a multiply.
        t[.matmul] = { _ in .binary(.mul) }
        // broadcast_to's operand view already repeats it over the stretched axes.
        t[.stop_gradient] = { _ in .copy }
        t[.broadcast_to] = { _ in .copy }
        return t
    }()

    /// The reduce ops and what they compute.
    static let reductions: [Op: ReduceOp] = [.reduce_sum: .sum, .reduce_mean: .mean, .reduce_max: .max, .reduce_min: .min]

    /// A GEMM accumulates into X when the region adds X (or c·X) to the product.
    static func isAddition(_ s: FusedRegion.Step) -> Bool { s.op == .add }
    static func isMultiplication(_ s: FusedRegion.Step) -> Bool { s.op == .mul }

    // MARK: Helpers of the rules

    static func binary(_ c: KernelContext) throws(LoweringError) -> Kernel {
        if c.shape(0).reduce(1, *) == c.output.count, c.shape(1).reduce(1, *) == c.output.count { return .binary(c.node.op) }
        let p: BroadcastPlan
        do { p = try BroadcastPlan(lhs: c.shape(0), rhs: c.shape(1)) } catch { throw LoweringError(message: error.description) }
        return p.path == .sameShape ? .binary(c.node.op) : .broadcastBinary(c.node.op, p)
    }

    /// A copy, or nothing when memory planning put the output in the input's storage.
    static func copyOrAlias(_ c: KernelContext) -> Kernel { c.inputs[0].location == c.output.location ? .alias : .copy }

    static func reduction(_ c: KernelContext) throws(LoweringError) -> ReductionPlan {
        let s = c.shape(0)
        do { return try ReductionPlan(shape: s, axes: c.attrs.reduce.normalizedAxes(rank: s.count)) } catch {
            throw LoweringError(message: error.description)
        }
    }

    static func slicePlan(_ c: KernelContext, full: [Int]) throws(LoweringError) -> SlicePlan {
        let a = c.attrs.slice
        do { return try SlicePlan(shape: full, start: a.starts, end: zip(a.ends, full).map { min($0, $1) }, step: a.steps) } catch {
            throw layout(error)
        }
    }

    static func padGeometry(_ c: KernelContext, full: [Int]) throws(LoweringError) -> Pad2DGeometry {
        let a = c.attrs.pad
        let r = full.count
        guard r >= 2, a.pads.count == 2 * r, a.pads[..<(2 * (r - 2))].allSatisfy({ $0 == 0 }) else {
            throw LoweringError(message: "padding is supported on the last two axes only")
        }
        let mode: PadMode
        switch a.mode {
        case .zero: mode = .zero
        case .constant: mode = .constant(a.value)
        case .replicate: mode = .replicate
        case .reflect: mode = .reflect
        }
        do {
            return try Pad2DGeometry(n: full[..<(r - 2)].reduce(1, *), c: 1, h: full[r - 2], w: full[r - 1],
                                     top: a.pads[2 * r - 4], bottom: a.pads[2 * r - 3], left: a.pads[2 * r - 2],
                                     right: a.pads[2 * r - 1], mode: mode)
        } catch { throw LoweringError(message: error.message) }
    }

    static func rows(_ shape: [Int], axis: Int) -> RowGeometry {
        let ax = axis < 0 ? axis + shape.count : axis
        return RowGeometry(outer: shape[..<ax].reduce(1, *), n: shape[ax], inner: shape[(ax + 1)...].reduce(1, *))
    }

    /// A convolution of x by w giving y: the output size comes from y, the shape rule's result with
    /// its rounding, so the kernels compute exactly the windows the shape rule counted (a
    /// ceil-rounded last window reads zeros past the input).
    static func convGeometry(_ a: ConvAttributes, x: [Int], w: [Int], y: [Int]) throws(LoweringError) -> Conv2DGeometry {
        do {
            return try Conv2DGeometry(n: x[0], c: x[1], h: x[2], w: x[3], filters: w[0], kernelH: w[2], kernelW: w[3],
                                      strideH: a.stride[0], strideW: a.stride[1], padTop: a.pad[0], padBottom: a.pad[1],
                                      padLeft: a.pad[2], padRight: a.pad[3], dilationH: a.dilation[0],
                                      dilationW: a.dilation[1], groups: a.groups, outputHeight: y[2], outputWidth: y[3])
        } catch { throw LoweringError(message: error.message) }
    }

    static func poolGeometry(_ a: PoolAttributes, x: [Int], y: [Int]) throws(LoweringError) -> (Pool2DGeometry, PoolKind) {
        let kind: PoolKind
        switch a.kind {
        case .max: kind = .max
        case .min: kind = .min
        case .avg: kind = .average(countIncludePad: a.countIncludePad)
        }
        do {
            let g = try Pool2DGeometry(n: x[0], c: x[1], h: x[2], w: x[3], kernelH: a.kernel[0], kernelW: a.kernel[1],
                                       strideH: a.stride[0], strideW: a.stride[1], padTop: a.pad[0], padBottom: a.pad[1],
                                       padLeft: a.pad[2], padRight: a.pad[3], oh: y[2], ow: y[3])
            return (g, kind)
        } catch { throw LoweringError(message: error.message) }
    }

    /// A matmul of inputs a and b: one GEMM when b is a matrix and a is not transposed (a's batch
    /// axes fold into M) or there are no batch axes, else a batch of GEMMs — with per-axis strides
    /// when the operands' batch axes broadcast.
    static func matmul(_ c: KernelContext, a: Int, b: Int, attrs: MatmulAttributes,
                       accumulate: GemmAccumulation?) throws(LoweringError) -> Kernel {
        let sa = c.shape(a), sb = c.shape(b)
        let ta = attrs.transposeA, tb = attrs.transposeB
        let (ra, ca) = (sa[sa.count - 2], sa[sa.count - 1])
        let (rb, cb) = (sb[sb.count - 2], sb[sb.count - 1])
        let m = ta ? ca : ra, n = tb ? rb : cb, k = ta ? ra : ca
        let batchC = Array(c.output.shape.dropLast(2))
        let batch = batchC.reduce(1, *)
        func aligned(_ s: [Int]) -> [Int] {
            let own = Array(s.dropLast(2))
            return Array(repeating: 1, count: batchC.count - own.count) + own
        }
        let batchA = aligned(sa), batchB = aligned(sb)
        let sharedB = sb.count == 2
        do {
            if sharedB, !ta { return .gemm(try GemmPlan(m: batch * m, n: n, k: k, transA: false, transB: tb), a: a, b: b, accumulate: accumulate) }
            if batch == 1 { return .gemm(try GemmPlan(m: m, n: n, k: k, transA: ta, transB: tb), a: a, b: b, accumulate: accumulate) }
            let p = try GemmPlan(m: m, n: n, k: k, transA: ta, transB: tb)
            let aSame = batchA == batchC, bSame = batchB == batchC
            let aShared = batchA.allSatisfy { $0 == 1 }, bShared = batchB.allSatisfy { $0 == 1 }
            if (aSame || aShared) && (bSame || bShared) {
                let batched = try BatchedGemmPlan(p, batch: batch, strideA: aShared ? 0 : ra * ca, strideB: bShared ? 0 : rb * cb,
                                                  strideC: m * n)
                return .batchedGemm(batched, a: a, b: b, accumulate: accumulate)
            }
            // Per batch axis, each operand's stride (0 where it has size 1 and is repeated).
            func strides(_ dims: [Int], matrix: Int) -> [Int] {
                var out = Array(repeating: 0, count: dims.count)
                var s = matrix
                for d in dims.indices.reversed() {
                    out[d] = dims[d] == 1 ? 0 : s
                    s *= dims[d]
                }
                return out
            }
            let bc = BatchBroadcast(dims: batchC, stridesA: strides(batchA, matrix: ra * ca), stridesB: strides(batchB, matrix: rb * cb))
            let batched = try BatchedGemmPlan(p, batch: batch, strideA: 0, strideB: 0, strideC: m * n, broadcast: bc)
            return .batchedGemm(batched, a: a, b: b, accumulate: accumulate)
        } catch { throw LoweringError(message: error.message) }
    }
}
