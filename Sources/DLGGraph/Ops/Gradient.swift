import DLGSource

/// A gradient rule (vector–Jacobian product): given the forward node and the
/// gradient `dy` of the loss with respect to its output, emit IR ops that
/// compute the gradient with respect to each operand (nil where an operand
/// gets none). Rules only compute what `emitter.needs(i)` asks for.
public typealias VJPRule = @Sendable (inout GradientEmitter, Node, ValueID) throws(ShapeError) -> [ValueID?]

/// Builds backward ops for one forward node: every emitted value records the
/// forward value and rule it came from, and takes the forward node's source location.
public struct GradientEmitter {
    public var graph: Graph
    public var forward: Node
    public var needsGradient: [Bool]
    public var rule: String

    public init(graph: Graph, forward: Node, needsGradient: [Bool], rule: String) {
        self.graph = graph
        self.forward = forward
        self.needsGradient = needsGradient
        self.rule = rule
    }

    public func needs(_ i: Int) -> Bool { needsGradient[i] }
    public func type(_ v: ValueID) -> TensorType { graph[v].type }
    public var output: ValueID { forward.id }
    public func input(_ i: Int) -> ValueID { forward.inputs[i] }

    public mutating func emit(_ op: Op, _ inputs: [ValueID], _ attrs: Attributes = Attributes()) throws(ShapeError) -> ValueID {
        try graph.add(op, inputs, attrs, loc: forward.loc, label: forward.label,
                      origin: GradientOrigin(forward: forward.id, rule: rule))
    }

    public mutating func scalar(_ v: Double, like t: ValueID) -> ValueID {
        let id = graph.addConstant(.scalar(v), dtype: graph[t].type.dtype, loc: forward.loc)
        graph[id].origin = GradientOrigin(forward: forward.id, rule: rule)
        return id
    }

    /// The backward of broadcasting: sum `g` over the axes where `target`
    /// was stretched, then drop the leading axes it lacked.
    public mutating func unbroadcast(_ g: ValueID, to target: TensorType) throws(ShapeError) -> ValueID {
        let gt = graph[g].type
        if gt.shape == target.shape { return g }
        guard let gd = gt.dims, let td = target.dims else {
            throw ShapeError(.unbroadcastUnknownRank(gt, target))
        }
        let lead = gd.count - td.count
        var axes = Array(0..<lead)
        for (i, d) in td.enumerated() where d == .known(1) && gd[lead + i] != .known(1) { axes.append(lead + i) }
        var r = g
        if !axes.isEmpty {
            r = try emit(.reduce_sum, [g], .reduce(ReduceAttributes(axes: axes, keepdims: true)))
        }
        if graph[r].type.shape != target.shape {
            r = try emit(.reshape, [r], .shape(target.shape))
        }
        return r
    }
}

/// Gradient rules of the primitives, referenced by their declarations.
public enum Gradients {
    /// Elementwise functions: dx = unary_grad(x, y, dy){fn}. Where f′ reads only
    /// y = f(x) (relu: y > 0 ⟺ x > 0; exp, sigmoid, tanh), y takes x's place too, so x
    /// need not be kept (it can be fused into its producer); where f′ reads only x
    /// (square: 2x) or neither, x takes y's place, so y need not be kept (a square
    /// feeding only a reduction, a variance, then fuses into it).
    public static let unary: VJPRule = { e, n, g throws(ShapeError) in
        guard let f = UnaryFunction(n.op, alpha: n.attrs.alpha) else { throw ShapeError(.notUnaryFunction(n.op)) }
        let reads = f.info.derivative
        let x = reads == .output ? n.id : n.inputs[0]
        let y = reads == .input || reads == .neither ? n.inputs[0] : n.id
        return [try e.emit(.unary_grad, [x, y, g], .unaryGrad(f))]
    }

    public static let identity: VJPRule = { _, _, g throws(ShapeError) in [g] }
    public static let none: VJPRule = { _, n, _ throws(ShapeError) in n.inputs.map { _ in nil } }

    public static let add: VJPRule = { e, n, g throws(ShapeError) in
        [e.needs(0) ? try e.unbroadcast(g, to: e.type(n.inputs[0])) : nil,
         e.needs(1) ? try e.unbroadcast(g, to: e.type(n.inputs[1])) : nil]
    }

    public static let sub: VJPRule = { e, n, g throws(ShapeError) in
        var db: ValueID? = nil
        if e.needs(1) { db = try e.unbroadcast(try e.emit(.neg, [g]), to: e.type(n.inputs[1])) }
        return [e.needs(0) ? try e.unbroadcast(g, to: e.type(n.inputs[0])) : nil, db]
    }

    public static let mul: VJPRule = { e, n, g throws(ShapeError) in
        let (a, b) = (n.inputs[0], n.inputs[1])
        var da: ValueID? = nil, db: ValueID? = nil
        if e.needs(0) { da = try e.unbroadcast(try e.emit(.mul, [g, b]), to: e.type(a)) }
        if e.needs(1) { db = try e.unbroadcast(try e.emit(.mul, [g, a]), to: e.type(b)) }
        return [da, db]
    }

    /// d(a/b) = dy/b, −dy·(a/b)/b.
    public static let div: VJPRule = { e, n, g throws(ShapeError) in
        let (a, b) = (n.inputs[0], n.inputs[1])
        let gOverB = try e.emit(.div, [g, b])
        var db: ValueID? = nil
        if e.needs(1) {
            let t = try e.emit(.mul, [gOverB, n.id])
            db = try e.unbroadcast(try e.emit(.neg, [t]), to: e.type(b))
        }
        return [e.needs(0) ? try e.unbroadcast(gOverB, to: e.type(a)) : nil, db]
    }

    /// d(aᵇ) = dy·b·aᵇ⁻¹, dy·aᵇ·log a.
    public static let pow: VJPRule = { e, n, g throws(ShapeError) in
        let (a, b) = (n.inputs[0], n.inputs[1])
        var da: ValueID? = nil, db: ValueID? = nil
        if e.needs(0) {
            let bm1 = try e.emit(.sub, [b, e.scalar(1, like: b)])
            let p = try e.emit(.pow, [a, bm1])
            da = try e.unbroadcast(try e.emit(.mul, [try e.emit(.mul, [g, b]), p]), to: e.type(a))
        }
        if e.needs(1) {
            let l = try e.emit(.log, [a])
            db = try e.unbroadcast(try e.emit(.mul, [try e.emit(.mul, [g, n.id]), l]), to: e.type(b))
        }
        return [da, db]
    }

    /// The gradient goes to the larger operand (to `a` on ties).
    public static let maximum: VJPRule = { e, n, g throws(ShapeError) in
        try selectGradient(&e, n, g, firstWins: .greater_equal)
    }

    /// The gradient goes to the smaller operand (to `a` on ties).
    public static let minimum: VJPRule = { e, n, g throws(ShapeError) in
        try selectGradient(&e, n, g, firstWins: .greater_equal, swapped: true)
    }

    static func selectGradient(_ e: inout GradientEmitter, _ n: Node, _ g: ValueID, firstWins: Op,
                               swapped: Bool = false) throws(ShapeError) -> [ValueID?] {
        let (a, b) = (n.inputs[0], n.inputs[1])
        // mask = 1 where a is chosen: a ≥ b for maximum, b ≥ a for minimum.
        let mask = try e.emit(firstWins, swapped ? [b, a] : [a, b])
        var da: ValueID? = nil, db: ValueID? = nil
        if e.needs(0) { da = try e.unbroadcast(try e.emit(.mul, [g, mask]), to: e.type(a)) }
        if e.needs(1) {
            let inv = try e.emit(.sub, [e.scalar(1, like: mask), mask])
            db = try e.unbroadcast(try e.emit(.mul, [g, inv]), to: e.type(b))
        }
        return [da, db]
    }

    public static let biasAdd: VJPRule = { e, n, g throws(ShapeError) in
        var db: ValueID? = nil
        if e.needs(1) {
            let r = e.type(n.id).rank ?? 0
            let axis = n.attrs.axis
            let ax = axis < 0 ? axis + r : axis
            db = try e.emit(.reduce_sum, [g], .reduce(ReduceAttributes(axes: (0..<r).filter { $0 != ax })))
        }
        return [e.needs(0) ? g : nil, db]
    }

    /// Reshape dy to the kept-dims shape, then broadcast back over the reduced axes.
    static func spread(_ e: inout GradientEmitter, _ n: Node, _ g: ValueID) throws(ShapeError) -> ValueID {
        let x = e.type(n.inputs[0])
        guard let dims = x.dims else { throw ShapeError(.reductionUnknownRank(x)) }
        let axes = reducedAxes(n, rank: dims.count)
        var kept = dims
        for a in axes { kept[a] = .known(1) }
        var r = g
        if e.type(g).shape != Shape(kept) { r = try e.emit(.reshape, [g], .shape(Shape(kept))) }
        return try e.emit(.broadcast_to, [r], .shape(x.shape))
    }

    static func reducedAxes(_ n: Node, rank: Int) -> [Int] { n.attrs.reduce.normalizedAxes(rank: rank) }

    public static let reduceSum: VJPRule = { e, n, g throws(ShapeError) in [try spread(&e, n, g)] }

    /// dy/count spread over the reduced axes; a symbolic count is computed at run time.
    public static let reduceMean: VJPRule = { e, n, g throws(ShapeError) in
        let x = e.type(n.inputs[0])
        let axes = reducedAxes(n, rank: x.rank ?? 0)
        let dims = axes.map { x.dims![$0] }
        let scaled: ValueID
        if dims.allSatisfy({ $0.value != nil }) {
            let count = dims.reduce(1) { $0 * $1.value! }
            scaled = try e.emit(.mul, [g, e.scalar(1 / Double(count), like: g)])
        } else {
            let size = try e.emit(.axis_size, [n.inputs[0]], .axes(axes))
            scaled = try e.emit(.div, [g, size])
        }
        return [try spread(&e, n, scaled)]
    }

    public static let reduceMax: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.reduce_max_grad, [n.inputs[0], g], n.attrs)]
    }
    public static let reduceMin: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.reduce_min_grad, [n.inputs[0], g], n.attrs)]
    }

    public static let reshape: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.reshape, [g], .shape(e.type(n.inputs[0]).shape))]
    }

    public static let transpose: VJPRule = { e, n, g throws(ShapeError) in
        let perm = n.attrs.perm
        var inverse = Array(repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return [try e.emit(.transpose, [g], .perm(inverse))]
    }

    public static let broadcastTo: VJPRule = { e, n, g throws(ShapeError) in
        [try e.unbroadcast(g, to: e.type(n.inputs[0]))]
    }

    /// Each operand's gradient is its slice of dy along the axis.
    public static let concat: VJPRule = { e, n, g throws(ShapeError) in
        let r = e.type(n.id).rank ?? 0
        let axis = n.attrs.axis < 0 ? n.attrs.axis + r : n.attrs.axis
        var offset = 0
        var out: [ValueID?] = []
        for (i, x) in n.inputs.enumerated() {
            let size = e.type(x).dims?[axis].value ?? 0
            if e.needs(i) {
                var starts = Array(repeating: 0, count: r), ends = Array(repeating: Int.max, count: r)
                starts[axis] = offset
                ends[axis] = offset + size
                out.append(try e.emit(.slice, [g], .slice(SliceAttributes(starts: starts, ends: ends,
                                                                           steps: Array(repeating: 1, count: r)))))
            } else {
                out.append(nil)
            }
            offset += size
        }
        return out
    }

    public static let slice: VJPRule = { e, n, g throws(ShapeError) in
        var a = n.attrs.slice
        a.inputShape = e.type(n.inputs[0]).shape
        return [try e.emit(.slice_grad, [g], .slice(a))]
    }

    public static let pad: VJPRule = { e, n, g throws(ShapeError) in
        var a = n.attrs.pad
        a.inputShape = e.type(n.inputs[0]).shape
        return [try e.emit(.pad_grad, [g], .pad(a))]
    }

    /// d table = scatter-add of dy into the table's rows; the indices get none.
    public static let gather: VJPRule = { e, n, g throws(ShapeError) in
        guard e.needs(0) else { return [nil, nil] }
        return [try e.emit(.gather_grad, [n.inputs[1], g], .shape(e.type(n.inputs[0]).shape)), nil]
    }

    public static let cast: VJPRule = { e, n, g throws(ShapeError) in
        let from = e.type(n.inputs[0]).dtype
        guard from.isFloat else { return [nil] }
        if from == e.type(g).dtype { return [g] }
        return [try e.emit(.cast, [g], .dtype(from))]
    }

    /// C = op(A)·op(B); see Docs/ir.md for the four transpose cases. With broadcast batch axes
    /// each product has the output's batch axes and is summed over those the operand lacked.
    public static let matmul: VJPRule = { e, n, g throws(ShapeError) in
        let (a, b) = (n.inputs[0], n.inputs[1])
        let ta = n.attrs.matmul.transposeA, tb = n.attrs.matmul.transposeB
        func mm(_ x: ValueID, _ y: ValueID, _ tx: Bool, _ ty: Bool) throws(ShapeError) -> ValueID {
            try e.emit(.matmul, [x, y], .matmul(MatmulAttributes(transposeA: tx, transposeB: ty)))
        }
        var da: ValueID? = nil, db: ValueID? = nil
        let ra = e.type(a).rank ?? 2, rb = e.type(b).rank ?? 2
        if e.needs(0) {
            switch (ta, tb) {
            case (false, false): da = try mm(g, b, false, true)
            case (false, true): da = try mm(g, b, false, false)
            case (true, false) where ra > 2 && rb == 2, (true, true) where ra > 2 && rb == 2:
                // A batched and stored transposed, B shared: dAᵀ = G·op(B)ᵀ per batch
                // (matmul cannot put the unbatched B on the left of a batched G).
                let dAt = try mm(g, b, false, !tb)
                var perm = Array(0..<ra)
                perm.swapAt(ra - 1, ra - 2)
                da = try e.emit(.transpose, [dAt], .perm(perm))
            case (true, false): da = try mm(b, g, false, true)
            case (true, true): da = try mm(b, g, true, true)
            }
            // Batch axes a was broadcast on are summed away.
            da = try e.unbroadcast(da!, to: e.type(a))
        }
        if e.needs(1) {
            var d: ValueID
            if ra > 2 && rb == 2, !ta, let ad = e.type(a).shape.knownDims, let gd = e.type(g).shape.knownDims {
                // A batched and not transposed, B shared: the sum over the batch axes of the
                // per-batch Aᵀ·G is one product whose contraction runs over batch and rows
                // together (A as [N, K], G as [N, M]) — one GEMM with a long k instead of a
                // batched GEMM and a reduction.
                let n = ad.dropLast().reduce(1, *)
                let a2 = try e.emit(.reshape, [a], .shape(Shape([.known(n), .known(ad[ra - 1])])))
                let g2 = try e.emit(.reshape, [g], .shape(Shape([.known(n), .known(gd[gd.count - 1])])))
                d = tb ? try mm(g2, a2, true, false) : try mm(a2, g2, true, false)
            } else if ra > 2 && rb == 2 {
                // A batched, B shared: per-batch products summed over the batch axes.
                let perBatch: ValueID
                switch (ta, tb) {
                case (false, false): perBatch = try mm(a, g, true, false)
                case (false, true): perBatch = try mm(g, a, true, false)
                case (true, false): perBatch = try mm(a, g, false, false)
                case (true, true): perBatch = try mm(g, a, true, true)
                }
                d = try e.emit(.reduce_sum, [perBatch], .reduce(ReduceAttributes(axes: Array(0..<(ra - 2)))))
            } else {
                switch (ta, tb) {
                case (false, false): d = try mm(a, g, true, false)
                case (false, true): d = try mm(g, a, true, false)
                case (true, false): d = try mm(a, g, false, false)
                case (true, true): d = try mm(g, a, true, true)
                }
            }
            db = try e.unbroadcast(d, to: e.type(b))
        }
        return [da, db]
    }

    public static let conv2d: VJPRule = { e, n, g throws(ShapeError) in
        let (x, w) = (n.inputs[0], n.inputs[1])
        // The gradients keep every attribute of the forward convolution, its rounding included.
        var dx: ValueID? = nil, dw: ValueID? = nil
        if e.needs(0) {
            var a = n.attrs.conv
            a.operand = .input(e.type(x).shape)
            dx = try e.emit(.conv2d_grad_input, [g, w], .conv(a))
        }
        if e.needs(1) {
            var a = n.attrs.conv
            a.operand = .weight(e.type(w).shape)
            dw = try e.emit(.conv2d_grad_weight, [x, g], .conv(a))
        }
        return [dx, dw]
    }

    public static let pool2d: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.pool2d_grad, [n.inputs[0], g], n.attrs)]
    }

    public static let softmax: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.softmax_grad, [n.id, g], n.attrs)]
    }
    /// The left-out keys have y = 0, so softmax's backward y·(dy − Σ dy·y) gives them 0 too.
    public static let causalSoftmax: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.softmax_grad, [n.id, g], .axis(-1))]
    }
    /// The reversed gradient, along the same axis.
    public static let reverse: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.reverse, [g], n.attrs)]
    }
    /// dy goes to a where the condition holds and to b elsewhere; the condition gets none.
    public static let select: VJPRule = { e, n, g throws(ShapeError) in
        let zero = e.scalar(0, like: g)
        let zeros = try e.emit(.broadcast_to, [zero], .shape(e.type(g).shape))
        let c = n.inputs[0]
        return [nil,
                e.needs(1) ? try e.emit(.where, [c, g, zeros]) : nil,
                e.needs(2) ? try e.emit(.where, [c, zeros, g]) : nil]
    }
    public static let logSoftmax: VJPRule = { e, n, g throws(ShapeError) in
        [try e.emit(.log_softmax_grad, [n.id, g], n.attrs)]
    }

    /// ∂/∂z = (softmax(z) − t)·dloss; the targets, when they need a gradient, get −dloss·log softmax(z).
    public static let softmaxCE: VJPRule = { e, n, g throws(ShapeError) in
        let (z, t) = (n.inputs[0], n.inputs[1])
        var dz: ValueID? = nil, dt: ValueID? = nil
        if e.needs(0) { dz = try e.emit(.softmax_ce_grad, [z, t, g]) }
        if e.needs(1) {
            let ls = try e.emit(.log_softmax, [z], .axis(-1))
            let rows = e.type(g).dims ?? []
            let gcol = try e.emit(.reshape, [g], .shape(Shape(rows + [.known(1)])))
            dt = try e.emit(.neg, [try e.emit(.mul, [ls, gcol])])
        }
        return [dz, dt]
    }

    /// lstm_scan: `lstm_scan_grad` gives the gradient of every step's gate pre-activations (xb's),
    /// and of h0 and c0 in an extra row when they are operands. W_hh's is one product over all
    /// steps, dW_hh = Σ_t dpre_tᵀ·h_prev(t), with h_prev the tape's h part shifted by one step
    /// (h0, or zeros, at the first step processed): [4H, B·T]·[B·T, H] as one GEMM when B is
    /// known, per batch element and summed when it is a symbol.
    public static let lstmScan: VJPRule = { e, n, g throws(ShapeError) in
        let states = n.inputs.count == 4
        let whh = n.inputs[1]
        let tape = e.type(n.id)
        guard let td = tape.dims, td.count == 3, let steps = td[1].value, let h = e.type(whh).dims?[1].value else {
            throw ShapeError(.scanOperand(role: "the tape", expected: "[B, T, 6·H] with known T and H", got: tape), what: n.op.rawValue)
        }
        let b = td[0]
        let reverse = n.attrs.scan.reverse
        /// Steps `t` and columns `c` of a [B, T, n] value.
        func part(_ v: ValueID, _ t: Range<Int>?, _ c: Range<Int>?) throws(ShapeError) -> ValueID {
            let a = SliceAttributes(starts: [0, t?.lowerBound ?? 0, c?.lowerBound ?? 0],
                                    ends: [Int.max, t?.upperBound ?? Int.max, c?.upperBound ?? Int.max], steps: [1, 1, 1])
            return try e.emit(.slice, [v], .slice(a))
        }
        func reshape(_ v: ValueID, _ dims: [Dim]) throws(ShapeError) -> ValueID { try e.emit(.reshape, [v], .shape(Shape(dims))) }
        let dpre = try e.emit(.lstm_scan_grad, [n.id, whh, g] + n.inputs.dropFirst(2), n.attrs)
        let dxb = states ? try part(dpre, 0..<steps, nil) : dpre
        var out: [ValueID?] = [e.needs(0) ? dxb : nil, nil]
        if states {
            // Row T: dh0 | dc0 | zeros.
            for (i, cols) in [(2, 0..<h), (3, h..<(2 * h))] {
                out.append(e.needs(i) ? try reshape(try part(dpre, steps..<(steps + 1), cols), [b, .known(h)]) : nil)
            }
        }
        if e.needs(1) {
            // The state each step starts from: h0 or zeros at the first step processed, else the
            // neighbouring step's h.
            let first: ValueID
            if states {
                first = try reshape(n.inputs[2], [b, .known(1), .known(h)])
            } else {
                first = try e.emit(.broadcast_to, [e.scalar(0, like: n.id)], .shape(Shape([b, .known(1), .known(h)])))
            }
            var parts = [first]
            if steps > 1 {
                let hs = try part(n.id, reverse ? 1..<steps : 0..<(steps - 1), 0..<h)
                parts = reverse ? [hs, first] : [first, hs]
            }
            let hPrev = parts.count == 1 ? first : try e.emit(.concat, parts, .axis(1))
            if let bn = b.value {
                let rows = Dim.known(bn * steps)
                out[1] = try e.emit(.matmul, [try reshape(dxb, [rows, .known(4 * h)]), try reshape(hPrev, [rows, .known(h)])],
                                    .matmul(MatmulAttributes(transposeA: true)))
            } else {
                let perBatch = try e.emit(.matmul, [dxb, hPrev], .matmul(MatmulAttributes(transposeA: true)))
                out[1] = try e.emit(.reduce_sum, [perBatch], .reduce(ReduceAttributes(axes: [0])))
            }
        }
        return out
    }

    public static let sparseSoftmaxCE: VJPRule = { e, n, g throws(ShapeError) in
        [e.needs(0) ? try e.emit(.sparse_softmax_ce_grad, [n.inputs[0], n.inputs[1], g]) : nil, nil]
    }
}
