import Foundation

/// Graphviz form: one node per value, edges from operands to users.
public enum DotPrinter {
    public static func dot(_ g: Graph, stage: String) -> String {
        var out = "digraph \"\(escape(g.name))\" {\n"
        out += "  label=\"\(escape(g.name)) — \(stage)\"; labelloc=t; rankdir=TB;\n"
        out += "  node [fontname=\"Helvetica\", fontsize=10];\n"
        for n in g.nodes {
            let type = g.boundType(n.id).description
            let label: String
            let style: String
            switch n.op {
            case .input:
                label = "\(n.name ?? "input")\\n\(type)"
                style = "shape=ellipse, style=filled, fillcolor=\"#d8ecff\""
            case .param:
                label = "\(n.name ?? "param")\\n\(type)"
                style = "shape=box, style=\"rounded,filled\", fillcolor=\"#fff2cc\""
            case .constant:
                label = "const \(n.attrs.constant.value)"
                style = "shape=plaintext"
            default:
                label = "\(g.ref(n.id)) \(n.op.rawValue)\\n\(type)" + (n.label.map { "\\n\($0)" } ?? "")
                style = n.origin != nil ? "shape=box, style=filled, fillcolor=\"#fde0dc\"" : "shape=box"
            }
            out += "  v\(n.id) [label=\"\(escape(label))\", \(style)];\n"
            for i in n.inputs { out += "  v\(i) -> v\(n.id);\n" }
        }
        for o in g.outputs {
            out += "  out_\(o.value) [label=\"output \(escape(o.name))\", shape=doublecircle];\n  v\(o.value) -> out_\(o.value);\n"
        }
        if let l = g.loss { out += "  loss [label=\"minimize\", shape=doublecircle];\n  v\(l) -> loss;\n" }
        return out + "}\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\\\\n", with: "\\n")
    }
}
