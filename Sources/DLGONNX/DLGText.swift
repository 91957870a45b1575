import DLGCompiler
import DLGGraph

/// Pieces of `.dlg` text the importer writes.
enum DLGText {
    /// `/layer1/layer1.0/relu/Relu_output_0` → `layer1_0_relu`; `input.1` →
    /// `input_1`: an identifier made of the name's letters, digits and
    /// underscores. TorchScript's scope paths repeat the enclosing module
    /// (`layer1/layer1.0`), and name outputs after their op
    /// (`…/Relu_output_0`); both repetitions are dropped.
    static func identifier(from onnxName: String, opType: String? = nil) -> String {
        var name = onnxName
        if name.hasSuffix("_output_0") { name.removeLast("_output_0".count) }
        var parts = name.split(separator: "/").map(String.init)
        if let op = opType, parts.count > 1, let last = parts.last, last == op || last.hasPrefix(op + "_") {
            parts.removeLast()
        }
        // `layer1` before `layer1.0` adds nothing.
        var kept: [String] = []
        for (i, p) in parts.enumerated() {
            if i + 1 < parts.count, parts[i + 1].hasPrefix(p + ".") { continue }
            kept.append(p)
        }
        var out = ""
        var lastUnderscore = false
        for ch in kept.joined(separator: "_").unicodeScalars {
            let ok = (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || (ch >= "0" && ch <= "9")
            if ok {
                out.unicodeScalars.append(ch)
                lastUnderscore = false
            } else if !lastUnderscore {
                out.append("_")
                lastUnderscore = true
            }
        }
        while out.hasPrefix("_") { out.removeFirst() }
        while out.hasSuffix("_") { out.removeLast() }
        if out.isEmpty { out = "v" }
        if let f = out.unicodeScalars.first, f >= "0" && f <= "9" { out = "v" + out }
        return out
    }

    /// A layer name for `name:` (any text without spaces): the initializer's
    /// prefix, `layer1.0.conv1` for `layer1.0.conv1.weight`.
    static func layerName(fromInitializer name: String) -> String? {
        for suffix in [".weight", ".scale", ".gamma", ".kernel", ".w"] where name.hasSuffix(suffix) {
            let p = String(name.dropLast(suffix.count))
            if !p.isEmpty, !p.contains(" "), !p.contains("\""), !p.contains("\\"), !p.contains("::") { return p }
        }
        return nil
    }

    /// A number as the importer writes it: integers without a fraction, others
    /// in the shortest form that reads back as the same Float.
    static func number(_ v: Double) -> String {
        if v.isNaN || v.isInfinite { return v.isNaN ? "0" : (v < 0 ? "-1e38" : "1e38") }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        let f = Float(v)
        if Double(f) == v || abs(Double(f) - v) <= abs(v) * 1e-7 { return "\(f)" }
        return "\(v)"
    }

    static func number(_ v: Float) -> String { number(Double(v)) }

    /// `3` for [3, 3], `[3, 5]` otherwise.
    static func pair(_ v: [Int]) -> String {
        v.count == 2 && v[0] == v[1] ? "\(v[0])" : list(v)
    }

    static func list(_ v: [Int]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }

    /// Padding [top, bottom, left, right] in the shortest form dlg reads.
    static func padding(_ p: [Int]) -> String {
        if p.allSatisfy({ $0 == p[0] }) { return "\(p[0])" }
        if p[0] == p[1], p[2] == p[3] { return "[\(p[0]), \(p[2])]" }
        return list(p)
    }

    static func quoted(_ s: String) -> String { "\"" + s + "\"" }
}
