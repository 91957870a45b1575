/// Ops that move or select elements without arithmetic.

let layoutOps: [OpDecl] = [
    OpDecl(.reshape, arity: .exactly(1), fusion: .injective, attributes: ["shape"],
           doc: "The same elements in row-major order under a new `shape` with the same element count.",
           vjp: Gradients.reshape,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let target = ctx.attrs.shape("shape"), let tdims = target.dims else {
                   throw ctx.fail("needs a target shape")
               }
               if let dims = ctx.inputs[0].dims {
                   let (a, sa) = symbolicProduct(dims), (b, sb) = symbolicProduct(tdims)
                   guard a == b, sa == sb else {
                       throw ctx.fail("cannot reshape \(ctx.inputs[0]) to \(target): element counts differ")
                   }
               }
               return TensorType(ctx.inputs[0].dtype, target)
           }),
    OpDecl(.transpose, arity: .exactly(1), fusion: .injective, attributes: ["perm"],
           doc: "Permutes the axes: output axis i is input axis perm[i].",
           vjp: Gradients.transpose,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let dims = try ctx.dims(0)
               let perm = ctx.attrs.ints("perm") ?? Array((0..<dims.count).reversed())
               guard perm.count == dims.count, Set(perm) == Set(0..<dims.count) else {
                   throw ctx.fail("perm \(perm) is not a permutation of the \(dims.count) axes of \(ctx.inputs[0])")
               }
               return TensorType(ctx.inputs[0].dtype, Shape(perm.map { dims[$0] }))
           }),
    OpDecl(.broadcast_to, arity: .exactly(1), fusion: .broadcast, attributes: ["shape"],
           doc: "Repeats size-1 (or missing leading) axes to reach `shape`.",
           vjp: Gradients.broadcastTo,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let target = ctx.attrs.shape("shape") else { throw ctx.fail("needs a target shape") }
               switch broadcastShapes(ctx.inputs[0].shape, target) {
               case .success(let s) where s == target: return TensorType(ctx.inputs[0].dtype, target)
               default: throw ctx.fail("cannot broadcast \(ctx.inputs[0]) to \(target)")
               }
           }),
    OpDecl(.concat, arity: .atLeast(1), fusion: .injective, attributes: ["axis"],
           doc: "Joins tensors along `axis`; the other dimensions must agree.",
           vjp: Gradients.concat,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.requireSameDType()
               let first = try ctx.dims(0)
               let ax = try ctx.axis(ctx.attrs.int("axis") ?? 0, rank: first.count)
               var total = 0
               for i in ctx.inputs.indices {
                   let di = try ctx.dims(i)
                   guard di.count == first.count else {
                       throw ctx.fail("operands have different ranks: \(ctx.inputs[0]) and \(ctx.inputs[i])")
                   }
                   for (k, (x, y)) in zip(first, di).enumerated() where k != ax && x != y {
                       throw ctx.fail("operand \(i + 1) (\(ctx.inputs[i])) differs from \(ctx.inputs[0]) in axis \(k), which is not the concatenation axis \(ax)")
                   }
                   total += try ctx.known(di[ax], "the size of concatenation axis \(ax)")
               }
               var out = first
               out[ax] = .known(total)
               return TensorType(d, Shape(out))
           }),
    OpDecl(.slice, arity: .exactly(1), fusion: .injective, attributes: ["starts", "ends", "steps"],
           doc: "Elements start ..< end by step along every axis (one entry per axis).",
           vjp: Gradients.slice,
           inferType: sliceType),
    OpDecl(.slice_grad, arity: .exactly(1), fusion: .injective, attributes: ["input_shape", "starts", "ends", "steps"],
           doc: "Backward of slice: dy scattered into zeros of `input_shape`.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let s = ctx.attrs.shape("input_shape") else { throw ctx.fail("needs input_shape") }
               return TensorType(ctx.inputs[0].dtype, s)
           }),
    OpDecl(.pad, arity: .exactly(1), fusion: .injective, attributes: ["pads", "mode", "value"],
           doc: """
           Pads every axis by `pads` (before and after, two entries per axis). `mode`: zero, constant \
           (with `value`), replicate (repeat the edge) or reflect.
           """,
           vjp: Gradients.pad,
           inferType: padType),
    OpDecl(.pad_grad, arity: .exactly(1), fusion: .injective, attributes: ["pads", "mode", "input_shape"],
           doc: "Backward of pad: the gradient of every padded cell added back to the cell it copies.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let s = ctx.attrs.shape("input_shape") else { throw ctx.fail("needs input_shape") }
               return TensorType(ctx.inputs[0].dtype, s)
           }),
    OpDecl(.one_hot, arity: .exactly(1), fusion: .injective, attributes: ["classes", "dtype"],
           doc: "Integer labels [N] to rows of zeros with a one at the label: [N, classes].",
           vjp: Gradients.none,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard ctx.inputs[0].dtype == .i32 else {
                   throw ctx.fail("expects integer labels (i32), got \(ctx.inputs[0])")
               }
               let dims = try ctx.dims(0)
               guard let k = ctx.attrs.int("classes"), k > 0 else { throw ctx.fail("classes must be positive") }
               return TensorType(ctx.attrs.dtype("dtype") ?? .f32, Shape(dims + [.known(k)]))
           }),
    OpDecl(.cast, arity: .exactly(1), fusion: .elementwise, attributes: ["dtype"],
           doc: "Converts elements to `dtype` (integers to floats exactly; floats to integers by truncation).",
           flops: { $0.outputCount },
           vjp: Gradients.cast,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let d = ctx.attrs.dtype("dtype") else { throw ctx.fail("needs dtype") }
               return TensorType(d, ctx.inputs[0].shape)
           }),
]

@Sendable func sliceType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let dims = try ctx.dims(0)
    guard let starts = ctx.attrs.ints("starts"), let ends = ctx.attrs.ints("ends"),
          starts.count == dims.count, ends.count == dims.count else {
        throw ctx.fail("needs starts and ends for each of the \(dims.count) axes")
    }
    let steps = ctx.attrs.ints("steps") ?? Array(repeating: 1, count: dims.count)
    var out: [Dim] = []
    for i in dims.indices {
        if starts[i] == 0, ends[i] == Int.max, steps[i] == 1 { out.append(dims[i]); continue }
        let n = try ctx.known(dims[i], "axis \(i)")
        let e = min(ends[i], n)
        guard starts[i] >= 0, starts[i] < e, steps[i] >= 1 else {
            throw ctx.fail("\(starts[i])..<\(ends[i] == Int.max ? "end" : String(ends[i])) of axis \(i) (size \(n)) is empty or out of range")
        }
        out.append(.known((e - starts[i] + steps[i] - 1) / steps[i]))
    }
    return TensorType(ctx.inputs[0].dtype, Shape(out))
}

@Sendable func padType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let dims = try ctx.dims(0)
    guard let pads = ctx.attrs.ints("pads"), pads.count == 2 * dims.count else {
        throw ctx.fail("needs two padding amounts per axis (\(2 * dims.count) for \(ctx.inputs[0]))")
    }
    let mode = ctx.attrs.string("mode") ?? "zero"
    guard ["zero", "constant", "replicate", "reflect"].contains(mode) else {
        throw ctx.fail("unknown padding mode '\(mode)'; expected zero, constant, replicate or reflect")
    }
    var out: [Dim] = []
    for (i, d) in dims.enumerated() {
        let (a, b) = (pads[2 * i], pads[2 * i + 1])
        guard a >= 0, b >= 0 else { throw ctx.fail("padding must not be negative, got \(a), \(b) on axis \(i)") }
        if a == 0, b == 0 { out.append(d); continue }
        let n = try ctx.known(d, "padded axis \(i)")
        if mode == "reflect", a >= n || b >= n {
            throw ctx.fail("reflect padding of \(max(a, b)) needs an axis longer than that; axis \(i) has \(n)")
        }
        out.append(.known(n + a + b))
    }
    return TensorType(ctx.inputs[0].dtype, Shape(out))
}
