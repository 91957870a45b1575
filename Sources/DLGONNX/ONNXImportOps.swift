import DLGData
import DLGGraph

/// The translation of each ONNX op (see `Translator`), with the shape rule
/// the importer needs to write sizes into the `.dlg` text.
extension Translator {
    // MARK: Attributes

    func int(_ n: ONNXNode, _ name: String, _ d: Int) -> Int {
        if case .int(let v)? = n.attributes[name] { return v }
        return d
    }

    func ints(_ n: ONNXNode, _ name: String) -> [Int]? {
        if case .ints(let v)? = n.attributes[name] { return v }
        return nil
    }

    func floatAttr(_ n: ONNXNode, _ name: String, _ d: Double) -> Double {
        if case .float(let v)? = n.attributes[name] { return Double(v) }
        return d
    }

    func string(_ n: ONNXNode, _ name: String, _ d: String) -> String {
        if case .string(let v)? = n.attributes[name] { return v }
        return d
    }

    // MARK: Shapes

    static func broadcast(_ a: [IDim]?, _ b: [IDim]?) -> [IDim]? {
        guard let a, let b else { return nil }
        let r = max(a.count, b.count)
        var out: [IDim] = []
        for k in 0..<r {
            let x = k - (r - a.count) >= 0 ? a[k - (r - a.count)] : .known(1)
            let y = k - (r - b.count) >= 0 ? b[k - (r - b.count)] : .known(1)
            if x == .known(1) { out.append(y) } else { out.append(x) }
        }
        return out
    }

    /// floor or ceil((n + pads − dilated kernel) / s) + 1 per spatial axis.
    static func windowed(_ dims: [IDim], kernel: [Int], stride: [Int], pads: [Int], dilation: [Int], ceil: Bool) -> [IDim] {
        var out = Array(dims.prefix(2))
        for k in 0..<2 {
            guard let n = dims[2 + k].value else { out.append(.unknown); continue }
            let f = (kernel[k] - 1) * dilation[k] + 1
            let span = n + pads[k] + pads[k + 2] - f
            var o = (ceil ? (span + stride[k] - 1) / stride[k] : span / stride[k]) + 1
            // PyTorch's rule: the last window must start inside the input or the leading padding.
            if ceil, (o - 1) * stride[k] >= n + pads[k] { o -= 1 }
            out.append(.known(o))
        }
        return out
    }

    func dimsText(_ d: [IDim]) -> String { "[" + d.map(\.description).joined(separator: ", ") + "]" }

    // MARK: One node

    /// The ONNX ops the importer translates (some only in the forms its messages name).
    static let supportedOps: Set<String> = [
        "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant",
        "CastLike", "Conv", "Div", "Dropout", "Elu", "Exp", "Expand", "Flatten", "Gather", "Gelu",
        "Gemm", "GlobalAveragePool", "GlobalMaxPool", "LSTM", "LayerNormalization", "Mod", "Slice", "ConstantOfShape", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "Log",
        "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mish", "Mul", "Neg", "Pad",
        "Pow", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum", "Relu", "Reshape",
        "Selu", "Shape", "Sigmoid", "Sign", "Softmax", "Softplus", "Softsign", "Sqrt",
        "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where",
    ]

    func translate(_ n: ONNXNode) throws {
        guard n.isDefaultDomain else { throw Unsupported("ops of domain '\(n.domain)' are not supported") }
        let op = n.opType
        guard let first = n.outputs.first, !first.isEmpty else { throw Unsupported("it has no output") }
        if op != "Constant" {
            guard let i = n.inputs.first, !i.isEmpty else { throw Unsupported("its first operand is missing") }
        }
        if let g = geluPatterns[n.index] { return try translateGelu(n, g) }
        if op == "Squeeze" || op == "Transpose" || op == "Reshape", try lstmLayoutPattern(n) { return }
        switch op {
        case "Constant":
            for (key, a) in n.attributes {
                switch (key, a) {
                case ("value", .tensor(let t)): values[n.outputs[0]] = .constant(t.array)
                case ("value_float", .float(let v)): values[n.outputs[0]] = .constant(try NDArray([v], shape: []))
                case ("value_floats", .floats(let v)): values[n.outputs[0]] = .constant(NDArray(v))
                case ("value_int", .int(let v)): values[n.outputs[0]] = .constant(try NDArray([Int64(v)], shape: []))  // conversion: Int to Int64, a widening
                case ("value_ints", .ints(let v)): values[n.outputs[0]] = .constant(NDArray(v.map(Int64.init)))
                default: throw Unsupported("a Constant given by '\(key)' is not supported")
                }
            }
            guard values[n.outputs[0]] != nil else { throw Unsupported("the Constant has no value") }

        case "Identity":
            values[n.outputs[0]] = values[n.inputs[0]]
            if graphOutputs.contains(n.outputs[0]), case .tensor(let e, let info)? = values[n.inputs[0]] {
                define(n, 0, e, info)
            }
        case "Dropout":
            if n.outputs.count > 1, !n.outputs[1].isEmpty, !(consumers[n.outputs[1]] ?? []).isEmpty {
                throw Unsupported("its mask output is used; dlg's dropout has none")
            }
            let (e, info) = try tensor(n, 0)
            define(n, 0, e, info)

        case "Neg":
            if try foldUnary(n) { return }
            let (e, info) = try tensor(n, 0)
            define(n, 0, Expr(text: "-" + (e.precedence >= 10 ? e.text : "(\(e.text))"), precedence: 6, layers: e.layers), info)
        case "Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Exp", "Log", "Sqrt", "Abs", "Reciprocal", "Sign":
            if try foldUnary(n) { return }
            let (e, info) = try tensor(n, 0)
            let fn = ["Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus", "Softsign": "softsign",
                      "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Abs": "abs", "Reciprocal": "reciprocal", "Sign": "sign"][op]!
            define(n, 0, .atom("\(fn)(\(e.text))", layers: e.layers), info)
        case "LeakyRelu", "Elu":
            let (e, info) = try tensor(n, 0)
            let alpha = floatAttr(n, "alpha", op == "Elu" ? 1 : 0.01)
            let fn = op == "Elu" ? "elu" : "leaky_relu"
            define(n, 0, .atom("\(fn)(\(e.text), \(DLGText.number(Float(alpha))))", layers: e.layers), info)
        case "Selu":
            let (e, info) = try tensor(n, 0)
            let a = floatAttr(n, "alpha", 1.67326319217681884765625), g = floatAttr(n, "gamma", 1.05070102214813232421875)
            guard abs(a - 1.6732632423543772) < 1e-6, abs(g - 1.0507009873554805) < 1e-6 else {
                throw Unsupported("alpha \(a) and gamma \(g) differ from selu's constants")
            }
            define(n, 0, .atom("selu(\(e.text))", layers: e.layers), info)
        case "HardSwish", "Mish":
            let (e, info) = try tensor(n, 0)
            define(n, 0, .atom("\(op == "Mish" ? "mish" : "hard_swish")(\(e.text))", layers: e.layers), info)
        case "HardSigmoid":
            let (e, info) = try tensor(n, 0)
            guard abs(floatAttr(n, "alpha", 0.2) - 1.0 / 6) < 1e-6, abs(floatAttr(n, "beta", 0.5) - 0.5) < 1e-6 else {
                throw Unsupported("only alpha 1/6 and beta 1/2 (PyTorch's hardsigmoid) are supported")
            }
            define(n, 0, .atom("hard_sigmoid(\(e.text))", layers: e.layers), info)
        case "Gelu":
            guard string(n, "approximate", "none") == "none" else { throw Unsupported("approximate gelu (tanh) is not supported") }
            let (e, info) = try tensor(n, 0)
            define(n, 0, .atom("gelu(\(e.text))", layers: e.layers), info)
        case "Clip":
            let (e, info) = try tensor(n, 0)
            var lo = n.inputs.count > 1 && !n.inputs[1].isEmpty ? float(n, 1) : -Double(Float.greatestFiniteMagnitude)
            var hi = n.inputs.count > 2 && !n.inputs[2].isEmpty ? float(n, 2) : Double(Float.greatestFiniteMagnitude)
            if case .float(let v)? = n.attributes["min"] { lo = Double(v) }
            if case .float(let v)? = n.attributes["max"] { hi = Double(v) }
            guard let lo, let hi else { throw Unsupported("its bounds are computed at run time; dlg's clip takes numbers") }
            if lo == 0, hi == 1 {
                define(n, 0, .atom("satlin(\(e.text))", layers: e.layers), info)
            } else if lo == -1, hi == 1 {
                define(n, 0, .atom("satlins(\(e.text))", layers: e.layers), info)
            } else {
                define(n, 0, .atom("clip(\(e.text), \(DLGText.number(lo)), \(DLGText.number(hi)))", layers: e.layers), info)
            }
        case "Softmax", "LogSoftmax":
            let (e, info) = try tensor(n, 0)
            let axis = int(n, "axis", -1)
            let fn = op == "Softmax" ? "softmax" : "log_softmax"
            define(n, 0, .atom(axis == -1 ? "\(fn)(\(e.text))" : "\(fn)(\(e.text), axis: \(axis))", layers: e.layers), info)

        case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod":
            try binary(n)
        case "GreaterOrEqual", "Greater":
            // x ≥ 0 then Cast to float is hardlim; x > 0 then Cast is step; Where(x ≥ 0, 1, −1) is hardlims.
            guard let zero = float(n, 1), zero == 0, let u = (consumers[n.outputs[0]] ?? []).first,
                  (consumers[n.outputs[0]] ?? []).count == 1 else {
                throw Unsupported("comparisons are supported only as x ≥ 0 or x > 0 feeding a Cast to float (hardlim, step) or a Where (hardlims)")
            }
            let (e, info) = try tensor(n, 0)
            if u.opType == "Cast" {
                absorbed.insert(u.index)
                define(u, 0, .atom("\(op == "Greater" ? "step" : "hardlim")(\(e.text))", layers: e.layers), info)
            } else if u.opType == "Where", op == "GreaterOrEqual", float(u, 1) == 1, float(u, 2) == -1 {
                absorbed.insert(u.index)
                define(u, 0, .atom("hardlims(\(e.text))", layers: e.layers), info)
            } else {
                throw Unsupported("comparisons are supported only as x ≥ 0 or x > 0 feeding a Cast to float (hardlim, step) or a Where (hardlims)")
            }

        case "Gemm":
            try gemm(n)
        case "MatMul":
            try matmul(n)
        case "Conv":
            try conv(n)
        case "BatchNormalization":
            try batchnorm(n)
        case "LayerNormalization":
            try layerNormalization(n)
        case "MaxPool", "AveragePool":
            try pool(n)
        case "GlobalAveragePool", "GlobalMaxPool":
            let (e, info) = try tensor(n, 0)
            guard let d = info.dims, d.count == 4 else { throw Unsupported("the operand is not 4-D (NCHW)") }
            let fn = op == "GlobalAveragePool" ? "global_avgpool" : "global_maxpool"
            // Followed by Flatten, it is the layer itself ([N, C]); alone, it keeps the 1×1 axes.
            if let u = consumers[n.outputs[0]], u.count == 1, u[0].opType == "Flatten", int(u[0], "axis", 1) == 1 {
                absorbed.insert(u[0].index)
                define(u[0], 0, .atom("\(fn)(\(e.text))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: [d[0], d[1]]))
            } else {
                let reduce = op == "GlobalAveragePool" ? "mean" : "max"
                define(n, 0, .atom("\(reduce)(\(e.text), axis: [2, 3], keepdims: true)", layers: e.layers),
                       TensorInfo(dtype: info.dtype, dims: [d[0], d[1], .known(1), .known(1)]))
            }
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin":
            let (e, info) = try tensor(n, 0)
            guard let d = info.dims else { throw Unsupported("the operand's rank is unknown") }
            var axes = ints(n, "axes")
            if axes == nil, n.inputs.count > 1, !n.inputs[1].isEmpty {
                guard let a = self.ints(n, 1) else { throw Unsupported("its axes are computed at run time") }
                axes = a
            }
            let all = Array(0..<d.count)
            let norm = (axes ?? all).map { $0 < 0 ? $0 + d.count : $0 }
            if axes?.isEmpty == true, int(n, "noop_with_empty_axes", 0) == 1 {
                values[n.outputs[0]] = .tensor(e, info)
                return
            }
            let keep = int(n, "keepdims", 1) == 1
            let fn = ["ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min"][op]!
            var out: [IDim] = []
            for (k, x) in d.enumerated() {
                if norm.contains(k) { if keep { out.append(.known(1)) } } else { out.append(x) }
            }
            // mean over H and W of NCHW is global_avgpool.
            if op == "ReduceMean", !keep, d.count == 4, Set(norm) == [2, 3] {
                define(n, 0, .atom("global_avgpool(\(e.text))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: out))
                return
            }
            let axesText = norm.count == d.count ? "" : ", axis: \(DLGText.list(norm))"
            define(n, 0, .atom("\(fn)(\(e.text)\(axesText)\(keep ? ", keepdims: true" : ""))", layers: e.layers),
                   TensorInfo(dtype: info.dtype, dims: out))

        case "Flatten":
            let (e, info) = try tensor(n, 0)
            guard let d = info.dims else { throw Unsupported("the operand's rank is unknown") }
            let axis = { let a = int(n, "axis", 1); return a < 0 ? a + d.count : a }()
            guard axis >= 0, axis <= d.count else { throw Unsupported("axis \(int(n, "axis", 1)) is out of range for rank \(d.count)") }
            if axis == 1, d.count >= 2 {
                let rest = d.dropFirst().compactMap(\.value)
                let tail: IDim = rest.count == d.count - 1 ? .known(try Self.checkedProduct(rest)) : .unknown
                define(n, 0, .atom("flatten(\(e.text))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: [d[0], tail]))
            } else {
                let a = try product(Array(d[..<axis])), b = try product(Array(d[axis...]))
                define(n, 0, .atom("reshape(\(e.text), \(dimsText([a, b])))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: [a, b]))
            }
        case "Reshape":
            // Of values known while importing (shape arithmetic): fold.
            if case .sizes(let v)? = values[n.inputs[0]], let target = sizes(n, 1), target.count <= 1 {
                guard target.first.map({ $0 == .known(v.count) || $0 == .known(-1) }) ?? (v.count == 1) else {
                    throw Unsupported("sizes \(v) cannot be reshaped to \(target)")
                }
                values[n.outputs[0]] = .sizes(v)
                return
            }
            if case .constant(let a)? = values[n.inputs[0]], let target = sizes(n, 1) {
                let out = try reshapeDims(a.shape.map { .known($0) }, target, allowZero: int(n, "allowzero", 0) == 1)
                let shape = out.compactMap(\.value)
                guard shape.count == out.count else { throw Unsupported("the constant's new shape \(dimsText(out)) is not known") }
                values[n.outputs[0]] = .constant(try a.reshaped(shape))
                return
            }
            let (e, info) = try tensor(n, 0)
            guard let target = sizes(n, 1) else { throw Unsupported("its target shape is computed at run time") }
            guard let d = info.dims else { throw Unsupported("the operand's rank is unknown") }
            let out = try reshapeDims(d, target, allowZero: int(n, "allowzero", 0) == 1)
            define(n, 0, .atom("reshape(\(e.text), \(dimsText(out)))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: out))
        case "Transpose":
            if case .constant(let a)? = values[n.inputs[0]] {
                // Of a constant: fold (the TorchScript exporter transposes a Linear's weight for MatMul).
                let perm = ints(n, "perm") ?? Array((0..<a.rank).reversed())
                guard perm.sorted() == Array(0..<a.rank) else { throw Unsupported("perm \(perm) is no permutation of the \(a.rank) axes") }
                values[n.outputs[0]] = .constant(try a.permuted(perm))
                // The same transpose of the same initializer (an unrolled recurrent layer's W_hhᵀ at every
                // step) is one value, so that it becomes one parameter.
                let key = "\(n.inputs[0])\u{0}\(perm)"
                if initializerNames.contains(n.inputs[0]) {
                    if let first = foldedTransposes[key] { constantAliases[n.outputs[0]] = first } else { foldedTransposes[key] = n.outputs[0] }
                }
                if a.rank == 2, perm == [1, 0], initializerNames.contains(n.inputs[0]), consumers[n.inputs[0]]?.count == 1 {
                    derived[n.outputs[0]] = (n.inputs[0], " (transposed)")
                }
                return
            }
            let (e, info) = try tensor(n, 0)
            guard let d = info.dims else { throw Unsupported("the operand's rank is unknown") }
            let perm = ints(n, "perm") ?? Array((0..<d.count).reversed())
            guard perm.sorted() == Array(0..<d.count) else { throw Unsupported("perm \(perm) is no permutation of the \(d.count) axes") }
            define(n, 0, .atom("transpose(\(e.text), \(DLGText.list(perm)))", layers: e.layers),
                   TensorInfo(dtype: info.dtype, dims: perm.map { d[$0] }))
        case "Squeeze", "Unsqueeze":
            try squeeze(n)
        case "Concat":
            try concat(n)
        case "Shape":
            let d: [IDim]
            var ofConstant = false
            switch values[n.inputs[0]] {
            case .tensor(_, let info)?:
                guard let known = info.dims else { throw Unsupported("the operand's shape is not known") }
                d = known
            case .constant(let a)?:
                d = a.shape.map { .known($0) }
                ofConstant = true
            case .zeros(let info)?:
                guard let known = info.dims else { throw Unsupported("the operand's shape is not known") }
                d = known
            default: throw Unsupported("the operand's shape is not known")
            }
            let r = d.count
            var s = int(n, "start", 0), t = int(n, "end", r)
            if s < 0 { s += r }
            if t < 0 { t += r }
            s = min(max(s, 0), r)
            t = min(max(t, s), r)
            let part = Array(d[s..<t])
            // A constant's shape is a constant (it may feed Expand); a tensor's sizes may be symbolic.
            values[n.outputs[0]] = ofConstant ? .constant(NDArray(part.compactMap(\.value).map(Int64.init))) : .sizes(part)
        case "Gather":
            if let table = ownedInitializer(n, 0), table.rank == 2, int(n, "axis", 0) == 0, case .tensor? = values[n.inputs[1]] {
                return try embedding(n, table: table)
            }
            if case .tensor(let e, let info)? = values[n.inputs[0]], let index = constant(n, 1) {
                return try gatherOne(n, e, info, index: index)
            }
            guard let data = sizes(n, 0), let idx = constant(n, 1), !idx.elementType.isFloatingPoint else {
                throw Unsupported("Gather is supported on shapes, as an embedding, and of one constant index from run-time data")
            }
            guard let raw = Self.integers(idx) else { throw Unsupported("an index is out of range") }
            let k = raw.map { $0 < 0 ? $0 + data.count : $0 }
            guard k.allSatisfy({ $0 >= 0 && $0 < data.count }) else { throw Unsupported("an index is out of range") }
            values[n.outputs[0]] = .sizes(k.map { data[$0] })
        case "Cast":
            let to = int(n, "to", 1)
            switch values[n.inputs[0]] {
            case .sizes(let s)? where [1, 10, 11].contains(to) && s.allSatisfy({ $0.value != nil }):
                // Known sizes as floats (the attention's scale, from the head size): a constant.
                values[n.outputs[0]] = .constant(try NDArray(s.map { Double($0.value!) }, shape: [s.count]).converted(to: to == 11 ? .f64 : .f32))
            case .sizes(let s)?: values[n.outputs[0]] = .sizes(s)
            case .constant(let a)? where to == 9:
                // To bool: nonzero is true (1).
                values[n.outputs[0]] = .constant(try NDArray(a.toDoubles().map { UInt8($0 != 0 ? 1 : 0) }, shape: a.shape))   // conversion: 0 or 1
            case .constant(let a)?:
                let t: ElementType = to == 1 || to == 10 ? .f32 : to == 11 ? .f64 : to == 6 ? .i32 : .i64
                values[n.outputs[0]] = .constant(try a.converted(to: t))
            default:
                let (e, info) = try tensor(n, 0)
                // To bool, read only as Where's condition: dlg's where reads nonzero as true itself.
                if to == 9, let u = consumers[n.outputs[0]], !u.isEmpty, !graphOutputs.contains(n.outputs[0]),
                   u.allSatisfy({ $0.opType == "Where" && $0.inputs.firstIndex(of: n.outputs[0]) == 0 && $0.inputs.lastIndex(of: n.outputs[0]) == 0 }) {
                    return define(n, 0, e, info)
                }
                guard (to == 1 && info.dtype == .f32) || (to == 11 && info.dtype == .f64) else {
                    throw Unsupported("a Cast to type \(ONNXDataType.name(ofCode: to)) of a \(info.dtype) tensor is not supported")
                }
                define(n, 0, e, info)
            }
        case "CastLike":
            // Of a constant (PyTorch's dynamo exporter casts its literals like the input).
            guard case .constant(let a)? = values[n.inputs[0]] else {
                throw Unsupported("CastLike is supported on constants only (known while importing)")
            }
            let like: ElementType
            switch value(n.inputs.count > 1 ? n.inputs[1] : "") {
            case .tensor(_, let info)?: like = info.dtype
            case .constant(let b)?: like = b.elementType
            case .sizes?: like = .i64
            default: throw Unsupported("operand 2 is missing")
            }
            values[n.outputs[0]] = .constant(try a.converted(to: like))
        case "Expand":
            // Zeros to a shape with a symbolic size (the dynamo exporter's zero initial states of an LSTM).
            if case .constant(let a)? = values[n.inputs[0]], a.count == 1, a.toDoubles()[0] == 0, a.elementType.isFloatingPoint,
               ints(n, 1) == nil, let target = sizes(n, 1) {
                values[n.outputs[0]] = .zeros(TensorInfo(dtype: a.elementType == .f64 ? .f64 : .f32, dims: target))
                return
            }
            guard case .constant(let a)? = values[n.inputs[0]], let target = ints(n, 1) else {
                throw Unsupported("Expand is supported on constants only (known while importing)")
            }
            values[n.outputs[0]] = .constant(try Self.expand(a, to: target))
        case "Pad":
            try pad(n)
        case "Slice":
            try slice(n)
        case "ConstantOfShape":
            try constantOfShape(n)
        case "LSTM":
            try lstm(n)
        case "Where":
            try whereOp(n)
        default:
            throw Unsupported("op \(op) has no dlg translation")
        }
    }

    /// An integer tensor's values, nil when one is not an Int (a double rounded past 2⁶³).
    static func integers(_ a: NDArray) -> [Int]? {
        var out: [Int] = []
        for v in a.toDoubles() {
            guard let i = Int(exactly: v) else { return nil }
            out.append(i)
        }
        return out
    }

    /// The most elements a constant made while importing may have (Expand of a literal).
    static let constantLimit = 1 << 24

    /// ONNX's Expand of a constant: numpy broadcasting of its shape with `target`.
    static func expand(_ a: NDArray, to target: [Int]) throws -> NDArray {
        guard target.allSatisfy({ $0 >= 0 && $0 <= constantLimit }) else { throw Unsupported("the Expand shape \(target) is out of range") }
        let rank = max(a.rank, target.count)
        let from = [Int](repeating: 1, count: rank - a.rank) + a.shape
        let to = [Int](repeating: 1, count: rank - target.count) + target
        var shape: [Int] = []
        for (x, y) in zip(from, to) {
            guard x == y || x == 1 || y == 1 else { throw Unsupported("shape \(a.shape) cannot be expanded to \(target)") }
            shape.append(x == 1 ? y : x)
        }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= constantLimit else { throw Unsupported("Expand to \(target) makes more than \(constantLimit) elements") }
            count = p
        }
        guard let out = broadcastLiteral(TensorLiteral(shape: a.shape, values: a.toDoubles()), to: shape) else {
            throw Unsupported("shape \(a.shape) cannot be expanded to \(target)")
        }
        return try NDArray(out.values, shape: shape).converted(to: a.elementType)
    }

    func product(_ d: [IDim]) throws -> IDim {
        var p = 1
        var symbol: IDim?
        for x in d {
            switch x {
            case .known(let v): p *= v
            case .symbol:
                guard symbol == nil else { throw Unsupported("it joins two symbolic sizes") }
                symbol = x
            case .unknown: throw Unsupported("a size is unknown")
            }
        }
        if let symbol { guard p == 1 else { throw Unsupported("it joins a symbolic size with others") }; return symbol }
        return .known(p)
    }

    /// The product of sizes, refused past 2³¹ − 1 (dlg's largest tensor).
    static func checkedProduct(_ sizes: [Int]) throws -> Int {
        var p = 1
        for v in sizes {
            let (q, overflow) = p.multipliedReportingOverflow(by: v)
            guard !overflow, q <= Int(Int32.max) else { throw Unsupported("sizes \(sizes) make more than 2³¹ − 1 elements") }
            p = q
        }
        return p
    }

    func reshapeDims(_ d: [IDim], _ target: [IDim], allowZero: Bool) throws -> [IDim] {
        var out: [IDim] = []
        var infer: Int?
        for (k, t) in target.enumerated() {
            if case .known(let v) = t {
                if v == 0 && !allowZero {
                    guard k < d.count else { throw Unsupported("a 0 in the target shape copies axis \(k), which the operand lacks") }
                    out.append(d[k])
                } else if v == -1 {
                    guard infer == nil else { throw Unsupported("the target shape has more than one -1") }
                    infer = k
                    out.append(.unknown)
                } else if v < 0 {
                    throw Unsupported("the target shape has a negative size \(v)")
                } else {
                    out.append(t)
                }
            } else {
                out.append(t)
            }
        }
        if let infer {
            // The operand's symbols must reappear in the other target axes; the known sizes give the rest.
            let inSymbols = d.filter { if case .symbol = $0 { true } else { false } }
            let outSymbols = out.filter { if case .symbol = $0 { true } else { false } }
            let inKnown = try Self.checkedProduct(d.compactMap(\.value)), outKnown = try Self.checkedProduct(out.compactMap(\.value))
            if d.contains(.unknown) { throw Unsupported("the operand has a size of unknown value") }
            if inSymbols.sorted(by: { $0.description < $1.description }) == outSymbols.sorted(by: { $0.description < $1.description }) {
                guard outKnown > 0, inKnown % outKnown == 0 else { throw Unsupported("the target shape does not divide the operand") }
                out[infer] = .known(inKnown / outKnown)
            } else if inSymbols.count == 1, outSymbols.isEmpty, inKnown == outKnown {
                out[infer] = inSymbols[0]
            } else {
                throw Unsupported("the inferred size mixes symbolic sizes")
            }
        }
        return out
    }

    // MARK: Arithmetic

    func binary(_ n: ONNXNode) throws {
        let symbol = ["Add": "+", "Sub": "-", "Mul": "*", "Div": "/"][n.opType]
        // Both operands known: fold (shape arithmetic).
        if let a = ints(n, 0), let b = ints(n, 1), a.count == b.count || a.count == 1 || b.count == 1 {
            let m = a.isEmpty || b.isEmpty ? 0 : max(a.count, b.count)
            let r: [Int] = try (0..<m).map { k in
                let x = a[a.count == 1 ? 0 : k], y = b[b.count == 1 ? 0 : k]
                let (v, overflow): (Int, Bool)
                switch n.opType {
                case "Add": (v, overflow) = x.addingReportingOverflow(y)
                case "Sub": (v, overflow) = x.subtractingReportingOverflow(y)
                case "Mul": (v, overflow) = x.multipliedReportingOverflow(by: y)
                case "Div": (v, overflow) = y == 0 ? (0, false) : x.dividedReportingOverflow(by: y)
                case "Max": (v, overflow) = (max(x, y), false)
                case "Min": (v, overflow) = (min(x, y), false)
                case "Mod":
                    // ONNX's integer Mod (fmod 0): the remainder takes the divisor's sign.
                    guard y != 0 else { throw Unsupported("Mod of \(x) by 0") }
                    let (r, o) = x.remainderReportingOverflow(dividingBy: y)
                    (v, overflow) = (r != 0 && (r < 0) != (y < 0) ? r + y : r, o)
                default: (v, overflow) = (x, false)
                }
                guard !overflow else { throw Unsupported("\(n.opType) of \(x) and \(y) overflows") }
                return v
            }
            values[n.outputs[0]] = .constant(NDArray(r.map(Int64.init)))
            return
        }
        if try foldFloatBinary(n) { return }
        guard n.opType != "Mod" else { throw Unsupported("Mod is supported on integer constants only (known while importing)") }
        let (a, ia) = try tensor(n, 0)
        let (b, ib) = try tensor(n, 1)
        let info = TensorInfo(dtype: ia.dtype, dims: Self.broadcast(ia.dims, ib.dims))
        if let symbol {
            let prec = symbol == "+" || symbol == "-" ? 4 : 5
            let lhs = a.precedence >= prec ? a.text : "(\(a.text))"
            // The right operand binds tighter (a - (b - c)).
            let rhs = b.precedence > prec ? b.text : "(\(b.text))"
            define(n, 0, Expr(text: "\(lhs) \(symbol) \(rhs)", precedence: prec, layers: a.layers + b.layers), info)
        } else {
            let fn = ["Pow": "pow", "Max": "maximum", "Min": "minimum"][n.opType]!
            define(n, 0, .atom("\(fn)(\(a.text), \(b.text))", layers: a.layers + b.layers), info)
        }
    }

    // MARK: Layers

    /// The Add of an initializer vector of size `units` that is the only reader of `n`'s output.
    func biasAdd(after n: ONNXNode, units: Int) -> (ONNXNode, NDArray)? {
        guard !graphOutputs.contains(n.outputs[0]), let u = consumers[n.outputs[0]], u.count == 1, u[0].opType == "Add" else { return nil }
        let add = u[0]
        let k = add.inputs[0] == n.outputs[0] ? 1 : 0
        guard add.inputs[1 - k] == n.outputs[0], let b = ownedInitializer(add, k), b.shape == [units] else { return nil }
        return (add, b)
    }

    func dense(_ n: ONNXNode, x: Expr, xi: TensorInfo, weight: NDArray, weightName: String, bias: NDArray?, biasNode: ONNXNode?) throws {
        // `weight` is [K, N] as dlg's dense keeps it.
        let units = weight.shape[1]
        let layer = layerName(n, weightOperand: 1)
        var args = "\(x.text), \(units)"
        if bias == nil { args += ", bias: false" }
        args += ", name: \(DLGText.quoted(layer))"
        addWeight(layer + ".weight", weight, from: weightName)
        if let bias, let biasNode { addWeight(layer + ".bias", bias, from: biasNode.inputs[biasNode.inputs[0] == n.outputs[0] ? 1 : 0]) }
        var dims = xi.dims ?? []
        if !dims.isEmpty { dims[dims.count - 1] = .known(units) }
        let target = biasNode ?? n
        if let biasNode { absorbed.insert(biasNode.index) }
        define(target, 0, .atom("dense(\(args))", layers: x.layers + 1), TensorInfo(dtype: xi.dtype, dims: dims))
    }

    func gemm(_ n: ONNXNode) throws {
        let (x, xi) = try tensor(n, 0)
        let alpha = floatAttr(n, "alpha", 1), beta = floatAttr(n, "beta", 1)
        let transA = int(n, "transA", 0), transB = int(n, "transB", 0)
        if transA == 0, alpha == 1, beta == 1, let w = ownedInitializer(n, 1), w.rank == 2 {
            let weight = transB == 1 ? try w.permuted([1, 0]) : w
            let units = weight.shape[1]
            var bias: NDArray?
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                guard let c = ownedInitializer(n, 2), c.count == units else {
                    throw Unsupported("its C operand is not a bias vector of \(units) values")
                }
                bias = try c.reshaped([units])
            }
            let layer = layerName(n, weightOperand: 1)
            var args = "\(x.text), \(units)"
            if bias == nil { args += ", bias: false" }
            args += ", name: \(DLGText.quoted(layer))"
            addWeight(layer + ".weight", weight, from: n.inputs[1], note: transB == 1 ? " (transposed)" : "")
            if let bias { addWeight(layer + ".bias", bias, from: n.inputs[2]) }
            let dims: [IDim] = [xi.dims?.first ?? .unknown, .known(units)]
            define(n, 0, .atom("dense(\(args))", layers: x.layers + 1), TensorInfo(dtype: xi.dtype, dims: dims))
            return
        }
        // General: alpha·op(A)·op(B) + beta·C.
        let (b, bi) = try tensor(n, 1)
        var text = "matmul(\(x.text), \(b.text)\(transA == 1 ? ", transpose_a: true" : "")\(transB == 1 ? ", transpose_b: true" : ""))"
        if alpha != 1 { text = "\(DLGText.number(alpha)) * \(text)" }
        let m = transA == 1 ? xi.dims?.last : xi.dims?.first
        let nn = transB == 1 ? bi.dims?.first : bi.dims?.last
        var layers = x.layers + b.layers
        if n.inputs.count > 2, !n.inputs[2].isEmpty {
            let (c, ci) = try tensor(n, 2)
            layers += c.layers
            text = "\(text) + " + (beta == 1 ? c.text : "\(DLGText.number(beta)) * \(c.precedence >= 5 ? c.text : "(\(c.text))")")
            _ = ci
            define(n, 0, Expr(text: text, precedence: 4, layers: layers), TensorInfo(dtype: xi.dtype, dims: [m ?? .unknown, nn ?? .unknown]))
        } else {
            define(n, 0, Expr(text: text, precedence: alpha == 1 ? 10 : 5, layers: layers),
                   TensorInfo(dtype: xi.dtype, dims: [m ?? .unknown, nn ?? .unknown]))
        }
    }

    func matmul(_ n: ONNXNode) throws {
        let (x, xi) = try tensor(n, 0)
        if let w = ownedInitializer(n, 1), w.rank == 2, let xr = xi.rank, xr >= 2 {
            if let (add, b) = biasAdd(after: n, units: w.shape[1]) {
                return try dense(n, x: x, xi: xi, weight: w, weightName: n.inputs[1], bias: b, biasNode: add)
            }
            return try dense(n, x: x, xi: xi, weight: w, weightName: n.inputs[1], bias: nil, biasNode: nil)
        }
        let (b, bi) = try tensor(n, 1)
        var dims: [IDim]?
        if let a = xi.dims, let c = bi.dims, a.count >= 2, c.count >= 2 {
            let batch = Self.broadcast(Array(a.dropLast(2)), Array(c.dropLast(2))) ?? []
            dims = batch + [a[a.count - 2], c[c.count - 1]]
        }
        let lhs = x.precedence >= 5 ? x.text : "(\(x.text))"
        let rhs = b.precedence > 5 ? b.text : "(\(b.text))"
        define(n, 0, Expr(text: "\(lhs) @ \(rhs)", precedence: 5, layers: x.layers + b.layers), TensorInfo(dtype: xi.dtype, dims: dims))
    }

    /// The largest kernel size, stride, dilation or padding the importer accepts.
    static let windowLimit = 1 << 16

    /// ONNX pads [x1_begin, x2_begin, x1_end, x2_end] → dlg's [top, bottom, left, right], resolving auto_pad.
    /// Checks the window's attributes first: two of each, in range, so that the size arithmetic cannot fail.
    func pads(_ n: ONNXNode, input d: [IDim], kernel: [Int], stride: [Int], dilation: [Int]) throws -> [Int] {
        guard kernel.count == 2, stride.count == 2, dilation.count == 2 else {
            throw Unsupported("kernel \(kernel), strides \(stride) and dilations \(dilation) must each have two values (2-D)")
        }
        guard (kernel + stride + dilation).allSatisfy({ $0 >= 1 && $0 <= Self.windowLimit }) else {
            throw Unsupported("kernel \(kernel), strides \(stride) or dilations \(dilation) are out of range (1 to \(Self.windowLimit))")
        }
        let auto = string(n, "auto_pad", "NOTSET")
        switch auto {
        case "NOTSET":
            let p = ints(n, "pads") ?? [0, 0, 0, 0]
            guard p.count == 4 else { throw Unsupported("pads \(p) are not 2-D") }
            guard p.allSatisfy({ $0 >= 0 && $0 <= Self.windowLimit }) else {
                throw Unsupported("pads \(p) are out of range (0 to \(Self.windowLimit))")
            }
            return [p[0], p[2], p[1], p[3]]
        case "VALID": return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var out = [0, 0, 0, 0]
            for k in 0..<2 {
                guard let size = d[2 + k].value else { throw Unsupported("auto_pad \(auto) needs known spatial sizes") }
                let o = (size + stride[k] - 1) / stride[k]
                let total = max(0, (o - 1) * stride[k] + (kernel[k] - 1) * dilation[k] + 1 - size)
                let small = total / 2, large = total - small
                out[2 * k] = auto == "SAME_UPPER" ? small : large
                out[2 * k + 1] = auto == "SAME_UPPER" ? large : small
            }
            return out
        default: throw Unsupported("auto_pad \(auto) is not supported")
        }
    }

    func conv(_ n: ONNXNode) throws {
        let (x, xi) = try tensor(n, 0)
        guard let d = xi.dims, d.count == 4 else { throw Unsupported("only 2-D convolutions (NCHW) are supported") }
        guard let w = ownedInitializer(n, 1), w.rank == 4 else {
            throw Unsupported("its weight is not an initializer of its own (a 4-D filter)")
        }
        let outC = w.shape[0], kernel = Array(w.shape[2...])
        let stride = ints(n, "strides") ?? [1, 1], dilation = ints(n, "dilations") ?? [1, 1]
        let group = int(n, "group", 1)
        let p = try pads(n, input: d, kernel: kernel, stride: stride, dilation: dilation)
        var bias: NDArray?
        if n.inputs.count > 2, !n.inputs[2].isEmpty {
            if !initializerNames.contains(n.inputs[2]), let b = constant(n, 2), b.count == outC, b.toDoubles().allSatisfy({ $0 == 0 }) {
                // A computed zero bias (PyTorch's dynamo exporter, for bias=False) is no bias.
            } else {
                guard let b = ownedInitializer(n, 2), b.count == outC else { throw Unsupported("its bias is not an initializer of its own") }
                bias = b
            }
        }
        let layer = layerName(n, weightOperand: 1)
        var args: [String] = [x.text]
        let fn: String
        if group > 1, let c = d[1].value, group == c, w.shape[1] == 1 {
            fn = "depthwise_conv2d"
            args.append("kernel: \(DLGText.pair(kernel))")
            if outC != c { args.append("multiplier: \(outC / c)") }
        } else {
            fn = "conv2d"
            args.append("filters: \(outC)")
            args.append("kernel: \(DLGText.pair(kernel))")
            if group != 1 { args.append("groups: \(group)") }
        }
        if stride != [1, 1] { args.append("stride: \(DLGText.pair(stride))") }
        if p != [0, 0, 0, 0] { args.append("pad: \(DLGText.padding(p))") }
        if dilation != [1, 1] { args.append("dilation: \(DLGText.pair(dilation))") }
        if bias == nil { args.append("bias: false") }
        args.append("name: \(DLGText.quoted(layer))")
        addWeight(layer + ".weight", w, from: n.inputs[1])
        if let bias { addWeight(layer + ".bias", bias, from: n.inputs[2]) }
        let out = Self.windowed(d, kernel: kernel, stride: stride, pads: [p[0], p[2], p[1], p[3]], dilation: dilation, ceil: false)
        var dims = out
        dims[1] = .known(outC)
        define(n, 0, .atom("\(fn)(\(args.joined(separator: ", ")))", layers: x.layers + 1), TensorInfo(dtype: xi.dtype, dims: dims))
    }

    func batchnorm(_ n: ONNXNode) throws {
        let (x, xi) = try tensor(n, 0)
        if n.outputs.count > 1, n.outputs.dropFirst().contains(where: { !$0.isEmpty && !(consumers[$0] ?? []).isEmpty }) {
            throw Unsupported("its training outputs (running statistics) are used")
        }
        guard int(n, "training_mode", 0) == 0 else { throw Unsupported("training_mode 1 is not supported; export in eval mode") }
        var arrays: [NDArray] = []
        let channels = xi.dims.flatMap { $0.count >= 2 ? $0[1].value : nil }
        for k in 1...4 {
            // Its own initializer; or a constant it shares — PyTorch's TorchScript exporter writes equal
            // initializers once (a fresh layer's running_var equals its weight), read through Identity —
            // which the layer gets a copy of.
            guard let a = ownedInitializer(n, k) ?? constant(n, k), a.rank == 1, a.elementType.isFloatingPoint,
                  a.count == (channels ?? arrays.first?.count ?? a.count) else {
                throw Unsupported("its operand \(k + 1) is not a constant vector of one value per channel")
            }
            arrays.append(a)
        }
        let layer = layerName(n, weightOperand: 1)
        let eps = floatAttr(n, "epsilon", 1e-5), momentum = floatAttr(n, "momentum", 0.9)
        var args = [x.text]
        if abs(eps - 1e-5) > 1e-12 { args.append("eps: \(DLGText.number(Float(eps)))") }
        let dlgMomentum = 1 - momentum
        if abs(dlgMomentum - 0.1) > 1e-6 { args.append("momentum: \(DLGText.number(Float(dlgMomentum)))") }
        args.append("name: \(DLGText.quoted(layer))")
        for (k, suffix) in ["gamma", "beta", "running_mean", "running_var"].enumerated() {
            addWeight("\(layer).\(suffix)", arrays[k], from: n.inputs[k + 1])
        }
        define(n, 0, .atom("batchnorm(\(args.joined(separator: ", ")))", layers: x.layers + 1), xi)
    }

    func pool(_ n: ONNXNode) throws {
        let (x, xi) = try tensor(n, 0)
        guard let d = xi.dims, d.count == 4 else { throw Unsupported("only 2-D pooling (NCHW) is supported") }
        guard let kernel = ints(n, "kernel_shape"), kernel.count == 2 else { throw Unsupported("kernel_shape is not 2-D") }
        let stride = ints(n, "strides") ?? [1, 1]
        if let dil = ints(n, "dilations"), dil != [1, 1] { throw Unsupported("dilated pooling is not supported") }
        if n.outputs.count > 1, !n.outputs[1].isEmpty, !(consumers[n.outputs[1]] ?? []).isEmpty {
            throw Unsupported("its Indices output is used")
        }
        let p = try pads(n, input: d, kernel: kernel, stride: stride, dilation: [1, 1])
        let ceil = int(n, "ceil_mode", 0) == 1
        let fn = n.opType == "MaxPool" ? "maxpool" : "avgpool"
        var args = [x.text, "kernel: \(DLGText.pair(kernel))"]
        if stride != kernel { args.append("stride: \(DLGText.pair(stride))") }
        if p != [0, 0, 0, 0] { args.append("pad: \(DLGText.padding(p))") }
        if ceil { args.append("round: ceil") }
        if fn == "avgpool", int(n, "count_include_pad", 0) == 0, p != [0, 0, 0, 0] || ceil { args.append("count_include_pad: false") }
        let out = Self.windowed(d, kernel: kernel, stride: stride, pads: [p[0], p[2], p[1], p[3]], dilation: [1, 1], ceil: ceil)
        define(n, 0, .atom("\(fn)(\(args.joined(separator: ", ")))", layers: x.layers), TensorInfo(dtype: xi.dtype, dims: out))
    }

    func squeeze(_ n: ONNXNode) throws {
        var axes = ints(n, "axes")
        if axes == nil, n.inputs.count > 1, !n.inputs[1].isEmpty {
            guard let a = self.ints(n, 1) else { throw Unsupported("its axes are computed at run time") }
            axes = a
        }
        let unsqueeze = n.opType == "Unsqueeze"
        // On known sizes: fold.
        if case .sizes(let s)? = values[n.inputs[0]] {
            if unsqueeze, s.isEmpty || axes == [0] { values[n.outputs[0]] = .sizes(s); return }
            values[n.outputs[0]] = .sizes(s)
            return
        }
        /// Axes normalized against rank `r`, each once and in range.
        func checked(_ axes: [Int], rank r: Int) throws -> [Int] {
            let k = axes.map { $0 < 0 ? $0 + r : $0 }
            guard k.allSatisfy({ $0 >= 0 && $0 < r }), Set(k).count == k.count else {
                throw Unsupported("axes \(axes) are out of range for rank \(r)")
            }
            return k
        }
        if case .constant(let a)? = values[n.inputs[0]] {
            var shape = a.shape
            if let axes { _ = try checked(axes, rank: unsqueeze ? shape.count + axes.count : shape.count) }
            if unsqueeze {
                let r = shape.count + (axes ?? []).count
                for ax in (axes ?? []).map({ $0 < 0 ? $0 + r : $0 }).sorted() { shape.insert(1, at: ax) }
            } else {
                let r = shape.count
                let drop = Set((axes ?? Array(0..<r).filter { shape[$0] == 1 }).map { $0 < 0 ? $0 + r : $0 })
                shape = shape.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            }
            values[n.outputs[0]] = .constant(try a.reshaped(shape))
            return
        }
        let (e, info) = try tensor(n, 0)
        guard var d = info.dims else { throw Unsupported("the operand's rank is unknown") }
        if let axes { _ = try checked(axes, rank: unsqueeze ? d.count + axes.count : d.count) }
        if unsqueeze {
            guard let axes else { throw Unsupported("no axes") }
            let r = d.count + axes.count
            for ax in axes.map({ $0 < 0 ? $0 + r : $0 }).sorted() { d.insert(.known(1), at: ax) }
        } else {
            let r = d.count
            let drop = Set((axes ?? Array(0..<r).filter { d[$0] == .known(1) }).map { $0 < 0 ? $0 + r : $0 })
            d = d.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        }
        define(n, 0, .atom("reshape(\(e.text), \(dimsText(d)))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: d))
    }

    func concat(_ n: ONNXNode) throws {
        let axis = int(n, "axis", 0)
        // Shapes being assembled (x.size(0), -1): fold.
        let parts = n.inputs.indices.map { sizes(n, $0) }
        if parts.allSatisfy({ $0 != nil }) {
            values[n.outputs[0]] = .sizes(parts.flatMap { $0! })
            return
        }
        // Constants (the TorchScript exporter's gate reordering of an LSTM's weights): fold.
        let constants = n.inputs.compactMap { name -> NDArray? in if case .constant(let a)? = value(name) { a } else { nil } }
        if constants.count == n.inputs.count, !constants.isEmpty {
            values[n.outputs[0]] = .constant(try Self.concatenated(constants, axis: axis))
            return
        }
        var texts: [String] = []
        var infos: [TensorInfo] = []
        var layers = 0
        for k in n.inputs.indices {
            let (e, info) = try tensor(n, k)
            texts.append(e.text)
            infos.append(info)
            layers += e.layers
        }
        var dims = infos[0].dims
        if var d = dims {
            let ax = axis < 0 ? axis + d.count : axis
            guard ax >= 0, ax < d.count, infos.allSatisfy({ $0.dims.map { $0.count == d.count } ?? true }) else {
                throw Unsupported("axis \(axis) is out of range, or the operands' ranks differ")
            }
            let sizes = infos.map { $0.dims?[ax].value }
            d[ax] = sizes.allSatisfy({ $0 != nil }) ? .known(sizes.map { $0! }.reduce(0, +)) : .unknown
            dims = d
        }
        define(n, 0, .atom("concat([\(texts.joined(separator: ", "))], axis: \(axis))", layers: layers),
               TensorInfo(dtype: infos[0].dtype, dims: dims))
    }

    func pad(_ n: ONNXNode) throws {
        let (e, info) = try tensor(n, 0)
        guard let d = info.dims, d.count == 4 else { throw Unsupported("only padding of NCHW tensors is supported") }
        guard let p = ints(n, "pads") ?? self.ints(n, 1), p.count == 8 else { throw Unsupported("its pads are not known") }
        guard p[0] == 0, p[1] == 0, p[4] == 0, p[5] == 0 else { throw Unsupported("only the last two axes can be padded") }
        guard p.allSatisfy({ $0 >= 0 && $0 <= Self.windowLimit }) else { throw Unsupported("pads \(p) are out of range (0 to \(Self.windowLimit))") }
        let mode = string(n, "mode", "constant")
        let value = n.inputs.count > 2 && !n.inputs[2].isEmpty ? (float(n, 2) ?? 0) : 0
        let dlgPads = [p[2], p[6], p[3], p[7]]
        var args = [e.text, DLGText.padding(dlgPads)]
        switch mode {
        case "constant": if value != 0 { args += ["mode: constant", "value: \(DLGText.number(value))"] }
        case "edge": args.append("mode: replicate")
        case "reflect": args.append("mode: reflect")
        default: throw Unsupported("mode \(mode) is not supported")
        }
        var out = d
        for k in 0..<2 {
            if let v = d[2 + k].value { out[2 + k] = .known(v + dlgPads[2 * k] + dlgPads[2 * k + 1]) }
        }
        define(n, 0, .atom("pad(\(args.joined(separator: ", ")))", layers: e.layers), TensorInfo(dtype: info.dtype, dims: out))
    }
}
