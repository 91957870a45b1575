import Foundation
import DLGSource

extension Graph {
    /// How a value is written in dumps: `%image`, `%c1.weight`, `%12`.
    public func ref(_ v: ValueID) -> String {
        if v >= 0, v < nodes.count, let n = nodes[v].name { return "%\(n)" }
        return "%\(v)"
    }

    /// Shape with bindings applied.
    public func boundType(_ v: ValueID) -> TensorType { nodes[v].type.substituting(bindings) }
}

/// Options for the text form of a graph.
public struct PrintOptions: Sendable {
    /// The pipeline stage shown in the header.
    public var stage: String
    /// Per-value bytes and FLOPs (after shape inference).
    public var showCosts: Bool
    /// Every step of an unrolled loop on its own lines, instead of `repeat t in … { … }` regions.
    public var unrolled: Bool
    public init(stage: String, showCosts: Bool = false, unrolled: Bool = false) {
        self.stage = stage
        self.showCosts = showCosts
        self.unrolled = unrolled
    }
}

/// Prints one line per value: SSA name, op, operands, attributes, type and source location.
/// The steps of an unrolled loop (`Graph.loops`) are folded: consecutive steps with the same
/// ops print once, as `repeat t in a..<b { … }` with step t's values named `%L0.3[t]` (loop,
/// index in the step or role such as `h`, step) and t-dependent attribute numbers written in t.
public enum TextPrinter {
    public static func print(_ g: Graph, options: PrintOptions) -> String {
        var lines: [String] = []
        let mode = g.training ? "training" : "inference"
        var header = "graph \(g.name) — stage \(options.stage), \(mode)"
        if !g.bindings.isEmpty {
            header += ", " + g.bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        }
        lines.append("# " + header)
        let folding = options.unrolled || g.loops.isEmpty ? nil : RepeatFolding(g)
        let names = RepeatNames(g, folding: folding)
        var rows: [(String, String, String)] = []
        /// The lines of one value; `t0` is the step shown when printing inside a region.
        func emit(_ n: Node, at t0: Int?, attributes: String, indent: String) {
            func ref(_ v: ValueID) -> String { names.ref(v, at: t0) }
            var lhs = "\(ref(n.id)) = \(n.op.rawValue)"
            if !n.inputs.isEmpty { lhs += "(" + names.operands(n.inputs, at: t0) + ")" }
            if !attributes.isEmpty { lhs += " {" + attributes + "}" }
            lhs += " : \(g.boundType(n.id))"
            if n.op == .fused { lhs += " {" }
            var notes: [String] = []
            if let label = n.label { notes.append(label) }
            if let o = n.origin {
                // The forward value may have been fused away or removed since.
                let of = o.forward >= 0 && o.forward < g.nodes.count ? ref(o.forward) : "a fused value"
                notes.append("∂ of \(of) by \(o.rule)")
            }
            if let p = g.plan?.placements[n.id], !n.decl.isSource || n.op == .input {
                var where_: String
                switch p.location {
                case .arena(let o): where_ = "arena+\(o)"
                case .state(let t): where_ = "into \(ref(t))"
                case .own: where_ = "own"
                }
                if let s = p.sharesWith { where_ += " (reuses \(ref(s)))" }
                notes.append("\(where_) \(byteString(p.bytes)) live [\(p.first),\(p.last)]")
            }
            if options.showCosts {
                let t = g.boundType(n.id)
                if let b = t.byteCount { notes.append(byteString(b)) }
                if let f = g.flops(of: n.id), f > 0 { notes.append("\(groupDigits(f)) FLOPs") }
            }
            rows.append((indent + lhs, notes.joined(separator: "  "), g.location(n.loc) ?? ""))
            // A fused op shows its steps as a nested region.
            if let r = n.attrs.region {
                for (k, step) in r.steps.enumerated() {
                    let operands = step.operands.map { o -> String in
                        switch o {
                        case .input(let i): return ref(n.inputs[i])
                        case .step(let j): return "#\(j)"
                        case .scalar(let v): return formatNumber(v)
                        }
                    }
                    var line = indent + "    #\(k) = \(step.op.rawValue)(" + operands.joined(separator: ", ") + ")"
                    let a = step.attrs.entries.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
                    if !a.isEmpty { line += " {\(a)}" }
                    line += " : \(step.type.substituting(g.bindings))"
                    rows.append((line, step.label ?? "", ""))
                }
                rows.append((indent + "  }", "", ""))
            }
        }
        for n in g.nodes {
            guard let folding, folding.place[n.id] != nil else {
                emit(n, at: nil, attributes: printableAttributes(n), indent: "")
                continue
            }
            // A folded value prints with its run's region, at the run's first op.
            guard let r = folding.anchor[n.id] else { continue }
            let run = folding.runs[r]
            let loop = g.loops[run.loop]
            let t0 = run.steps[0]
            var note = "L\(run.loop): \(loop.name), \(run.steps.count) of \(loop.count) steps"
            if g.plan != nil { note += "; placements of t = \(t0)" }
            rows.append(("repeat t in \(run.range) {", note, ""))
            for (k, v) in run.nodes[0].enumerated() {
                let node = g[v]
                let forms = run.attributes[k]
                let attrs = node.attrs.entries.indices.filter { e in
                    TextPrinter.printable(node, entry: node.attrs.entries[e].name)
                }.map { forms[$0].rendered }.joined(separator: ", ")
                emit(node, at: t0, attributes: attrs, indent: "  ")
            }
            rows.append(("}", "", ""))
        }
        let width = min(rows.map { $0.0.count }.max() ?? 0, 100)
        let lwidth = rows.map { $0.2.count }.max() ?? 0
        for (lhs, note, loc) in rows {
            var line = "  " + lhs
            if !note.isEmpty || !loc.isEmpty {
                line += String(repeating: " ", count: max(1, width - lhs.count + 2)) + "# " + loc
                if !note.isEmpty { line += String(repeating: " ", count: max(0, lwidth - loc.count)) + "  " + note }
            }
            lines.append(line)
        }
        for o in g.outputs { lines.append("  output \(o.name) = \(names.ref(o.value, at: nil))") }
        if let l = g.loss { lines.append("  minimize \(names.ref(l, at: nil))") }
        for u in g.updates { lines.append("  update \(names.ref(u.target, at: nil)) ← \(names.ref(u.value, at: nil))") }
        for (p, d) in g.gradients.sorted(by: { $0.key < $1.key }) {
            lines.append("  gradient \(names.ref(p, at: nil)) = \(names.ref(d, at: nil))")
        }
        lines.append(contentsOf: footer(g))
        return lines.joined(separator: "\n") + "\n"
    }

    /// Attributes worth reading (the types of sources are already on the line).
    static func printableAttributes(_ n: Node) -> String {
        n.attrs.entries.filter { printable(n, entry: $0.name) }.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
    }

    static func printable(_ n: Node, entry: String) -> Bool {
        switch n.op {
        case .input: return false
        case .param: return entry != "dtype" && entry != "shape"
        case .constant: return entry == "value"
        case .fused: return entry == "kind"
        default: return true
        }
    }

    public static func footer(_ g: Graph) -> [String] {
        let ops = g.nodes.filter { !$0.decl.isSource }.count
        let fused = g.nodes.filter { $0.op == .fused }
        let (t, nt) = g.parameterCounts
        var lines = ["# \(ops) ops" + (fused.isEmpty ? "" : " (\(fused.count) fused groups holding \(fused.reduce(0) { $0 + ($1.attrs.region?.steps.count ?? 0) }) ops)")
                     + ", \(g.params.count) parameter tensors, \(g.inputs.count) inputs",
                     "# parameters: \(groupDigits(t + nt)) (trainable \(groupDigits(t)), non-trainable \(groupDigits(nt)))"]
        if let f = g.totalFlops() { lines.append("# FLOPs: \(groupDigits(f))" + (g.hasUnboundSymbols ? " per sample" : "")) }
        if let p = g.plan {
            lines.append("# memory: arena \(byteString(p.arenaBytes)), no-reuse total \(byteString(p.noReuseBytes)), max-live lower bound \(byteString(p.maxLiveBytes)), efficiency \(String(format: "%.3f", p.efficiency)), fragmentation \(byteString(p.fragmentationBytes))")
        }
        return lines
    }
}

/// 61706 → "61,706".
public func groupDigits(_ n: Int) -> String {
    let s = String(abs(n))
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0, (s.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}

/// 1536 → "1.5 KiB".
public func byteString(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), i = 0
    while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
    if i == 0 { return "\(n) B" }
    let r = (v * 10).rounded() / 10
    return (r == r.rounded() ? String(Int(r)) : String(r)) + " " + units[i]
}

extension Graph {
    /// Symbols with no binding remain.
    public var hasUnboundSymbols: Bool {
        nodes.contains { n in n.type.shape.symbols.contains { bindings[$0] == nil } }
    }

    /// Concrete dims for costing: bound symbols substituted, the rest taken as 1 (per sample).
    public func costDims(_ v: ValueID) -> [Int]? {
        guard let dims = nodes[v].type.shape.dims else { return nil }
        return dims.map { d in
            switch d {
            case .known(let k): return k
            case .symbol(let s): return bindings[s] ?? 1
            }
        }
    }

    public func flops(of v: ValueID) -> Int? {
        let n = nodes[v]
        if n.decl.isSource { return 0 }
        guard let out = costDims(v) else { return nil }
        var ins: [[Int]] = []
        for i in n.inputs {
            guard let d = costDims(i) else { return nil }
            ins.append(d)
        }
        return n.decl.flops(FlopContext(inputs: ins, output: out, attrs: n.attrs))
    }

    /// Sum of FLOPs of every op; nil if a rank is unknown or the sum does not fit in 64 bits.
    public func totalFlops() -> Int? {
        var total = 0
        for n in nodes {
            guard let f = flops(of: n.id) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(f)
            if overflow { return nil }
            total = sum
        }
        return total
    }
}
