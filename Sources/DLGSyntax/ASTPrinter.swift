import DLGSource

/// The `parsed` stage of `dlg dump`: the syntax tree written back as source,
/// with every binary operation parenthesized so the grouping the parser chose
/// is visible, and each statement's location.
public enum ASTPrinter {
    public static func print(_ unit: SourceUnit) -> String {
        var out: [String] = ["# \(unit.file.path) — stage parsed"]
        let file = unit.file
        func loc(_ r: SourceRange) -> String {
            let (l, c) = file.lineColumn(of: r.start)
            return "@ \(l):\(c)"
        }
        func line(_ indent: Int, _ text: String, _ r: SourceRange) {
            let body = String(repeating: "    ", count: indent) + text
            out.append(body + String(repeating: " ", count: max(2, 72 - body.count)) + "# " + loc(r))
        }
        func statements(_ body: [Statement], _ indent: Int) {
            for s in body {
                switch s.kind {
                case .input(let n, let t): line(indent, "input \(n.name): \(type(t))", s.range)
                case .param(let n, let t, let e):
                    line(indent, "param \(n.name): \(type(t))" + (e.map { " = \(expr($0))" } ?? ""), s.range)
                case .assign(let n, let e): line(indent, "\(n.name) = \(expr(e))", s.range)
                case .output(let n, let e): line(indent, "output \(n.name)" + (e.map { " = \(expr($0))" } ?? ""), s.range)
                case .minimize(let e): line(indent, "minimize \(expr(e))", s.range)
                case .return(let e): line(indent, "return \(expr(e))", s.range)
                case .forLoop(let v, let a, let b, let body):
                    line(indent, "for \(v.name) in \(expr(a))..<\(expr(b)) {", s.range)
                    statements(body, indent + 1)
                    out.append(String(repeating: "    ", count: indent) + "}")
                case .ifStatement(let c, let a, let b):
                    line(indent, "if \(expr(c)) {", s.range)
                    statements(a, indent + 1)
                    if let b {
                        out.append(String(repeating: "    ", count: indent) + "} else {")
                        statements(b, indent + 1)
                    }
                    out.append(String(repeating: "    ", count: indent) + "}")
                }
            }
        }
        for d in unit.declarations {
            switch d {
            case .model(let m):
                let mp = m.parameters.map { $0.name.name + ($0.defaultValue.map { " = \(expr($0))" } ?? "") }
                line(0, "model \(m.name.name)" + (mp.isEmpty ? "" : "(\(mp.joined(separator: ", ")))") + " {", m.range)
                statements(m.body, 1)
                out.append("}")
            case .block(let b):
                let params = b.parameters.map { $0.name.name + ($0.defaultValue.map { " = \(expr($0))" } ?? "") }
                line(0, "block \(b.name.name)(\(params.joined(separator: ", "))) {", b.range)
                statements(b.body, 1)
                out.append("}")
            case .train(let t):
                line(0, "train \(t.model.name) {", t.range)
                for s in t.settings { line(1, "\(s.key.name) = \(expr(s.value))", s.key.range.union(s.value.range)) }
                out.append("}")
            case .use(let u):
                switch u.target {
                case .file(let path): line(0, "use \"\(path)\"", u.range)
                case .library(let name): line(0, "use \(name)", u.range)
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    public static func type(_ t: TypeExpr) -> String {
        guard let dims = t.dims else { return "\(t.dtype.name)[*]" }
        return "\(t.dtype.name)[" + dims.map(expr).joined(separator: ", ") + "]"
    }

    public static func expr(_ e: Expr) -> String {
        switch e.kind {
        case .integer(let i): return String(i)
        case .float(let f): return String(f)
        case .string(let s):
            var quoted = "\""
            for c in s {
                switch c {
                case "\\": quoted += "\\\\"
                case "\"": quoted += "\\\""
                case "\n": quoted += "\\n"
                case "\t": quoted += "\\t"
                default: quoted.append(c)
                }
            }
            return quoted + "\""
        case .bool(let b): return b ? "true" : "false"
        case .name(let n): return n
        case .list(let items): return "[" + items.map(expr).joined(separator: ", ") + "]"
        case .unary(let op, let x): return op.rawValue + expr(x)
        case .binary(let op, let a, let b, _): return "(\(expr(a)) \(op.rawValue) \(expr(b)))"
        case .call(let f, let args):
            return f.name + "(" + args.map { ($0.label.map { "\($0.name): " } ?? "") + expr($0.value) }.joined(separator: ", ") + ")"
        case .index(let a, let i): return "\(expr(a))[\(expr(i))]"
        case .conditional(let c, let a, let b): return "(if \(expr(c)) then \(expr(a)) else \(expr(b)))"
        case .error: return "<error>"
        }
    }
}

