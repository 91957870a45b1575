import DLGGraph
import DLGSource

private typealias E = ElaborationDiagnostic

/// The built-in functions, layers, activations, losses and queries of the
/// language, by name. `Docs/language.md` has one entry for each.
enum Builtins {
    static let table: [String: Builtin] = {
        var t: [String: Builtin] = [:]
        for b in activations + mathOps + layoutFunctions + queries + Layers.all + Recurrent.all + AttentionLayers.all + Losses.all {
            precondition(t[b.name] == nil, "built-in \(b.name) declared twice")
            t[b.name] = b
        }
        return t
    }()

    static let x = ParamSpec.required("x", .tensor)

    // MARK: Activations

    /// Activations that take an optional parameter and map to one op.
    static func activation(_ name: String, _ op: Op, extra: [ParamSpec] = [],
                           attrs: @escaping @Sendable (BoundCall) -> Attributes = { _ in Attributes() }) -> Builtin {
        Builtin(name: name, role: .activation, params: [x] + extra) { e, c in
            if let axis = c.int("axis"), !e.checkAxes([axis], of: c.tensor("x")!, c, argument: "axis") { return .poison }
            let layer = e.layerName(kind: name, createsParameters: false)
            let out = e.withLabel(layer) { e.emit(op, [c.tensor("x")!], attrs(c), at: c.range, what: name) }
            e.record(layer, kind: name, output: out, params: [], at: c.range)
            return out
        }
    }

    /// Every unary function whose definition makes it an activation (`UnaryInfo.role`), except
    /// those with a builtin of their own below (sigmoid and tanh take slopes); its parameter,
    /// if any, is an optional positional argument with the definition's default.
    static let definedActivations: [Builtin] = Op.unaryFunctions.compactMap { op in
        let info = op.unaryInfo!
        guard info.role == .activation, !["sigmoid", "tanh"].contains(op.rawValue) else { return nil }
        guard let p = info.parameter else { return activation(op.rawValue, op) }
        return activation(op.rawValue, op, extra: [.optional(p.name, .float, .float(p.defaultValue), positional: true)]) {
            .alpha($0.float(p.name)!)
        }
    }

    static let activations: [Builtin] = definedActivations + [
        activation("log_softmax", .log_softmax, extra: [.optional("axis", .int, .int(-1))]) {
            .axis($0.int("axis")!)
        },
        // σ(a·x): the slope a steepens the logistic curve.
        Builtin(name: "sigmoid", role: .activation, params: [x, .optional("a", .float, .float(1), positional: true)]) { e, c in
            let layer = e.layerName(kind: "sigmoid", createsParameters: false)
            let out: Value = e.withLabel(layer) {
                var v = c.tensor("x")!
                let a = c.float("a")!
                if a != 1 {
                    guard let s = e.emitID(.mul, [v, e.scalar(a, like: v, at: c.range)], at: c.range, what: "sigmoid") else {
                        return .poison
                    }
                    v = s
                }
                return e.emit(.sigmoid, [v], at: c.range, what: "sigmoid")
            }
            e.record(layer, kind: "sigmoid", output: out, params: [], at: c.range)
            return out
        },
        // a·tanh(b·x)
        Builtin(name: "tanh", role: .activation,
                params: [x, .optional("a", .float, .float(1), positional: true), .optional("b", .float, .float(1), positional: true)]) { e, c in
            let layer = e.layerName(kind: "tanh", createsParameters: false)
            let out: Value = e.withLabel(layer) {
                var v = c.tensor("x")!
                let (a, b) = (c.float("a")!, c.float("b")!)
                if b != 1 {
                    guard let s = e.emitID(.mul, [v, e.scalar(b, like: v, at: c.range)], at: c.range, what: "tanh") else { return .poison }
                    v = s
                }
                guard let t = e.emitID(.tanh, [v], at: c.range, what: "tanh") else { return .poison }
                if a != 1 { return e.emit(.mul, [t, e.scalar(a, like: t, at: c.range)], at: c.range, what: "tanh") }
                return .tensor(t)
            }
            e.record(layer, kind: "tanh", output: out, params: [], at: c.range)
            return out
        },
        // The identity ("purelin" in the neural-network textbooks).
        Builtin(name: "linear", role: .activation, params: [x]) { e, c in
            let layer = e.layerName(kind: "linear", createsParameters: false)
            e.record(layer, kind: "linear", output: .tensor(c.tensor("x")!), params: [], at: c.range)
            return .tensor(c.tensor("x")!)
        },
        Builtin(name: "purelin", role: .activation, params: [x]) { e, c in
            let layer = e.layerName(kind: "purelin", createsParameters: false)
            e.record(layer, kind: "purelin", output: .tensor(c.tensor("x")!), params: [], at: c.range)
            return .tensor(c.tensor("x")!)
        },
    ]

    // MARK: Math

    static func unaryOp(_ name: String, _ op: Op) -> Builtin {
        Builtin(name: name, role: .op, params: [x]) { e, c in e.emit(op, [c.tensor("x")!], at: c.range, what: name) }
    }

    /// Two operands, either of which may be a number.
    static func binaryOp(_ name: String, _ op: Op) -> Builtin {
        Builtin(name: name, role: .op, params: [.required("a", .tensorOrNumber), .required("b", .tensorOrNumber)]) { e, c in
            e.binaryTensorOp(op, c.value("a")!, c.value("b")!, call: c)
        }
    }

    /// sum / mean / max / min: a reduction over axes; max and min of two
    /// operands are elementwise, and of two integers a compile-time number.
    static func reduction(_ name: String, _ op: Op, elementwise: Op?) -> Builtin {
        var params: [ParamSpec] = [.required("x", .any)]
        if elementwise != nil { params.append(.optional("y", .any, nil, positional: true)) }
        params += [.optional("axis", .axes, nil), .optional("keepdims", .bool, .bool(false))]
        return Builtin(name: name, role: .op, params: params) { e, c in
            let xv = c.value("x")!
            if let other = c.value("y"), let elementwise {
                switch (xv, other) {
                case (.int(let a), .int(let b)): return .int(name == "max" ? max(a, b) : min(a, b))
                case (.int, .float), (.float, .int), (.float, .float):
                    let a = e.number(xv)!, b = e.number(other)!
                    return .float(name == "max" ? max(a, b) : min(a, b))
                default: return e.binaryTensorOp(elementwise, xv, other, call: c)
                }
            }
            guard case .tensor(let t) = xv else {
                e.diagnostics.report(E.reduceNeedsTensor(function: name, got: e.describe(xv)), at: c.range(of: "x"))
                return .poison
            }
            guard e.checkAxes(c.ints("axis") ?? [], of: t, c, argument: "axis") else { return .poison }
            let attrs = ReduceAttributes(axes: c.ints("axis") ?? [], keepdims: c.bool("keepdims") == true)
            return e.emit(op, [t], .reduce(attrs), at: c.range, what: name)
        }
    }

    /// The unary functions whose definitions make them math functions (`UnaryInfo.role`).
    static let definedFunctions: [Builtin] = Op.unaryFunctions.filter { $0.unaryInfo!.role == .function }
        .map { unaryOp($0.rawValue, $0) }

    static let mathOps: [Builtin] = definedFunctions + [
        unaryOp("stop_gradient", .stop_gradient),
        binaryOp("pow", .pow), binaryOp("maximum", .maximum), binaryOp("minimum", .minimum),
        reduction("sum", .reduce_sum, elementwise: nil),
        reduction("mean", .reduce_mean, elementwise: nil),
        reduction("max", .reduce_max, elementwise: .maximum),
        reduction("min", .reduce_min, elementwise: .minimum),
        Builtin(name: "matmul", role: .op,
                params: [.required("a", .tensor), .required("b", .tensor),
                         .optional("transpose_a", .bool, .bool(false)), .optional("transpose_b", .bool, .bool(false))]) { e, c in
            let attrs = MatmulAttributes(transposeA: c.bool("transpose_a") == true, transposeB: c.bool("transpose_b") == true)
            return e.emit(.matmul, [c.tensor("a")!, c.tensor("b")!], .matmul(attrs), at: c.range, what: "matmul")
        },
        Builtin(name: "clip", role: .op,
                params: [x, .required("low", .float), .required("high", .float)]) { e, c in
            let t = c.tensor("x")!
            let (lo, hi) = (c.float("low")!, c.float("high")!)
            guard lo <= hi else {
                e.diagnostics.report(E.clipBounds(low: lo, high: hi), at: c.range)
                return .poison
            }
            guard let a = e.emitID(.maximum, [t, e.scalar(lo, like: t, at: c.range)], at: c.range, what: "clip") else {
                return .poison
            }
            return e.emit(.minimum, [a, e.scalar(hi, like: t, at: c.range)], at: c.range, what: "clip")
        },
    ]

    // MARK: Layout

    static let layoutFunctions: [Builtin] = [
        Builtin(name: "reshape", role: .op, params: [x, .required("shape", .shape)]) { e, c in
            e.reshape(c.tensor("x")!, c.shape("shape")!, at: c.range, what: "reshape")
        },
        Builtin(name: "transpose", role: .op, params: [x, .optional("perm", .axes, nil, positional: true)]) { e, c in
            let t = c.tensor("x")!
            // Without perm, the axes reversed (a tensor of unknown rank is refused by the shape rule).
            let perm = c.ints("perm") ?? e.graph[t].type.rank.map { Array((0..<$0).reversed()) } ?? []
            return e.emit(.transpose, [t], .perm(perm), at: c.range, what: "transpose")
        },
        Builtin(name: "concat", role: .op, params: [.required("tensors", .any), .optional("axis", .int, .int(0))]) { e, c in
            guard case .list(let items) = c.value("tensors")! else {
                e.diagnostics.report(E.concatNeedsList, at: c.range(of: "tensors"))
                return .poison
            }
            var ids: [ValueID] = []
            for item in items {
                guard case .tensor(let t) = item else {
                    e.diagnostics.report(E.concatItem(got: e.describe(item)), at: c.range(of: "tensors"))
                    return .poison
                }
                ids.append(t)
            }
            if let first = ids.first, !e.checkAxes([c.int("axis")!], of: first, c, argument: "axis") { return .poison }
            return e.emit(.concat, ids, .axis(c.int("axis")!), at: c.range, what: "concat")
        },
        Builtin(name: "slice", role: .op,
                params: [x, .required("axis", .int, positional: false), .optional("start", .int, .int(0)),
                         .optional("end", .int, .int(Int.max)), .optional("step", .int, .int(1))]) { e, c in
            e.slice(c.tensor("x")!, axis: c.int("axis")!, start: c.int("start")!, end: c.int("end")!, step: c.int("step")!,
                    call: c)
        },
        Builtin(name: "pad", role: .op,
                params: [x, .required("pads", .padding),
                         .optional("mode", .word(["zero", "constant", "replicate", "reflect"]), .word("zero")),
                         .optional("value", .float, .float(0))]) { e, c in
            let t = c.tensor("x")!
            guard case .explicit(let p) = c.padding("pads")! else {
                e.diagnostics.report(E.padNeedsAmounts, at: c.range(of: "pads"))
                return .poison
            }
            return e.spatialPad(t, p, mode: c.word("mode")!, value: c.float("value")!, at: c.range) ?? .poison
        },
        Builtin(name: "broadcast_to", role: .op, params: [x, .required("shape", .shape)]) { e, c in
            guard let s = e.concreteShape(c.shape("shape")!, at: c.range(of: "shape")) else { return .poison }
            return e.emit(.broadcast_to, [c.tensor("x")!], .shape(s), at: c.range, what: "broadcast_to")
        },
        Builtin(name: "one_hot", role: .op,
                params: [.required("labels", .tensor), .required("classes", .int), .optional("dtype", .dtype, nil)]) { e, c in
            // Without a dtype, the rows take the model's float type, so that they meet its values.
            e.emit(.one_hot, [c.tensor("labels")!],
                   .oneHot(OneHotAttributes(classes: c.int("classes")!, dtype: c.dtype("dtype") ?? e.modelFloatType)),
                   at: c.range, what: "one_hot")
        },
        Builtin(name: "gather", role: .op, params: [.required("table", .tensor), .required("indices", .tensor)]) { e, c in
            e.emit(.gather, [c.tensor("table")!, c.tensor("indices")!], at: c.range, what: "gather")
        },
        Builtin(name: "cast", role: .op, params: [x, .required("dtype", .dtype)]) { e, c in
            e.emit(.cast, [c.tensor("x")!], .dtype(c.dtype("dtype")!), at: c.range, what: "cast")
        },
    ]

    // MARK: Compile-time queries

    static let queries: [Builtin] = [
        Builtin(name: "channels", role: .query, params: [x]) { e, c in
            let t = e.graph[c.tensor("x")!].type
            guard let d = t.dims, d.count >= 2 else {
                e.diagnostics.report(E.channelsQuery(type: t), at: c.range)
                return .poison
            }
            switch d[1] {
            case .known(let v): return .int(v)
            case .symbol(let s): return .symbol(s)
            }
        },
        Builtin(name: "shape", role: .query, params: [x]) { e, c in
            let t = e.graph[c.tensor("x")!].type
            guard let d = t.dims else {
                e.diagnostics.report(E.shapeQueryUnknownRank(query: "shape", type: t), at: c.range)
                return .poison
            }
            return .list(d.map { if case .known(let v) = $0 { .int(v) } else { .symbol($0.description) } })
        },
        Builtin(name: "rank", role: .query, params: [x]) { e, c in
            let t = e.graph[c.tensor("x")!].type
            guard let r = t.rank else {
                e.diagnostics.report(E.shapeQueryUnknownRank(query: "rank", type: t), at: c.range)
                return .poison
            }
            return .int(r)
        },
        Builtin(name: "len", role: .query, params: [.required("list", .any)]) { e, c in
            guard case .list(let items) = c.value("list")! else {
                e.diagnostics.report(E.lenNeedsList, at: c.range)
                return .poison
            }
            return .int(items.count)
        },
    ]
}

extension Elaborator {
    func number(_ v: Value) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .float(let f): return f
        default: return nil
        }
    }

    func binaryTensorOp(_ op: Op, _ a: Value, _ b: Value, call c: BoundCall) -> Value {
        let dtype: DType = {
            if case .tensor(let t) = a { return graph[t].type.dtype }
            if case .tensor(let t) = b { return graph[t].type.dtype }
            return .f32
        }()
        guard let x = tensorOperand(a, dtype: dtype, at: c.range), let y = tensorOperand(b, dtype: dtype, at: c.range) else {
            return .poison
        }
        return emit(op, [x, y], at: c.range, what: c.name)
    }

    /// Axes must exist in the tensor (negative ones count from the end).
    func checkAxes(_ axes: [Int], of t: ValueID, _ c: BoundCall, argument: String) -> Bool {
        let type = graph[t].type
        guard let r = type.rank else { return true }
        for a in axes where a < -r || a >= r {
            diagnostics.report(E.badAxis(function: c.name, axis: a, type: type), at: c.range(of: argument))
            return false
        }
        return true
    }

    /// A shape list with symbols and no −1.
    func concreteShape(_ entries: [ShapeEntry], at range: SourceRange) -> Shape? {
        var dims: [Dim] = []
        for e in entries {
            switch e {
            case .size(let v): dims.append(.known(v))
            case .symbol(let s): dims.append(.symbol(s))
            case .infer:
                diagnostics.report(E.inferOutsideReshape, at: range)
                return nil
            }
        }
        return Shape(dims)
    }

    func reshape(_ t: ValueID, _ entries: [ShapeEntry], at range: SourceRange, what: String) -> Value {
        let type = graph[t].type
        let target = Shape(entries.map { if case .size(let v) = $0 { Dim.known(v) } else { Dim.known(1) } })
        guard target.knownElementCountWithinLimit != nil else {
            diagnostics.report(E.reshapeTooLarge(what: what, elements: describeElementCount(target), limit: Shape.maxElements), at: range)
            return .poison
        }
        var dims: [Dim] = entries.map {
            switch $0 {
            case .size(let v): return .known(v)
            case .symbol(let s): return .symbol(s)
            case .infer: return .known(-1)
            }
        }
        if let i = entries.firstIndex(of: .infer) {
            guard let inDims = type.dims else {
                diagnostics.report(E.reshapeUnknownRank(what: what, type: type), at: range)
                return .poison
            }
            let (a, sa) = symbolicProduct(inDims)
            let others = dims.enumerated().filter { $0.offset != i }.map(\.element)
            let (b, sb) = symbolicProduct(others)
            var remaining = sa
            for s in sb {
                if let k = remaining.firstIndex(of: s) { remaining.remove(at: k) } else { remaining.append("?") }
            }
            guard b > 0, a % b == 0, remaining.count <= 1, !remaining.contains("?") else {
                diagnostics.report(E.reshapeImpossible(what: what, type: type, target: Shape(dims.map { $0 == .known(-1) ? .symbol("-1") : $0 })),
                                   at: range)
                return .poison
            }
            if remaining.count == 1 {
                guard a / b == 1 else {
                    diagnostics.report(E.reshapeProduct(what: what, factor: a / b, symbol: remaining[0]), at: range)
                    return .poison
                }
                dims[i] = .symbol(remaining[0])
            } else {
                dims[i] = .known(a / b)
            }
        }
        return emit(.reshape, [t], .shape(Shape(dims)), at: range, what: what)
    }

    func slice(_ t: ValueID, axis: Int, start: Int, end: Int, step: Int, call c: BoundCall) -> Value {
        let type = graph[t].type
        guard step >= 1 else {
            diagnostics.report(E.sliceStep(step), at: c.range(of: "step"))
            return .poison
        }
        guard checkSizeArgument(step, "slice: step", at: c.range(of: "step")) else { return .poison }
        guard let dims = type.dims else {
            diagnostics.report(E.sliceUnknownRank(type: type), at: c.range)
            return .poison
        }
        let r = dims.count
        let ax = axis < 0 ? axis + r : axis
        guard ax >= 0, ax < r else {
            diagnostics.report(E.sliceAxis(axis: axis, type: type), at: c.range(of: "axis"))
            return .poison
        }
        var starts = Array(repeating: 0, count: r), ends = Array(repeating: Int.max, count: r)
        var steps = Array(repeating: 1, count: r)
        var s = start, e = end
        if let n = dims[ax].value {
            if s < 0 { s += n }
            if e < 0 { e += n }
        }
        starts[ax] = s
        ends[ax] = e
        steps[ax] = step
        return emit(.slice, [t], .slice(SliceAttributes(starts: starts, ends: ends, steps: steps)), at: c.range,
                    what: "slice")
    }

    /// Pads the last two axes by [top, bottom, left, right].
    func spatialPad(_ t: ValueID, _ p: [Int], mode: String, value: Double, at range: SourceRange) -> Value? {
        let type = graph[t].type
        guard let r = type.rank, r >= 2 else {
            diagnostics.report(E.padRank(type: type), at: range)
            return nil
        }
        let pads = Array(repeating: 0, count: 2 * (r - 2)) + p
        let attrs = PadAttributes(pads: pads, mode: PaddingMode(rawValue: mode) ?? .zero, value: mode == "constant" ? value : 0)
        return emit(.pad, [t], .pad(attrs), at: range, what: "pad")
    }
}
