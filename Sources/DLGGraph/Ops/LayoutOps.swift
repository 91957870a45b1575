/// Ops that move or select elements without arithmetic.

let layoutOps: [OpDecl] = [
    OpDecl(.reshape, arity: .exactly(1), fusion: .injective, attributes: .shape,
           [AttributeSpec("shape", "shape", "the new shape, with the same element count")],
           doc: "The same elements in row-major order under a new `shape` with the same element count.",
           properties: {
               var p = OpProperties()
               p.aliasesOperand = true
               return p
           }(),
           vjp: Gradients.reshape, fold: keepValues,
           simplify: { ctx in
               let x = ctx.operand(0)
               if x.type == ctx.node.type { return .value(ctx.node.inputs[0]) }
               // reshape(reshape(y)) = reshape(y)
               guard x.op == .reshape else { return nil }
               if ctx.graph[x.inputs[0]].type == ctx.node.type { return .value(x.inputs[0]) }
               return .node(.reshape, [x.inputs[0]], ctx.node.attrs)
           },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let target = ctx.attrs.shape
               if let dims = ctx.inputs[0].dims, let tdims = target.dims {
                   let (a, sa) = symbolicProduct(dims), (b, sb) = symbolicProduct(tdims)
                   guard a == b, sa == sb else { throw ctx.fail(.reshapeCount(ctx.inputs[0], to: target)) }
               }
               return TensorType(ctx.inputs[0].dtype, target)
           }),
    OpDecl(.transpose, arity: .exactly(1), fusion: .injective, attributes: .perm,
           [AttributeSpec("perm", "[int]", "output axis i is input axis perm[i]")],
           doc: "Permutes the axes: output axis i is input axis perm[i].",
           vjp: Gradients.transpose,
           simplify: { ctx in
               let perm = ctx.node.attrs.perm
               if perm == Array(0..<perm.count) { return .value(ctx.node.inputs[0]) }
               let x = ctx.operand(0)
               guard x.op == .transpose else { return nil }
               let inner = x.attrs.perm
               let composed = perm.map { inner[$0] }
               if composed == Array(0..<perm.count) { return .value(x.inputs[0]) }
               return .node(.transpose, [x.inputs[0]], .perm(composed))
           },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let dims = try ctx.dims(0)
               let perm = ctx.attrs.perm
               guard perm.count == dims.count, Set(perm) == Set(0..<dims.count) else {
                   throw ctx.fail(.notPermutation(perm, type: ctx.inputs[0]))
               }
               return TensorType(ctx.inputs[0].dtype, Shape(perm.map { dims[$0] }))
           }),
    OpDecl(.broadcast_to, arity: .exactly(1), fusion: .broadcast, attributes: .shape,
           [AttributeSpec("shape", "shape", "the shape to reach")],
           doc: "Repeats size-1 (or missing leading) axes to reach `shape`.",
           properties: {
               var p = OpProperties()
               p.fusable = true
               return p
           }(),
           vjp: Gradients.broadcastTo,
           fold: { ctx in ctx.constants[0].flatMap { broadcastLiteral($0, to: ctx.shape) } },
           simplify: { ctx in ctx.operand(0).type == ctx.node.type ? .value(ctx.node.inputs[0]) : nil },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let target = ctx.attrs.shape
               switch broadcastShapes(ctx.inputs[0].shape, target) {
               case .success(let s) where s == target: return TensorType(ctx.inputs[0].dtype, target)
               default: throw ctx.fail(.broadcastTo(ctx.inputs[0], to: target))
               }
           }),
    OpDecl(.concat, arity: .atLeast(1), fusion: .injective, attributes: .axis,
           [AttributeSpec("axis", "int", default: "0", "the axis the operands are joined along")], defaults: .axis(0),
           doc: "Joins tensors along `axis`; the other dimensions must agree.",
           vjp: Gradients.concat,
           simplify: { ctx in ctx.node.inputs.count == 1 ? .value(ctx.node.inputs[0]) : nil },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.requireSameDType()
               let first = try ctx.dims(0)
               let ax = try ctx.axis(ctx.attrs.axis, rank: first.count)
               var total = 0
               for i in ctx.inputs.indices {
                   let di = try ctx.dims(i)
                   guard di.count == first.count else { throw ctx.fail(.concatRanks(ctx.inputs[0], ctx.inputs[i])) }
                   for (k, (x, y)) in zip(first, di).enumerated() where k != ax && x != y {
                       throw ctx.fail(.concatAxis(operand: i, type: ctx.inputs[i], first: ctx.inputs[0], axis: k, concatAxis: ax))
                   }
                   total += try ctx.known(di[ax], "the size of concatenation axis \(ax)")
               }
               var out = first
               out[ax] = .known(total)
               return TensorType(d, Shape(out))
           }),
    OpDecl(.slice, arity: .exactly(1), fusion: .injective, attributes: .slice, sliceSpecs,
           doc: "Elements start ..< end by step along every axis (one entry per axis).",
           properties: {
               var p = OpProperties()
               p.gradientIsPiece = true
               return p
           }(),
           vjp: Gradients.slice,
           inferType: sliceType),
    OpDecl(.slice_grad, arity: .exactly(1), fusion: .injective, attributes: .slice,
           sliceSpecs + [AttributeSpec("input_shape", "shape", "the shape of the sliced tensor")],
           doc: "Backward of slice: dy scattered into zeros of `input_shape`.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let a = ctx.attrs.slice
               guard let s = a.inputShape else { throw ctx.fail(.missingAttribute("input_shape")) }
               let sliced = try sliceType(ShapeContext(op: .slice, inputs: [TensorType(ctx.inputs[0].dtype, s)],
                                                        attrs: ctx.attrs, what: ctx.what))
               guard sliced.shape == ctx.inputs[0].shape else {
                   throw ctx.fail(.gradientShape(expected: sliced, got: ctx.inputs[0], of: "sliced"))
               }
               return TensorType(ctx.inputs[0].dtype, s)
           }),
    OpDecl(.pad, arity: .exactly(1), fusion: .injective, attributes: .pad, padSpecs,
           doc: """
           Pads every axis by `pads` (before and after, two entries per axis). `mode`: zero, constant \
           (with `value`), replicate (repeat the edge) or reflect.
           """,
           vjp: Gradients.pad,
           inferType: padType),
    OpDecl(.pad_grad, arity: .exactly(1), fusion: .injective, attributes: .pad,
           padSpecs + [AttributeSpec("input_shape", "shape", "the shape of the padded tensor")],
           doc: "Backward of pad: the gradient of every padded cell added back to the cell it copies.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let a = ctx.attrs.pad
               guard let s = a.inputShape else { throw ctx.fail(.missingAttribute("input_shape")) }
               let padded = try padType(ShapeContext(op: .pad, inputs: [TensorType(ctx.inputs[0].dtype, s)],
                                                     attrs: ctx.attrs, what: ctx.what))
               guard padded.shape == ctx.inputs[0].shape else {
                   throw ctx.fail(.gradientShape(expected: padded, got: ctx.inputs[0], of: "padded"))
               }
               return TensorType(ctx.inputs[0].dtype, s)
           }),
    OpDecl(.one_hot, arity: .exactly(1), fusion: .injective, attributes: .oneHot,
           [AttributeSpec("classes", "int", "the number of classes, the length of each row"),
            AttributeSpec("dtype", "dtype", "the result's element type")],
           doc: "Integer labels [N] to rows of zeros with a one at the label: [N, classes].",
           vjp: Gradients.none,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard ctx.inputs[0].dtype == .i32 else { throw ctx.fail(.labelsNotInteger(ctx.inputs[0], role: "labels")) }
               let dims = try ctx.dims(0)
               let a = ctx.attrs.oneHot
               guard a.classes > 0 else { throw ctx.fail(.classesNotPositive(a.classes)) }
               return TensorType(a.dtype, Shape(dims + [.known(a.classes)]))
           }),
    OpDecl(.gather, arity: .exactly(2), fusion: .opaque,
           doc: """
           Rows of a table picked by integer indices: table [V, D] and indices i32 [...] → [..., D], \
           row `indices[p]` of the table at each position p (an embedding lookup, ONNX Gather on \
           axis 0). An index outside 0..<V is a data error naming the indices, the position and the \
           value. Its gradient is `gather_grad`, a scatter-add: no one-hot matrix is formed.
           """,
           properties: {
               var p = OpProperties()
               p.indexes = IndexOperand(indices: 1, table: 0)
               return p
           }(),
           vjp: Gradients.gather,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try gatherType(ctx, table: ctx.inputs[0], indices: ctx.inputs[1])
           }),
    OpDecl(.gather_grad, arity: .exactly(2), fusion: .opaque, attributes: .shape,
           [AttributeSpec("shape", "shape", "the shape of the gathered table")],
           doc: """
           Backward of gather from (indices, dy): zeros of the table's `shape` with each row of dy \
           added to the row its index names (a scatter-add; repeated indices accumulate).
           """,
           properties: {
               var p = OpProperties()
               p.indexes = IndexOperand(indices: 0, table: nil)
               return p
           }(),
           flops: { $0.count(1) },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let table = TensorType(ctx.inputs[1].dtype, ctx.attrs.shape)
               let y = try gatherType(ctx, table: table, indices: ctx.inputs[0])
               guard y.shape == ctx.inputs[1].shape else {
                   throw ctx.fail(.gradientShape(expected: y, got: ctx.inputs[1], of: "gathered"))
               }
               return table
           }),
    OpDecl(.reverse, arity: .exactly(1), fusion: .injective, attributes: .axis,
           [AttributeSpec("axis", "int", "the axis whose order is reversed")],
           doc: "The elements in reverse order along `axis` (element i of that axis goes to n − 1 − i); ONNX ReverseSequence with every length n.",
           vjp: Gradients.reverse,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.dims(0)
               _ = try ctx.axis(ctx.attrs.axis, rank: d.count)
               return ctx.inputs[0]
           }),
    OpDecl(.where, arity: .exactly(3), fusion: .opaque,
           doc: """
           where(cond, a, b): a's element where cond's is nonzero, else b's (ONNX Where). The three \
           operands have one shape (the language's `where` broadcasts them first); cond may be i32 or \
           of a's type, a and b are floating-point. The gradient goes to a where cond holds and to b \
           elsewhere.
           """,
           flops: { $0.outputCount },
           vjp: Gradients.select,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let (c, a, b) = (ctx.inputs[0], ctx.inputs[1], ctx.inputs[2])
               guard a.dtype == b.dtype else { throw ctx.fail(.dtypeMismatch([a, b])) }
               guard a.dtype.isFloat else { throw ctx.fail(.notFloat(a, expected: "floating-point values")) }
               guard c.dtype == .i32 || c.dtype == a.dtype else {
                   throw ctx.fail(.notFloat(c, expected: "a condition of type i32 or \(a.dtype.rawValue)"))
               }
               for t in [c, b] where t.shape != a.shape {
                   throw ctx.fail(.broadcastMismatch(t, a, reason: "where's operands must have one shape"))
               }
               return a
           }),
    OpDecl(.cast, arity: .exactly(1), fusion: .elementwise, attributes: .dtype,
           [AttributeSpec("dtype", "dtype", "the result's element type")],
           doc: "Converts elements to `dtype` (integers to floats exactly; floats to integers by truncation). Not fused: fused loops compute in one element type.",
           flops: { $0.outputCount },
           vjp: Gradients.cast, fold: keepValues,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               TensorType(ctx.attrs.dtype, ctx.inputs[0].shape)
           }),
]

let sliceSpecs = [
    AttributeSpec("starts", "[int]", "the first index on each axis"),
    AttributeSpec("ends", "[int]", "one past the last index on each axis (∞: the axis's end)"),
    AttributeSpec("steps", "[int]", "the step on each axis"),
]

let padSpecs = [
    AttributeSpec("pads", "[int]", "the cells added before and after each axis, two entries per axis"),
    AttributeSpec("mode", "zero|constant|replicate|reflect", default: "zero", "how the new cells are filled"),
    AttributeSpec("value", "float", default: "0", "the fill of `constant` mode"),
]

@Sendable func sliceType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let dims = try ctx.dims(0)
    let a = ctx.attrs.slice
    guard a.starts.count == dims.count, a.ends.count == dims.count, a.steps.count == dims.count else {
        throw ctx.fail(.sliceEntries(rank: dims.count))
    }
    var out: [Dim] = []
    for i in dims.indices {
        if a.starts[i] == 0, a.ends[i] == Int.max, a.steps[i] == 1 { out.append(dims[i]); continue }
        let n = try ctx.known(dims[i], "axis \(i)")
        let e = min(a.ends[i], n)
        guard a.starts[i] >= 0, a.starts[i] < e, a.steps[i] >= 1 else {
            throw ctx.fail(.sliceRange(start: a.starts[i], end: a.ends[i], axis: i, size: n))
        }
        out.append(.known((e - a.starts[i] + a.steps[i] - 1) / a.steps[i]))
    }
    return TensorType(ctx.inputs[0].dtype, Shape(out))
}

@Sendable func padType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let dims = try ctx.dims(0)
    let a = ctx.attrs.pad
    guard a.pads.count == 2 * dims.count else { throw ctx.fail(.padEntries(count: 2 * dims.count, type: ctx.inputs[0])) }
    var out: [Dim] = []
    for (i, d) in dims.enumerated() {
        let (before, after) = (a.pads[2 * i], a.pads[2 * i + 1])
        guard before >= 0, after >= 0 else { throw ctx.fail(.negativePadding(before, after, axis: i)) }
        if before == 0, after == 0 { out.append(d); continue }
        let n = try ctx.known(d, "padded axis \(i)")
        if a.mode == .reflect, before >= n || after >= n {
            throw ctx.fail(.reflectPadding(max(before, after), axis: i, size: n))
        }
        out.append(.known(n + before + after))
    }
    return TensorType(ctx.inputs[0].dtype, Shape(out))
}

/// gather: table [V, D] (float, V known) and indices i32 [...] → [..., D].
func gatherType(_ ctx: ShapeContext, table: TensorType, indices: TensorType) throws(ShapeError) -> TensorType {
    guard table.dtype.isFloat else { throw ctx.fail(.notFloat(table, expected: "a floating-point table")) }
    guard indices.dtype == .i32 else { throw ctx.fail(.labelsNotInteger(indices, role: "indices")) }
    guard let t = table.dims else { throw ctx.fail(.unknownRank(role: "table", type: table, op: ctx.what)) }
    guard t.count == 2 else { throw ctx.fail(.wrongRank(role: "table", rank: 2, type: table)) }
    _ = try ctx.known(t[0], "the table's row count")
    guard let i = indices.dims else { throw ctx.fail(.unknownRank(role: "indices", type: indices, op: ctx.what)) }
    return TensorType(table.dtype, Shape(i + [t[1]]))
}
