/// Matrix products, convolution, pooling, softmax and its losses, dropout.

/// Convolution attributes, normalized: stride [h, w], pad [top, bottom, left, right], dilation [h, w].
public struct ConvAttributes: Sendable, Hashable {
    public var stride: [Int], pad: [Int], dilation: [Int], groups: Int, round: String
    public init(_ a: Attributes) {
        stride = a.ints("stride") ?? [1, 1]
        pad = a.ints("pad") ?? [0, 0, 0, 0]
        dilation = a.ints("dilation") ?? [1, 1]
        groups = a.int("groups") ?? 1
        round = a.string("round") ?? "floor"
    }
}

/// Pooling attributes, normalized.
public struct PoolAttributes: Sendable, Hashable {
    public var kind: String, kernel: [Int], stride: [Int], pad: [Int], round: String, countIncludePad: Bool
    public init(_ a: Attributes) {
        kind = a.string("kind") ?? "max"
        kernel = a.ints("kernel") ?? [2, 2]
        stride = a.ints("stride") ?? kernel
        pad = a.ints("pad") ?? [0, 0, 0, 0]
        round = a.string("round") ?? "floor"
        countIncludePad = a.bool("count_include_pad") ?? true
    }
}

/// conv2d: x [N, C, H, W], w [F, C/groups, kh, kw] → [N, F, OH, OW].
@Sendable func conv2dType(_ ctx: ShapeContext, x xt: TensorType, w wt: TensorType) throws(ShapeError) -> TensorType {
    guard xt.dtype == wt.dtype else {
        throw ctx.fail("input and filter have different dtypes: \(xt) and \(wt)")
    }
    guard xt.dtype.isFloat else { throw ctx.fail("expects floating-point tensors, got \(xt)") }
    guard let x = xt.dims else {
        throw ctx.fail("input has unknown rank (\(xt)); conv2d needs an NCHW tensor of rank 4")
    }
    guard x.count == 4 else {
        throw ctx.fail("input must be an NCHW tensor of rank 4, got \(xt)",
                       notes: x.count == 2 ? ["to convolve a flat vector, reshape it to [N, C, H, W] first"] : [])
    }
    guard let w = wt.dims, w.count == 4 else { throw ctx.fail("filter must have rank 4 [F, C, kh, kw], got \(wt)") }
    let a = ConvAttributes(ctx.attrs)
    guard a.stride.count == 2, a.pad.count == 4, a.dilation.count == 2 else {
        throw ctx.fail("stride, dilation need 2 entries and pad 4")
    }
    let c = try ctx.known(x[1], "the channel count of the input")
    let f = try ctx.known(w[0], "the filter count")
    let cw = try ctx.known(w[1], "the filter's channel count")
    let (kh, kw) = (try ctx.known(w[2], "kernel height"), try ctx.known(w[3], "kernel width"))
    guard a.groups >= 1 else { throw ctx.fail("groups must be at least 1, got \(a.groups)") }
    guard c % a.groups == 0 else {
        throw ctx.fail(id: "conv-channel-mismatch", "input channels \(c) are not divisible by groups \(a.groups)")
    }
    guard f % a.groups == 0 else { throw ctx.fail("filters \(f) are not divisible by groups \(a.groups)") }
    guard cw * a.groups == c else {
        let plural = c == 1 ? "channel" : "channels"
        throw ctx.fail(id: "conv-channel-mismatch", "input has \(c) \(plural) but the filter expects \(cw * a.groups) (filter \(wt)\(a.groups > 1 ? ", groups \(a.groups)" : ""))")
    }
    let h = try ctx.known(x[2], "the input height")
    let wd = try ctx.known(x[3], "the input width")
    let oh = try windowOutput(ctx, axisName: "height", input: h, kernel: kh, stride: a.stride[0],
                              padBefore: a.pad[0], padAfter: a.pad[1], dilation: a.dilation[0], round: a.round)
    let ow = try windowOutput(ctx, axisName: "width", input: wd, kernel: kw, stride: a.stride[1],
                              padBefore: a.pad[2], padAfter: a.pad[3], dilation: a.dilation[1], round: a.round)
    return TensorType(xt.dtype, Shape([x[0], .known(f), .known(oh), .known(ow)]))
}

private func convFlops(_ ctx: FlopContext, weight: [Int], output: [Int]) -> Int {
    // 2 · N · F · OH · OW · (C/groups) · kh · kw
    2 * output.reduce(1, *) * weight[1] * weight[2] * weight[3]
}

@Sendable func pool2dType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    try ctx.requireFloat(0)
    guard let x = ctx.inputs[0].dims else {
        throw ctx.fail("input has unknown rank (\(ctx.inputs[0])); pooling needs an NCHW tensor of rank 4")
    }
    guard x.count == 4 else { throw ctx.fail("input must be an NCHW tensor of rank 4, got \(ctx.inputs[0])") }
    let a = PoolAttributes(ctx.attrs)
    guard ["max", "avg", "min"].contains(a.kind) else { throw ctx.fail("unknown pooling kind '\(a.kind)'") }
    guard a.kernel.count == 2, a.stride.count == 2, a.pad.count == 4 else {
        throw ctx.fail("kernel and stride need 2 entries and pad 4")
    }
    guard a.pad[0] * 2 <= a.kernel[0], a.pad[1] * 2 <= a.kernel[0], a.pad[2] * 2 <= a.kernel[1], a.pad[3] * 2 <= a.kernel[1] else {
        throw ctx.fail("padding \(a.pad) is more than half the window \(a.kernel); a window could see only padding")
    }
    let h = try ctx.known(x[2], "the input height"), w = try ctx.known(x[3], "the input width")
    let oh = try windowOutput(ctx, axisName: "height", input: h, kernel: a.kernel[0], stride: a.stride[0],
                              padBefore: a.pad[0], padAfter: a.pad[1], dilation: 1, round: a.round)
    let ow = try windowOutput(ctx, axisName: "width", input: w, kernel: a.kernel[1], stride: a.stride[1],
                              padBefore: a.pad[2], padAfter: a.pad[3], dilation: 1, round: a.round)
    return TensorType(ctx.inputs[0].dtype, Shape([x[0], x[1], .known(oh), .known(ow)]))
}

/// logits [N, C] with a per-row target → per-row loss [N].
private func crossEntropyType(_ ctx: ShapeContext, sparse: Bool) throws(ShapeError) -> TensorType {
    try ctx.requireFloat(0)
    let z = try ctx.dims(0, rank: 2, role: "logits")
    if sparse {
        guard ctx.inputs[1].dtype == .i32 else {
            throw ctx.fail("labels must be integers (i32), got \(ctx.inputs[1])")
        }
        let l = try ctx.dims(1, rank: 1, role: "labels")
        guard l[0] == z[0] else {
            throw ctx.fail("\(ctx.inputs[0].description) logits but \(ctx.inputs[1]) labels: batch sizes \(z[0]) and \(l[0]) differ")
        }
    } else {
        guard ctx.inputs[1].dtype == ctx.inputs[0].dtype else {
            throw ctx.fail("targets \(ctx.inputs[1]) and logits \(ctx.inputs[0]) have different dtypes")
        }
        guard ctx.inputs[1].shape == ctx.inputs[0].shape else {
            throw ctx.fail("targets \(ctx.inputs[1]) must have the shape of the logits \(ctx.inputs[0])")
        }
    }
    return TensorType(ctx.inputs[0].dtype, Shape([z[0]]))
}

let neuralOps: [OpDecl] = [
    OpDecl(.matmul, arity: .exactly(2), fusion: .outputFusable, attributes: ["transpose_a", "transpose_b"],
           doc: """
           Matrix product. a [..., M, K] @ b [K, N] → [..., M, N] (leading axes of a are batch), or \
           a [..., M, K] @ b [..., K, N] with equal batch axes. `transpose_a`/`transpose_b` transpose \
           the last two axes first. Runs on BLAS GEMM.
           """,
           flops: { ctx in
               let ta = ctx.attrs.bool("transpose_a") ?? false
               let a = ctx.inputs[0]
               let k = ta ? a[a.count - 2] : a[a.count - 1]
               return 2 * ctx.outputCount * k
           },
           vjp: Gradients.matmul,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.requireSameDType()
               guard d.isFloat else { throw ctx.fail("expects floating-point matrices, got \(ctx.inputs[0])") }
               var a = try ctx.dims(0, role: "left operand"), b = try ctx.dims(1, role: "right operand")
               guard a.count >= 2 else {
                   throw ctx.fail("left operand must be a matrix (rank ≥ 2), got \(ctx.inputs[0])")
               }
               guard b.count >= 2 else {
                   throw ctx.fail("right operand must be a matrix (rank ≥ 2), got \(ctx.inputs[1])")
               }
               if ctx.attrs.bool("transpose_a") == true { a.swapAt(a.count - 1, a.count - 2) }
               if ctx.attrs.bool("transpose_b") == true { b.swapAt(b.count - 1, b.count - 2) }
               guard a[a.count - 1] == b[b.count - 2] else {
                   throw ctx.fail(id: "matmul-mismatch", "inner dimensions differ: \(ctx.inputs[0]) @ \(ctx.inputs[1]) needs \(a[a.count - 1]) = \(b[b.count - 2])",
                                  notes: ["in a @ b the last dimension of a must equal the first of b"])
               }
               if b.count > 2 {
                   guard Array(a.dropLast(2)) == Array(b.dropLast(2)) else {
                       throw ctx.fail("batch dimensions differ: \(ctx.inputs[0]) @ \(ctx.inputs[1])")
                   }
               }
               return TensorType(d, Shape(Array(a.dropLast(1)) + [b[b.count - 1]]))
           }),
    OpDecl(.conv2d, arity: .exactly(2), fusion: .outputFusable,
           attributes: ["stride", "pad", "dilation", "groups", "round"],
           doc: """
           2-D cross-correlation. x [N, C, H, W], w [F, C/groups, kh, kw] → [N, F, OH, OW] with \
           OH = ⌊(H + pad_top + pad_bottom − dilation·(kh−1) − 1)/stride⌋ + 1 (likewise OW). `pad` is \
           [top, bottom, left, right] of zeros; `groups` splits channels (groups = C is depthwise).
           """,
           flops: { ctx in convFlops(ctx, weight: ctx.inputs[1], output: ctx.output) },
           vjp: Gradients.conv2d,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try conv2dType(ctx, x: ctx.inputs[0], w: ctx.inputs[1])
           }),
    OpDecl(.conv2d_grad_input, arity: .exactly(2), fusion: .opaque,
           attributes: ["stride", "pad", "dilation", "groups", "input_shape"],
           doc: "Gradient of conv2d with respect to its input, from (dy, w): a transposed convolution (GEMM + col2im).",
           flops: { ctx in convFlops(ctx, weight: ctx.inputs[1], output: ctx.inputs[0]) },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let s = ctx.attrs.shape("input_shape") else { throw ctx.fail("needs input_shape") }
               return TensorType(ctx.inputs[0].dtype, s)
           }),
    OpDecl(.conv2d_grad_weight, arity: .exactly(2), fusion: .opaque,
           attributes: ["stride", "pad", "dilation", "groups", "weight_shape"],
           doc: "Gradient of conv2d with respect to its filter, from (x, dy): im2col + GEMM.",
           flops: { ctx in
               guard let w = ctx.attrs.shape("weight_shape")?.knownDims else { return 0 }
               return convFlops(ctx, weight: w, output: ctx.inputs[1])
           },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let s = ctx.attrs.shape("weight_shape") else { throw ctx.fail("needs weight_shape") }
               return TensorType(ctx.inputs[0].dtype, s)
           }),
    OpDecl(.pool2d, arity: .exactly(1), fusion: .opaque,
           attributes: ["kind", "kernel", "stride", "pad", "round", "count_include_pad"],
           doc: """
           Max, average or min pooling over kernel windows of NCHW input. Output sizes follow the \
           convolution rule with `round` = floor (default), ceil (Caffe style: the last window must \
           start inside the input or the leading padding) or exact (fractional sizes are errors). Max \
           and min ignore padding; average divides by the window cells inside the padded input \
           (`count_include_pad`, default true) or inside the input.
           """,
           flops: { ctx in
               let k = ctx.attrs.ints("kernel") ?? [2, 2]
               return ctx.outputCount * k.reduce(1, *)
           },
           vjp: Gradients.pool2d,
           inferType: pool2dType),
    OpDecl(.pool2d_grad, arity: .exactly(2), fusion: .opaque,
           attributes: ["kind", "kernel", "stride", "pad", "round", "count_include_pad"],
           doc: "Gradient of pool2d from (x, dy): max/min route dy to the first extremal cell of each window; average spreads it evenly.",
           flops: { ctx in
               let k = ctx.attrs.ints("kernel") ?? [2, 2]
               return ctx.count(1) * k.reduce(1, *)
           },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let y = try pool2dType(ShapeContext(op: .pool2d, inputs: [ctx.inputs[0]], attrs: ctx.attrs, what: ctx.what))
               guard y.shape == ctx.inputs[1].shape else {
                   throw ctx.fail("dy must have the pooled shape \(y), got \(ctx.inputs[1])")
               }
               return ctx.inputs[0]
           }),
    OpDecl(.softmax, arity: .exactly(1), fusion: .opaque, attributes: ["axis"],
           doc: "e^(x − max) / Σ e^(x − max) along `axis` (default: last).",
           flops: { $0.outputCount * 5 },
           vjp: Gradients.softmax,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               let d = try ctx.dims(0)
               _ = try ctx.axis(ctx.attrs.int("axis") ?? -1, rank: d.count)
               return ctx.inputs[0]
           }),
    OpDecl(.log_softmax, arity: .exactly(1), fusion: .opaque, attributes: ["axis"],
           doc: "x − max − log Σ e^(x − max) along `axis` (default: last).",
           flops: { $0.outputCount * 5 },
           vjp: Gradients.logSoftmax,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               let d = try ctx.dims(0)
               _ = try ctx.axis(ctx.attrs.int("axis") ?? -1, rank: d.count)
               return ctx.inputs[0]
           }),
    OpDecl(.softmax_grad, arity: .exactly(2), fusion: .opaque, attributes: ["axis"],
           doc: "Backward of softmax from (y, dy): y·(dy − Σ dy·y).",
           flops: { $0.outputCount * 4 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[1] }),
    OpDecl(.log_softmax_grad, arity: .exactly(2), fusion: .opaque, attributes: ["axis"],
           doc: "Backward of log_softmax from (y, dy): dy − e^y·Σ dy.",
           flops: { $0.outputCount * 4 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[1] }),
    OpDecl(.softmax_ce, arity: .exactly(2), fusion: .opaque,
           doc: "Per-row cross-entropy of logits [N, C] against target probabilities [N, C]: −Σ t·log softmax(z).",
           flops: { $0.count(0) * 6 },
           vjp: Gradients.softmaxCE,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in try crossEntropyType(ctx, sparse: false) }),
    OpDecl(.sparse_softmax_ce, arity: .exactly(2), fusion: .opaque,
           doc: "Per-row cross-entropy of logits [N, C] against integer labels [N]: logsumexp(z) − z[label].",
           flops: { $0.count(0) * 5 },
           vjp: Gradients.sparseSoftmaxCE,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in try crossEntropyType(ctx, sparse: true) }),
    OpDecl(.softmax_ce_grad, arity: .exactly(3), fusion: .opaque,
           doc: "Backward of softmax_ce with respect to the logits: (softmax(z) − t)·dloss[row].",
           flops: { $0.count(0) * 6 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[0] }),
    OpDecl(.sparse_softmax_ce_grad, arity: .exactly(3), fusion: .opaque,
           doc: "Backward of sparse_softmax_ce with respect to the logits: (softmax(z) − onehot(label))·dloss[row].",
           flops: { $0.count(0) * 5 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[0] }),
    OpDecl(.dropout_mask, arity: .exactly(1), fusion: .opaque, attributes: ["rate", "stream"],
           doc: """
           The inverted-dropout mask for x's shape: 1/(1−rate) with probability 1−rate, else 0. Drawn \
           from a counter-based generator keyed by the run's seed, the step and `stream`, so it is \
           reproducible and independent of threading.
           """,
           flops: { $0.outputCount },
           vjp: Gradients.none,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               let r = ctx.attrs.float("rate") ?? 0.5
               guard r >= 0, r < 1 else { throw ctx.fail("rate must be in [0, 1), got \(formatNumber(r))") }
               return ctx.inputs[0]
           }),
]
