import DLGGraph
import DLGSource
import Foundation

private typealias E = ElaborationDiagnostic

/// Attention, its masks and position embeddings (Docs/sequence.md, *Attention*), and the
/// sequence layout functions `where`, `reverse` and `chunk`.
enum AttentionLayers {
    static let mask = ParamSpec.optional("mask", .tensorOrNumber, nil)
    static let causal = ParamSpec.optional("causal", .bool, .bool(false))

    static let all: [Builtin] = [
        Builtin(name: "attention", role: .layer(parameters: false),
                params: [.required("q", .tensor), .required("k", .tensor), .required("v", .tensor),
                         .optional("heads", .int, .int(1)), causal, mask, Layers.name]) { e, c in
            e.attentionLayer(c)
        },
        Builtin(name: "multi_head_attention", role: .layer(parameters: true),
                params: [Layers.x, .required("heads", .int), causal, mask, Layers.bias, Layers.name]) { e, c in
            e.multiHeadAttention(c)
        },
        Builtin(name: "position_embedding", role: .layer(parameters: true),
                params: [Layers.x, .optional("kind", .word(["learned", "sinusoidal"]), .word("learned")),
                         .optional("init", .initializer, .initializer(.normal(mean: 0, std: 0.02))), Layers.name]) { e, c in
            e.positionEmbedding(c)
        },
        Builtin(name: "softmax", role: .activation,
                params: [Layers.x, .optional("axis", .int, .int(-1)), mask, causal]) { e, c in
            let layer = e.layerName(kind: "softmax", createsParameters: false)
            let out = e.withLabel(layer) { e.maskedSoftmax(c) }
            e.record(layer, kind: "softmax", output: out, params: [], at: c.range)
            return out
        },
        Builtin(name: "where", role: .op,
                params: [.required("cond", .tensorOrNumber), .required("a", .tensorOrNumber), .required("b", .tensorOrNumber)]) { e, c in
            e.whereCall(c)
        },
        Builtin(name: "reverse", role: .op, params: [Layers.x, .required("axis", .int)]) { e, c in
            let t = c.tensor("x")!
            guard e.checkAxes([c.int("axis")!], of: t, c, argument: "axis") else { return .poison }
            return e.emit(.reverse, [t], .axis(c.int("axis")!), at: c.range, what: "reverse")
        },
        Builtin(name: "chunk", role: .op,
                params: [Layers.x, .required("chunks", .int), .required("index", .int), .optional("axis", .int, .int(-1))]) { e, c in
            e.chunk(c)
        },
    ]
}

extension Elaborator {
    /// chunk(x, n, i, axis:): the i-th of n equal pieces of x along `axis` (PyTorch's
    /// torch.chunk(x, n, axis)[i] when n divides the axis).
    func chunk(_ c: BoundCall) -> Value {
        let t = c.tensor("x")!
        let type = graph[t].type
        let (n, i, axis) = (c.int("chunks")!, c.int("index")!, c.int("axis")!)
        guard checkAxes([axis], of: t, c, argument: "axis") else { return .poison }
        guard n > 0 else {
            diagnostics.report(E.positiveCount(layer: "chunk", argument: "chunks", got: n), at: c.range(of: "chunks"))
            return .poison
        }
        guard let dims = type.dims, case .known(let size) = dims[axis < 0 ? axis + dims.count : axis], size % n == 0 else {
            diagnostics.report(E.sequenceInput(kind: "chunk", layer: "chunk", role: "input",
                                               expected: "a tensor whose axis \(axis) has a known size divisible by \(n)", type: type),
                               at: c.range(of: "x"))
            return .poison
        }
        guard i >= 0, i < n else {
            diagnostics.report(E.sequenceInput(kind: "chunk", layer: "chunk", role: "index", expected: "in 0..<\(n)", type: type),
                               at: c.range(of: "index"))
            return .poison
        }
        let piece = size / n
        return slice(t, axis: axis, start: i * piece, end: (i + 1) * piece, step: 1, call: c)
    }

    /// where(cond, a, b): the three broadcast to one shape, then one `where` op.
    func whereCall(_ c: BoundCall) -> Value {
        let dtype: DType = {
            if case .tensor(let t)? = c.value("a") { return graph[t].type.dtype }
            if case .tensor(let t)? = c.value("b") { return graph[t].type.dtype }
            if case .tensor(let t)? = c.value("cond"), graph[t].type.dtype.isFloat { return graph[t].type.dtype }
            return modelFloatType
        }()
        // A literal condition takes the values' type.
        guard let cond = tensorOperand(c.value("cond")!, dtype: dtype, at: c.range(of: "cond")),
              let a = tensorOperand(c.value("a")!, dtype: dtype, at: c.range(of: "a")),
              let b = tensorOperand(c.value("b")!, dtype: dtype, at: c.range(of: "b")) else { return .poison }
        return select(cond, a, b, at: c.range)
    }

    /// where(cond, a, b) after broadcasting the three operands to one shape.
    func select(_ cond: ValueID, _ a: ValueID, _ b: ValueID, at range: SourceRange) -> Value {
        var target = graph[a].type.shape
        for t in [cond, b] {
            switch broadcastShapes(target, graph[t].type.shape) {
            case .success(let s): target = s
            case .failure(let m):
                diagnostics.report(ShapeDiagnostic(ShapeError(.broadcastMismatch(graph[t].type, graph[a].type, reason: m.reason),
                                                              what: "where")), at: range)
                return .poison
            }
        }
        var ops: [ValueID] = []
        for var t in [cond, a, b] {
            if graph[t].type.shape == target { ops.append(t); continue }
            // Broadcasting copies elements of the values' type: an i32 condition is converted first.
            if graph[t].type.dtype != graph[a].type.dtype {
                guard let f = emitID(.cast, [t], .dtype(graph[a].type.dtype), at: range, what: "where") else { return .poison }
                t = f
            }
            guard let s = emitID(.broadcast_to, [t], .shape(target), at: range, what: "where") else { return .poison }
            ops.append(s)
        }
        return emit(.where, ops, at: range, what: "where")
    }

    /// softmax(x, axis:, mask:, causal:): `mask` keeps the entries where it is nonzero (the others
    /// take the type's lowest finite value, so they get probability 0 unless a whole row is
    /// masked); `causal` keeps keys j ≤ i along the last axis without a mask tensor.
    func maskedSoftmax(_ c: BoundCall) -> Value {
        var x = c.tensor("x")!
        let axis = c.int("axis")!
        guard checkAxes([axis], of: x, c, argument: "axis") else { return .poison }
        if let v = c.value("mask") {
            guard let m = tensorOperand(v, dtype: graph[x].type.dtype, at: c.range(of: "mask")),
                  case .tensor(let masked) = applyMask(x, m, at: c.range) else { return .poison }
            x = masked
        }
        if c.bool("causal")! {
            let r = graph[x].type.rank ?? 0
            guard axis == -1 || axis == r - 1 else {
                diagnostics.report(E.sequenceInput(kind: "softmax", layer: "softmax", role: "axis of a causal softmax",
                                                   expected: "the last axis (keys)", type: graph[x].type), at: c.range(of: "axis"))
                return .poison
            }
            return emit(.causal_softmax, [x], at: c.range, what: "softmax")
        }
        return emit(.softmax, [x], .axis(axis), at: c.range, what: "softmax")
    }

    /// The `mask:` argument as a tensor of x's type when it is a literal: .some(nil) when there is
    /// none, nil after an error.
    func maskArgument(_ c: BoundCall, like x: ValueID) -> ValueID?? {
        guard let v = c.value("mask") else { return .some(nil) }
        guard let m = tensorOperand(v, dtype: graph[x].type.dtype, at: c.range(of: "mask")) else { return nil }
        return .some(m)
    }

    /// x where the mask is nonzero, the lowest finite value of x's type elsewhere.
    func applyMask(_ x: ValueID, _ m: ValueID, at range: SourceRange) -> Value {
        let dtype = graph[x].type.dtype
        let lowest = dtype == .f64 ? -Double.greatestFiniteMagnitude : -Double(Float.greatestFiniteMagnitude)
        return select(m, x, scalar(lowest, like: x, at: range), at: range)
    }

    /// Scaled dot-product attention of q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] with `heads`
    /// heads: each head's softmax(q_h k_hᵀ / √(D/heads)) v_h, the heads joined → [B, Tq, Dv].
    func attentionLayer(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "attention", createsParameters: false, explicit: explicitName(c))
        let q = c.tensor("q")!
        let out: Value = withLabel(layer) {
            guard let mask = maskArgument(c, like: q) else { return .poison }
            return scaledDotProductAttention(q: q, k: c.tensor("k")!, v: c.tensor("v")!, heads: c.int("heads")!,
                                             causal: c.bool("causal")!, mask: mask, layer: layer, c)
        }
        record(layer, kind: "attention", output: out, params: [], at: c.range)
        return out
    }

    func scaledDotProductAttention(q: ValueID, k: ValueID, v: ValueID, heads: Int, causal: Bool, mask: ValueID?,
                                   layer: String, _ c: BoundCall) -> Value {
        let what = "attention '\(layer)'"
        let rg = c.range
        func op(_ o: Op, _ i: [ValueID], _ a: Attributes = Attributes()) -> ValueID? { emitID(o, i, a, at: rg, what: what) }
        guard heads > 0 else {
            diagnostics.report(E.positiveCount(layer: "attention", argument: "heads", got: heads), at: c.range(of: "heads"))
            return .poison
        }
        // [B, T, F] with F known and divisible by the heads.
        func parts(_ t: ValueID, _ role: String) -> (Dim, Dim, Int)? {
            let type = graph[t].type
            guard type.dtype.isFloat, let d = type.dims, d.count == 3, case .known(let f) = d[2], f % heads == 0 else {
                diagnostics.report(E.sequenceInput(kind: "attention", layer: layer, role: role,
                                                   expected: "a floating-point tensor [batch, time, features] with its features a known multiple of \(heads) heads",
                                                   type: type), at: c.range(of: role))
                return nil
            }
            return (d[0], d[1], f)
        }
        guard case let (b, tq, dq)? = parts(q, "q"), case let (_, tk, dk)? = parts(k, "k"), case let (_, tv, dv)? = parts(v, "v") else {
            return .poison
        }
        guard dq == dk, tk == tv else {
            diagnostics.report(E.sequenceInput(kind: "attention", layer: layer, role: "k",
                                               expected: "q's features (\(dq)) and v's time steps (\(tv))", type: graph[k].type),
                               at: c.range(of: "k"))
            return .poison
        }
        let dh = dq / heads, dvh = dv / heads
        /// [B, T, F] → [B, heads, T, F/heads].
        func split(_ t: ValueID, _ time: Dim, _ f: Int) -> ValueID? {
            if heads == 1 { return op(.reshape, [t], .shape(Shape([b, .known(1), time, .known(f)]))) }
            return op(.reshape, [t], .shape(Shape([b, time, .known(heads), .known(f / heads)])))
                .flatMap { op(.transpose, [$0], .perm([0, 2, 1, 3])) }
        }
        let scale = 1 / Double(dh).squareRoot()
        guard let qs = op(.mul, [q, scalar(scale, like: q, at: rg)]),
              let qh = split(qs, tq, dq), let kh = split(k, tk, dk), let vh = split(v, tv, dv) else { return .poison }
        if isStepping {
            guard case .tensor(let o) = stepAttention(qh: qh, kh: kh, vh: vh, batch: b, heads: heads, dh: dh, dvh: dvh,
                                                     causal: causal, mask: mask, layer: layer, c) else { return .poison }
            if heads == 1 { return emit(.reshape, [o], .shape(Shape([b, tq, .known(dvh)])), at: rg, what: what) }
            guard let joined = op(.transpose, [o], .perm([0, 2, 1, 3])) else { return .poison }
            return emit(.reshape, [joined], .shape(Shape([b, tq, .known(dv)])), at: rg, what: what)
        }
        guard var scores = op(.matmul, [qh, kh], .matmul(MatmulAttributes(transposeB: true))) else { return .poison }
        if let mask {
            // A mask [Tq, Tk], [B, Tq, Tk] or [B, heads, Tq, Tk] (broadcast over what it lacks); a
            // rank-3 mask is per example, for every head.
            var m = mask
            if graph[m].type.rank == 3, let md = graph[m].type.dims {
                guard let r = op(.reshape, [m], .shape(Shape([md[0], .known(1), md[1], md[2]]))) else { return .poison }
                m = r
            }
            guard case .tensor(let s) = applyMask(scores, m, at: rg) else { return .poison }
            scores = s
        }
        guard let p = causal ? op(.causal_softmax, [scores]) : op(.softmax, [scores], .axis(-1)),
              let o = op(.matmul, [p, vh]) else { return .poison }
        if heads == 1 { return emit(.reshape, [o], .shape(Shape([b, tq, .known(dvh)])), at: rg, what: what) }
        guard let joined = op(.transpose, [o], .perm([0, 2, 1, 3])) else { return .poison }
        return emit(.reshape, [joined], .shape(Shape([b, tq, .known(dv)])), at: rg, what: what)
    }

    /// Attention for one token per call (step mode, Docs/sequence.md): the keys and values of
    /// every position so far are carried from call to call in caches [B, heads, L, ·] of the
    /// model's full length L (states `LAYER.k_cache`, `LAYER.v_cache`); the call's k and v are
    /// written at the token's position, and its query attends to the positions up to it
    /// (the later ones, not yet written, are masked). q_h, k_h, v_h are [B, heads, 1, ·].
    func stepAttention(qh: ValueID, kh: ValueID, vh: ValueID, batch b: Dim, heads: Int, dh: Int, dvh: Int,
                       causal: Bool, mask: ValueID?, layer: String, _ c: BoundCall) -> Value {
        let what = "attention '\(layer)'"
        let rg = c.range
        func op(_ o: Op, _ i: [ValueID], _ a: Attributes = Attributes()) -> ValueID? { emitID(o, i, a, at: rg, what: what) }
        guard causal, mask == nil else {
            refuseStepping(what, because: mask != nil ? "a mask is given for the whole sequence; step mode masks the positions not yet generated itself"
                                                      : "without causal: true each position attends to later ones, which a step does not have yet",
                           at: c.range(of: mask != nil ? "mask" : "causal"))
            return .poison
        }
        guard graph[qh].type.dims?[2] == .known(1), graph[kh].type.dims?[2] == .known(1),
              let length = stepping?.interface.length, length >= 1 else {
            refuseStepping(what, because: "step mode attends from one token to the earlier ones of its own sequence (self-attention of the token input's positions)",
                           at: rg)
            return .poison
        }
        limitStepPositions(length)
        let dtype = graph[qh].type.dtype
        guard let position = stepPosition(at: rg),
              let kCache = carriedState(layer: layer, input: "k_cache", output: "k_cache_out",
                                        type: TensorType(dtype, Shape([b, .known(heads), .known(length), .known(dh)])), at: rg),
              let vCache = carriedState(layer: layer, input: "v_cache", output: "v_cache_out",
                                        type: TensorType(dtype, Shape([b, .known(heads), .known(length), .known(dvh)])), at: rg),
              // [B, 1, L, 1]: 1 at the token's position.
              let hot = op(.one_hot, [position], .oneHot(OneHotAttributes(classes: length, dtype: dtype))),
              let slot = op(.reshape, [hot], .shape(Shape([b, .known(1), .known(length), .known(1)]))),
              case .tensor(let keys) = select(slot, kh, kCache, at: rg),
              case .tensor(let values) = select(slot, vh, vCache, at: rg) else { return .poison }
        carryOut(input: "\(layer).k_cache", value: keys, at: rg)
        carryOut(input: "\(layer).v_cache", value: values, at: rg)
        // Keys j ≤ position take part: [B, 1, 1, L].
        let steps = constant(TensorLiteral(shape: [length], values: (0..<length).map(Double.init)), dtype: dtype, at: rg)
        guard let scores = op(.matmul, [qh, keys], .matmul(MatmulAttributes(transposeB: true))),
              let pf = op(.cast, [position], .dtype(dtype)),
              let p4 = op(.reshape, [pf], .shape(Shape([b, .known(1), .known(1), .known(1)]))),
              let keep = op(.greater_equal, [p4, steps]),
              case .tensor(let masked) = applyMask(scores, keep, at: rg),
              let p = op(.softmax, [masked], .axis(-1)) else { return .poison }
        return emit(.matmul, [p, values], at: rg, what: what)
    }

    /// Self-attention over x [B, T, D] with PyTorch's nn.MultiheadAttention parameters:
    /// `in_proj_weight` [3D, D] (the q, k and v projections stacked, rows in that order),
    /// `in_proj_bias` [3D], `out_proj.weight` [D, D], `out_proj.bias` [D]; y = x·Wᵀ + b for
    /// each projection.
    func multiHeadAttention(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "multi_head_attention", createsParameters: true, explicit: explicitName(c))
        let x = c.tensor("x")!
        let type = graph[x].type
        let heads = c.int("heads")!
        guard heads > 0 else {
            diagnostics.report(E.positiveCount(layer: "multi_head_attention", argument: "heads", got: heads), at: c.range(of: "heads"))
            return .poison
        }
        guard type.dtype.isFloat, let d = type.dims, d.count == 3, case .known(let f) = d[2], f % heads == 0 else {
            diagnostics.report(E.sequenceInput(kind: "multi_head_attention", layer: layer, role: "input",
                                               expected: "a floating-point tensor [batch, time, features] with its features a known multiple of \(heads) heads",
                                               type: type), at: c.range(of: "x"))
            return .poison
        }
        guard checkElementCount(TensorType(type.dtype, [3 * f, f]), "the weights of multi_head_attention '\(layer)'", at: c.range) else {
            return .poison
        }
        let bias = c.bool("bias")!
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            let what = "multi_head_attention '\(layer)'"
            let rg = c.range
            func op(_ o: Op, _ i: [ValueID], _ a: Attributes = Attributes()) -> ValueID? { emitID(o, i, a, at: rg, what: what) }
            // PyTorch: in_proj_weight xavier_uniform, biases 0, out_proj.weight U(±1/√D).
            let win = makeParam(layer, "in_proj_weight", dtype: type.dtype, shape: [3 * f, f], initializer: .xavierUniform,
                                fanIn: f, fanOut: 3 * f, at: rg)
            params.append(win)
            guard var qkv = op(.matmul, [x, win], .matmul(MatmulAttributes(transposeB: true))) else { return .poison }
            if bias {
                let bin = makeParam(layer, "in_proj_bias", dtype: type.dtype, shape: [3 * f], initializer: .zeros, fanIn: f,
                                    fanOut: 3 * f, at: rg)
                params.append(bin)
                guard let y = op(.bias_add, [qkv, bin], .axis(2)) else { return .poison }
                qkv = y
            }
            func part(_ i: Int) -> ValueID? {
                op(.slice, [qkv], .slice(SliceAttributes(starts: [0, 0, i * f], ends: [Int.max, Int.max, (i + 1) * f], steps: [1, 1, 1])))
            }
            guard let mask = maskArgument(c, like: x), let q = part(0), let k = part(1), let v = part(2),
                  case .tensor(let a) = scaledDotProductAttention(q: q, k: k, v: v, heads: heads, causal: c.bool("causal")!,
                                                                  mask: mask, layer: layer, c) else { return .poison }
            let wout = makeParam(layer, "out_proj.weight", dtype: type.dtype, shape: [f, f], initializer: .uniformFanIn,
                                 fanIn: f, fanOut: f, at: rg)
            params.append(wout)
            guard let y = op(.matmul, [a, wout], .matmul(MatmulAttributes(transposeB: true))) else { return .poison }
            guard bias else { return .tensor(y) }
            let bout = makeParam(layer, "out_proj.bias", dtype: type.dtype, shape: [f], initializer: .zeros, fanIn: f, fanOut: f,
                                 at: rg)
            params.append(bout)
            return emit(.bias_add, [y, bout], .axis(2), at: rg, what: what)
        }
        record(layer, kind: "multi_head_attention", output: out, params: params, at: c.range)
        return out
    }

    /// x [B, T, D] plus a position's vector at each step: a learned table `weight` [T, D]
    /// (initialized N(0, 0.02²), GPT-2's), or the sinusoids of "Attention is all you need",
    /// PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(t / 10000^(2i/D)) (no parameters).
    func positionEmbedding(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "position_embedding", createsParameters: c.word("kind")! == "learned", explicit: explicitName(c))
        let x = c.tensor("x")!
        let type = graph[x].type
        guard type.dtype.isFloat, let d = type.dims, d.count == 3, case .known(var steps) = d[1], case .known(let f) = d[2] else {
            diagnostics.report(E.sequenceInput(kind: "position_embedding", layer: layer, role: "input",
                                               expected: "a floating-point tensor [batch, time, features] with known time and features",
                                               type: type), at: c.range(of: "x"))
            return .poison
        }
        // Step mode: one position per call, the table of the model's full length, indexed by the
        // token's position.
        var position: ValueID? = nil
        if isStepping {
            guard steps == 1, let length = stepping?.interface.length, let p = stepPosition(at: c.range) else {
                refuseStepping("position_embedding '\(layer)'", because: "step mode adds the embedding of the token input's position, one per call",
                               at: c.range)
                return .poison
            }
            steps = length
            position = p
            limitStepPositions(length)
        }
        guard checkElementCount(TensorType(type.dtype, [steps, f]), "the table of position_embedding '\(layer)'", at: c.range) else {
            return .poison
        }
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            let what = "position_embedding '\(layer)'"
            let table: ValueID
            if c.word("kind")! == "learned" {
                let winit = c.initializer("init")!
                guard checkInitializer(winit, shape: [steps, f], what: "init of position_embedding '\(layer)'", at: c.range(of: "init")) else {
                    return .poison
                }
                table = makeParam(layer, "weight", dtype: type.dtype, shape: [steps, f], initializer: winit, fanIn: steps, fanOut: f,
                                  at: c.range)
                params.append(table)
            } else {
                table = constant(Self.sinusoids(steps: steps, features: f), dtype: type.dtype, at: c.range)
            }
            if let position {
                // The position's row, [B, 1, D].
                guard let row = emitID(.gather, [table, position], at: c.range, what: what) else { return .poison }
                return emit(.add, [x, row], at: c.range, what: what)
            }
            return emit(.add, [x, table], at: c.range, what: what)
        }
        record(layer, kind: "position_embedding", output: out, params: params, at: c.range)
        return out
    }

    /// The sinusoidal position table [steps, features].
    static func sinusoids(steps: Int, features: Int) -> TensorLiteral {
        var values = [Double](repeating: 0, count: steps * features)
        for t in 0..<steps {
            for j in 0..<features {
                let i = j / 2
                let angle = Double(t) / Foundation.pow(10000, Double(2 * i) / Double(features))
                values[t * features + j] = j % 2 == 0 ? Foundation.sin(angle) : Foundation.cos(angle)
            }
        }
        return TensorLiteral(shape: [steps, features], values: values)
    }
}
