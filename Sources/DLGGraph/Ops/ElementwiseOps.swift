/// Elementwise operations: unary functions, their derivatives, and binary
/// operations with NumPy broadcasting.

/// The declaration of a unary function, made from its definition in DLGOps
/// (`UnaryDefinition`): doc, FLOPs, parameter and flags come from there.
private func unary(_ op: Op, _ info: UnaryInfo) -> OpDecl {
    var properties = OpProperties()
    properties.kink = info.kink
    properties.branch = info.kink ? (info.piecewiseConstant ? .output : .pieces) : nil
    properties.straightThrough = info.straightThrough
    properties.inPlace = true
    properties.fusable = true
    var specs: [AttributeSpec] = []
    var defaults = Attributes.none
    if let p = info.parameter {
        specs = [AttributeSpec(p.name, "float", default: formatNumber(p.defaultValue), p.doc)]
        defaults = .alpha(p.defaultValue)
    }
    let fold: FoldRule = { ctx in
        guard let x = ctx.constants[0], let f = UnaryFunction(ctx.node.op, alpha: ctx.node.attrs.alpha) else { return nil }
        return TensorLiteral(shape: ctx.shape, values: f.values(x.values))
    }
    // f(f(x)) = x.
    let involution: SimplifyRule = { ctx in ctx.operand(0).op == ctx.node.op ? .value(ctx.operand(0).inputs[0]) : nil }
    let kind: Attributes.Kind = info.parameter == nil ? .none : .alpha
    return OpDecl(op, arity: .exactly(1), fusion: .elementwise, attributes: kind, specs, defaults: defaults, doc: info.doc,
                  properties: properties, flops: { $0.outputCount * info.flops }, vjp: Gradients.unary, fold: fold,
                  simplify: info.involution ? involution : nil, inferType: unaryType)
}

@Sendable func unaryType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    try ctx.requireFloat(0)
    return ctx.inputs[0]
}

/// What a binary function's declaration says beyond its math (DLGOps' `BinaryDefinition`).
private struct BinaryFacts {
    var kink = false
    var branch: BranchKind? = nil
    /// x op e = x.
    var rightIdentity: Double? = nil
    /// e op x = x.
    var leftIdentity: Double? = nil
}

private func binary(_ op: Op, _ doc: String, vjp: VJPRule?, _ facts: BinaryFacts = BinaryFacts()) -> OpDecl {
    var properties = OpProperties()
    properties.kink = facts.kink
    properties.branch = facts.branch
    properties.inPlace = true
    properties.fusable = true
    let fold: FoldRule = { ctx in
        guard let a = ctx.constants[0], let b = ctx.constants[1], let x = broadcastLiteral(a, to: ctx.shape),
              let y = broadcastLiteral(b, to: ctx.shape), let v = op.binaryValues(x.values, y.values) else { return nil }
        return TensorLiteral(shape: ctx.shape, values: v)
    }
    let identities: SimplifyRule = { ctx in
        if let e = facts.rightIdentity, ctx.isConstant(1, e) { return .value(ctx.node.inputs[0]) }
        if let e = facts.leftIdentity, ctx.isConstant(0, e) { return .value(ctx.node.inputs[1]) }
        return nil
    }
    let hasIdentity = facts.rightIdentity != nil || facts.leftIdentity != nil
    return OpDecl(op, arity: .exactly(2), fusion: .broadcast, doc: doc, properties: properties, flops: { $0.outputCount },
                  vjp: vjp, fold: fold, simplify: hasIdentity ? identities : nil, inferType: binaryType)
}

@Sendable func binaryType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let d = try ctx.requireSameDType()
    try ctx.requireFloat(0)
    switch broadcastShapes(ctx.inputs[0].shape, ctx.inputs[1].shape) {
    case .success(let s): return TensorType(d, s)
    case .failure(let why): throw ctx.fail(.broadcastMismatch(ctx.inputs[0], ctx.inputs[1], reason: why.reason))
    }
}

/// NumPy broadcasting of a literal to `shape`; nil when it does not broadcast.
public func broadcastLiteral(_ t: TensorLiteral, to shape: [Int]) -> TensorLiteral? {
    if t.shape == shape { return t }
    let r = shape.count, pad = r - t.shape.count
    guard pad >= 0 else { return nil }
    let src = Array(repeating: 1, count: pad) + t.shape
    for (s, d) in zip(src, shape) where s != d && s != 1 { return nil }
    var strides = Array(repeating: 0, count: r)
    var acc = 1
    for i in stride(from: r - 1, through: 0, by: -1) {
        strides[i] = src[i] == 1 ? 0 : acc
        acc *= src[i]
    }
    let count = shape.reduce(1, *)
    var values = [Double](repeating: 0, count: count)
    var index = Array(repeating: 0, count: r)
    for k in 0..<count {
        var off = 0
        for i in 0..<r { off += index[i] * strides[i] }
        values[k] = t.values[off]
        var i = r - 1
        while i >= 0 {
            index[i] += 1
            if index[i] < shape[i] { break }
            index[i] = 0
            i -= 1
        }
    }
    return TensorLiteral(shape: shape, values: values)
}

/// Folding that keeps the values and changes only the shape (reshape, stop_gradient, cast).
let keepValues: FoldRule = { ctx in ctx.constants[0].map { TensorLiteral(shape: ctx.shape, values: $0.values) } }

let elementwiseOps: [OpDecl] = Op.unaryFunctions.map { unary($0, $0.unaryInfo!) } + [
    OpDecl(.stop_gradient, arity: .exactly(1), fusion: .elementwise,
           doc: "Identity in the forward pass; no gradient flows through it.",
           properties: {
               var p = OpProperties()
               p.blocksGradient = true
               p.inPlace = true
               p.fusable = true
               return p
           }(),
           vjp: Gradients.none, fold: keepValues,
           simplify: { ctx in ctx.forwardOnly ? .value(ctx.node.inputs[0]) : nil },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[0] }),
    OpDecl(.unary_grad, arity: .exactly(3), fusion: .elementwise, attributes: .unaryGrad,
           [AttributeSpec("fn", "function", "the unary function differentiated, with its parameter (`alpha` where it has one)")],
           doc: """
           dx = dy·f′(x) for the elementwise function `fn`, given x, the forward result y = f(x) and dy. \
           Where f′ reads only one of x and y, autodiff passes that one twice (relu: y for x; square: x for y), \
           so the other need not be kept. \
           For hardlim and hardlims f′ is taken as 1 (straight-through).
           """,
           properties: {
               var p = OpProperties()
               p.inPlace = true
               p.fusable = true
               return p
           }(),
           flops: { $0.outputCount * 3 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               _ = try ctx.requireSameDType()
               guard ctx.inputs[0].shape == ctx.inputs[2].shape, ctx.inputs[1].shape == ctx.inputs[2].shape else {
                   throw ctx.fail(.gradientOperands(ctx.inputs))
               }
               return ctx.inputs[2]
           }),
    binary(.add, "a + b with broadcasting.", vjp: Gradients.add, BinaryFacts(rightIdentity: 0, leftIdentity: 0)),
    binary(.sub, "a − b with broadcasting.", vjp: Gradients.sub, BinaryFacts(rightIdentity: 0)),
    binary(.mul, "a · b with broadcasting.", vjp: Gradients.mul, BinaryFacts(rightIdentity: 1, leftIdentity: 1)),
    binary(.div, "a / b with broadcasting.", vjp: Gradients.div, BinaryFacts(rightIdentity: 1)),
    binary(.pow, "aᵇ with broadcasting.", vjp: Gradients.pow),
    binary(.maximum, "max(a, b) with broadcasting.", vjp: Gradients.maximum,
           BinaryFacts(kink: true, branch: .select(minimum: false))),
    binary(.minimum, "min(a, b) with broadcasting.", vjp: Gradients.minimum,
           BinaryFacts(kink: true, branch: .select(minimum: true))),
    binary(.greater, "1 where a > b, else 0.", vjp: Gradients.none, BinaryFacts(kink: true, branch: .output)),
    binary(.greater_equal, "1 where a ≥ b, else 0.", vjp: Gradients.none, BinaryFacts(kink: true, branch: .output)),
    binary(.equal, "1 where a = b, else 0.", vjp: Gradients.none, BinaryFacts(kink: true, branch: .output)),
    OpDecl(.bias_add, arity: .exactly(2), fusion: .broadcast, attributes: .axis,
           [AttributeSpec("axis", "int", default: "1", "the axis of x the bias vector runs along")], defaults: .axis(1),
           doc: "x + b where the vector b runs along `axis` of x (axis 1 of NCHW for convolutions, the last axis for dense layers).",
           properties: {
               var p = OpProperties()
               p.inPlace = true
               p.fusable = true
               return p
           }(),
           flops: { $0.outputCount }, vjp: Gradients.biasAdd,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               _ = try ctx.requireSameDType()
               let x = try ctx.dims(0, role: "input")
               let b = try ctx.dims(1, rank: 1, role: "bias")
               let ax = try ctx.axis(ctx.attrs.axis, rank: x.count)
               guard b[0] == x[ax] else {
                   throw ctx.fail(.biasMismatch(entries: b[0], axis: ax, type: ctx.inputs[0], size: x[ax]))
               }
               return ctx.inputs[0]
           }),
]
