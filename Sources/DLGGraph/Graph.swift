import DLGSource

/// An SSA value is named by the index of the node that defines it.
public typealias ValueID = Int

/// Where a backward value came from: the forward value it differentiates and the rule used.
public struct GradientOrigin: Hashable, Sendable {
    public var forward: ValueID
    public var rule: String
    public init(forward: ValueID, rule: String) {
        self.forward = forward
        self.rule = rule
    }
}

public struct Node: Hashable, Sendable {
    public var id: ValueID
    public var op: Op
    public var inputs: [ValueID]
    public var attrs: Attributes
    public var type: TensorType
    /// Where in the source this value comes from.
    public var loc: SourceRange?
    /// Hierarchical name of an input or parameter (`stage1.0.conv.weight`).
    public var name: String?
    /// The source binding or layer it computes (`c1`, `bottleneck.3.a.conv2d`), for readers.
    public var label: String?
    public var origin: GradientOrigin?

    public var decl: OpDecl { op.decl }
}

public struct GraphOutput: Hashable, Sendable {
    public var name: String
    public var value: ValueID
    public var loc: SourceRange?
    public init(name: String, value: ValueID, loc: SourceRange?) {
        self.name = name
        self.value = value
        self.loc = loc
    }
}

/// After a step, parameter (or buffer) `target` takes the value `value`.
public struct StateUpdate: Hashable, Sendable {
    public var target: ValueID
    public var value: ValueID
    public init(target: ValueID, value: ValueID) {
        self.target = target
        self.value = value
    }
}

/// One row of a model summary: a layer or block call with its parameters.
public struct LayerRecord: Sendable, Hashable {
    public var name: String
    public var kind: String
    public var output: ValueID?
    public var params: [ValueID]
    public var loc: SourceRange?
    public var children: [LayerRecord]
    public init(name: String, kind: String, output: ValueID?, params: [ValueID], loc: SourceRange?,
                children: [LayerRecord] = []) {
        self.name = name
        self.kind = kind
        self.output = output
        self.params = params
        self.loc = loc
        self.children = children
    }
}

/// A static dataflow graph in SSA form. Nodes are kept in a topological
/// order: every operand is defined before its use.
public struct Graph: Sendable {
    public var name: String
    public var nodes: [Node] = []
    public var outputs: [GraphOutput] = []
    /// The scalar being minimized, when the model has one.
    public var loss: ValueID?
    public var lossLoc: SourceRange?
    public var updates: [StateUpdate] = []
    /// After autodiff: the gradient of the loss for each differentiated value (parameters, and inputs when asked).
    public var gradients: [ValueID: ValueID] = [:]
    /// Symbol sizes fixed by `--bind` (or a run's batch size).
    public var bindings: [String: Int] = [:]
    public var source: SourceFile?
    public var layers: [LayerRecord] = []
    /// Whether dropout and batchnorm are in their training form.
    public var training: Bool
    /// Buffer placement, after memory planning (the node order is then the schedule).
    public var plan: MemoryPlan?

    public init(name: String, source: SourceFile?, training: Bool) {
        self.name = name
        self.source = source
        self.training = training
    }

    public subscript(_ v: ValueID) -> Node {
        get { nodes[v] }
        set { nodes[v] = newValue }
    }

    public var inputs: [Node] { nodes.filter { $0.op == .input } }
    public var params: [Node] { nodes.filter { $0.op == .param } }
    public var trainableParams: [Node] { params.filter { $0.attrs.bool("trainable") ?? true } }

    /// Adds a node after checking its operands with the op's shape rule.
    @discardableResult
    public mutating func add(_ op: Op, _ inputs: [ValueID], _ attrs: Attributes = Attributes(),
                             loc: SourceRange? = nil, name: String? = nil, label: String? = nil,
                             what: String? = nil, origin: GradientOrigin? = nil) throws(ShapeError) -> ValueID {
        let decl = op.decl
        guard decl.arity.accepts(inputs.count) else {
            throw ShapeError("\(op.rawValue) takes \(decl.arity) operands, got \(inputs.count)")
        }
        let ctx = ShapeContext(op: op, inputs: inputs.map { nodes[$0].type }, attrs: attrs, what: what)
        let type = try decl.inferType(ctx)
        let id = nodes.count
        nodes.append(Node(id: id, op: op, inputs: inputs, attrs: attrs, type: type, loc: loc, name: name,
                          label: label, origin: origin))
        return id
    }

    public mutating func addInput(_ name: String, _ type: TensorType, loc: SourceRange?) -> ValueID {
        let id = nodes.count
        nodes.append(Node(id: id, op: .input, inputs: [],
                          attrs: ["dtype": .dtype(type.dtype), "shape": .shape(type.shape)],
                          type: type, loc: loc, name: name, label: nil, origin: nil))
        return id
    }

    public mutating func addParam(_ name: String, _ type: TensorType, initializer: Initializer, trainable: Bool,
                                  fanIn: Int, fanOut: Int, loc: SourceRange?) -> ValueID {
        let id = nodes.count
        nodes.append(Node(id: id, op: .param, inputs: [],
                          attrs: ["dtype": .dtype(type.dtype), "shape": .shape(type.shape),
                                  "init": .initializer(initializer), "trainable": .bool(trainable),
                                  "fan_in": .int(fanIn), "fan_out": .int(fanOut)],
                          type: type, loc: loc, name: name, label: nil, origin: nil))
        return id
    }

    public mutating func addConstant(_ value: TensorLiteral, dtype: DType, loc: SourceRange?) -> ValueID {
        let id = nodes.count
        nodes.append(Node(id: id, op: .constant, inputs: [],
                          attrs: ["dtype": .dtype(dtype), "value": .tensor(value)],
                          type: TensorType(dtype, Shape(value.shape)), loc: loc, name: nil, label: nil, origin: nil))
        return id
    }

    /// Users of each value.
    public func users() -> [[ValueID]] {
        var u = Array(repeating: [ValueID](), count: nodes.count)
        for n in nodes { for i in n.inputs { u[i].append(n.id) } }
        return u
    }

    /// Number of elements in all parameters (trainable, non-trainable).
    public var parameterCounts: (trainable: Int, nonTrainable: Int) {
        var t = 0, nt = 0
        for p in params {
            let c = p.type.shape.elementCount ?? 0
            if p.attrs.bool("trainable") ?? true { t += c } else { nt += c }
        }
        return (t, nt)
    }

    /// `file:line:col` of a source range, when the graph knows its source.
    public func location(_ r: SourceRange?) -> String? {
        guard let r, let source else { return nil }
        return source.location(r.start)
    }
}

extension Arity: CustomStringConvertible {
    public var description: String {
        switch self {
        case .exactly(let n): return "\(n)"
        case .atLeast(let n): return "at least \(n)"
        }
    }
}

extension Graph {
    /// The same graph computing in another float type: every f32 value
    /// becomes `dtype` (inputs, parameters, constants and ops), for gradient
    /// checks in double precision. Types are re-derived by the shape rules.
    public func promotingFloats(to dtype: DType) throws(ShapeError) -> Graph {
        var g = self
        for i in g.nodes.indices {
            var n = g.nodes[i]
            if n.attrs.dtype("dtype") == .f32 { n.attrs["dtype"] = .dtype(dtype) }
            if n.type.dtype == .f32 { n.type.dtype = dtype }
            let ctx = ShapeContext(op: n.op, inputs: n.inputs.map { g.nodes[$0].type }, attrs: n.attrs)
            n.type = try n.decl.inferType(ctx)
            g.nodes[i] = n
        }
        return g
    }
}
