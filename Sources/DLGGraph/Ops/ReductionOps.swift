/// Reductions over a set of axes.

/// The reduced shape: `axes` (normalized, empty = all) removed, or kept as 1 with `keepdims`.
func reducedType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let keep = ctx.attrs.bool("keepdims") ?? false
    let axes = ctx.attrs.ints("axes") ?? []
    guard let dims = ctx.inputs[0].dims else {
        if axes.isEmpty, !keep { return TensorType(ctx.inputs[0].dtype, .scalar) }
        throw ctx.fail("input has unknown rank (\(ctx.inputs[0])); reducing over axes needs a known rank")
    }
    var set = Set<Int>()
    for a in axes { set.insert(try ctx.axis(a, rank: dims.count)) }
    if axes.isEmpty { set = Set(0..<dims.count) }
    var out: [Dim] = []
    for (i, d) in dims.enumerated() {
        if set.contains(i) {
            if keep { out.append(.known(1)) }
        } else {
            out.append(d)
        }
    }
    return TensorType(ctx.inputs[0].dtype, Shape(out))
}

private func reduction(_ op: Op, _ doc: String, vjp: @escaping VJPRule) -> OpDecl {
    OpDecl(op, arity: .exactly(1), fusion: .reduction, attributes: ["axes", "keepdims"], doc: doc,
           flops: { $0.count(0) }, vjp: vjp,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               return try reducedType(ctx)
           })
}

private func extremumGrad(_ op: Op, _ doc: String) -> OpDecl {
    OpDecl(op, arity: .exactly(2), fusion: .opaque, attributes: ["axes", "keepdims"], doc: doc,
           flops: { $0.count(0) },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               _ = try ctx.requireSameDType()
               let reduced = try reducedType(ShapeContext(op: ctx.op, inputs: [ctx.inputs[0]], attrs: ctx.attrs,
                                                          what: ctx.what))
               guard reduced.shape == ctx.inputs[1].shape else {
                   throw ctx.fail("dy must have the reduced shape \(reduced), got \(ctx.inputs[1])")
               }
               return ctx.inputs[0]
           })
}

let reductionOps: [OpDecl] = [
    reduction(.reduce_sum, "Sum over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceSum),
    reduction(.reduce_mean, "Mean over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceMean),
    reduction(.reduce_max, "Maximum over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceMax),
    reduction(.reduce_min, "Minimum over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceMin),
    extremumGrad(.reduce_max_grad, "Gradient of reduce_max: dy routed to the first maximal element of x in each reduced group."),
    extremumGrad(.reduce_min_grad, "Gradient of reduce_min: dy routed to the first minimal element of x in each reduced group."),
    OpDecl(.axis_size, arity: .exactly(1), fusion: .opaque, attributes: ["axes"],
           doc: "The number of elements along `axes` of x (their sizes multiplied), as a scalar of x's float type. Gradients of means over symbolic axes divide by it.",
           vjp: Gradients.none,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let dims = try ctx.dims(0)
               for a in ctx.attrs.ints("axes") ?? [] { _ = try ctx.axis(a, rank: dims.count) }
               return TensorType(ctx.inputs[0].dtype.isFloat ? ctx.inputs[0].dtype : .f32, .scalar)
           }),
]
