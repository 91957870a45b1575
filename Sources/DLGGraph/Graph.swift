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
    /// The unrolled loop step this op belongs to (`Graph.loops`), recorded where the loop was unrolled.
    public var step: RepeatStep? = nil

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
    /// For a model compiled in step mode: its token input, position input and carried states.
    public var step: StepInterface?
    /// Loops unrolled at elaboration (a recurrent layer's time steps), and their gradients'.
    public var loops: [RepeatLoop] = []
    /// While set, `add` records new ops as belonging to this step of a loop.
    public var repeating: RepeatStep?

    public init(name: String, source: SourceFile?, training: Bool) {
        self.name = name
        self.source = source
        self.training = training
    }

    /// A node, borrowed in place: `g[x].op` reads one field without copying the node.
    public subscript(_ v: ValueID) -> Node {
        _read { yield nodes[v] }
        _modify { yield &nodes[v] }
    }

    public var inputs: [Node] { nodes.filter { $0.op == .input } }
    public var params: [Node] { nodes.filter { $0.op == .param } }
    public var trainableParams: [Node] { params.filter { $0.attrs.param.trainable } }

    /// Adds a node after checking its operands with the op's shape rule.
    @discardableResult
    public mutating func add(_ op: Op, _ inputs: [ValueID], _ attrs: Attributes = Attributes(),
                             loc: SourceRange? = nil, name: String? = nil, label: String? = nil,
                             what: String? = nil, origin: GradientOrigin? = nil) throws(ShapeError) -> ValueID {
        let decl = op.decl
        guard decl.arity.accepts(inputs.count) else {
            throw ShapeError(.wrongArity(op: op, arity: decl.arity, count: inputs.count), what: what)
        }
        let attrs = try decl.checked(attrs, what: what)
        let ctx = ShapeContext(op: op, inputs: inputs.map { nodes[$0].type }, attrs: attrs, what: what)
        let type = try decl.inferType(ctx)
        let id = nodes.count
        nodes.append(Node(id: id, op: op, inputs: inputs, attrs: attrs, type: type, loc: loc, name: name,
                          label: label, origin: origin,
                          step: repeating.map { RepeatStep(loop: $0.loop, t: $0.t, role: $0.role, order: id) }))
        return id
    }

    public mutating func addInput(_ name: String, _ type: TensorType, loc: SourceRange?) -> ValueID {
        let id = nodes.count
        nodes.append(Node(id: id, op: .input, inputs: [],
                          attrs: .source(SourceAttributes(dtype: type.dtype, shape: type.shape)),
                          type: type, loc: loc, name: name, label: nil, origin: nil))
        return id
    }

    public mutating func addParam(_ name: String, _ type: TensorType, initializer: Initializer, trainable: Bool,
                                  fanIn: Int, fanOut: Int, loc: SourceRange?) -> ValueID {
        let id = nodes.count
        nodes.append(Node(id: id, op: .param, inputs: [],
                          attrs: .param(ParamAttributes(dtype: type.dtype, shape: type.shape, initializer: initializer,
                                                        trainable: trainable, fanIn: fanIn, fanOut: fanOut)),
                          type: type, loc: loc, name: name, label: nil, origin: nil))
        return id
    }

    public mutating func addConstant(_ value: TensorLiteral, dtype: DType, loc: SourceRange?) -> ValueID {
        let id = nodes.count
        nodes.append(Node(id: id, op: .constant, inputs: [],
                          attrs: .constant(ConstantAttributes(dtype: dtype, value: value)),
                          type: TensorType(dtype, Shape(value.shape)), loc: loc, name: nil, label: nil, origin: nil))
        return id
    }

    /// Values a pass must keep as they are: the outputs, the loss, the state updates' values
    /// and the gradients the program returns.
    public var pinnedValues: Set<ValueID> {
        var pinned = Set<ValueID>(outputs.map(\.value))
        if let l = loss { pinned.insert(l) }
        for u in updates { pinned.insert(u.value) }
        for (_, d) in gradients { pinned.insert(d) }
        return pinned
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
            if p.attrs.param.trainable { t += c } else { nt += c }
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
            n.attrs = n.attrs.promotingFloats(to: dtype)
            if n.type.dtype == .f32 { n.type.dtype = dtype }
            let ctx = ShapeContext(op: n.op, inputs: n.inputs.map { g.nodes[$0].type }, attrs: n.attrs)
            n.type = try n.decl.inferType(ctx)
            g.nodes[i] = n
        }
        return g
    }
}

extension OpDecl {
    /// The attributes an op is created with: `attrs` when they are of the declared kind, the
    /// declaration's defaults when none are given.
    public func checked(_ attrs: Attributes, what: String? = nil) throws(ShapeError) -> Attributes {
        if attrs.kind == attributeKind { return attrs }
        if attrs == .none {
            guard let d = defaultAttributes else {
                throw ShapeError(.missingAttribute(attributes.filter { $0.defaultValue == nil }.map(\.name)
                    .joined(separator: ", ")), what: what ?? op.rawValue)
            }
            return d
        }
        throw ShapeError(.wrongAttributes(op: op, expected: attributeKind, got: attrs.kind), what: what)
    }
}

extension Attributes {
    /// The same attributes with every f32 element type made `dtype`.
    public func promotingFloats(to dtype: DType) -> Attributes {
        func p(_ d: DType) -> DType { d == .f32 ? dtype : d }
        switch self {
        case .source(var a): a.dtype = p(a.dtype); return .source(a)
        case .param(var a): a.dtype = p(a.dtype); return .param(a)
        case .constant(var a): a.dtype = p(a.dtype); return .constant(a)
        case .oneHot(var a): a.dtype = p(a.dtype); return .oneHot(a)
        case .dtype(let d): return .dtype(p(d))
        case .fused(var a): a.dtype = p(a.dtype); return .fused(a)
        default: return self
        }
    }

    /// The same attributes with bound symbols replaced in the shapes they hold.
    public func substituting(_ bindings: [String: Int]) -> Attributes {
        switch self {
        case .source(var a): a.shape = a.shape.substituting(bindings); return .source(a)
        case .shape(let s): return .shape(s.substituting(bindings))
        case .slice(var a): a.inputShape = a.inputShape?.substituting(bindings); return .slice(a)
        case .pad(var a): a.inputShape = a.inputShape?.substituting(bindings); return .pad(a)
        case .conv(var a):
            switch a.operand {
            case .input(let s)?: a.operand = .input(s.substituting(bindings))
            case .weight(let s)?: a.operand = .weight(s.substituting(bindings))
            case nil: break
            }
            return .conv(a)
        case .fused(var a): a.shape = a.shape.substituting(bindings); return .fused(a)
        default: return self
        }
    }
}

extension Node {
    /// Whether this op may write its result over operand `x`, which it reads for the last time
    /// with its own type: the one in-place rule memory planning and lowering share. Ops whose
    /// declaration says so (elementwise ops read each element before writing it); a fused
    /// elementwise loop; an epilogue region when its library kernel does not read x (the
    /// kernel's result then waits in scratch and the epilogue writes over x).
    public func mayWrite(over x: ValueID) -> Bool {
        guard case .fused(let a) = attrs else { return decl.properties.inPlace }
        switch a.kind {
        case .elementwise: return true
        case .reduction: return false
        case .epilogue:
            guard let anchor = a.region.anchor else { return false }
            return !anchor.operands.contains { o in
                if case .input(let i) = o { return inputs[i] == x }
                return false
            }
        }
    }
}
