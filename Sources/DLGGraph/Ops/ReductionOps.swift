/// Reductions over a set of axes.

/// The reduced shape: `axes` (normalized, empty = all) removed, or kept as 1 with `keepdims`.
func reducedType(_ ctx: ShapeContext, _ input: TensorType, _ a: ReduceAttributes) throws(ShapeError) -> TensorType {
    guard let dims = input.dims else {
        if a.axes.isEmpty, !a.keepdims { return TensorType(input.dtype, .scalar) }
        throw ctx.fail(.reductionUnknownRank(input))
    }
    var set = Set<Int>()
    for x in a.axes { set.insert(try ctx.axis(x, rank: dims.count)) }
    if a.axes.isEmpty { set = Set(0..<dims.count) }
    var out: [Dim] = []
    for (i, d) in dims.enumerated() {
        if set.contains(i) {
            if a.keepdims { out.append(.known(1)) }
        } else {
            out.append(d)
        }
    }
    return TensorType(input.dtype, Shape(out))
}

let reduceSpecs = [
    AttributeSpec("axes", "[int]", default: "[]", "the axes reduced (negative ones count from the end); empty: all"),
    AttributeSpec("keepdims", "bool", default: "false", "keep the reduced axes as size 1"),
]

private func reduction(_ op: Op, _ doc: String, vjp: @escaping VJPRule, branch: BranchKind? = nil) -> OpDecl {
    var properties = OpProperties()
    properties.kink = branch != nil
    properties.branch = branch
    return OpDecl(op, arity: .exactly(1), fusion: .reduction, attributes: .reduce, reduceSpecs,
                  defaults: .reduce(ReduceAttributes(axes: [])), doc: doc, properties: properties,
                  flops: { $0.count(0) }, vjp: vjp,
                  inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
                      try ctx.requireFloat(0)
                      return try reducedType(ctx, ctx.inputs[0], ctx.attrs.reduce)
                  })
}

private func extremumGrad(_ op: Op, _ doc: String) -> OpDecl {
    OpDecl(op, arity: .exactly(2), fusion: .opaque, attributes: .reduce, reduceSpecs,
           defaults: .reduce(ReduceAttributes(axes: [])), doc: doc,
           flops: { $0.count(0) },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               _ = try ctx.requireSameDType()
               let reduced = try reducedType(ctx, ctx.inputs[0], ctx.attrs.reduce)
               guard reduced.shape == ctx.inputs[1].shape else {
                   throw ctx.fail(.gradientShape(expected: reduced, got: ctx.inputs[1], of: "reduced"))
               }
               return ctx.inputs[0]
           })
}

let reductionOps: [OpDecl] = [
    reduction(.reduce_sum, "Sum over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceSum),
    reduction(.reduce_mean, "Mean over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceMean),
    reduction(.reduce_max, "Maximum over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceMax,
              branch: .extremum(minimum: false)),
    reduction(.reduce_min, "Minimum over `axes` (all when empty); `keepdims` keeps them as size 1.", vjp: Gradients.reduceMin,
              branch: .extremum(minimum: true)),
    extremumGrad(.reduce_max_grad, "Gradient of reduce_max: dy routed to the first maximal element of x in each reduced group."),
    extremumGrad(.reduce_min_grad, "Gradient of reduce_min: dy routed to the first minimal element of x in each reduced group."),
    OpDecl(.axis_size, arity: .exactly(1), fusion: .opaque, attributes: .axes,
           [AttributeSpec("axes", "[int]", "the axes whose sizes are multiplied")],
           doc: "The number of elements along `axes` of x (their sizes multiplied), as a scalar of x's float type. Gradients of means over symbolic axes divide by it.",
           vjp: Gradients.none,
           fold: { ctx in
               // Known once the axes' sizes are (a bound batch size).
               guard let d = ctx.inputTypes[0].shape.knownDims else { return nil }
               let axes = ctx.node.attrs.axes.map { $0 < 0 ? $0 + d.count : $0 }
               return .scalar(Double(axes.reduce(1) { $0 * d[$1] }))
           },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let dims = try ctx.dims(0)
               for a in ctx.attrs.axes { _ = try ctx.axis(a, rank: dims.count) }
               return TensorType(ctx.inputs[0].dtype.isFloat ? ctx.inputs[0].dtype : .f32, .scalar)
           }),
]
