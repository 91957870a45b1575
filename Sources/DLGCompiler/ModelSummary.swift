import DLGGraph
import DLGSource

/// A table like Keras's `model.summary()`: one row per layer, block call or
/// parameter, then totals. Figures "per sample" take every batch symbol (the
/// leading size of an input) as 1.
public struct ModelSummary: Sendable {
    public struct Row: Sendable {
        public var name: String
        public var kind: String
        public var outputType: String
        public var parameters: Int
        public var depth: Int
        public var location: String?
    }

    public var model: String
    public var rows: [Row] = []
    public var trainable: Int
    public var nonTrainable: Int
    public var parameterBytes: Int
    public var flopsPerSample: Int?
    public var activationBytesPerSample: Int?
    /// Batch symbols (leading input dims) and their bound sizes, if bound.
    public var batchSymbols: [String: Int?]

    public init(_ g: Graph) {
        model = g.name
        (trainable, nonTrainable) = g.parameterCounts
        parameterBytes = g.params.reduce(0) { $0 + ($1.type.byteCount ?? 0) }
        var symbols: [String: Int?] = [:]
        for i in g.inputs {
            if case .symbol(let s)? = i.type.shape.dims?.first { symbols[s] = g.bindings[s] }
        }
        batchSymbols = symbols
        // Per-sample costs: batch symbols bound to 1, other bindings kept.
        var perSample = g
        for s in symbols.keys { perSample.bindings[s] = 1 }
        flopsPerSample = perSample.totalFlops()
        var act = 0
        var known = true
        for n in perSample.nodes where !n.decl.isSource {
            if let d = perSample.costDims(n.id) { act += d.reduce(1, *) * n.type.dtype.byteSize } else { known = false }
        }
        activationBytesPerSample = known ? act : nil

        for i in g.inputs {
            rows.append(Row(name: i.name ?? "?", kind: "input", outputType: g.boundType(i.id).description, parameters: 0,
                            depth: 0, location: g.location(i.loc)))
        }
        func add(_ records: [LayerRecord], depth: Int) {
            for r in records {
                let count = r.params.reduce(0) { $0 + (g[$1].type.shape.elementCount ?? 0) }
                let type = r.output.map { g.boundType($0).description } ?? "—"
                rows.append(Row(name: r.name, kind: r.kind, outputType: type, parameters: count, depth: depth,
                                location: g.location(r.loc)))
                add(r.children, depth: depth + 1)
            }
        }
        add(g.layers, depth: 0)
    }

    public var total: Int { trainable + nonTrainable }

    public func text() -> String {
        let nameW = max(24, rows.map { $0.name.count + 2 * $0.depth }.max() ?? 0) + 2
        let kindW = max(12, rows.map(\.kind.count).max() ?? 0) + 2
        let typeW = max(16, rows.map(\.outputType.count).max() ?? 0) + 2
        let paramW = max(10, rows.map { groupDigits($0.parameters).count }.max() ?? 0)
        let width = nameW + kindW + typeW + paramW
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        func lpad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var out = "Model: \(model)\n"
        out += String(repeating: "─", count: width) + "\n"
        out += pad("Layer", nameW) + pad("Kind", kindW) + pad("Output", typeW) + lpad("Params", paramW) + "\n"
        out += String(repeating: "═", count: width) + "\n"
        for r in rows {
            let indent = String(repeating: "  ", count: r.depth)
            out += pad(indent + r.name, nameW) + pad(r.kind, kindW) + pad(r.outputType, typeW)
                + lpad(groupDigits(r.parameters), paramW) + "\n"
        }
        out += String(repeating: "─", count: width) + "\n"
        out += "Total params:          \(groupDigits(total)) (\(byteString(parameterBytes)))\n"
        out += "Trainable params:      \(groupDigits(trainable))\n"
        out += "Non-trainable params:  \(groupDigits(nonTrainable))\n"
        let per = batchSymbols.isEmpty ? "" : " per sample"
        if let f = flopsPerSample { out += "FLOPs\(per):" + String(repeating: " ", count: max(1, 23 - 6 - per.count)) + groupDigits(f) + "\n" }
        if let a = activationBytesPerSample {
            out += "Activation memory\(per) (every op output, no reuse): \(byteString(a))\n"
        }
        for (s, v) in batchSymbols.sorted(by: { $0.key < $1.key }) {
            if let v {
                if let f = flopsPerSample {
                    let (total, overflow) = f.multipliedReportingOverflow(by: v)
                    out += "FLOPs per batch of \(s)=\(v): " + (overflow ? "more than 2⁶³" : groupDigits(total)) + "\n"
                }
            }
        }
        return out
    }

    public func json() -> JSON {
        .object([
            ("model", .string(model)),
            ("layers", .array(rows.map { r in
                .object([("name", .string(r.name)), ("kind", .string(r.kind)), ("output", .string(r.outputType)),
                         ("parameters", .int(r.parameters)), ("depth", .int(r.depth)),
                         ("location", r.location.map { .string($0) } ?? .null)])
            })),
            ("parameters", .object([("total", .int(total)), ("trainable", .int(trainable)),
                                    ("non_trainable", .int(nonTrainable)), ("bytes", .int(parameterBytes))])),
            ("flops_per_sample", flopsPerSample.map { .int($0) } ?? .null),
            ("activation_bytes_per_sample", activationBytesPerSample.map { .int($0) } ?? .null),
        ])
    }
}
