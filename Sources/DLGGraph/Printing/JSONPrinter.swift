/// The JSON form of a graph. Schema `dlg.ir/1`, documented in Docs/ir.md.
public enum JSONPrinter {
    public static let schema = "dlg.ir/1"

    public static func json(_ g: Graph, stage: String) -> JSON {
        var values: [JSON] = []
        for n in g.nodes {
            var fields: [(String, JSON)] = [
                ("id", .int(n.id)),
                ("ref", .string(g.ref(n.id))),
                ("op", .string(n.op.rawValue)),
                ("inputs", .array(n.inputs.map { .int($0) })),
                ("attrs", .object(n.attrs.entries.map { ($0.name, json($0.value)) })),
                ("type", json(g.boundType(n.id))),
            ]
            if let name = n.name { fields.append(("name", .string(name))) }
            if let label = n.label { fields.append(("label", .string(label))) }
            if let o = n.origin { fields.append(("origin", .object([("forward", .int(o.forward)), ("rule", .string(o.rule))]))) }
            if let s = n.step {
                var step: [(String, JSON)] = [("loop", .int(s.loop)), ("t", .int(s.t))]
                if let role = s.role { step.append(("role", .string(role))) }
                fields.append(("step", .object(step)))
            }
            if let loc = location(g, n.loc) { fields.append(("loc", loc)) }
            if let b = g.boundType(n.id).byteCount { fields.append(("bytes", .int(b))) }
            if let f = g.flops(of: n.id) { fields.append(("flops", .int(f))) }
            if let p = g.plan?.placements[n.id] {
                var place: [(String, JSON)]
                switch p.location {
                case .arena(let o): place = [("arena_offset", .int(o))]
                case .state(let t): place = [("into_state", .int(t))]
                case .own: place = [("own", .bool(true))]
                }
                place += [("bytes", .int(p.bytes)), ("first", .int(p.first)), ("last", .int(p.last))]
                if let s = p.sharesWith { place.append(("shares_with", .int(s))) }
                fields.append(("placement", .object(place)))
            }
            values.append(.object(fields))
        }
        let (t, nt) = g.parameterCounts
        return .object([
            ("schema", .string(schema)),
            ("graph", .string(g.name)),
            ("stage", .string(stage)),
            ("training", .bool(g.training)),
            ("bindings", .object(g.bindings.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("values", .array(values)),
            ("outputs", .array(g.outputs.map { .object([("name", .string($0.name)), ("value", .int($0.value))]) })),
            ("loss", g.loss.map { .int($0) } ?? .null),
            ("updates", .array(g.updates.map { .object([("target", .int($0.target)), ("value", .int($0.value))]) })),
            ("gradients", .array(g.gradients.sorted { $0.key < $1.key }.map {
                .object([("of", .int($0.key)), ("value", .int($0.value))])
            })),
            ("summary", .object([
                ("ops", .int(g.nodes.filter { !$0.decl.isSource }.count)),
                ("parameter_tensors", .int(g.params.count)),
                ("parameters", .object([("trainable", .int(t)), ("non_trainable", .int(nt))])),
                ("flops", g.totalFlops().map { .int($0) } ?? .null),
                ("flops_per_sample", .bool(g.hasUnboundSymbols)),
            ])),
            ("memory", g.plan.map { p in
                .object([("arena_bytes", .int(p.arenaBytes)), ("no_reuse_bytes", .int(p.noReuseBytes)),
                         ("max_live_bytes", .int(p.maxLiveBytes)), ("efficiency", .double(p.efficiency)),
                         ("fragmentation_bytes", .int(p.fragmentationBytes))])
            } ?? .null),
            ("loops", .array(g.loops.map { l in
                .object([("name", .string(l.name)), ("count", .int(l.count)), ("reversed", .bool(l.reversed)),
                         ("gradient_of", l.gradientOf.map { .int($0) } ?? .null)])
            })),
        ])
    }

    public static func json(_ t: TensorType) -> JSON {
        let shape: JSON = t.shape.dims.map { dims in
            .array(dims.map { d in
                switch d {
                case .known(let v): return .int(v)
                case .symbol(let s): return .string(s)
                }
            })
        } ?? .null
        return .object([("dtype", .string(t.dtype.rawValue)), ("shape", shape)])
    }

    public static func json(_ v: AttrValue) -> JSON {
        switch v {
        case .int(let i): return .int(i)
        case .ints(let a): return .array(a.map { .int($0) })
        case .float(let f): return .double(f)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .shape(let s): return json(TensorType(.f32, s)).objectField("shape") ?? .null
        case .dtype(let d): return .string(d.rawValue)
        case .initializer(let i):
            if case .literal(let lit) = i { return literal(lit) }
            return .string(i.description)
        case .tensor(let lit): return literal(lit)
        case .region(let r):
            return .array(r.steps.map { step in
                .object([("op", .string(step.op.rawValue)),
                         ("operands", .array(step.operands.map(operand))),
                         ("attrs", .object(step.attrs.entries.map { ($0.name, json($0.value)) })),
                         ("type", json(step.type)),
                         ("original", .int(step.original))])
            })
        }
    }

    /// `$k` for the fused node's input k, `#k` for step k, a number for an immediate.
    static func operand(_ o: FusedRegion.Operand) -> JSON {
        switch o {
        case .input(let i): return .string("$\(i)")
        case .step(let k): return .string("#\(k)")
        case .scalar(let v): return .double(v)
        }
    }

    static func literal(_ lit: TensorLiteral) -> JSON {
        .object([("shape", .array(lit.shape.map { .int($0) })), ("values", .array(lit.values.map { .double($0) }))])
    }

    public static func location(_ g: Graph, _ r: DLGSource.SourceRange?) -> JSON? {
        guard let r, let src = g.source else { return nil }
        let (l, c) = src.lineColumn(of: r.start)
        return .object([("file", .string(src.path)), ("line", .int(l)), ("column", .int(c))])
    }
}

extension JSON {
    public func objectField(_ key: String) -> JSON? {
        if case .object(let fields) = self { return fields.first { $0.0 == key }?.1 }
        return nil
    }
}

import DLGSource
