import DLGData

/// gelu spelled out with Erf, x·½(1 + erf(x/√2)): what PyTorch's exporters
/// (TorchScript's at every opset, dynamo's below 20) and `dlg export` below
/// opset 20 write. Found before the translation; the node that scales x
/// stands for the whole pattern, the others are absorbed.
struct GeluPattern {
    /// The operand of the scaling node that is x.
    var xOperand: Int
    /// The node whose output is gelu(x).
    var last: ONNXNode
}

extension Translator {
    /// The value of a one-element constant operand known before the
    /// translation: an initializer or a Constant node's `value`/`value_float`.
    func patternScalar(_ name: String, producers: [String: ONNXNode]) -> Double? {
        if let t = model.initializer(name) {
            return t.array.count == 1 ? t.array.toDoubles()[0] : nil
        }
        guard let c = producers[name], c.opType == "Constant", c.isDefaultDomain else { return nil }
        switch c.attributes["value"] {
        case .tensor(let t)? where t.array.count == 1: return t.array.toDoubles()[0]
        default: break
        }
        if case .float(let v)? = c.attributes["value_float"] { return Double(v) }
        return nil
    }

    /// Finds every gelu pattern, marks its nodes absorbed but the first, and
    /// counts x as read once (by the first), so that `gelu(…)` can be inlined.
    func findGeluPatterns() {
        var producers: [String: ONNXNode] = [:]
        for n in model.nodes { for o in n.outputs where !o.isEmpty { producers[o] = n } }
        func close(_ a: Double?, _ b: Double) -> Bool { a.map { abs($0 - b) <= 1e-6 * abs(b) } ?? false }
        /// The single reader of `n`'s only output, when it is a default-domain `op` and the output is no graph output.
        func soleReader(_ n: ONNXNode, _ op: String) -> ONNXNode? {
            guard n.outputs.count >= 1, !graphOutputs.contains(n.outputs[0]), let u = consumers[n.outputs[0]], u.count == 1,
                  u[0].opType == op, u[0].isDefaultDomain, u[0].inputs.count == (op == "Erf" ? 1 : 2),
                  u[0].inputs.filter({ $0 == n.outputs[0] }).count == 1 else { return nil }
            return u[0]
        }
        /// The operand of binary `m` other than `name`.
        func other(_ m: ONNXNode, _ name: String) -> String { m.inputs[0] == name ? m.inputs[1] : m.inputs[0] }

        for erf in model.nodes where erf.opType == "Erf" && erf.isDefaultDomain && erf.inputs.count == 1 {
            // x / √2 or x · (1/√2), read by the Erf only.
            guard let s = producers[erf.inputs[0]], s.isDefaultDomain, s.inputs.count == 2,
                  soleReader(s, "Erf")?.index == erf.index else { continue }
            let xOperand: Int
            if s.opType == "Div", close(patternScalar(s.inputs[1], producers: producers), 2.0.squareRoot()) {
                xOperand = 0
            } else if s.opType == "Mul", close(patternScalar(s.inputs[1], producers: producers), 0.5.squareRoot()) {
                xOperand = 0
            } else if s.opType == "Mul", close(patternScalar(s.inputs[0], producers: producers), 0.5.squareRoot()) {
                xOperand = 1
            } else {
                continue
            }
            let x = s.inputs[xOperand]
            // 1 + erf(…)
            guard let add = soleReader(erf, "Add"), close(patternScalar(other(add, erf.outputs[0]), producers: producers), 1),
                  let m1 = soleReader(add, "Mul") else { continue }
            let o = other(m1, add.outputs[0])
            var nodes = [erf, add, m1]
            var last: ONNXNode
            var xReaders: [Int]   // the pattern's nodes that read x, besides s
            if o == x, let m2 = soleReader(m1, "Mul"), close(patternScalar(other(m2, m1.outputs[0]), producers: producers), 0.5) {
                // (x · (1 + erf)) · ½
                nodes.append(m2)
                last = m2
                xReaders = [m1.index]
            } else if close(patternScalar(o, producers: producers), 0.5), let m2 = soleReader(m1, "Mul"), other(m2, m1.outputs[0]) == x {
                // x · ((1 + erf) · ½)
                nodes.append(m2)
                last = m2
                xReaders = [m2.index]
            } else if let h = producers[o], h.opType == "Mul", h.isDefaultDomain, h.inputs.count == 2, soleReader(h, "Mul")?.index == m1.index,
                      h.inputs.contains(x), close(patternScalar(other(h, x), producers: producers), 0.5) {
                // (x · ½) · (1 + erf)
                nodes.append(h)
                last = m1
                xReaders = [h.index]
            } else {
                continue
            }
            guard x != s.inputs[1 - xOperand] else { continue }
            // The pattern's nodes become one; x is read once, by s.
            for n in nodes { absorbed.insert(n.index) }
            consumers[x] = (consumers[x] ?? []).filter { !xReaders.contains($0.index) }
            geluPatterns[s.index] = GeluPattern(xOperand: xOperand, last: last)
        }
    }

    /// The first node of a gelu pattern: gelu(x) as the pattern's last node's output.
    func translateGelu(_ n: ONNXNode, _ g: GeluPattern) throws {
        let (e, info) = try tensor(n, g.xOperand)
        define(g.last, 0, .atom("gelu(\(e.text))", layers: e.layers), info)
    }
}
