import DLGGraph
import Foundation

/// Computes at compile time what depends only on constants: elementwise
/// arithmetic on literal tensors, reshapes of constants, and `axis_size`
/// once its axes are known (a bound batch size). Results larger than
/// `maxElements` stay computed at run time.
public struct ConstantFolding: GraphPass {
    public var name: String { "constant-folding" }
    public var summary: String { "evaluate ops whose operands are constants; sizes of bound axes become constants" }
    public var details: String {
        """
        Evaluates ops whose operands are all constants (small
        results only) and replaces `axis_size` by a constant once its axes are bound.
        """
    }
    public static let maxElements = 4096
    public init() {}

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        var rw = GraphRewriter(g)
        var changed = false
        for n in g.nodes {
            if let v = fold(n, rw) {
                let c = rw.graph.addConstant(v, dtype: n.type.dtype, loc: n.loc)
                rw.graph[c].label = n.label
                rw.graph[c].origin = n.origin
                rw.replace(n.id, with: c)
                changed = true
            } else {
                rw.keep(n)
            }
        }
        if changed { g = rw.finish() }
        return changed
    }

    func constant(_ v: ValueID, _ rw: GraphRewriter) -> TensorLiteral? {
        let n = rw.graph[rw[v]]
        return n.op == .constant ? n.attrs.tensor("value") : nil
    }

    func fold(_ n: Node, _ rw: GraphRewriter) -> TensorLiteral? {
        guard !n.decl.isSource, n.type.dtype.isFloat, let out = n.type.shape.knownDims,
              out.reduce(1, *) <= ConstantFolding.maxElements else { return nil }
        if n.op == .axis_size {
            guard let d = rw.graph[rw[n.inputs[0]]].type.shape.knownDims else { return nil }
            let axes = (n.attrs.ints("axes") ?? []).map { $0 < 0 ? $0 + d.count : $0 }
            return .scalar(Double(axes.reduce(1) { $0 * d[$1] }))
        }
        let args = n.inputs.map { constant($0, rw) }
        guard !args.isEmpty, args.allSatisfy({ $0 != nil }) else { return nil }
        let xs = args.map { $0! }
        switch n.op {
        case .reshape, .stop_gradient:
            return TensorLiteral(shape: out, values: xs[0].values)
        case .broadcast_to:
            return broadcast(xs[0], to: out)
        case .cast:
            return TensorLiteral(shape: out, values: xs[0].values)
        default:
            break
        }
        if n.inputs.count == 1, let f = unary(n.op, alpha: n.attrs.float("alpha")) {
            return TensorLiteral(shape: out, values: xs[0].values.map(f))
        }
        if n.inputs.count == 2, let f = binary(n.op), let a = broadcast(xs[0], to: out), let b = broadcast(xs[1], to: out) {
            return TensorLiteral(shape: out, values: zip(a.values, b.values).map(f))
        }
        return nil
    }

    /// NumPy broadcasting of a literal to `shape`.
    func broadcast(_ t: TensorLiteral, to shape: [Int]) -> TensorLiteral? {
        if t.shape == shape { return t }
        let r = shape.count, pad = r - t.shape.count
        guard pad >= 0 else { return nil }
        let src = Array(repeating: 1, count: pad) + t.shape
        for (s, d) in zip(src, shape) where s != d && s != 1 { return nil }
        var strides = Array(repeating: 0, count: r)
        var acc = 1
        for i in stride(from: r - 1, through: 0, by: -1) {
            strides[i] = src[i] == 1 ? 0 : acc
            acc *= src[i]
        }
        let count = shape.reduce(1, *)
        var values = [Double](repeating: 0, count: count)
        var index = Array(repeating: 0, count: r)
        for k in 0..<count {
            var off = 0
            for i in 0..<r { off += index[i] * strides[i] }
            values[k] = t.values[off]
            var i = r - 1
            while i >= 0 {
                index[i] += 1
                if index[i] < shape[i] { break }
                index[i] = 0
                i -= 1
            }
        }
        return TensorLiteral(shape: shape, values: values)
    }

    func unary(_ op: Op, alpha: Double?) -> ((Double) -> Double)? {
        switch op {
        case .neg: return { -$0 }
        case .exp: return { Foundation.exp($0) }
        case .log: return { Foundation.log($0) }
        case .sqrt: return { $0.squareRoot() }
        case .rsqrt: return { 1 / $0.squareRoot() }
        case .abs: return { Swift.abs($0) }
        case .square: return { $0 * $0 }
        case .reciprocal: return { 1 / $0 }
        case .sign: return { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: return { Foundation.tanh($0) }
        case .relu: return { Swift.max($0, 0) }
        default: return nil
        }
    }

    func binary(_ op: Op) -> ((Double, Double) -> Double)? {
        switch op {
        case .add: return { $0 + $1 }
        case .sub: return { $0 - $1 }
        case .mul: return { $0 * $1 }
        case .div: return { $0 / $1 }
        case .pow: return { Foundation.pow($0, $1) }
        case .maximum: return { Swift.max($0, $1) }
        case .minimum: return { Swift.min($0, $1) }
        default: return nil
        }
    }
}
