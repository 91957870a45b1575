/// Elementwise operations: unary functions, their derivatives, and binary
/// operations with NumPy broadcasting.

/// The declaration of a unary function, made from its definition in DLGOps
/// (`UnaryDefinition`): doc, FLOPs, parameter and flags come from there.
private func unary(_ op: Op, _ info: UnaryInfo) -> OpDecl {
    var doc = info.doc
    if let p = info.parameter { doc += " Attribute `\(p.name)`: \(p.doc) (default \(formatNumber(p.defaultValue)))." }
    return OpDecl(op, arity: .exactly(1), fusion: .elementwise, attributes: info.parameter.map { [$0.name] } ?? [], doc: doc,
                  flops: { $0.outputCount * info.flops }, vjp: Gradients.unary, piecewise: info.kink,
                  inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
                      try ctx.requireFloat(0)
                      return ctx.inputs[0]
                  })
}

private func binary(_ op: Op, _ doc: String, vjp: VJPRule?, piecewise: Bool = false) -> OpDecl {
    OpDecl(op, arity: .exactly(2), fusion: .broadcast, doc: doc,
           flops: { $0.outputCount }, vjp: vjp, piecewise: piecewise,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.requireSameDType()
               try ctx.requireFloat(0)
               switch broadcastShapes(ctx.inputs[0].shape, ctx.inputs[1].shape) {
               case .success(let s): return TensorType(d, s)
               case .failure(let why):
                   throw ctx.fail(id: "broadcast-mismatch", "cannot broadcast \(ctx.inputs[0]) with \(ctx.inputs[1]): \(why.reason)",
                                  notes: ["broadcasting aligns shapes from the right; each pair of dimensions must be equal or one of them 1"])
               }
           })
}

let elementwiseOps: [OpDecl] = Op.unaryFunctions.map { unary($0, $0.unaryInfo!) } + [
    OpDecl(.stop_gradient, arity: .exactly(1), fusion: .elementwise,
           doc: "Identity in the forward pass; no gradient flows through it.", vjp: Gradients.none,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[0] }),
    OpDecl(.unary_grad, arity: .exactly(3), fusion: .elementwise, attributes: ["fn", "alpha"],
           doc: """
           dx = dy·f′(x) for the elementwise function `fn`, given x, the forward result y = f(x) and dy. \
           Where f′ reads only one of x and y, autodiff passes that one twice (relu: y for x; square: x for y), \
           so the other need not be kept. \
           For hardlim and hardlims f′ is taken as 1 (straight-through).
           """,
           flops: { $0.outputCount * 3 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let fn = ctx.attrs.string("fn"), let op = Op(rawValue: fn), op.unaryInfo != nil else {
                   throw ctx.fail("unknown function \(ctx.attrs.string("fn") ?? "(none)")")
               }
               _ = try ctx.requireSameDType()
               guard ctx.inputs[0].shape == ctx.inputs[2].shape, ctx.inputs[1].shape == ctx.inputs[2].shape else {
                   throw ctx.fail("x, y and dy must have one shape, got \(ctx.inputs.map(\.description).joined(separator: ", "))")
               }
               return ctx.inputs[2]
           }),
    binary(.add, "a + b with broadcasting.", vjp: Gradients.add),
    binary(.sub, "a − b with broadcasting.", vjp: Gradients.sub),
    binary(.mul, "a · b with broadcasting.", vjp: Gradients.mul),
    binary(.div, "a / b with broadcasting.", vjp: Gradients.div),
    binary(.pow, "aᵇ with broadcasting.", vjp: Gradients.pow),
    binary(.maximum, "max(a, b) with broadcasting.", vjp: Gradients.maximum, piecewise: true),
    binary(.minimum, "min(a, b) with broadcasting.", vjp: Gradients.minimum, piecewise: true),
    binary(.greater, "1 where a > b, else 0.", vjp: Gradients.none, piecewise: true),
    binary(.greater_equal, "1 where a ≥ b, else 0.", vjp: Gradients.none, piecewise: true),
    binary(.equal, "1 where a = b, else 0.", vjp: Gradients.none, piecewise: true),
    OpDecl(.bias_add, arity: .exactly(2), fusion: .broadcast, attributes: ["axis"],
           doc: "x + b where the vector b runs along `axis` of x (axis 1 of NCHW for convolutions, the last axis for dense layers).",
           flops: { $0.outputCount }, vjp: Gradients.biasAdd,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               _ = try ctx.requireSameDType()
               let x = try ctx.dims(0, role: "input")
               let b = try ctx.dims(1, rank: 1, role: "bias")
               let ax = try ctx.axis(ctx.attrs.int("axis") ?? 1, rank: x.count)
               guard b[0] == x[ax] else {
                   throw ctx.fail("bias has \(b[0]) entries but axis \(ax) of \(ctx.inputs[0]) has \(x[ax])")
               }
               return ctx.inputs[0]
           }),
]
