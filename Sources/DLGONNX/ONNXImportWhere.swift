import DLGData
import DLGGraph

/// `Where`, and the causal softmax written with it.
extension Translator {
    /// The most elements a constant condition may have to be written as a literal list.
    static let literalLimit = 4096

    /// Where(cond, a, b): a causal softmax when it is one (`causalSoftmax`), else `where(cond, a, b)`,
    /// which broadcasts its three operands as ONNX does. The condition is a constant (written as a
    /// literal) or a run-time tensor made boolean by a `Cast` (dlg's `where` reads nonzero as true).
    func whereOp(_ n: ONNXNode) throws {
        guard n.inputs.count == 3 else { throw Unsupported("it has \(n.inputs.count) operands, not 3") }
        if try causalSoftmax(n) { return }
        // All three known: fold.
        if let c = constant(n, 0), let a = constant(n, 1), let b = constant(n, 2) {
            values[n.outputs[0]] = .constant(try Self.select(c, a, b))
            return
        }
        let cond: Expr, condDims: [IDim]?
        if let c = constant(n, 0) {
            guard c.count <= Self.literalLimit else {
                throw Unsupported("its constant condition has \(c.count) elements; dlg text writes at most \(Self.literalLimit) as a literal")
            }
            cond = .atom(Self.literal(c))
            condDims = c.shape.map { .known($0) }
        } else {
            let (e, info) = try tensor(n, 0)
            cond = e
            condDims = info.dims
        }
        let (a, ai) = try tensor(n, 1)
        let (b, bi) = try tensor(n, 2)
        guard ai.dtype == bi.dtype, ai.dtype != .i32 else {
            throw Unsupported("its values are \(ai.dtype) and \(bi.dtype); dlg's where selects between floating-point values of one type")
        }
        let dims = Self.broadcast(Self.broadcast(condDims, ai.dims), bi.dims)
        define(n, 0, .atom("where(\(cond.text), \(a.text), \(b.text))", layers: cond.layers + a.layers + b.layers),
               TensorInfo(dtype: ai.dtype, dims: dims))
    }

    /// Where(mask, x, fill) read only by a Softmax over the last axis, where `mask` is a constant
    /// [Tq, Tk] (leading axes of size 1 allowed) that keeps key j of query i exactly when j ≤ i, x's
    /// last two axes are [Tq, Tk] and `fill` a number at most −10³⁰ (or −∞), so that the masked keys
    /// get probability 0: `softmax(x, causal: true)` (what `dlg export` writes causal_softmax as). The
    /// complementary form Where(mask, fill, x) with mask true for j > i is the same.
    func causalSoftmax(_ n: ONNXNode) throws -> Bool {
        guard !graphOutputs.contains(n.outputs[0]), let u = consumers[n.outputs[0]], u.count == 1,
              u[0].opType == "Softmax", u[0].isDefaultDomain, u[0].inputs.first == n.outputs[0],
              let mask = constant(n, 0), mask.rank >= 2 else { return false }
        let xOperand: Int
        if case .tensor? = value(n.inputs[1]), let f = float(n, 2), f <= -1e30 {
            xOperand = 1
        } else if case .tensor? = value(n.inputs[2]), let f = float(n, 1), f <= -1e30 {
            xOperand = 2
        } else {
            return false
        }
        guard case .tensor(let x, let xi)? = value(n.inputs[xOperand]), let d = xi.dims, d.count >= 2, d.count >= mask.rank,
              let tq = d[d.count - 2].value, let tk = d[d.count - 1].value,
              Array(mask.shape.suffix(2)) == [tq, tk], mask.shape.dropLast(2).allSatisfy({ $0 == 1 }) else { return false }
        let axis = int(u[0], "axis", -1)
        guard axis == -1 || axis == d.count - 1 else { return false }
        let keepWhereTrue = xOperand == 1
        for (k, v) in mask.toDoubles().enumerated() where ((v != 0) == keepWhereTrue) != (k % tk <= k / tk) {
            return false
        }
        absorbed.insert(u[0].index)
        define(u[0], 0, .atom("softmax(\(x.text), causal: true)", layers: x.layers), xi)
        return true
    }

    /// A constant as a dlg literal: a number, or nested lists of numbers.
    static func literal(_ a: NDArray) -> String {
        let v = a.toDoubles().map { DLGText.number($0) }
        guard a.rank > 0 else { return v.first ?? "0" }
        func nest(_ axis: Int, _ offset: Int) -> String {
            let size = a.shape[axis]
            let inner = a.shape[(axis + 1)...].reduce(1, *)
            if axis == a.rank - 1 { return "[" + v[offset..<(offset + size)].joined(separator: ", ") + "]" }
            return "[" + (0..<size).map { nest(axis + 1, offset + $0 * inner) }.joined(separator: ", ") + "]"
        }
        return nest(0, 0)
    }

    /// ONNX's Where of three constants, broadcast NumPy's way.
    static func select(_ c: NDArray, _ a: NDArray, _ b: NDArray) throws -> NDArray {
        let rank = max(c.rank, a.rank, b.rank)
        func padded(_ s: [Int]) -> [Int] { [Int](repeating: 1, count: rank - s.count) + s }
        var shape = [Int](repeating: 1, count: rank)
        for s in [c.shape, a.shape, b.shape].map(padded) {
            for k in 0..<rank where s[k] != 1 {
                guard shape[k] == 1 || shape[k] == s[k] else { throw Unsupported("shapes \(c.shape), \(a.shape), \(b.shape) do not broadcast") }
                shape[k] = s[k]
            }
        }
        _ = try checkedProduct(shape)
        guard shape.reduce(1, *) <= constantLimit else { throw Unsupported("Where of constants makes more than \(constantLimit) elements") }
        guard let cc = broadcastLiteral(TensorLiteral(shape: c.shape, values: c.toDoubles()), to: shape),
              let aa = broadcastLiteral(TensorLiteral(shape: a.shape, values: a.toDoubles()), to: shape),
              let bb = broadcastLiteral(TensorLiteral(shape: b.shape, values: b.toDoubles()), to: shape) else {
            throw Unsupported("shapes \(c.shape), \(a.shape), \(b.shape) do not broadcast")
        }
        let out = (0..<cc.values.count).map { cc.values[$0] != 0 ? aa.values[$0] : bb.values[$0] }
        return try NDArray(out, shape: shape).converted(to: a.elementType)
    }
}
