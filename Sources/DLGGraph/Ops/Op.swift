@_exported import DLGOps

extension Op {
    /// The op's declaration.
    public var decl: OpDecl { OpRegistry.byOrdinal[ordinal] }
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

/// How gradient checks keep a piecewise op on the branch it took (see the runtime's branch freezing).
public enum BranchKind: Sendable, Hashable {
    /// A unary function with linear or exponential pieces: the piece of each element.
    case pieces
    /// Constant on each piece (a step, a comparison): the output itself.
    case output
    /// maximum/minimum: which operand each element took (the first on ties).
    case select(minimum: Bool)
    /// reduce_max/reduce_min: the element each output took.
    case extremum(minimum: Bool)
    /// max/min pooling: the cell each window took.
    case window
}

/// An operand of integer indices into axis 0 of another operand (gather's).
public struct IndexOperand: Sendable, Hashable {
    /// The operand holding the indices.
    public var indices: Int
    /// The operand they index (its row count bounds them); nil when the bound is the op's
    /// result's first axis (a scatter-add into a table of the result's shape).
    public var table: Int?
    public init(indices: Int, table: Int?) {
        self.indices = indices
        self.table = table
    }
}

/// Facts about an op that passes and the runtime ask instead of naming ops.
public struct OpProperties: Sendable, Hashable {
    /// The derivative jumps where the op switches branches (relu at 0, the winner of a max, a
    /// step): gradient checks must not step across such a point.
    public var kink = false
    /// How a gradient check freezes its branch (ops with a kink).
    public var branch: BranchKind?
    /// The gradient passes straight through a step (hardlim): finite differences disagree with it by design.
    public var straightThrough = false
    /// May write its result over an operand of its shape that it reads for the last time: it reads
    /// each element before writing that element (elementwise ops).
    public var inPlace = false
    /// Its result is its operand's storage under another shape (reshape).
    public var aliasesOperand = false
    /// No gradient flows through it (stop_gradient).
    public var blocksGradient = false
    /// Runs inside fused elementwise loops (elementwise and broadcast ops that keep the element type).
    public var fusable = false
    /// Combines values across the replicas of a data-parallel run (allreduce): it needs the
    /// runtime's `Collective`.
    public var collective = false
    /// Where the scheduler puts it among the ops ready to run.
    public var schedule: SchedulePlacement = .normal
    /// Its gradient is dy placed at a range of its operand's axes, zeros elsewhere (slice):
    /// autodiff joins the gradients of slices that tile an axis with one concatenation.
    public var gradientIsPiece = false
    /// It reads integer indices into a table's rows (gather): gradient checks draw them in range.
    public var indexes: IndexOperand?
    public init() {}
}

/// What a folding rule sees: the node, and each operand's constant value when it has one.
public struct FoldContext {
    public let node: Node
    public let constants: [TensorLiteral?]
    public let inputTypes: [TensorType]
    /// The result's concrete shape.
    public let shape: [Int]
    public init(node: Node, constants: [TensorLiteral?], inputTypes: [TensorType], shape: [Int]) {
        self.node = node
        self.constants = constants
        self.inputTypes = inputTypes
        self.shape = shape
    }
}

/// Computes a node whose operands are constants at compile time; nil when it cannot.
public typealias FoldRule = @Sendable (FoldContext) -> TensorLiteral?

/// What an algebraic simplification sees: the node, its operands mapped into the graph being rewritten.
public struct SimplifyContext {
    /// The node, with its operands' IDs in `graph`.
    public let node: Node
    /// The graph being rewritten (operands and what they read are there).
    public let graph: Graph
    /// Whether the backward pass exists already (or never will): stop_gradient is then the identity.
    public let forwardOnly: Bool

    public init(node: Node, graph: Graph, forwardOnly: Bool) {
        self.node = node
        self.graph = graph
        self.forwardOnly = forwardOnly
    }

    /// The operands' nodes.
    public var operands: [Node] { node.inputs.map { graph[$0] } }

    /// Operand i's node.
    public func operand(_ i: Int) -> Node { graph[node.inputs[i]] }

    /// Operand i is a constant whose every element is `x`.
    public func isConstant(_ i: Int, _ x: Double) -> Bool {
        let operand = self.operand(i)
        guard operand.op == .constant else { return false }
        return operand.attrs.constant.value.values.allSatisfy { $0 == x }
    }
}

/// The result of a simplification.
public enum Simplification: Sendable {
    /// An existing value of the new graph computes the node (checked to have its type).
    case value(ValueID)
    /// A new node computes it.
    case node(Op, [ValueID], Attributes)
}

public typealias SimplifyRule = @Sendable (SimplifyContext) -> Simplification?

/// A class: passes read declarations constantly (`node.decl.fusion`), and a
/// reference is one retain where a copy of all these fields was many.
public final class OpDecl: Sendable {
    public let op: Op
    public let arity: Arity
    public let fusion: FusionKind
    /// Sources (inputs, parameters, constants) have no operands and no kernel work.
    public let isSource: Bool
    /// One paragraph for the op reference.
    public let doc: String
    /// The kind of attributes the op takes.
    public let attributeKind: Attributes.Kind
    /// Its attributes, with type, default and doc, in print order.
    public let attributes: [AttributeSpec]
    /// The attributes when none are given; nil when some are required.
    public let defaultAttributes: Attributes?
    public let inferType: @Sendable (ShapeContext) throws(ShapeError) -> TensorType
    public let flops: @Sendable (FlopContext) -> Int
    /// The gradient rule; nil when the op is not differentiable (gradient ops themselves).
    public let vjp: VJPRule?
    public let properties: OpProperties
    /// Constant folding; nil when the op is never folded.
    public let fold: FoldRule?
    /// Algebraic identities (x + 0 → x, −(−x) → x); nil when it has none.
    public let simplify: SimplifyRule?

    public init(_ op: Op, arity: Arity, fusion: FusionKind, isSource: Bool = false,
                attributes kind: Attributes.Kind = .none, _ specs: [AttributeSpec] = [], defaults: Attributes? = nil,
                doc: String, properties: OpProperties = OpProperties(),
                flops: @escaping @Sendable (FlopContext) -> Int = { _ in 0 },
                vjp: VJPRule? = nil, fold: FoldRule? = nil, simplify: SimplifyRule? = nil,
                inferType: @escaping @Sendable (ShapeContext) throws(ShapeError) -> TensorType) {
        self.op = op
        self.arity = arity
        self.fusion = fusion
        self.isSource = isSource
        self.attributeKind = kind
        self.attributes = specs
        self.defaultAttributes = kind == .none ? Attributes.none : defaults
        self.doc = doc
        self.properties = properties
        self.flops = flops
        self.vjp = vjp
        self.fold = fold
        self.simplify = simplify
        self.inferType = inferType
    }

    /// Piecewise (see `OpProperties.kink`).
    public var piecewise: Bool { properties.kink }
}

public enum OpRegistry {
    public static let declarations: [OpDecl] =
        sourceOps + elementwiseOps + reductionOps + layoutOps + neuralOps + collectiveOps + [fusedOp]
    /// The declarations in `Op.allCases` order, read by `Op.ordinal`.
    static let byOrdinal: [OpDecl] = {
        var table: [OpDecl?] = Array(repeating: nil, count: Op.allCases.count)
        for (i, op) in Op.allCases.enumerated() {
            precondition(op.ordinal == i, "Op.ordinal of \(op.rawValue) is \(op.ordinal), its position \(i)")
        }
        for d in declarations {
            precondition(table[d.op.ordinal] == nil, "two declarations of \(d.op.rawValue)")
            table[d.op.ordinal] = d
        }
        return table.enumerated().map { i, d in
            guard let d else { preconditionFailure("no declaration of \(Op.allCases[i].rawValue)") }
            return d
        }
    }()
}
