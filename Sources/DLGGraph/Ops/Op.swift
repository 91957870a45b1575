/// Every primitive operation of the graph IR. Each has exactly one
/// declaration (`OpDecl`) carrying its shape rule, fusion kind, FLOP count and
/// documentation; see `Op.decl`. Passes ask the declaration about properties
/// and never switch over lists of op names.
public enum Op: String, CaseIterable, Sendable, Hashable, Codable {
    // Sources
    case input, param, constant
    // Elementwise, one operand
    case neg, exp, log, sqrt, rsqrt, abs, square, reciprocal, sign
    case sigmoid, tanh, relu, leaky_relu, elu, selu, gelu, swish, softplus, softsign
    case hardlim, hardlims, satlin, satlins, step, stop_gradient
    /// dx = dy · f′(x) for the elementwise function named by attribute `fn`.
    case unary_grad
    // Elementwise, two operands with broadcasting
    case add, sub, mul, div, pow, maximum, minimum, greater, greater_equal, equal
    case bias_add
    // Reductions
    case reduce_sum, reduce_mean, reduce_max, reduce_min
    case reduce_max_grad, reduce_min_grad
    // Layout
    case reshape, transpose, broadcast_to, concat, slice, slice_grad, pad, pad_grad, one_hot, cast
    // Neural-network operations
    case matmul
    case conv2d, conv2d_grad_input, conv2d_grad_weight
    case pool2d, pool2d_grad
    case softmax, log_softmax, softmax_grad, log_softmax_grad
    case softmax_ce, sparse_softmax_ce, softmax_ce_grad, sparse_softmax_ce_grad
    case dropout_mask
    /// The product of some axes' sizes, as a scalar (for symbolic batch sizes).
    case axis_size
    // Across the replicas of a data-parallel run
    case allreduce, allreduce_start, allreduce_wait
    /// Several ops run as one kernel: see `FusedRegion` (attribute `region`).
    case fused

    public var decl: OpDecl { OpRegistry.declarations[OpRegistry.index[self]!] }
}

/// How an op combines with its neighbours in fusion (TVM's lattice).
public enum FusionKind: String, Sendable, Codable, Comparable {
    /// One output element from the same-index input elements.
    case elementwise
    /// Elementwise after broadcasting its operands.
    case broadcast
    /// Each output element reads one input element at a computed index (reshape, transpose, slice, pad).
    case injective
    /// Reduces over axes; can absorb elementwise producers.
    case reduction
    /// A library kernel (GEMM, convolution) whose output can take an elementwise epilogue.
    case outputFusable
    /// Never fused.
    case opaque

    private var rank: Int {
        switch self {
        case .elementwise: 0
        case .broadcast: 1
        case .injective: 2
        case .reduction: 3
        case .outputFusable: 4
        case .opaque: 5
        }
    }
    public static func < (a: FusionKind, b: FusionKind) -> Bool { a.rank < b.rank }
}

/// Where the scheduler puts an op among those ready to run.
public enum SchedulePlacement: String, Sendable, Codable {
    /// By the memory it frees (the default).
    case normal
    /// As soon as its operands are ready (it starts work that runs beside the next ops).
    case early
    /// Only when nothing else is ready (it waits for work started earlier).
    case late
}

public enum Arity: Sendable, Hashable {
    case exactly(Int)
    case atLeast(Int)
    public func accepts(_ n: Int) -> Bool {
        switch self {
        case .exactly(let k): n == k
        case .atLeast(let k): n >= k
        }
    }
}

/// A shape-rule failure; the elaborator attaches the source location.
public struct ShapeError: Error, Sendable, Hashable {
    /// The class of problem, used as the diagnostic id (`dtype-mismatch`, `matmul-mismatch`, …).
    public var id: String
    public var message: String
    public var notes: [String]
    public init(_ message: String, id: String = "shape-error", notes: [String] = []) {
        self.id = id
        self.message = message
        self.notes = notes
    }
}

/// What a shape rule sees.
public struct ShapeContext: Sendable {
    public let op: Op
    public let inputs: [TensorType]
    public let attrs: Attributes
    /// How messages name the operation: `conv2d 'c3'`, `'@'`, `relu`.
    public let what: String

    public init(op: Op, inputs: [TensorType], attrs: Attributes, what: String? = nil) {
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.what = what ?? op.rawValue
    }
}

/// What a FLOP count sees: concrete input and output dimensions.
public struct FlopContext: Sendable {
    public let inputs: [[Int]]
    public let output: [Int]
    public let attrs: Attributes
    public init(inputs: [[Int]], output: [Int], attrs: Attributes) {
        self.inputs = inputs
        self.output = output
        self.attrs = attrs
    }
    public var outputCount: Int { output.reduce(1, *) }
    public func count(_ i: Int) -> Int { inputs[i].reduce(1, *) }
}

public struct OpDecl: Sendable {
    public let op: Op
    public let arity: Arity
    public let fusion: FusionKind
    /// Sources (inputs, parameters, constants) have no operands and no kernel work.
    public let isSource: Bool
    /// One paragraph for `Docs/ir.md`.
    public let doc: String
    /// Attribute names the op reads, in print order.
    public let attributes: [String]
    public let inferType: @Sendable (ShapeContext) throws(ShapeError) -> TensorType
    public let flops: @Sendable (FlopContext) -> Int
    /// The gradient rule; nil when the op is not differentiable (gradient ops themselves).
    public let vjp: VJPRule?
    /// Piecewise: the op switches between branches (relu at 0, the winner of a max, a step),
    /// so its derivative jumps where the branch changes (softsign's second derivative, at 0). Gradient checks
    /// must not step across such a point.
    public let piecewise: Bool
    /// Where the scheduler puts it among the ops ready to run.
    public let schedule: SchedulePlacement

    public init(_ op: Op, arity: Arity, fusion: FusionKind, isSource: Bool = false,
                attributes: [String] = [], doc: String,
                flops: @escaping @Sendable (FlopContext) -> Int = { _ in 0 },
                vjp: VJPRule? = nil, piecewise: Bool = false, schedule: SchedulePlacement = .normal,
                inferType: @escaping @Sendable (ShapeContext) throws(ShapeError) -> TensorType) {
        self.op = op
        self.arity = arity
        self.fusion = fusion
        self.isSource = isSource
        self.attributes = attributes
        self.doc = doc
        self.flops = flops
        self.vjp = vjp
        self.piecewise = piecewise
        self.schedule = schedule
        self.inferType = inferType
    }
}

public enum OpRegistry {
    public static let declarations: [OpDecl] =
        sourceOps + elementwiseOps + reductionOps + layoutOps + neuralOps + collectiveOps + [fusedOp]
    static let index: [Op: Int] = {
        var m: [Op: Int] = [:]
        for (i, d) in declarations.enumerated() { m[d.op] = i }
        return m
    }()
}
