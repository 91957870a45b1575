/// Elementwise operations: unary functions, their derivatives, and binary
/// operations with NumPy broadcasting.

private func unary(_ op: Op, _ doc: String, attributes: [String] = [], flopsPerElement: Int = 1,
                   piecewise: Bool = false) -> OpDecl {
    OpDecl(op, arity: .exactly(1), fusion: .elementwise, attributes: attributes, doc: doc,
           flops: { $0.outputCount * flopsPerElement }, vjp: Gradients.unary, piecewise: piecewise,
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

/// The elementwise functions `unary_grad` can differentiate, by op name.
public let differentiableUnaryFunctions: Set<String> = [
    "neg", "exp", "log", "sqrt", "rsqrt", "abs", "square", "reciprocal", "sign", "sigmoid", "tanh", "relu",
    "leaky_relu", "elu", "selu", "gelu", "swish", "softplus", "softsign", "hardlim", "hardlims", "satlin",
    "satlins", "step",
]

let elementwiseOps: [OpDecl] = [
    unary(.neg, "−x."),
    unary(.exp, "eˣ."),
    unary(.log, "Natural logarithm."),
    unary(.sqrt, "√x."),
    unary(.rsqrt, "1/√x."),
    unary(.abs, "|x|.", piecewise: true),
    unary(.square, "x²."),
    unary(.reciprocal, "1/x."),
    unary(.sign, "−1, 0 or 1.", piecewise: true),
    unary(.sigmoid, "Logistic function 1/(1+e⁻ˣ).", flopsPerElement: 4),
    unary(.tanh, "Hyperbolic tangent.", flopsPerElement: 4),
    unary(.relu, "max(x, 0).", piecewise: true),
    unary(.leaky_relu, "x if x > 0 else α·x (`alpha`, default 0.01).", attributes: ["alpha"], piecewise: true),
    unary(.elu, "x if x > 0 else α·(eˣ − 1) (`alpha`, default 1).", attributes: ["alpha"], flopsPerElement: 4, piecewise: true),
    unary(.selu, "λ·elu(x, α) with λ = 1.0507, α = 1.6733 (self-normalizing).", flopsPerElement: 4, piecewise: true),
    unary(.gelu, "x·Φ(x), Φ the standard normal CDF (exact, via erf).", flopsPerElement: 8),
    unary(.swish, "x·σ(x) (also called SiLU).", flopsPerElement: 5),
    unary(.softplus, "log(1 + eˣ), computed stably.", flopsPerElement: 4),
    unary(.softsign, "x/(1 + |x|).", flopsPerElement: 3, piecewise: true),
    unary(.hardlim, "1 if x ≥ 0 else 0. Its gradient is passed straight through (identity).", piecewise: true),
    unary(.hardlims, "1 if x ≥ 0 else −1. Its gradient is passed straight through (identity).", piecewise: true),
    unary(.satlin, "Saturated linear: clamp(x, 0, 1).", piecewise: true),
    unary(.satlins, "Symmetric saturated linear: clamp(x, −1, 1).", piecewise: true),
    unary(.step, "1 if x > 0 else 0 (the derivative of relu).", piecewise: true),
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
               guard let fn = ctx.attrs.string("fn"), differentiableUnaryFunctions.contains(fn) else {
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
