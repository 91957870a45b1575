import DLGData
import DLGGraph
import DLGOps
import Foundation

public struct ONNXExportOptions: Sendable {
    /// The opset of the default domain written in the file.
    public var opset: Int = ONNXOpsets.exportDefault
    /// `producer_version`.
    public var producerVersion: String = ""
    public init() {}
}

/// A dlg graph that cannot be written as ONNX: every problem, each naming
/// the value and its source location.
public struct ONNXExportError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }
}

/// dlg graph (inference form, before fusion) → ONNX ModelProto.
///
/// Each dlg op becomes one ONNX node or a short fixed sequence of them;
/// two patterns become the node a PyTorch export has: `conv2d` followed by
/// the `bias_add` of a parameter is `Conv` with its bias operand, and a 2-D
/// `matmul` by a parameter followed by a `bias_add` is `Gemm`. Parameters
/// become initializers under their dlg names (`c1.weight`), inputs and
/// outputs keep their names, symbolic sizes (`B`) become `dim_param`s, and
/// every node's `doc_string` is the dlg source location it comes from.
/// Only the values the outputs need are written (the loss and label inputs
/// are dropped).
public enum ONNXExporter {
    /// The bytes of the `.onnx` file.
    public static func export(_ graph: Graph, weights: [String: NDArray], options: ONNXExportOptions = ONNXExportOptions())
        throws -> [UInt8] {
        try model(graph, weights: weights, options: options).serializedBytes()
    }

    static func model(_ graph: Graph, weights: [String: NDArray], options: ONNXExportOptions = ONNXExportOptions())
        throws -> Onnx_ModelProto {
        guard ONNXOpsets.range.contains(options.opset) else {
            throw ONNXExportError(problems: ["opset \(options.opset) is out of range: dlg writes opsets \(ONNXOpsets.oldest) through \(ONNXOpsets.newest)"])
        }
        guard !graph.training else {
            throw ONNXExportError(problems: ["internal error: the graph is in its training form; export needs the inference form"])
        }
        let w = Writer(graph: graph, weights: weights, opset: options.opset)
        w.run()
        if !w.problems.isEmpty { throw ONNXExportError(problems: w.problems) }
        var m = Onnx_ModelProto()
        m.irVersion = 8  // what onnxruntime reads for opsets 13–18; later opsets need IR 9 and 10
        if options.opset >= 21 { m.irVersion = 10 } else if options.opset >= 19 { m.irVersion = 9 }
        m.producerName = "dlg"
        m.producerVersion = options.producerVersion
        m.domain = ""
        m.modelVersion = 1
        m.docString = "Exported by dlg from \(graph.source?.path ?? "a model"), model \(graph.name) (inference form)."
        var os = Onnx_OperatorSetIdProto()
        os.domain = ""
        os.version = Int64(options.opset)
        m.opsetImport = [os]
        m.graph = w.proto
        return m
    }
}

/// Builds the GraphProto.
final class Writer {
    let g: Graph
    let weights: [String: NDArray]
    let opset: Int
    var proto = Onnx_GraphProto()
    var problems: [String] = []
    /// ONNX name of each dlg value written so far.
    var names: [ValueID: String] = [:]
    var usedNames: Set<String> = []
    var users: [[ValueID]]
    var needed: Set<ValueID> = []
    /// Values whose work another node's translation did (the bias_add of a Conv or Gemm).
    var absorbed: [ValueID: ValueID] = [:]
    var current: Node?
    var counter = 0

    init(graph: Graph, weights: [String: NDArray], opset: Int) {
        self.g = graph
        self.weights = weights
        self.opset = opset
        self.users = graph.users()
    }

    func run() {
        proto.name = g.name
        findBatchNorms()
        // The values the outputs need (a batchnorm's through its operands only).
        var stack = g.outputs.map(\.value)
        while let v = stack.popLast() {
            if needed.insert(v).inserted { stack += batchNorms[v].map { [$0.x, $0.gamma, $0.beta, $0.mean, $0.variance] } ?? g[v].inputs }
        }
        // Names: inputs and params keep theirs; an output's producer takes the output's name.
        for n in g.nodes where needed.contains(n.id) && (n.op == .input || n.op == .param) {
            names[n.id] = unique(n.name ?? "v\(n.id)")
        }
        for o in g.outputs where names[o.value] == nil && !usedNames.contains(o.name) {
            names[o.value] = unique(o.name)
        }
        for n in g.nodes where needed.contains(n.id) {
            current = n
            if absorbed[n.id] != nil { continue }
            translate(n)
        }
        current = nil
        for o in g.outputs {
            let v = absorbed[o.value] ?? o.value
            guard var name = names[v] else { continue }
            if name != o.name {
                // An input or parameter given out, or one value under two output names.
                let out = unique(o.name)
                node("Identity", [name], [out], doc: g.location(o.loc))
                name = out
            }
            proto.output.append(valueInfo(name, g[o.value].type))
        }
    }

    // MARK: Batch normalization

    /// Inference-form batchnorm as the elaborator writes it:
    /// `bias_add(mul(mul(sub(x, R(mean)), rsqrt(add(R(var), eps))), R(gamma)), beta, axis: 1)`,
    /// R a reshape of the parameter to [C, 1, …].
    struct BatchNorm {
        var x, gamma, beta, mean, variance: ValueID
        var eps: Double
    }
    var batchNorms: [ValueID: BatchNorm] = [:]

    func findBatchNorms() {
        func param(_ v: ValueID) -> ValueID? {
            let n = g[v]
            if n.op == .param { return v }
            if n.op == .reshape, g[n.inputs[0]].op == .param { return n.inputs[0] }
            return nil
        }
        for o in g.nodes where o.op == .bias_add && o.attrs.axis == 1 {
            guard g[o.inputs[1]].op == .param else { continue }
            let q = g[o.inputs[0]]
            guard q.op == .mul, let gamma = param(q.inputs[1]) else { continue }
            let p = g[q.inputs[0]]
            guard p.op == .mul else { continue }
            let sub = g[p.inputs[0]], r = g[p.inputs[1]]
            guard sub.op == .sub, let mean = param(sub.inputs[1]), r.op == .rsqrt else { continue }
            let v = g[r.inputs[0]]
            guard v.op == .add, let variance = param(v.inputs[0]), g[v.inputs[1]].op == .constant,
                  let eps = g[v.inputs[1]].attrs.constant.value.values.first, g[v.inputs[1]].attrs.constant.value.values.count == 1
            else { continue }
            let intermediates = [q.id, p.id, sub.id, r.id, v.id]
            guard intermediates.allSatisfy({ users[$0].count == 1 }) else { continue }
            batchNorms[o.id] = BatchNorm(x: sub.inputs[0], gamma: gamma, beta: o.inputs[1], mean: mean, variance: variance, eps: eps)
        }
    }

    // MARK: Names and nodes

    func unique(_ base: String) -> String {
        var n = base
        var k = 1
        while usedNames.contains(n) {
            n = "\(base)_\(k)"
            k += 1
        }
        usedNames.insert(n)
        return n
    }

    /// A fresh name for an intermediate result of the node being translated.
    func temp(_ what: String) -> String {
        let base = (current?.label ?? current.map { "\($0.op.rawValue)" } ?? "t") + "/" + what
        return unique(base)
    }

    /// The ONNX name of the value `v` (after its node was translated).
    func name(_ v: ValueID) -> String { names[v] ?? "?" }

    /// The name the node's result gets: the output's name, or its label with its id.
    func resultName(_ n: Node) -> String {
        if let s = names[n.id] { return s }
        let s = unique(n.label ?? "\(n.op.rawValue)_\(n.id)")
        names[n.id] = s
        return s
    }

    @discardableResult
    func node(_ op: String, _ inputs: [String], _ outputs: [String], _ attrs: [Onnx_AttributeProto] = [], doc: String? = nil) -> String {
        var p = Onnx_NodeProto()
        p.opType = op
        p.input = inputs
        p.output = outputs
        p.attribute = attrs
        counter += 1
        p.name = (current?.label ?? current.map { $0.op.rawValue } ?? "node") + "/\(op)_\(counter)"
        if let d = doc ?? current.flatMap({ g.location($0.loc) }) { p.docString = d }
        proto.node.append(p)
        return outputs[0]
    }

    /// A node computing `n`'s result.
    func emit(_ n: Node, _ op: String, _ inputs: [String], _ attrs: [Onnx_AttributeProto] = []) {
        node(op, inputs, [resultName(n)], attrs)
    }

    func fail(_ n: Node, _ message: String) {
        let at = g.location(n.loc).map { "\($0): " } ?? ""
        problems.append("\(at)error: cannot export %\(n.name ?? String(n.id)) = \(n.op.rawValue)(…) to ONNX: \(message)")
    }

    // MARK: Attributes and constants

    func attr(_ name: String, int v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(v)
        return a
    }

    func attr(_ name: String, ints v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = v.map(Int64.init)
        return a
    }

    func attr(_ name: String, float v: Double) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = Float(v)
        return a
    }

    func attr(_ name: String, string v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(v.utf8)
        return a
    }

    static func onnxType(_ d: DType) -> Int32 {
        switch d {
        case .f32: Int32(ONNXDataType.float.rawValue)
        case .f64: Int32(ONNXDataType.double.rawValue)
        case .i32: Int32(ONNXDataType.int32.rawValue)
        }
    }

    func addInitializer(_ name: String, _ a: NDArray) {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = a.shape.map(Int64.init)
        switch a.elementType {
        case .f64: t.dataType = Int32(ONNXDataType.double.rawValue)
        case .i32: t.dataType = Int32(ONNXDataType.int32.rawValue)
        case .i64: t.dataType = Int32(ONNXDataType.int64.rawValue)
        case .u8: t.dataType = Int32(ONNXDataType.uint8.rawValue)
        default: t.dataType = Int32(ONNXDataType.float.rawValue)
        }
        t.rawData = Data(a.littleEndianBytes())
        proto.initializer.append(t)
    }

    /// An int64 vector initializer (shapes, axes, pads).
    func int64s(_ v: [Int], _ what: String) -> String {
        let name = temp(what)
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(v.count)]
        t.dataType = Int32(ONNXDataType.int64.rawValue)
        t.int64Data = v.map(Int64.init)
        proto.initializer.append(t)
        return name
    }

    /// A scalar initializer of the given type.
    func scalar(_ v: Double, _ d: DType, _ what: String) -> String {
        let name = temp(what)
        let a: NDArray
        switch d {
        case .f32: a = NDArray([Float(v)])
        case .f64: a = NDArray([v])
        case .i32: a = NDArray([Int32(v)])
        }
        addInitializer(name, (try? a.reshaped([])) ?? a)
        return name
    }

    func valueInfo(_ name: String, _ t: TensorType) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var tt = Onnx_TypeProto.Tensor()
        tt.elemType = Self.onnxType(t.dtype)
        if let dims = t.shape.dims {
            var s = Onnx_TensorShapeProto()
            s.dim = dims.map { d in
                var x = Onnx_TensorShapeProto.Dimension()
                switch d {
                case .known(let k): x.dimValue = Int64(k)
                case .symbol(let sym): x.dimParam = sym
                }
                return x
            }
            tt.shape = s
        }
        var ty = Onnx_TypeProto()
        ty.tensorType = tt
        v.type = ty
        return v
    }

    // MARK: Translation

    func translate(_ n: Node) {
        let x = n.inputs.map { name($0) }
        let dtype = n.type.dtype
        switch n.op {
        case .input:
            proto.input.append(valueInfo(name(n.id), n.type))
        case .param:
            let pname = n.name ?? name(n.id)
            guard let a = weights[pname] else { return fail(n, "no weights for parameter '\(pname)'") }
            guard let shape = n.type.shape.knownDims, a.shape == shape else {
                return fail(n, "the weights of '\(pname)' are \(a.shape), the parameter is \(n.type.shape)")
            }
            addInitializer(name(n.id), a)
        case .constant:
            let c = n.attrs.constant
            let a: NDArray
            switch c.dtype {
            case .f32: a = (try? NDArray(c.value.values.map { Float($0) }, shape: c.value.shape)) ?? NDArray([Float]())
            case .f64: a = (try? NDArray(c.value.values, shape: c.value.shape)) ?? NDArray([Double]())
            case .i32: a = (try? NDArray(c.value.values.map { Int32($0) }, shape: c.value.shape)) ?? NDArray([Int32]())
            }
            addInitializer(resultName(n), a)

        // Elementwise, one operand.
        case .neg: emit(n, "Neg", x)
        case .exp: emit(n, "Exp", x)
        case .log: emit(n, "Log", x)
        case .sqrt: emit(n, "Sqrt", x)
        case .abs: emit(n, "Abs", x)
        case .reciprocal: emit(n, "Reciprocal", x)
        case .sign: emit(n, "Sign", x)
        case .sigmoid: emit(n, "Sigmoid", x)
        case .tanh: emit(n, "Tanh", x)
        case .relu: emit(n, "Relu", x)
        case .softplus: emit(n, "Softplus", x)
        case .softsign: emit(n, "Softsign", x)
        case .stop_gradient: emit(n, "Identity", x)
        case .rsqrt:
            let s = node("Sqrt", x, [temp("sqrt")])
            emit(n, "Reciprocal", [s])
        case .square: emit(n, "Mul", [x[0], x[0]])
        case .leaky_relu: emit(n, "LeakyRelu", x, [attr("alpha", float: n.attrs.alpha ?? 0.01)])
        case .elu: emit(n, "Elu", x, [attr("alpha", float: n.attrs.alpha ?? 1)])
        case .selu:
            emit(n, "Selu", x, [attr("alpha", float: Elementwise.Selu.alpha), attr("gamma", float: Elementwise.Selu.lambda)])
        case .gelu:
            if opset >= 20 {
                emit(n, "Gelu", x)
            } else {
                // x · ½(1 + erf(x/√2))
                let d = node("Div", [x[0], scalar(2.0.squareRoot(), dtype, "sqrt2")], [temp("scaled")])
                let e = node("Erf", [d], [temp("erf")])
                let a = node("Add", [e, scalar(1, dtype, "one")], [temp("one_plus")])
                let h = node("Mul", [a, scalar(0.5, dtype, "half")], [temp("cdf")])
                emit(n, "Mul", [x[0], h])
            }
        case .swish:
            let s = node("Sigmoid", x, [temp("sigmoid")])
            emit(n, "Mul", [x[0], s])
        case .mish:
            if opset >= 18 {
                emit(n, "Mish", x)
            } else {
                let sp = node("Softplus", x, [temp("softplus")])
                let t = node("Tanh", [sp], [temp("tanh")])
                emit(n, "Mul", [x[0], t])
            }
        case .hard_sigmoid:
            emit(n, "HardSigmoid", x, [attr("alpha", float: 1.0 / 6), attr("beta", float: 0.5)])
        case .hard_swish:
            emit(n, "HardSwish", x)
        case .log_sigmoid:
            let negated = node("Neg", x, [temp("negated")])
            let sp = node("Softplus", [negated], [temp("softplus")])
            emit(n, "Neg", [sp])
        case .hardlim:
            let c = node("GreaterOrEqual", [x[0], scalar(0, dtype, "zero")], [temp("ge")])
            emit(n, "Cast", [c], [attr("to", int: Int(Self.onnxType(dtype)))])
        case .hardlims:
            let c = node("GreaterOrEqual", [x[0], scalar(0, dtype, "zero")], [temp("ge")])
            emit(n, "Where", [c, scalar(1, dtype, "plus_one"), scalar(-1, dtype, "minus_one")])
        case .step:
            let c = node("Greater", [x[0], scalar(0, dtype, "zero")], [temp("gt")])
            emit(n, "Cast", [c], [attr("to", int: Int(Self.onnxType(dtype)))])
        case .satlin: emit(n, "Clip", [x[0], scalar(0, dtype, "lo"), scalar(1, dtype, "hi")])
        case .satlins: emit(n, "Clip", [x[0], scalar(-1, dtype, "lo"), scalar(1, dtype, "hi")])

        // Elementwise, two operands (NumPy broadcasting in both).
        case .add: emit(n, "Add", x)
        case .sub: emit(n, "Sub", x)
        case .mul: emit(n, "Mul", x)
        case .div: emit(n, "Div", x)
        case .pow: emit(n, "Pow", x)
        case .maximum: emit(n, "Max", x)
        case .minimum: emit(n, "Min", x)
        case .greater, .greater_equal, .equal:
            let op = n.op == .greater ? "Greater" : n.op == .greater_equal ? "GreaterOrEqual" : "Equal"
            let c = node(op, x, [temp("compare")])
            emit(n, "Cast", [c], [attr("to", int: Int(Self.onnxType(dtype)))])
        case .bias_add:
            if let bn = batchNorms[n.id] {
                emit(n, "BatchNormalization", [bn.x, bn.gamma, bn.beta, bn.mean, bn.variance].map { name($0) },
                     [attr("epsilon", float: bn.eps)])
            } else {
                biasAdd(n, x[0], x[1])
            }

        case .reduce_sum, .reduce_mean, .reduce_max, .reduce_min:
            reduce(n, x[0])

        case .reshape:
            reshape(n, x[0])
        case .transpose:
            emit(n, "Transpose", x, [attr("perm", ints: n.attrs.perm)])
        case .broadcast_to:
            guard let dims = n.attrs.shape.dims else { return fail(n, "the target shape's rank is unknown") }
            let inDims = g[n.inputs[0]].type.shape.dims ?? []
            var target: [Int] = []
            for (k, d) in dims.enumerated() {
                switch d {
                case .known(let v): target.append(v)
                case .symbol:
                    // Expand keeps an input's own size where the target says 1.
                    let j = k - (dims.count - inDims.count)
                    guard j >= 0, inDims[j] == d else {
                        return fail(n, "broadcasting to the symbolic size \(d) of a dimension the operand does not have")
                    }
                    target.append(1)
                }
            }
            emit(n, "Expand", [x[0], int64s(target, "shape")])
        case .concat:
            emit(n, "Concat", x, [attr("axis", int: n.attrs.axis)])
        case .slice:
            let s = n.attrs.slice
            let ends = s.ends.map { $0 == Int.max ? Int(Int64.max) : $0 }
            emit(n, "Slice", [x[0], int64s(s.starts, "starts"), int64s(ends, "ends"),
                              int64s(Array(0..<s.starts.count), "axes"), int64s(s.steps, "steps")])
        case .pad:
            let p = n.attrs.pad
            let rank = p.pads.count / 2
            let onnxPads = (0..<rank).map { p.pads[2 * $0] } + (0..<rank).map { p.pads[2 * $0 + 1] }
            let mode: String
            switch p.mode {
            case .zero, .constant: mode = "constant"
            case .replicate: mode = "edge"
            case .reflect: mode = "reflect"
            }
            var ins = [x[0], int64s(onnxPads, "pads")]
            if p.mode == .constant { ins.append(scalar(p.value, dtype, "value")) }
            emit(n, "Pad", ins, [attr("mode", string: mode)])
        case .cast:
            emit(n, "Cast", x, [attr("to", int: Int(Self.onnxType(n.attrs.dtype)))])
        case .one_hot:
            let o = n.attrs.oneHot
            let values = node("Concat", [scalar(0, o.dtype, "off").self, scalar(1, o.dtype, "on")].map { v in
                node("Reshape", [v, int64s([1], "one")], [temp("vec")])
            }, [temp("values")], [attr("axis", int: 0)])
            emit(n, "OneHot", [x[0], scalar(Double(o.classes), .i32, "depth"), values], [attr("axis", int: -1)])

        case .matmul:
            matmul(n, x)
        case .conv2d:
            conv(n, x[0], x[1], bias: nil)
        case .pool2d:
            pool(n, x[0])
        case .softmax:
            emit(n, "Softmax", x, [attr("axis", int: n.attrs.axis)])
        case .log_softmax:
            emit(n, "LogSoftmax", x, [attr("axis", int: n.attrs.axis)])
        case .gather:
            // ONNX's Gather along axis 0 is the same lookup: indices.shape + table.shape[1...]
            emit(n, "Gather", x, [attr("axis", int: 0)])
        case .axis_size:
            let s = node("Shape", x, [temp("shape")])
            let picked = node("Gather", [s, int64s(n.attrs.axes, "axes")], [temp("sizes")], [attr("axis", int: 0)])
            let p = node("ReduceProd", [picked], [temp("product")], [attr("keepdims", int: 0)])
            emit(n, "Cast", [p], [attr("to", int: Int(Self.onnxType(dtype)))])

        case .causal_softmax:
            // Keys past the query masked by a constant [Tq, Tk] (bool j ≤ i) with the lowest finite
            // value, then Softmax: e^(lowest − max) is exactly 0, as in dlg's kernel.
            guard let d = g[n.inputs[0]].type.dims, d.count >= 2, let tq = d[d.count - 2].value, let tk = d[d.count - 1].value else {
                return fail(n, "a causal softmax needs known query and key counts")
            }
            let keep = (0..<(tq * tk)).map { Int32($0 % tk <= $0 / tk ? 1 : 0) }
            let maskName = temp("causal_mask")
            addInitializer(maskName, (try? NDArray(keep, shape: [tq, tk])) ?? NDArray(keep))
            let mask = node("Cast", [maskName], [temp("causal_keep")], [attr("to", int: 9)])
            let lowest = dtype == .f64 ? -Double.greatestFiniteMagnitude : -Double(Float.greatestFiniteMagnitude)
            let masked = node("Where", [mask, x[0], scalar(lowest, dtype, "lowest")], [temp("masked")])
            emit(n, "Softmax", [masked], [attr("axis", int: -1)])
        case .where:
            let c = node("Cast", [x[0]], [temp("condition")], [attr("to", int: 9)])
            emit(n, "Where", [c, x[1], x[2]])
        case .reverse:
            let rank = g[n.inputs[0]].type.rank ?? 1
            let axis = n.attrs.axis < 0 ? n.attrs.axis + rank : n.attrs.axis
            emit(n, "Slice", [x[0], int64s([-1], "starts"), int64s([Int(Int64.min)], "ends"), int64s([axis], "axes"),
                              int64s([-1], "steps")])
        case .unary_grad, .reduce_max_grad, .reduce_min_grad, .slice_grad, .pad_grad, .conv2d_grad_input, .conv2d_grad_weight,
             .pool2d_grad, .softmax_grad, .log_softmax_grad, .softmax_ce_grad, .sparse_softmax_ce_grad, .gather_grad:
            fail(n, "a gradient op is not part of the inference form")
        case .softmax_ce, .sparse_softmax_ce:
            fail(n, "losses are not exported (an output that is a loss cannot be written)")
        case .dropout_mask:
            fail(n, "dropout is not part of the inference form")
        case .lstm_scan, .lstm_scan_grad:
            // `dlg export` elaborates recurrences unrolled (ElaborationOptions.unrollRecurrence).
            fail(n, "internal error: export elaborates an LSTM unrolled, not as lstm_scan")
        case .allreduce, .allreduce_start, .allreduce_wait:
            fail(n, "collectives (data-parallel training) are not part of the inference form")
        case .fused:
            fail(n, "internal error: export reads the graph before fusion")
        }
    }

    /// The only user of `v`, when there is exactly one among the needed values.
    func soleUser(_ v: ValueID) -> Node? {
        let u = users[v].filter { needed.contains($0) }
        guard u.count == 1, !g.outputs.contains(where: { $0.value == v }) else { return nil }
        return g[u[0]]
    }

    /// `bias_add(v, param, axis)` right after `v`, which a Conv or Gemm can take as its bias.
    func biasUser(of v: ValueID, axis: Int) -> Node? {
        guard let u = soleUser(v), u.op == .bias_add, u.inputs[0] == v, u.attrs.axis == axis,
              g[u.inputs[1]].op == .param else { return nil }
        return u
    }

    func biasAdd(_ n: Node, _ x: String, _ b: String) {
        let rank = n.type.rank ?? 0
        let axis = n.attrs.axis < 0 ? n.attrs.axis + rank : n.attrs.axis
        if axis == rank - 1 {
            emit(n, "Add", [x, b])
        } else {
            let c = g[n.inputs[1]].type.shape.knownDims?.first ?? -1
            let shaped = node("Reshape", [b, int64s([c] + Array(repeating: 1, count: rank - axis - 1), "bias_shape")], [temp("bias")])
            emit(n, "Add", [x, shaped])
        }
    }

    func matmul(_ n: Node, _ x: [String]) {
        let a = n.attrs.matmul
        let ra = g[n.inputs[0]].type.rank ?? 0, rb = g[n.inputs[1]].type.rank ?? 0
        if ra == 2, rb == 2, let bias = biasUser(of: n.id, axis: 1) ?? biasUser(of: n.id, axis: -1) {
            // dense: Gemm(x, W, b).
            absorbed[bias.id] = n.id
            var attrs: [Onnx_AttributeProto] = []
            if a.transposeA { attrs.append(attr("transA", int: 1)) }
            if a.transposeB { attrs.append(attr("transB", int: 1)) }
            names[n.id] = resultName(bias)
            let saved = current
            current = bias.label == nil ? n : bias
            node("Gemm", [x[0], x[1], name(bias.inputs[1])], [names[n.id]!], attrs,
                 doc: g.location(n.loc))
            current = saved
            names[bias.id] = names[n.id]
            return
        }
        func transposed(_ s: String, _ rank: Int) -> String {
            guard rank >= 2 else { return s }
            var perm = Array(0..<rank)
            perm.swapAt(rank - 1, rank - 2)
            return node("Transpose", [s], [temp("transposed")], [attr("perm", ints: perm)])
        }
        let lhs = a.transposeA ? transposed(x[0], ra) : x[0]
        let rhs = a.transposeB ? transposed(x[1], rb) : x[1]
        emit(n, "MatMul", [lhs, rhs])
    }

    func conv(_ n: Node, _ x: String, _ w: String, bias: String?) {
        let c = n.attrs.conv
        var ins = [x, w]
        var result = n
        if let b = biasUser(of: n.id, axis: 1) {
            absorbed[b.id] = n.id
            ins.append(name(b.inputs[1]))
            result = b
        }
        let wShape = g[n.inputs[1]].type.shape.knownDims ?? [0, 0, 0, 0]
        var pad = c.pad  // top, bottom, left, right
        if c.round == .ceil {
            // Conv has no ceil_mode: the extra window reads zeros past the end, which more end padding gives.
            guard let inDims = g[n.inputs[0]].type.shape.knownDims?.suffix(2), let outDims = n.type.shape.dims?.suffix(2) else {
                return fail(n, "round: ceil needs known spatial sizes")
            }
            for (k, (i, o)) in zip(Array(inDims), Array(outDims)).enumerated() {
                guard let o = o.value else { return fail(n, "round: ceil needs known spatial sizes") }
                let f = (wShape[2 + k] - 1) * c.dilation[k] + 1
                let extra = (o - 1) * c.stride[k] + f - (i + pad[2 * k] + pad[2 * k + 1])
                if extra > 0 { pad[2 * k + 1] += extra }
            }
        }
        let attrs = [attr("kernel_shape", ints: Array(wShape.suffix(2))), attr("strides", ints: c.stride),
                     attr("pads", ints: [pad[0], pad[2], pad[1], pad[3]]), attr("dilations", ints: c.dilation),
                     attr("group", int: c.groups)]
        let out = resultName(result)
        names[n.id] = out
        node("Conv", ins, [out], attrs, doc: g.location(n.loc))
    }

    func pool(_ n: Node, _ x: String) {
        let p = n.attrs.pool
        var attrs = [attr("kernel_shape", ints: p.kernel), attr("strides", ints: p.stride),
                     attr("pads", ints: [p.pad[0], p.pad[2], p.pad[1], p.pad[3]])]
        if p.round == .ceil { attrs.append(attr("ceil_mode", int: 1)) }
        switch p.kind {
        case .max: emit(n, "MaxPool", [x], attrs)
        case .avg:
            attrs.append(attr("count_include_pad", int: p.countIncludePad ? 1 : 0))
            emit(n, "AveragePool", [x], attrs)
        case .min:
            let negated = node("Neg", [x], [temp("negated")])
            let m = node("MaxPool", [negated], [temp("max")], attrs)
            emit(n, "Neg", [m])
        }
    }

    func reduce(_ n: Node, _ x: String) {
        let r = n.attrs.reduce
        let op: String
        switch n.op {
        case .reduce_sum: op = "ReduceSum"
        case .reduce_mean: op = "ReduceMean"
        case .reduce_max: op = "ReduceMax"
        default: op = "ReduceMin"
        }
        var attrs = [attr("keepdims", int: r.keepdims ? 1 : 0)]
        var ins = [x]
        let rank = g[n.inputs[0]].type.rank ?? 0
        let axes = r.normalizedAxes(rank: rank)
        if rank == 0 {
            return emit(n, "Identity", [x])
        }
        // ReduceSum takes its axes as an operand from opset 13, the others from 18.
        if op == "ReduceSum" || opset >= 18 {
            ins.append(int64s(axes, "axes"))
        } else {
            attrs.append(attr("axes", ints: axes))
        }
        emit(n, op, ins, attrs)
    }

    func reshape(_ n: Node, _ x: String) {
        guard let target = n.attrs.shape.dims, let inDims = g[n.inputs[0]].type.shape.dims else {
            return fail(n, "the shapes' ranks are unknown")
        }
        // [N, d₁, d₂, …] → [N, d₁·d₂·…] is Flatten, as PyTorch writes torch.flatten(x, 1).
        if target.count == 2, inDims.count >= 2, target[0] == inDims[0],
           let rest = Shape(Array(inDims.dropFirst())).knownDims, target[1] == .known(rest.reduce(1, *)) {
            return emit(n, "Flatten", [x], [attr("axis", int: 1)])
        }
        var out: [Int] = []
        var inferred = false
        for (k, d) in target.enumerated() {
            switch d {
            case .known(let v): out.append(v)
            case .symbol:
                if k < inDims.count, inDims[k] == d {
                    out.append(0)  // copy the operand's size
                } else if !inferred {
                    out.append(-1)
                    inferred = true
                } else {
                    return fail(n, "the target shape \(n.attrs.shape) has symbolic sizes ONNX's Reshape cannot express from \(g[n.inputs[0]].type.shape)")
                }
            }
        }
        emit(n, "Reshape", [x, int64s(out, "shape")])
    }
}
