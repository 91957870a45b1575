import DLGGraph
import DLGKernels

/// The kernel an instruction runs, with everything about it resolved by the
/// compiler: geometry (output sizes included), the operands a library
/// kernel reads (indices into the instruction's inputs), its epilogue, how a
/// GEMM accumulates. Operands not named here are the instruction's inputs in
/// order: x for one operand, (a, b) for two, (x, y, dy) for a unary
/// gradient.
public indirect enum Kernel: Sendable, Codable, Hashable {
    /// y = f(x).
    case unary(UnaryFunction)
    /// dx = dy·f′ from (x, y, dy).
    case unaryGradient(UnaryFunction)
    /// y = a op b, operands of the output's element count.
    case binary(Op)
    /// y = a op b with broadcasting.
    case broadcastBinary(Op, BroadcastPlan)
    /// y = x + bias along `axis` of `shape`.
    case biasAdd(shape: [Int], axis: Int)
    case reduce(ReduceOp, ReductionPlan)
    /// dx from (x, dy): dy routed to each group's first maximal (minimal) element.
    case extremumGradient(minimum: Bool, ReductionPlan)
    /// Every element of the output takes `value` (a size known when the program was made).
    case fill(Double)
    /// y = x, element by element.
    case copy
    /// Nothing to do: the output is the input's storage (a reshape).
    case alias
    case transpose(TransposePlan)
    case broadcast(BroadcastToPlan)
    case concat(ConcatPlan)
    case slice(SlicePlan)
    /// slice's gradient: dy scattered into zeros.
    case sliceGradient(SlicePlan)
    case pad(Pad2DGeometry)
    case padGradient(Pad2DGeometry)
    /// Integer labels to one-hot rows.
    case oneHot(classes: Int)
    /// Element-type conversion (floats ↔ i32).
    case convert
    /// Rows of a table [rows, width] picked by i32 indices (from (table, indices)).
    case gather(rows: Int, width: Int, indices: IndexSource)
    /// gather's gradient from (indices, dy): dy's rows added into zeros of [rows, width].
    case gatherGradient(rows: Int, width: Int, indices: IndexSource)
    /// C ← op(A)·op(B) (+ accumulation) as one GEMM; a and b index the instruction's inputs.
    case gemm(GemmPlan, a: Int, b: Int, accumulate: GemmAccumulation?)
    case batchedGemm(BatchedGemmPlan, a: Int, b: Int, accumulate: GemmAccumulation?)
    /// y = activation(conv(x, w) + bias), the activation and bias applied as the output is written.
    case convolution(Conv2DGeometry, x: Int, w: Int, bias: Int?, activation: UnaryFunction?)
    /// dx from (dy, w).
    case convolutionGradInput(Conv2DGeometry)
    /// dw from (x, dy).
    case convolutionGradWeight(Conv2DGeometry)
    case pooling(Pool2DGeometry, PoolKind)
    /// dx from (x, dy).
    case poolingGradient(Pool2DGeometry, PoolKind)
    case softmax(RowGeometry, log: Bool)
    /// dx from (y, dy).
    case softmaxGradient(RowGeometry, log: Bool)
    /// Softmax over the last axis of [outer, queries, keys] keeping keys j ≤ query i (0 elsewhere).
    case causalSoftmax(outer: Int, queries: Int, keys: Int)
    /// y = a where the condition (i32, or the float type) is nonzero, else b; from (cond, a, b).
    case select(integerCondition: Bool)
    /// y = x reversed along the middle axis of [outer, n, inner].
    case reverseAxis(RowGeometry)
    /// Per-row loss from (logits, targets or labels).
    case crossEntropy(rows: Int, classes: Int, sparse: Bool)
    /// dlogits from (logits, targets or labels, dloss).
    case crossEntropyGradient(rows: Int, classes: Int, sparse: Bool)
    case dropoutMask(rate: Double, stream: Int)
    /// An LSTM layer's recurrence (`LSTMScan.forward`): the tape from (xb, w_hh[, h0, c0]).
    case lstmScan(LSTMScanGeometry)
    /// Its backward (`LSTMScan.backward`): dpre from (tape, w_hh, dtape or dh[, h0, c0]).
    case lstmScanGradient(LSTMScanGeometry)
    /// A sum over the replicas of a data-parallel run, through the executor's `Collective`.
    case collective(CollectiveKernel)
    /// A fused region: an optional library kernel, then one elementwise loop.
    case fused(FusedKernel)
}

/// How a GEMM adds to what its output held: C ← op(A)·op(B) + β·X, with X
/// an input copied into the output first unless the output is X itself.
public struct GemmAccumulation: Sendable, Codable, Hashable {
    public enum Beta: Sendable, Codable, Hashable {
        case immediate(Double)
        /// A one-element input read at each run (a learning-rate-like scalar).
        case input(Int)
    }
    /// The input X.
    public var source: Int
    public var beta: Beta
    /// The output is X's storage: nothing to copy.
    public var inPlace: Bool
}

/// What a collective kernel does (see `Collective`).
public enum CollectiveKernel: String, Sendable, Codable, Hashable {
    /// y = Σ over replicas of x, blocking.
    case sum
    /// Copies the operands one after another into the output (a bucket) and starts its sum.
    case start
    /// Waits for the sum started on the operand (a bucket) and copies it to the output.
    case wait
}

/// An LSTM recurrence's sizes: B, T, H, the direction of time, whether h0 and c0 are operands,
/// and for the backward whether its gradient operand is h's alone ([B, T, H], c's zero).
public struct LSTMScanGeometry: Sendable, Codable, Hashable {
    public var batch: Int, steps: Int, hidden: Int
    public var reverse: Bool
    public var initialStates: Bool
    public var dhOnly: Bool
}

/// A softmax's rows: the shape viewed as [outer, n, inner] around its axis.
public struct RowGeometry: Sendable, Codable, Hashable {
    public var outer: Int, n: Int, inner: Int
}

/// A fused region as one kernel.
public struct FusedKernel: Sendable, Codable, Hashable {
    /// The library kernel computing the region's first value, writing the output — or, when the
    /// output overwrites an input the kernel does not read (`headToScratch`), scratch after the
    /// kernel's own workspace (`scratchOffset`).
    public var head: Kernel?
    public var headToScratch: Bool
    /// The elementwise loop; views with input index `inputs.count` read the head's result.
    public var chain: FusedChain

    /// Where a head writing scratch puts its result: after its own workspace, 64-byte aligned.
    public static func scratchOffset(ownWorkspace: Int) -> Int { (ownWorkspace + 63) / 64 * 64 }
}

/// The elementwise loop of a fused kernel (`FusedElementwiseKernel`).
public struct FusedChain: Sendable, Codable, Hashable {
    public struct View: Sendable, Codable, Hashable {
        /// Which input it reads (the instruction's inputs, then the head's result).
        public var input: Int
        /// Per axis of `shape`: the input's stride, 0 where broadcast.
        public var strides: [Int]
    }
    public struct Reduction: Sendable, Codable, Hashable {
        public var op: ReduceOp
        /// The reduced axes of `shape`.
        public var axes: [Int]
    }
    public var steps: [FusedElementwiseKernel.Step]
    /// The loop's shape (the reduction's input when there is one).
    public var shape: [Int]
    public var views: [View]
    public var reduction: Reduction?

    /// The kernel object that runs it.
    public func kernel() -> FusedElementwiseKernel {
        FusedElementwiseKernel(steps: steps, shape: shape, views: views.map { ($0.input, $0.strides) },
                               reduction: reduction.map { FusedElementwiseKernel.Reduction(op: $0.op, shape: shape, axes: Set($0.axes)) })
    }
}

extension Kernel {
    /// Whether it combines values across replicas (the program is a data-parallel step).
    public var isCollective: Bool { if case .collective = self { true } else { false } }
    /// Whether it starts a sum whose output the transfer writes until a later wait.
    public var startsTransfer: Bool { self == .collective(.start) }
}

extension Kernel {
    /// Scratch bytes the kernel needs, run with `threads` threads on elements of `floatType`
    /// (the GEMM's split partial sums, a convolution's columns, a reduction's partials, a fused
    /// head's result). The one function lowering and the executor share.
    public func workspaceBytes(floatType: DType, threads: Int, output: Buffer) -> Int {
        func count<T: KernelScalar>(_: T.Type) -> Int {
            switch self {
            case .convolution(let g, _, _, _, _):
                return Conv2D.workspaceCount(.forward, for: g, threads: threads, as: T.self) * MemoryLayout<T>.stride
            case .convolutionGradInput(let g):
                return Conv2D.workspaceCount(.backwardInput, for: g, threads: threads, as: T.self) * MemoryLayout<T>.stride
            case .convolutionGradWeight(let g):
                return Conv2D.workspaceCount(.backwardWeight, for: g, threads: threads, as: T.self) * MemoryLayout<T>.stride
            case .reduce(_, let plan), .extremumGradient(_, let plan):
                return plan.scratchBytes(threads: threads, elementSize: MemoryLayout<T>.stride)
            case .gemm(let plan, _, _, _):
                return plan.workspaceCount(threads: threads) * MemoryLayout<T>.stride
            case .lstmScan(let g):
                return LSTMScan.forwardWorkspace(T.self, batch: g.batch, hidden: g.hidden, threads: threads) * MemoryLayout<T>.stride
            case .lstmScanGradient(let g):
                return LSTMScan.backwardWorkspace(T.self, batch: g.batch, hidden: g.hidden, threads: threads) * MemoryLayout<T>.stride
            case .fused(let f):
                if let r = f.chain.reduction {
                    let outputs = FusedElementwiseKernel.Reduction(op: r.op, shape: f.chain.shape, axes: Set(r.axes)).count
                    return FusedElementwiseKernel.Reduction.partialCount(outputs: outputs, threads: threads) * MemoryLayout<T>.stride
                }
                guard let head = f.head else { return 0 }
                let own = head.workspaceBytes(floatType: floatType, threads: threads, output: output)
                guard f.headToScratch else { return own }
                // The head's result waits in scratch after its own workspace.
                return FusedKernel.scratchOffset(ownWorkspace: own) + output.count * MemoryLayout<T>.stride
            default:
                return 0
            }
        }
        return floatType == .f64 ? count(Double.self) : count(Float.self)
    }
}

/// Where a gather's indices come from, for the message an index out of range gives.
public struct IndexSource: Sendable, Codable, Hashable {
    /// "input 'tokens'", or "the indices" when they are computed.
    public var name: String
    /// The indices' shape: a flat position is reported as one index per axis.
    public var shape: [Int]
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    /// The message of an index outside the table.
    public func message(_ e: IndexError) -> String {
        var rest = e.position, at: [Int] = []
        for d in shape.reversed() {
            at.append(d > 0 ? rest % d : 0)
            rest = d > 0 ? rest / d : 0
        }
        return "index \(e.index) at position [\(at.reversed().map(String.init).joined(separator: ", "))] of \(name) "
            + "is out of range for a table of \(e.rows) rows (0..<\(e.rows))"
    }
}
