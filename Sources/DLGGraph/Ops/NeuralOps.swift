/// Matrix products, convolution, pooling, softmax and its losses, dropout.

/// conv2d: x [N, C, H, W], w [F, C/groups, kh, kw] → [N, F, OH, OW].
@Sendable func conv2dType(_ ctx: ShapeContext, x xt: TensorType, w wt: TensorType) throws(ShapeError) -> TensorType {
    guard xt.dtype == wt.dtype else {
        throw ctx.fail(.filterDType(xt, wt))
    }
    guard xt.dtype.isFloat else { throw ctx.fail(.notFloat(xt, expected: "floating-point tensors")) }
    guard let x = xt.dims else {
        throw ctx.fail(.nchwUnknownRank(xt, op: "conv2d"))
    }
    guard x.count == 4 else {
        throw ctx.fail(.nchwRank(xt))
    }
    guard let w = wt.dims, w.count == 4 else { throw ctx.fail(.filterRank(wt)) }
    let a = ctx.attrs.conv
    guard a.stride.count == 2, a.pad.count == 4, a.dilation.count == 2 else { throw ctx.fail(.windowEntries("stride, dilation")) }
    let c = try ctx.known(x[1], "the channel count of the input")
    let f = try ctx.known(w[0], "the filter count")
    let cw = try ctx.known(w[1], "the filter's channel count")
    let (kh, kw) = (try ctx.known(w[2], "kernel height"), try ctx.known(w[3], "kernel width"))
    guard a.groups >= 1 else { throw ctx.fail(.groupsNotPositive(a.groups)) }
    guard c % a.groups == 0 else { throw ctx.fail(.channelsNotDivisible(channels: c, groups: a.groups)) }
    guard f % a.groups == 0 else { throw ctx.fail(.filtersNotDivisible(filters: f, groups: a.groups)) }
    guard cw * a.groups == c else {
        throw ctx.fail(.channelMismatch(channels: c, expected: cw * a.groups, filter: wt, groups: a.groups))
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
        throw ctx.fail(.nchwUnknownRank(ctx.inputs[0], op: "pooling"))
    }
    guard x.count == 4 else { throw ctx.fail(.nchwRank(ctx.inputs[0])) }
    let a = ctx.attrs.pool
    guard a.kernel.count == 2, a.stride.count == 2, a.pad.count == 4 else { throw ctx.fail(.windowEntries("kernel and stride")) }
    guard a.pad[0] * 2 <= a.kernel[0], a.pad[1] * 2 <= a.kernel[0], a.pad[2] * 2 <= a.kernel[1], a.pad[3] * 2 <= a.kernel[1] else {
        throw ctx.fail(.poolPadding(pad: a.pad, kernel: a.kernel))
    }
    let h = try ctx.known(x[2], "the input height"), w = try ctx.known(x[3], "the input width")
    let oh = try windowOutput(ctx, axisName: "height", input: h, kernel: a.kernel[0], stride: a.stride[0],
                              padBefore: a.pad[0], padAfter: a.pad[1], dilation: 1, round: a.round)
    let ow = try windowOutput(ctx, axisName: "width", input: w, kernel: a.kernel[1], stride: a.stride[1],
                              padBefore: a.pad[2], padAfter: a.pad[3], dilation: 1, round: a.round)
    return TensorType(ctx.inputs[0].dtype, Shape([x[0], x[1], .known(oh), .known(ow)]))
}

/// logits [..., C] with a target per row of C (every position of a sequence model's
/// [B, T, C] output) → per-row loss [...].
private func crossEntropyType(_ ctx: ShapeContext, sparse: Bool) throws(ShapeError) -> TensorType {
    try ctx.requireFloat(0)
    let z = try ctx.dims(0, role: "logits")
    guard z.count >= 2 else { throw ctx.fail(.wrongRank(role: "logits", rank: 2, type: ctx.inputs[0])) }
    if sparse {
        guard ctx.inputs[1].dtype == .i32 else {
            throw ctx.fail(.labelsNotInteger(ctx.inputs[1], role: "labels"))
        }
        if z.count == 2 {
            let l = try ctx.dims(1, rank: 1, role: "labels")
            guard l[0] == z[0] else {
                throw ctx.fail(.batchMismatch(logits: ctx.inputs[0], labels: ctx.inputs[1]))
            }
        } else {
            guard ctx.inputs[1].dims == Array(z.dropLast()) else {
                throw ctx.fail(.labelsShape(labels: ctx.inputs[1], logits: ctx.inputs[0]))
            }
        }
    } else {
        guard ctx.inputs[1].dtype == ctx.inputs[0].dtype else {
            throw ctx.fail(.targetsDType(ctx.inputs[1], logits: ctx.inputs[0]))
        }
        guard ctx.inputs[1].shape == ctx.inputs[0].shape else {
            throw ctx.fail(.targetsShape(ctx.inputs[1], logits: ctx.inputs[0]))
        }
    }
    return TensorType(ctx.inputs[0].dtype, Shape(Array(z.dropLast())))
}

let convSpecs = [
    AttributeSpec("stride", "[int, int]", default: "[1, 1]", "the step between windows, [h, w]"),
    AttributeSpec("pad", "[int ×4]", default: "[0, 0, 0, 0]", "zeros added [top, bottom, left, right]"),
    AttributeSpec("dilation", "[int, int]", default: "[1, 1]", "the spacing of the kernel's taps, [h, w]"),
    AttributeSpec("groups", "int", default: "1", "channel groups (groups = C is depthwise)"),
    AttributeSpec("round", "floor|ceil|exact", default: "floor", "how the output size is rounded (see `pool2d`)"),
]

let poolSpecs = [
    AttributeSpec("kind", "max|avg|min", "the window's reduction"),
    AttributeSpec("kernel", "[int, int]", "the window, [h, w]"),
    AttributeSpec("stride", "[int, int]", default: "the kernel", "the step between windows, [h, w]"),
    AttributeSpec("pad", "[int ×4]", default: "[0, 0, 0, 0]", "padding [top, bottom, left, right], at most half the window"),
    AttributeSpec("round", "floor|ceil|exact", default: "floor", "how the output size is rounded"),
    AttributeSpec("count_include_pad", "bool", default: "true", "average pooling divides by the window cells inside the padded input (true) or inside the input"),
]

let axisSpec = [AttributeSpec("axis", "int", default: "-1", "the axis the softmax runs along")]

/// The shape a conv2d gradient op computes, from its attributes.
private func convOperandShape(_ ctx: ShapeContext) throws(ShapeError) -> Shape {
    switch ctx.attrs.conv.operand {
    case .input(let s)?: return s
    case .weight(let s)?: return s
    case nil: throw ctx.fail(.missingAttribute(ctx.op == .conv2d_grad_input ? "input_shape" : "weight_shape"))
    }
}

/// Checks that dy has the shape the forward convolution of x by w gives (the same rounding included).
private func checkConvGradient(_ ctx: ShapeContext, x: TensorType, w: TensorType, dy: TensorType) throws(ShapeError) {
    var attrs = ctx.attrs.conv
    attrs.operand = nil
    let y = try conv2dType(ShapeContext(op: .conv2d, inputs: [x, w], attrs: .conv(attrs), what: ctx.what), x: x, w: w)
    guard y.shape == dy.shape else { throw ctx.fail(.gradientShape(expected: y, got: dy, of: "convolved")) }
}

let neuralOps: [OpDecl] = [
    OpDecl(.matmul, arity: .exactly(2), fusion: .outputFusable, attributes: .matmul,
           [AttributeSpec("transpose_a", "bool", default: "false", "transpose the last two axes of a first"),
            AttributeSpec("transpose_b", "bool", default: "false", "transpose the last two axes of b first")],
           defaults: .matmul(MatmulAttributes()),
           doc: """
           Matrix product. a [..., M, K] @ b [K, N] → [..., M, N] (leading axes of a are batch), or \
           a [..., M, K] @ b [..., K, N] with the batch axes (all but the last two) broadcast as in \
           NumPy: [B, H, M, K] @ [1, H, K, N] or [B, 1, M, K] @ [H, K, N] → [B, H, M, N]; the gradient \
           of a broadcast operand is summed over the axes it was repeated on. \
           `transpose_a`/`transpose_b` transpose the last two axes first. Runs on BLAS GEMM, one per \
           batch matrix.
           """,
           flops: { ctx in
               let a = ctx.inputs[0]
               let k = ctx.attrs.matmul.transposeA ? a[a.count - 2] : a[a.count - 1]
               return 2 * ctx.outputCount * k
           },
           vjp: Gradients.matmul,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.requireSameDType()
               guard d.isFloat else { throw ctx.fail(.notFloat(ctx.inputs[0], expected: "floating-point matrices")) }
               var a = try ctx.dims(0, role: "left operand"), b = try ctx.dims(1, role: "right operand")
               guard a.count >= 2 else { throw ctx.fail(.notMatrix(side: "left", ctx.inputs[0])) }
               guard b.count >= 2 else { throw ctx.fail(.notMatrix(side: "right", ctx.inputs[1])) }
               let m = ctx.attrs.matmul
               if m.transposeA { a.swapAt(a.count - 1, a.count - 2) }
               if m.transposeB { b.swapAt(b.count - 1, b.count - 2) }
               guard a[a.count - 1] == b[b.count - 2] else {
                   throw ctx.fail(.matmulMismatch(ctx.inputs[0], ctx.inputs[1], inner: a[a.count - 1], rows: b[b.count - 2]))
               }
               // Batch axes (all but the last two) broadcast as in NumPy; a matrix has none.
               let batchA = Array(a.dropLast(2)), batchB = Array(b.dropLast(2))
               var batch = batchA
               if batchA != batchB, !batchB.isEmpty {
                   guard case .success(let s) = broadcastShapes(Shape(batchA), Shape(batchB)), let dims = s.dims else {
                       throw ctx.fail(.matmulBatch(ctx.inputs[0], ctx.inputs[1]))
                   }
                   batch = dims
               }
               return TensorType(d, Shape(batch + [a[a.count - 2], b[b.count - 1]]))
           }),
    OpDecl(.conv2d, arity: .exactly(2), fusion: .outputFusable, attributes: .conv, convSpecs, defaults: .conv(ConvAttributes()),
           doc: """
           2-D cross-correlation. x [N, C, H, W], w [F, C/groups, kh, kw] → [N, F, OH, OW] with \
           OH = ⌊(H + pad_top + pad_bottom − dilation·(kh−1) − 1)/stride⌋ + 1 (likewise OW; `round` as for \
           `pool2d`, the cells a ceil-rounded last window reads past the input being zeros). `pad` is \
           [top, bottom, left, right] of zeros; `groups` splits channels (groups = C is depthwise).
           """,
           flops: { ctx in convFlops(ctx, weight: ctx.inputs[1], output: ctx.output) },
           vjp: Gradients.conv2d,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try conv2dType(ctx, x: ctx.inputs[0], w: ctx.inputs[1])
           }),
    OpDecl(.conv2d_grad_input, arity: .exactly(2), fusion: .opaque, attributes: .conv,
           convSpecs + [AttributeSpec("input_shape", "shape", "the shape of the convolution's input")],
           doc: "Gradient of conv2d with respect to its input, from (dy, w): a transposed convolution (GEMM + col2im).",
           flops: { ctx in convFlops(ctx, weight: ctx.inputs[1], output: ctx.inputs[0]) },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let x = TensorType(ctx.inputs[0].dtype, try convOperandShape(ctx))
               try checkConvGradient(ctx, x: x, w: ctx.inputs[1], dy: ctx.inputs[0])
               return x
           }),
    OpDecl(.conv2d_grad_weight, arity: .exactly(2), fusion: .opaque, attributes: .conv,
           convSpecs + [AttributeSpec("weight_shape", "shape", "the shape of the convolution's filter")],
           doc: "Gradient of conv2d with respect to its filter, from (x, dy): im2col + GEMM.",
           flops: { ctx in
               guard case .weight(let s)? = ctx.attrs.conv.operand, let w = s.knownDims else { return 0 }
               return convFlops(ctx, weight: w, output: ctx.inputs[1])
           },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let w = TensorType(ctx.inputs[0].dtype, try convOperandShape(ctx))
               try checkConvGradient(ctx, x: ctx.inputs[0], w: w, dy: ctx.inputs[1])
               return w
           }),
    OpDecl(.pool2d, arity: .exactly(1), fusion: .opaque, attributes: .pool, poolSpecs,
           doc: """
           Max, average or min pooling over kernel windows of NCHW input. Output sizes follow the \
           convolution rule with `round` = floor (default), ceil (Caffe style: the last window must \
           start inside the input or the leading padding) or exact (fractional sizes are errors). Max \
           and min ignore padding; average divides by the window cells inside the padded input \
           (`count_include_pad`, default true) or inside the input.
           """,
           properties: {
               var p = OpProperties()
               p.kink = true
               p.branch = .window
               return p
           }(),
           flops: { ctx in ctx.outputCount * ctx.attrs.pool.kernel.reduce(1, *) },
           vjp: Gradients.pool2d,
           inferType: pool2dType),
    OpDecl(.pool2d_grad, arity: .exactly(2), fusion: .opaque, attributes: .pool, poolSpecs,
           doc: "Gradient of pool2d from (x, dy): max/min route dy to the first extremal cell of each window; average spreads it evenly.",
           flops: { ctx in ctx.count(1) * ctx.attrs.pool.kernel.reduce(1, *) },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let y = try pool2dType(ShapeContext(op: .pool2d, inputs: [ctx.inputs[0]], attrs: ctx.attrs, what: ctx.what))
               guard y.shape == ctx.inputs[1].shape else {
                   throw ctx.fail(.gradientShape(expected: y, got: ctx.inputs[1], of: "pooled"))
               }
               return ctx.inputs[0]
           }),
    OpDecl(.softmax, arity: .exactly(1), fusion: .opaque, attributes: .axis, axisSpec, defaults: .axis(-1),
           doc: "e^(x − max) / Σ e^(x − max) along `axis` (default: last).",
           flops: { $0.outputCount * 5 },
           vjp: Gradients.softmax,
           inferType: softmaxType),
    OpDecl(.log_softmax, arity: .exactly(1), fusion: .opaque, attributes: .axis, axisSpec, defaults: .axis(-1),
           doc: "x − max − log Σ e^(x − max) along `axis` (default: last).",
           flops: { $0.outputCount * 5 },
           vjp: Gradients.logSoftmax,
           inferType: softmaxType),
    OpDecl(.causal_softmax, arity: .exactly(1), fusion: .opaque,
           doc: """
           Softmax over the last axis of x [..., Tq, Tk] in which row i (the query) keeps the keys \
           j ≤ i and gives the others 0: attention's causal mask (PyTorch's `is_causal`, the mask \
           aligned top-left), with no mask tensor — the kernel stops each row at its diagonal. May \
           write over x. Its gradient is `softmax_grad`, exact because the left-out keys' y is 0.
           """,
           properties: {
               var p = OpProperties()
               p.inPlace = true
               return p
           }(),
           flops: { $0.outputCount * 5 },
           vjp: Gradients.causalSoftmax,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               let d = try ctx.dims(0, role: "scores")
               guard d.count >= 2 else { throw ctx.fail(.wrongRank(role: "scores", rank: 2, type: ctx.inputs[0])) }
               return ctx.inputs[0]
           }),
    OpDecl(.softmax_grad, arity: .exactly(2), fusion: .opaque, attributes: .axis, axisSpec, defaults: .axis(-1),
           doc: "Backward of softmax from (y, dy): y·(dy − Σ dy·y).",
           flops: { $0.outputCount * 4 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[1] }),
    OpDecl(.log_softmax_grad, arity: .exactly(2), fusion: .opaque, attributes: .axis, axisSpec, defaults: .axis(-1),
           doc: "Backward of log_softmax from (y, dy): dy − e^y·Σ dy.",
           flops: { $0.outputCount * 4 },
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in ctx.inputs[1] }),
    OpDecl(.softmax_ce, arity: .exactly(2), fusion: .opaque,
           doc: "Per-row cross-entropy of logits [..., C] against target probabilities of their shape: −Σ t·log softmax(z) over C, one loss per row.",
           flops: { $0.count(0) * 6 },
           vjp: Gradients.softmaxCE,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in try crossEntropyType(ctx, sparse: false) }),
    OpDecl(.sparse_softmax_ce, arity: .exactly(2), fusion: .opaque,
           doc: """
           Per-row cross-entropy of logits [..., C] against integer labels [...] (one per row: [N] for \
           [N, C], [B, T] for a sequence model's [B, T, C]): logsumexp(z) − z[label].
           """,
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
    OpDecl(.dropout_mask, arity: .exactly(1), fusion: .opaque, attributes: .dropout,
           [AttributeSpec("rate", "float", "the probability of dropping an element, in [0, 1)"),
            AttributeSpec("stream", "int", "which dropout layer: each draws its own masks")],
           doc: """
           The inverted-dropout mask for x's shape: 1/(1−rate) with probability 1−rate, else 0. Drawn \
           from a counter-based generator keyed by the run's seed, the step and `stream`, so it is \
           reproducible and independent of threading.
           """,
           flops: { $0.outputCount },
           vjp: Gradients.none,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               let r = ctx.attrs.dropout.rate
               guard r >= 0, r < 1 else { throw ctx.fail(.dropoutRate(r)) }
               return ctx.inputs[0]
           }),
    OpDecl(.lstm_scan, arity: .atLeast(2), fusion: .opaque, attributes: .scan, scanSpecs, defaults: .scan(ScanAttributes()),
           doc: """
           An LSTM layer's recurrence over all its time steps in one kernel. xb [B, T, 4H] holds the gate \
           pre-activations from the input (x·W_ihᵀ + b_ih + b_hh), w_hh [4H, H] the recurrent weights \
           (PyTorch's weight_hh, gates i, f, g, o in that order, gate q's unit j at column q·H + j of xb), \
           and the optional h0, c0 [B, H] the state before the first step (both or neither; zeros when \
           absent). Each step computes a = xb_t + h_prev·W_hhᵀ, i = σ(a_i), f = σ(a_f), g = tanh(a_g), \
           o = σ(a_o), c = f⊙c_prev + i⊙g, h = o⊙tanh(c), for t = 0 … T−1, or T−1 … 0 with `reverse` (then \
           the previous step is t+1). The result is the tape [B, T, 6H]: for each (b, t) the 6H values h_t | \
           c_t | i_t | f_t | g_t | o_t. The layer's outputs are slices of it; the backward pass reads the \
           states and gates from it. Its gradient is `lstm_scan_grad` for xb, h0 and c0, and one matmul \
           over all steps for w_hh.
           """,
           flops: { ctx in
               // Per (b, t): the recurrent product 2·H·4H, and the cell's elementwise math.
               let x = ctx.inputs[0], h = ctx.inputs[1][1]
               return x[0] * x[1] * (8 * h * h + 20 * h)
           },
           vjp: Gradients.lstmScan,
           inferType: lstmScanType),
    OpDecl(.lstm_scan_grad, arity: .atLeast(3), fusion: .opaque, attributes: .scan, scanSpecs, defaults: .scan(ScanAttributes()),
           doc: """
           Backward of lstm_scan from (tape, w_hh, dtape[, h0, c0]), processing the steps in reverse \
           order: the gradient of the gate pre-activations, dpre [B, T, 4H] (the gradient of xb), from \
           dtape [B, T, 6H], the gradient of the loss with respect to the tape of which only the h and c \
           parts are read (the gate activations are internal to the recurrence: nothing outside it uses \
           them, and their part of dtape is ignored). dtape may also be [B, T, H], the gradient of the \
           h part alone (c's is zero): a layer whose only output is its h sequence gets dtape as \
           slice_grad(dh), and algebraic simplification passes dh itself, so the zero-filled [B, T, 6H] \
           is never written. With h0 and c0 the result is [B, T+1, 4H]: row T of \
           each batch element holds dh0 (H), dc0 (H) and 2H zeros. W_hh's gradient is not computed here \
           (lstm_scan's gradient rule makes it one matmul). A gradient op: it has no gradient rule.
           """,
           flops: { ctx in
               // Per (b, t): dh = dpre·W_hh (2·4H·H) and the cell's backward.
               let x = ctx.inputs[0], h = ctx.inputs[1][1]
               return x[0] * x[1] * (8 * h * h + 25 * h)
           },
           simplify: lstmScanGradFromDh,
           inferType: lstmScanType),
]

@Sendable func softmaxType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    try ctx.requireFloat(0)
    let d = try ctx.dims(0)
    _ = try ctx.axis(ctx.attrs.axis, rank: d.count)
    return ctx.inputs[0]
}

let scanSpecs = [
    AttributeSpec("reverse", "bool", default: "false", "run the steps from t = T−1 down to 0 (a bidirectional layer's backward direction)"),
]

/// lstm_scan_grad with dtape = slice_grad(dh) putting dh [B, T, H] into the h part of zeros
/// [B, T, 6H] reads dh instead: the same values, without writing the zeros.
@Sendable func lstmScanGradFromDh(_ ctx: SimplifyContext) -> Simplification? {
    let d = ctx.operand(2)
    guard d.op == .slice_grad, let tape = d.type.shape.dims, tape.count == 3,
          let w = ctx.operand(1).type.shape.dims, w.count == 2, let h = w[1].value, tape[2] == .known(6 * h) else { return nil }
    let a = d.attrs.slice
    guard a.starts == [0, 0, 0], a.steps == [1, 1, 1],
          ctx.graph[d.inputs[0]].type.shape == Shape([tape[0], tape[1], .known(h)]) else { return nil }
    return .node(.lstm_scan_grad, [ctx.node.inputs[0], ctx.node.inputs[1], d.inputs[0]] + ctx.node.inputs.dropFirst(3),
                 ctx.node.attrs)
}

/// lstm_scan(xb [B, T, 4H], w_hh [4H, H][, h0, c0 [B, H]]) → the tape [B, T, 6H];
/// lstm_scan_grad(tape [B, T, 6H], w_hh, dtape [B, T, 6H] or dh [B, T, H][, h0, c0]) → dpre [B, T, 4H], or
/// [B, T+1, 4H] with the initial states (their gradients in the extra row).
@Sendable func lstmScanType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    let backward = ctx.op == .lstm_scan_grad
    let fixed = backward ? 3 : 2
    guard ctx.inputs.count == fixed || ctx.inputs.count == fixed + 2 else {
        throw ctx.fail(.scanStates(count: ctx.inputs.count, op: ctx.op))
    }
    let d = try ctx.requireSameDType()
    guard d.isFloat else { throw ctx.fail(.notFloat(ctx.inputs[0], expected: "floating-point tensors")) }
    let w = try ctx.dims(1, rank: 2, role: "w_hh")
    let h = try ctx.known(w[1], "the hidden size (the columns of w_hh)")
    guard h > 0, w[0] == .known(4 * h) else {
        throw ctx.fail(.scanOperand(role: "w_hh", expected: "[4·H, H] (the four gates' rows, H its columns)", got: ctx.inputs[1]))
    }
    let role = backward ? "the tape" : "the gate pre-activations xb"
    let width = (backward ? 6 : 4) * h
    let x = try ctx.dims(0, rank: 3, role: role)
    guard x[2] == .known(width), x[1] != .known(0) else {
        throw ctx.fail(.scanOperand(role: role, expected: "[B, T, \(width)] (\(backward ? 6 : 4)·H, H = \(h) from w_hh) with T ≥ 1",
                                    got: ctx.inputs[0]))
    }
    if backward, ctx.inputs[2].shape != ctx.inputs[0].shape, ctx.inputs[2].shape != Shape([x[0], x[1], .known(h)]) {
        throw ctx.fail(.scanOperand(role: "dtape", expected: "the tape's shape \(ctx.inputs[0].shape), or [B, T, H] for h's gradient alone",
                                    got: ctx.inputs[2]))
    }
    let state = Shape([x[0], .known(h)])
    for (i, name) in [(fixed, "h0"), (fixed + 1, "c0")] where i < ctx.inputs.count && ctx.inputs[i].shape != state {
        throw ctx.fail(.scanOperand(role: name, expected: "\(state) ([B, H])", got: ctx.inputs[i]))
    }
    if !backward { return TensorType(d, Shape([x[0], x[1], .known(6 * h)])) }
    guard ctx.inputs.count > fixed else { return TensorType(d, Shape([x[0], x[1], .known(4 * h)])) }
    let steps = try ctx.known(x[1], "the step count of a scan with initial states")
    return TensorType(d, Shape([x[0], .known(steps + 1), .known(4 * h)]))
}
