import DLGGraph

/// Docs/ops.md, generated from the op declarations (`OpRegistry`): every
/// primitive op with its doc paragraph, operands, fusion kind, gradient rule,
/// whether its derivative jumps, and its typed attributes (type, default, doc). Docs/ir.md explains the
/// shape rules, FLOP counts and gradients in prose.
public enum OpReference {
    /// Sections in the order of the fusion lattice, sources first.
    static let sections: [(title: String, text: String, includes: @Sendable (OpDecl) -> Bool)] = [
        ("Sources", "Values that come from outside the graph: fed inputs, parameters and constants. They have no operands and no kernel.",
         { $0.isSource }),
        ("Elementwise", "Each output element from the same-index input elements; chains of them fuse into one loop.",
         { !$0.isSource && $0.fusion == .elementwise }),
        ("Broadcast", "Elementwise after broadcasting the operands (NumPy's rules, aligned from the right).",
         { !$0.isSource && $0.fusion == .broadcast }),
        ("Injective", "Each output element reads one input element at a computed index.",
         { !$0.isSource && $0.fusion == .injective }),
        ("Reductions", "Reduce over axes; a reduction absorbs the elementwise chain it reads.",
         { !$0.isSource && $0.fusion == .reduction }),
        ("Library kernels with an epilogue", "GEMM and convolution; their output can take an elementwise epilogue (bias, activation, residual).",
         { !$0.isSource && $0.fusion == .outputFusable }),
        ("Opaque", "Never fused.", { !$0.isSource && $0.fusion == .opaque }),
    ]

    static func operands(_ a: Arity) -> String {
        switch a {
        case .exactly(0): "none"
        case .exactly(let n): "\(n)"
        case .atLeast(let n): "\(n) or more"
        }
    }

    /// The facts of one declaration, as one line.
    static func facts(_ d: OpDecl) -> String {
        var parts = ["operands: \(operands(d.arity))"]
        parts.append("attributes: " + (d.attributes.isEmpty ? "none" : d.attributes.map { "`\($0.name)`" }.joined(separator: ", ")))
        parts.append("fusion: \(d.fusion.rawValue)")
        if !d.isSource { parts.append("gradient rule: " + (d.vjp == nil ? "none" : "yes")) }
        if d.piecewise { parts.append("piecewise (its derivative, or for softsign its curvature, jumps between branches; gradient checks step around the kinks)") }
        return parts.joined(separator: " · ")
    }

    /// The declaration's attributes, one row each: name, type, default (— when required) and doc.
    static func attributeTable(_ d: OpDecl) -> String {
        guard !d.attributes.isEmpty else { return "" }
        var rows = ["| attribute | type | default | meaning |", "|---|---|---|---|"]
        for a in d.attributes {
            rows.append("| `\(a.name)` | \(cell(a.type)) | \(a.defaultValue.map(cell) ?? "—") | \(cell(a.doc)) |")
        }
        return "\n" + rows.joined(separator: "\n") + "\n"
    }

    static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }

    public static func markdown() -> String {
        let declarations = OpRegistry.declarations
        var out = """
            # Primitive ops

            Every operation of the graph IR, as declared in Sources/DLGGraph/Ops: one
            declaration per op carries its doc paragraph, its operands, the attributes it
            reads, its fusion kind, its shape rule, its FLOP count and its gradient rule.
            This file is generated from the declarations (`make docs`); a test fails when
            it is stale. [ir.md](ir.md#primitive-ops) explains the shape rules, FLOP counts
            and gradients of each op in more detail. \(declarations.count) ops.

            """
        for (title, text, includes) in sections {
            let members = declarations.filter(includes)
            guard !members.isEmpty else { continue }
            out += "\n## \(title)\n\n\(text)\n"
            for d in members {
                out += "\n### `\(d.op.rawValue)`\n\n\(d.doc)\n\n\(facts(d))\n" + attributeTable(d)
            }
        }
        return out
    }
}
