import DLGGraph
import DLGSource

private typealias E = ElaborationDiagnostic

/// The recurrent cells, in PyTorch's parameter layout and gate order
/// (Docs/sequence.md): the weights of all gates stacked row-wise,
/// `weight_ih_l{k}` [gates·H, I], `weight_hh_l{k}` [gates·H, H], `bias_ih_l{k}`
/// and `bias_hh_l{k}` [gates·H], `_reverse` for the backward direction.
enum RecurrentCell: String, CaseIterable, Sendable {
    /// h′ = tanh(W_ih x + b_ih + W_hh h + b_hh).
    case rnn
    /// Gates i, f, g, o.
    case lstm
    /// Gates r, z, n.
    case gru

    var gates: Int {
        switch self {
        case .rnn: 1
        case .lstm: 4
        case .gru: 3
        }
    }
}

enum Recurrent {
    static let all: [Builtin] = RecurrentCell.allCases.map { cell in
        var params: [ParamSpec] = [
            Layers.x, .required("units", .int),
            .optional("return_sequences", .bool, .bool(false)),
            .optional("bidirectional", .bool, .bool(false)),
            .optional("layers", .int, .int(1)),
            .optional("h0", .tensor, nil),
        ]
        if cell == .lstm { params.append(.optional("c0", .tensor, nil)) }
        params.append(Layers.name)
        return Builtin(name: cell.rawValue, role: .layer(parameters: true), params: params) { e, c in e.recurrent(c, cell) }
    }
}

extension Elaborator {
    /// A recurrent layer over its (known) time steps. The input projection of every step is one
    /// GEMM over [B·T, I] first. An LSTM's recurrence is then one `lstm_scan` per layer and
    /// direction, whose tape [B, T, 6H] (each step's h, c and gates) the layer's outputs are
    /// slices of. A GRU's and an RNN's — and an LSTM's in step mode or when the options ask for it
    /// (ONNX export) — are unrolled at compile time: each step's ops are ordinary graph ops, so
    /// backpropagation through time is the ordinary reverse-mode pass.
    func recurrent(_ c: BoundCall, _ cell: RecurrentCell) -> Value {
        let kind = cell.rawValue
        let layer = layerName(kind: kind, createsParameters: true, explicit: explicitName(c))
        let x = c.tensor("x")!
        let type = graph[x].type
        let units = c.int("units")!, layers = c.int("layers")!
        let bidirectional = c.bool("bidirectional")!, sequences = c.bool("return_sequences")!
        for (arg, v) in [("units", units), ("layers", layers)] where v <= 0 {
            diagnostics.report(E.positiveCount(layer: kind, argument: arg, got: v), at: c.range(of: arg))
            return .poison
        }
        guard type.dtype.isFloat, let d = type.dims, d.count == 3, case .known(let steps) = d[1],
              case .known(let features) = d[2] else {
            diagnostics.report(E.sequenceInput(kind: kind, layer: layer, role: "input",
                                               expected: "a floating-point tensor [batch, time, features] with known time and features",
                                               type: type), at: c.range(of: "x"))
            return .poison
        }
        let dirs = bidirectional ? 2 : 1
        let h = units, g = cell.gates * units
        guard checkSizeArgument(units, "\(kind) '\(layer)': units", at: c.range(of: "units")),
              checkSizeArgument(layers, "\(kind) '\(layer)': layers", at: c.range(of: "layers")),
              checkElementCount(TensorType(type.dtype, [g, max(features, h)]), "the weights of \(kind) '\(layer)'", at: c.range),
              checkSizeArgument(steps * layers * dirs, "\(kind) '\(layer)': time steps × layers × directions", at: c.range) else {
            return .poison
        }
        // Initial states [layers·directions, B, H] (PyTorch's h_0/c_0), zeros when not given.
        let stateType = TensorType(type.dtype, Shape([.known(layers * dirs), d[0], .known(h)]))
        var initial: [String: ValueID] = [:]
        for name in cell == .lstm ? ["h0", "c0"] : ["h0"] {
            guard let s = c.tensor(name) else { continue }
            guard graph[s].type == stateType else {
                diagnostics.report(E.sequenceInput(kind: kind, layer: layer, role: "initial state \(name)",
                                                   expected: "\(stateType) ([layers·directions, batch, units])", type: graph[s].type),
                                   at: c.range(of: name))
                return .poison
            }
            initial[name] = s
        }
        if isStepping {
            guard let carried = carriedStates(cell, layer: layer, bidirectional: bidirectional, given: initial, type: stateType,
                                              at: c) else { return .poison }
            initial = carried
        }
        // PyTorch's initialization: every weight and bias uniform in ±1/√H.
        let bound = 1 / Double(h).squareRoot()
        let initializer = Initializer.uniform(-bound, bound)
        var params: [ValueID] = []
        let scan = cell == .lstm && !isStepping && !options.unrollRecurrence
        let out: Value = withLabel(layer) {
            defer { graph.repeating = nil }
            let what = "\(kind) '\(layer)'"
            let rg = c.range
            func op(_ o: Op, _ i: [ValueID], _ a: Attributes = Attributes()) -> ValueID? { emitID(o, i, a, at: rg, what: what) }
            /// Columns lo..<hi of a [B, n] matrix (or entries of a vector).
            func columns(_ v: ValueID, _ lo: Int, _ hi: Int) -> ValueID? {
                let r = graph[v].type.rank ?? 2
                let starts = Array(repeating: 0, count: r - 1) + [lo], ends = Array(repeating: Int.max, count: r - 1) + [hi]
                return op(.slice, [v], .slice(SliceAttributes(starts: starts, ends: ends, steps: Array(repeating: 1, count: r))))
            }
            /// Row k of an initial state, as [B, H].
            func state(_ name: String, _ k: Int) -> ValueID? {
                guard let s = initial[name] else { return nil }
                guard let row = op(.slice, [s], .slice(SliceAttributes(starts: [k, 0, 0], ends: [k + 1, Int.max, Int.max],
                                                                        steps: [1, 1, 1]))) else { return nil }
                return op(.reshape, [row], .shape(Shape([d[0], .known(h)])))
            }
            /// Steps t, columns lo..<hi of an LSTM's tape [B, T, 6H] (h is columns 0..<H).
            func tapePart(_ tape: ValueID, _ t: Range<Int>, _ lo: Int, _ hi: Int) -> ValueID? {
                op(.slice, [tape], .slice(SliceAttributes(starts: [0, t.lowerBound, lo], ends: [Int.max, t.upperBound, hi],
                                                          steps: [1, 1, 1])))
            }
            var input = x, inFeatures = features
            var finals: [ValueID] = []
            var stepFinals: [String: [ValueID]] = [:]
            for l in 0..<layers {
                var outputs: [[ValueID]] = []
                var tapes: [ValueID] = []
                finals = []
                for dir in 0..<dirs {
                    let suffix = "_l\(l)" + (dir == 1 ? "_reverse" : "")
                    let wih = makeParam(layer, "weight_ih" + suffix, dtype: type.dtype, shape: [g, inFeatures], initializer: initializer,
                                        fanIn: inFeatures, fanOut: g, at: rg)
                    let whh = makeParam(layer, "weight_hh" + suffix, dtype: type.dtype, shape: [g, h], initializer: initializer,
                                        fanIn: h, fanOut: g, at: rg)
                    let bih = makeParam(layer, "bias_ih" + suffix, dtype: type.dtype, shape: [g], initializer: initializer,
                                        fanIn: inFeatures, fanOut: g, at: rg)
                    let bhh = makeParam(layer, "bias_hh" + suffix, dtype: type.dtype, shape: [g], initializer: initializer,
                                        fanIn: h, fanOut: g, at: rg)
                    params += [wih, whh, bih, bhh]
                    // Every step's input projection at once: [B, T, I] @ W_ihᵀ → [B, T, G], with the biases
                    // (a GRU keeps b_hh with h's projection: r scales its n part).
                    guard let proj = op(.matmul, [input, wih], .matmul(MatmulAttributes(transposeB: true))),
                          let bias = cell == .gru ? bih : op(.add, [bih, bhh]),
                          let xb = op(.bias_add, [proj, bias], .axis(2)) else { return .poison }
                    let k = l * dirs + dir
                    var hPrev = state("h0", k), cPrev = state("c0", k)
                    if scan {
                        // One op for all steps; it takes h0 and c0 both or neither (zeros for one not given).
                        var operands = [xb, whh]
                        if hPrev != nil || cPrev != nil {
                            let zero = scalar(0, like: xb, at: rg)
                            guard let h0 = hPrev ?? op(.broadcast_to, [zero], .shape(Shape([d[0], .known(h)]))),
                                  let c0 = cPrev ?? op(.broadcast_to, [zero], .shape(Shape([d[0], .known(h)]))) else { return .poison }
                            operands += [h0, c0]
                        }
                        guard let tape = op(.lstm_scan, operands, .scan(ScanAttributes(reverse: dir == 1))) else { return .poison }
                        tapes.append(tape)
                        // The final state: h at the last step processed (forward T−1, backward 0).
                        let last = dir == 0 ? steps - 1 : 0
                        if l == layers - 1, !sequences {
                            guard let hl = tapePart(tape, last..<(last + 1), 0, h),
                                  let hn = op(.reshape, [hl], .shape(Shape([d[0], .known(h)]))) else { return .poison }
                            finals.append(hn)
                        }
                        continue
                    }
                    var hs = [ValueID?](repeating: nil, count: steps)
                    let loop = beginLoop(layer: layer, l: l, reverse: dir == 1, steps: steps)
                    for s in 0..<steps {
                        let t = dir == 0 ? s : steps - 1 - s
                        graph.repeating = RepeatStep(loop: loop, t: t)
                        guard let xs = op(.slice, [xb], .slice(SliceAttributes(starts: [0, t, 0], ends: [Int.max, t + 1, Int.max],
                                                                               steps: [1, 1, 1]))),
                              let xt = op(.reshape, [xs], .shape(Shape([d[0], .known(g)]))) else { return .poison }
                        // h·W_hhᵀ; nothing at the first step without an initial state (h = 0).
                        var rec: ValueID? = nil
                        if let hp = hPrev {
                            guard let r = op(.matmul, [hp, whh], .matmul(MatmulAttributes(transposeB: true))) else { return .poison }
                            rec = r
                        }
                        switch cell {
                        case .rnn:
                            guard let pre = rec.map({ op(.add, [xt, $0]) }) ?? xt, let hn = op(.tanh, [pre]) else { return .poison }
                            hPrev = hn
                        case .lstm:
                            guard let pre = rec.map({ op(.add, [xt, $0]) }) ?? xt,
                                  let i0 = columns(pre, 0, h), let i = op(.sigmoid, [i0]),
                                  let f0 = columns(pre, h, 2 * h), let f = op(.sigmoid, [f0]),
                                  let g0 = columns(pre, 2 * h, 3 * h), let gg = op(.tanh, [g0]),
                                  let o0 = columns(pre, 3 * h, 4 * h), let o = op(.sigmoid, [o0]),
                                  let ig = op(.mul, [i, gg]) else { return .poison }
                            var cn = ig
                            if let cp = cPrev {
                                guard let fc = op(.mul, [f, cp]), let sum = op(.add, [fc, ig]) else { return .poison }
                                cn = sum
                            }
                            guard let tc = op(.tanh, [cn]), let hn = op(.mul, [o, tc]) else { return .poison }
                            cPrev = cn
                            hPrev = hn
                        case .gru:
                            // hp = h·W_hhᵀ + b_hh (just b_hh while h = 0).
                            let hp: ValueID? = rec.map { op(.bias_add, [$0, bhh], .axis(1)) } ?? bhh
                            guard let hp,
                                  let xr = columns(xt, 0, h), let hr = columns(hp, 0, h), let r0 = op(.add, [xr, hr]),
                                  let r = op(.sigmoid, [r0]),
                                  let xz = columns(xt, h, 2 * h), let hz = columns(hp, h, 2 * h), let z0 = op(.add, [xz, hz]),
                                  let z = op(.sigmoid, [z0]),
                                  let xn = columns(xt, 2 * h, 3 * h), let hn0 = columns(hp, 2 * h, 3 * h),
                                  let rn = op(.mul, [r, hn0]), let n0 = op(.add, [xn, rn]), let n = op(.tanh, [n0]) else {
                                return .poison
                            }
                            // h′ = (1 − z)·n + z·h = n + z·(h − n).
                            let hn: ValueID?
                            if let hp = hPrev {
                                hn = op(.sub, [hp, n]).flatMap { op(.mul, [z, $0]) }.flatMap { op(.add, [n, $0]) }
                            } else {
                                hn = op(.mul, [z, n]).flatMap { op(.sub, [n, $0]) }
                            }
                            guard let hn else { return .poison }
                            hPrev = hn
                        }
                        hs[t] = hPrev
                        nameStepState(h: hPrev, c: cPrev)
                    }
                    graph.repeating = nil
                    outputs.append(hs.compactMap { $0 })
                    finals.append(hPrev!)
                    stepFinals["h0", default: []].append(hPrev!)
                    if let cPrev { stepFinals["c0", default: []].append(cPrev) }
                }
                if scan, l < layers - 1 || sequences {
                    // [B, T, directions·H]: the h part of each direction's tape, directions side by side.
                    var joined: [ValueID] = []
                    for tape in tapes {
                        guard let seq = tapePart(tape, 0..<steps, 0, h) else { return .poison }
                        joined.append(seq)
                    }
                    guard let next = joined.count == 1 ? joined[0] : op(.concat, joined, .axis(2)) else { return .poison }
                    input = next
                    inFeatures = dirs * h
                } else if l < layers - 1 || sequences {
                    // [B, T, directions·H]: each step's h as [B, 1, H] joined over time, directions side by side.
                    var joined: [ValueID] = []
                    for hs in outputs {
                        var rows: [ValueID] = []
                        for v in hs {
                            // Each step's reshape belongs to that step.
                            graph.repeating = graph[v].step.map { RepeatStep(loop: $0.loop, t: $0.t) }
                            guard let r = op(.reshape, [v], .shape(Shape([d[0], .known(1), .known(h)]))) else { return .poison }
                            rows.append(r)
                        }
                        graph.repeating = nil
                        guard let seq = op(.concat, rows, .axis(1)) else { return .poison }
                        joined.append(seq)
                    }
                    guard let next = joined.count == 1 ? joined[0] : op(.concat, joined, .axis(2)) else { return .poison }
                    input = next
                    inFeatures = dirs * h
                }
            }
            if isStepping, !carryOutStates(stepFinals, layer: layer, batch: d[0], units: h, at: rg) { return .poison }
            if sequences { return .tensor(input) }
            // The last layer's final states: forward after step T, backward after step 1.
            if finals.count == 1 { return .tensor(finals[0]) }
            return emit(.concat, finals, .axis(1), at: rg, what: what)
        }
        record(layer, kind: kind, output: out, params: params, at: c.range)
        return out
    }
}

// MARK: Step mode

extension Elaborator {
    /// In step mode, a recurrent layer's initial states are carried states: `h0` (and an LSTM's
    /// `c0`), [layers, B, H] in PyTorch's layout, named `layer.h0`/`layer.c0` before a call and
    /// `layer.h_n`/`layer.c_n` after it. A bidirectional layer (its backward direction starts at the
    /// sequence's end) and one given its initial states by the model are refused.
    func carriedStates(_ cell: RecurrentCell, layer: String, bidirectional: Bool, given: [String: ValueID],
                       type: TensorType, at c: BoundCall) -> [String: ValueID]? {
        let what = "\(cell.rawValue) '\(layer)'"
        if bidirectional {
            refuseStepping(what, because: "its backward direction reads the sequence from its end", at: c.range(of: "bidirectional"))
            return nil
        }
        if let name = given.keys.sorted().first {
            refuseStepping(what, because: "its initial state \(name) is given by the model; step mode carries the state itself",
                           at: c.range(of: name))
            return nil
        }
        var states: [String: ValueID] = [:]
        for name in cell == .lstm ? ["h0", "c0"] : ["h0"] {
            let out = name == "h0" ? "h_n" : "c_n"
            guard let v = carriedState(layer: layer, input: name, output: out, type: type, at: c.range) else { return nil }
            states[name] = v
        }
        return states
    }

    /// The states after the call, every layer's final h (and c) stacked as [layers, B, H].
    func carryOutStates(_ finals: [String: [ValueID]], layer: String, batch: Dim, units: Int, at range: SourceRange) -> Bool {
        for name in ["h0", "c0"] {
            guard let values = finals[name] else { continue }
            var rows: [ValueID] = []
            for v in values {
                guard let r = emitID(.reshape, [v], .shape(Shape([.known(1), batch, .known(units)])), at: range) else { return false }
                rows.append(r)
            }
            guard let stacked = rows.count == 1 ? rows[0] : emitID(.concat, rows, .axis(0), at: range) else { return false }
            carryOut(input: "\(layer).\(name)", value: stacked, at: range)
        }
        return true
    }
}

extension Elaborator {
    /// Records the loop of one layer and direction being unrolled (for dumps: Docs/ir.md).
    func beginLoop(layer: String, l: Int, reverse: Bool, steps: Int) -> Int {
        graph.addLoop(RepeatLoop(name: "\(layer) layer \(l)" + (reverse ? " reverse" : ""), count: steps, reversed: reverse))
    }

    /// Names the state a step hands to the next (`h`, `c`) in its loop step.
    func nameStepState(h: ValueID?, c: ValueID?) {
        for (v, role) in [(h, "h"), (c, "c")] {
            guard let v, var s = graph[v].step, s.loop == graph.repeating?.loop, s.t == graph.repeating?.t else { continue }
            s.role = role
            graph[v].step = s
        }
    }
}
