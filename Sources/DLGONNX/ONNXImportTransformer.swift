import DLGData
import DLGGraph
import Foundation

/// What a transformer encoder from PyTorch needs beyond the dense and sequence ops:
/// LayerNormalization, a Gather of one index from run-time data (PyTorch's attention takes
/// q, k and v apart so), and arithmetic on constants folded while importing (the attention's
/// scale, 1/√(head size), computed from the shape).
extension Translator {
    /// LayerNormalization over the last axis with a weight and a bias of its own: `layer_norm`,
    /// named after the weight (`layers.0.norm1` of `layers.0.norm1.weight`), so that its parameters
    /// are `….weight` and `….bias` as in PyTorch's nn.LayerNorm.
    func layerNormalization(_ n: ONNXNode) throws {
        let (x, xi) = try tensor(n, 0)
        guard let d = xi.dims, let last = d.last, let features = last.value else {
            throw Unsupported("the operand's last axis has no known size")
        }
        let axis = int(n, "axis", -1)
        guard axis == -1 || axis == d.count - 1 else {
            throw Unsupported("axis \(axis) is not the last; dlg's layer_norm normalizes the last axis")
        }
        if n.outputs.dropFirst().contains(where: { !$0.isEmpty && !(consumers[$0] ?? []).isEmpty }) {
            throw Unsupported("its Mean or InvStdDev output is used")
        }
        guard let scale = ownedInitializer(n, 1), scale.shape == [features] else {
            throw Unsupported("its scale is not an initializer of its own of \(features) values")
        }
        guard n.inputs.count > 2, !n.inputs[2].isEmpty, let bias = ownedInitializer(n, 2), bias.shape == [features] else {
            throw Unsupported("it has no bias initializer of its own of \(features) values (dlg's layer_norm has weight and bias)")
        }
        let eps = floatAttr(n, "epsilon", 1e-5)
        guard eps > 0 else { throw Unsupported("epsilon \(eps) is not positive") }
        let layer = layerName(n, weightOperand: 1)
        var args = [x.text]
        if abs(eps - 1e-5) > 1e-12 { args.append("eps: \(DLGText.number(Float(eps)))") }
        args.append("name: \(DLGText.quoted(layer))")
        addWeight(layer + ".weight", scale, from: n.inputs[1])
        addWeight(layer + ".bias", bias, from: n.inputs[2])
        define(n, 0, .atom("layer_norm(\(args.joined(separator: ", ")))", layers: x.layers + 1), xi)
    }

    /// Gather of one constant index along an axis of run-time data: a `slice` of that one element,
    /// reshaped without the axis for a scalar index (PyTorch's `t[0]`).
    func gatherOne(_ n: ONNXNode, _ e: Expr, _ info: TensorInfo, index: NDArray) throws {
        guard let d = info.dims else { throw Unsupported("the operand's rank is unknown") }
        guard index.count == 1, index.rank <= 1, !index.elementType.isFloatingPoint, let i0 = Self.integers(index)?.first else {
            throw Unsupported("Gather of run-time data is supported for one constant index (not \(index.shape))")
        }
        let a = int(n, "axis", 0)
        let axis = a < 0 ? a + d.count : a
        guard axis >= 0, axis < d.count else { throw Unsupported("axis \(a) is out of range for rank \(d.count)") }
        guard let size = d[axis].value else { throw Unsupported("axis \(axis) has a symbolic size") }
        let i = i0 < 0 ? i0 + size : i0
        guard i >= 0, i < size else { throw Unsupported("index \(i0) is out of range for size \(size)") }
        var text = "slice(\(e.text), axis: \(axis), start: \(i), end: \(i + 1))"
        var out = d
        out[axis] = .known(1)
        if index.rank == 0 {
            out.remove(at: axis)
            text = "reshape(\(text), \(dimsText(out)))"
        }
        define(n, 0, .atom(text, layers: e.layers), TensorInfo(dtype: info.dtype, dims: out))
    }

    /// The value of operand `i` as a constant for folding: a constant, or sizes all known (as i64).
    func foldable(_ n: ONNXNode, _ i: Int) -> NDArray? {
        guard i < n.inputs.count, let v = value(n.inputs[i]) else { return nil }
        switch v {
        case .constant(let a):
            // A trained initializer stays a parameter; a scalar one (a literal) may be folded.
            return initializerNames.contains(n.inputs[i]) && a.count > 1 ? nil : a
        case .sizes(let d):
            let k = d.compactMap(\.value)
            return k.count == d.count ? NDArray(k.map(Int64.init)) : nil
        default: return nil
        }
    }

    /// A unary op of a constant (Sqrt of a size cast to float): folded; false when the operand is not one.
    func foldUnary(_ n: ONNXNode) throws -> Bool {
        guard let a = foldable(n, 0), a.elementType.isFloatingPoint else { return false }
        guard a.count <= Self.constantLimit else { return false }
        let f: (Double) -> Double
        switch n.opType {
        case "Sqrt": f = { $0.squareRoot() }
        case "Reciprocal": f = { 1 / $0 }
        case "Neg": f = { -$0 }
        case "Exp": f = { Foundation.exp($0) }
        case "Log": f = { Foundation.log($0) }
        case "Abs": f = { Swift.abs($0) }
        default: return false
        }
        values[n.outputs[0]] = .constant(try NDArray(a.toDoubles().map(f), shape: a.shape).converted(to: a.elementType))
        return true
    }

    /// Add, Sub, Mul, Div of two constants with a floating-point one among them: folded, broadcast
    /// NumPy's way, in the floating-point operand's type; false when they are not both constants.
    func foldFloatBinary(_ n: ONNXNode) throws -> Bool {
        guard let a = foldable(n, 0), let b = foldable(n, 1), a.elementType.isFloatingPoint || b.elementType.isFloatingPoint else {
            return false
        }
        let f: (Double, Double) -> Double
        switch n.opType {
        case "Add": f = { $0 + $1 }
        case "Sub": f = { $0 - $1 }
        case "Mul": f = { $0 * $1 }
        case "Div": f = { $0 / $1 }
        case "Pow": f = { Foundation.pow($0, $1) }
        case "Max": f = { Swift.max($0, $1) }
        case "Min": f = { Swift.min($0, $1) }
        default: return false
        }
        let rank = max(a.rank, b.rank)
        func padded(_ s: [Int]) -> [Int] { [Int](repeating: 1, count: rank - s.count) + s }
        var shape: [Int] = []
        for (x, y) in zip(padded(a.shape), padded(b.shape)) {
            guard x == y || x == 1 || y == 1 else { throw Unsupported("shapes \(a.shape) and \(b.shape) do not broadcast") }
            shape.append(x == 1 ? y : x)
        }
        guard try Self.checkedProduct(shape) <= Self.constantLimit else { return false }
        guard let aa = broadcastLiteral(TensorLiteral(shape: a.shape, values: a.toDoubles()), to: shape),
              let bb = broadcastLiteral(TensorLiteral(shape: b.shape, values: b.toDoubles()), to: shape) else {
            throw Unsupported("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let out = zip(aa.values, bb.values).map(f)
        let type = a.elementType.isFloatingPoint ? a.elementType : b.elementType
        values[n.outputs[0]] = .constant(try NDArray(out, shape: shape).converted(to: type))
        return true
    }
}
