import DLGCompiler
import DLGData
import DLGGraph
import DLGSource

/// A loss the importer can add, so that the imported model trains.
public enum ImportLoss: String, CaseIterable, Sendable {
    case cross_entropy, mse, mae, bce, bce_logits

    /// Integer class labels for cross_entropy; targets shaped like the output otherwise.
    var takesLabels: Bool { self == .cross_entropy }
}

public struct ONNXImportOptions: Sendable {
    /// The `.dlg` model's name (an identifier).
    public var modelName: String
    /// A loss on the first output, with a label or target input, for training.
    public var loss: ImportLoss?
    public init(modelName: String, loss: ImportLoss? = nil) {
        self.modelName = modelName
        self.loss = loss
    }
}

/// What `dlg import` writes: the model's text and its weights under the
/// `.dlg`'s parameter names.
public struct ONNXImport: Sendable {
    public var modelName: String
    public var source: String
    /// Parameters in the order the model declares them.
    public var weights: [NamedArray]
    /// Per parameter, the ONNX initializer it came from (safetensors metadata).
    public var origins: [String: String]
}

/// ONNX graph → `.dlg` text and weights.
///
/// Patterns that are layers become layer calls — Conv (+ BatchNormalization
/// + an activation) becomes `relu(batchnorm(conv2d(…)))`, Gemm and MatMul
/// + Add with a weight matrix become `dense` — named after their
/// initializers (`conv1.weight` gives the layer `conv1`, whose parameters are
/// then `conv1.weight` and `conv1.bias`). Everything else becomes primitive
/// operations on `param`s. Shape computations (Shape, Gather, Concat, …)
/// are evaluated while importing. Nodes dlg cannot express are collected and
/// reported together.
public enum ONNXImporter {
    public static func translate(_ model: ONNXModel, options: ONNXImportOptions) throws -> ONNXImport {
        let t = Translator(model, options)
        t.run()
        if !t.problems.isEmpty {
            var problems = t.problems
            let n = Set(problems.compactMap(\.subject)).count
            problems.insert(ONNXError.Problem(subject: nil, "\(n) node\(n == 1 ? "" : "s") cannot be expressed in dlg:"), at: 0)
            throw ONNXError(file: model.path, problems)
        }
        let result = t.finish()
        try verify(result, path: model.path)
        return result
    }

    /// Compiles the written text and checks that its parameters are exactly
    /// the weights, with their shapes: what `dlg run --weights` will need.
    static func verify(_ r: ONNXImport, path: String) throws {
        let file = SourceFile(path: r.modelName + ".dlg", text: r.source)
        let compiled = Frontend.compile(file, options: ElaborationOptions(training: false))
        guard !compiled.hasErrors, let graph = compiled.graph else {
            let text = DiagnosticsFormatter(colors: false).format(compiled.diagnostics.sorted, in: file)
            throw ONNXError(file: path, "internal error: the translated model does not compile:\n\(text)")
        }
        var expected: [String: [Int]] = [:]
        for w in r.weights { expected[w.name] = w.array.shape }
        var problems: [String] = []
        for p in graph.params {
            let name = p.name ?? "?"
            guard let shape = expected.removeValue(forKey: name) else {
                problems.append("parameter '\(name)' has no weights"); continue
            }
            if p.type.shape.knownDims != shape { problems.append("parameter '\(name)' is \(p.type.shape), its weights \(shape)") }
        }
        problems += expected.keys.sorted().map { "weights '\($0)' are no parameter of the model" }
        if !problems.isEmpty {
            throw ONNXError(file: path, "internal error: the translated model and its weights disagree: " + problems.joined(separator: "; "))
        }
    }
}

// MARK: - The translation

/// A dimension while importing.
enum IDim: Hashable, CustomStringConvertible {
    case known(Int)
    case symbol(String)
    case unknown

    var value: Int? { if case .known(let v) = self { v } else { nil } }
    var description: String {
        switch self {
        case .known(let v): String(v)
        case .symbol(let s): s
        case .unknown: "?"
        }
    }
}

/// dlg text for a tensor value, with what it needs to be combined.
struct Expr {
    var text: String
    /// 10: a name, number or call; 6: a negation; 5: `*` `/` `@`; 4: `+` `-`.
    var precedence: Int
    /// Parameter-creating layers inside (a statement holds at most two, as conv + batchnorm).
    var layers: Int

    static func atom(_ text: String, layers: Int = 0) -> Expr { Expr(text: text, precedence: 10, layers: layers) }
    var isName: Bool { precedence == 10 && layers == 0 && !text.contains("(") }
}

struct TensorInfo {
    var dtype: ElementType
    /// nil when the rank is not known.
    var dims: [IDim]?
    var rank: Int? { dims?.count }
}

enum ImportValue {
    case tensor(Expr, TensorInfo)
    /// Known while importing: an initializer, a Constant, or a folded shape computation.
    case constant(NDArray)
    /// A 1-D integer vector of sizes, some symbolic (from Shape).
    case sizes([IDim])
    /// Zeros of a shape with a symbolic size (ConstantOfShape): an LSTM's initial state.
    case zeros(TensorInfo)
    /// From a node that was not translated: its users report nothing more.
    case poison
}

/// A node that cannot be translated; the message says why.
struct Unsupported: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

final class Translator {
    let model: ONNXModel
    let options: ONNXImportOptions
    var values: [String: ImportValue] = [:]
    var problems: [ONNXError.Problem] = []
    /// The nodes that read each value.
    var consumers: [String: [ONNXNode]] = [:]
    let graphOutputs: Set<String>
    var initializerNames: Set<String> = []
    /// Initializers and how often runtime ops read them.
    var initializerUses: [String: Int] = [:]

    // The text being written.
    var inputLines: [String] = []
    var paramLines: [String] = []
    var lines: [String] = []
    var outputLines: [String] = []
    var weights: [NamedArray] = []
    var origins: [String: String] = [:]
    var renamed: [(String, String, String)] = []   // (kind, ONNX name, dlg name)
    /// Names bound in the model (and reserved ones).
    var taken: Set<String>
    /// Layer names given with `name:`.
    var layerNames: Set<String> = []
    /// Initializers already made `param`s, by ONNX name → dlg name.
    var materialized: [String: String] = [:]
    /// Nodes whose work an earlier pattern did.
    var absorbed: Set<Int> = []
    /// gelu written with Erf, by the index of the node that scales x.
    var geluPatterns: [Int: GeluPattern] = [:]
    var batchSymbol: String?
    /// Layer names the initializers suggest: statements do not take them (a
    /// layer named implicitly after its statement would push the explicit
    /// name to `_1`); outputs may, as `output logits = dense(…, name: "logits")`.
    var layerPrefixes: Set<String> = []
    /// The node that computes each value.
    var producers: [String: ONNXNode] = [:]
    /// Constants folded from one initializer (a Linear's weight transposed by the TorchScript
    /// exporter): the initializer and how the value differs from it.
    var derived: [String: (source: String, note: String)] = [:]
    /// Time-first [T, B, F] values whose batch-first form [B, T, F] is known (around an LSTM).
    var batchFirst: [String: (Expr, TensorInfo)] = [:]
    /// LSTM outputs Y, and Y transposed to [T, B, 2, H] (bidirectional), by value.
    var lstmSequences: [String: LSTMSequence] = [:]
    var lstmJoined: [String: LSTMSequence] = [:]
    /// LSTM outputs Y_h: the dlg text of the final states [B, dirs·H], and the directions.
    var lstmFinals: [String: (String, Int)] = [:]
    /// Transposes of an initializer folded while importing, by initializer and permutation: the first
    /// one's value name; `constantAliases` maps the later ones to it.
    var foldedTransposes: [String: String] = [:]
    var constantAliases: [String: String] = [:]

    init(_ model: ONNXModel, _ options: ONNXImportOptions) {
        self.model = model
        self.options = options
        graphOutputs = Set(model.outputs.map(\.name))
        taken = ReservedNames.all
        taken.insert(options.modelName)
        for n in model.nodes {
            for i in n.inputs where !i.isEmpty { consumers[i, default: []].append(n) }
            for o in n.outputs where !o.isEmpty { producers[o] = n }
        }
        for t in model.initializers {
            values[t.name] = .constant(t.array)
            initializerNames.insert(t.name)
        }
        // Layer names come from initializers; statements must not take them.
        for t in model.initializers { if let l = DLGText.layerName(fromInitializer: t.name) { layerPrefixes.insert(l) } }
        findGeluPatterns()
    }

    // MARK: Driver

    func run() {
        declareInputs()
        for n in model.nodes where !absorbed.contains(n.index) {
            if n.inputs.contains(where: { if case .poison? = values[$0] { true } else { false } }) {
                // Behind an untranslated node; an op dlg lacks is still reported, so that one run lists them all.
                if !n.isDefaultDomain || !Self.supportedOps.contains(n.opType) {
                    problems.append(ONNXError.Problem(subject: n.subject, n.isDefaultDomain
                        ? "op \(n.opType) has no dlg translation" : "ops of domain '\(n.domain)' are not supported"))
                }
                poison(n)
                continue
            }
            do {
                try translate(n)
            } catch let u as Unsupported {
                problems.append(ONNXError.Problem(subject: n.subject, u.message))
                poison(n)
            } catch {
                problems.append(ONNXError.Problem(subject: n.subject, "\(error)"))
                poison(n)
            }
        }
        declareOutputs()
    }

    func poison(_ n: ONNXNode) {
        for o in n.outputs where !o.isEmpty { values[o] = .poison }
        if let g = geluPatterns[n.index] { poison(g.last) }
    }

    func declareInputs() {
        for (k, v) in model.inputs.enumerated() {
            let subject = "graph input '\(v.name)'"
            guard let t = v.dataType else {
                problems.append(.init(subject: subject, "element type \(ONNXDataType.name(ofCode: v.dataTypeCode)) is not supported"))
                values[v.name] = .poison
                continue
            }
            let dtype: ElementType
            switch t {
            case .float, .float16: dtype = .f32
            case .double: dtype = .f64
            case .int32, .int64, .int16, .int8: dtype = .i32
            default:
                problems.append(.init(subject: subject, "element type \(t.name) has no dlg input type (f32, f64, i32)"))
                values[v.name] = .poison
                continue
            }
            guard let onnxDims = v.dims else {
                problems.append(.init(subject: subject, "has no shape; dlg inputs need their rank and sizes"))
                values[v.name] = .poison
                continue
            }
            var dims: [IDim] = []
            for (axis, d) in onnxDims.enumerated() {
                switch d {
                case .known(let n) where n > 0: dims.append(.known(n))
                case .known: dims.append(.known(1))
                case .symbol(let s): dims.append(.symbol(symbolName(s, axis: axis)))
                case .unknown:
                    if axis == 0 {
                        dims.append(.symbol(symbolName("B", axis: 0)))
                    } else {
                        problems.append(.init(subject: subject, "axis \(axis) has no size; dlg needs every size but the batch's"))
                        dims.append(.unknown)
                    }
                }
            }
            if k == 0, case .symbol(let s)? = dims.first { batchSymbol = s }
            let name = bindName(v.name, kind: "input")
            let dt = dtype == .f64 ? "f64" : dtype == .i32 ? "i32" : "f32"
            let shape = dims.isEmpty ? "" : "[" + dims.map(\.description).joined(separator: ", ") + "]"
            inputLines.append("input \(name): \(dt)\(shape)")
            values[v.name] = .tensor(.atom(name), TensorInfo(dtype: dtype, dims: dims))
        }
    }

    var symbols: [String: String] = [:]
    func symbolName(_ s: String, axis: Int) -> String {
        if let n = symbols[s] { return n }
        var n = DLGText.identifier(from: s)
        while taken.contains(n) { n += "_" }
        taken.insert(n)
        symbols[s] = n
        return n
    }

    func declareOutputs() {
        for o in model.outputs {
            guard let v = values[o.name] else { continue }
            switch v {
            case .poison: continue
            case .tensor(let e, let info):
                let name = outputName(o.name)
                if e.isName && e.text == name {
                    outputLines.append("output \(name)")
                } else {
                    outputLines.append("output \(name) = \(e.text)")
                }
                outputInfo.append((name, info))
            case .constant, .sizes, .zeros:
                problems.append(.init(subject: "graph output '\(o.name)'", "is a constant; dlg outputs are computed tensors"))
            }
        }
    }

    var outputNames: [String: String] = [:]
    var outputInfo: [(String, TensorInfo)] = []
    func outputName(_ onnx: String) -> String {
        if let n = outputNames[onnx] { return n }
        let n = bindName(onnx, kind: "output")
        outputNames[onnx] = n
        return n
    }

    /// A fresh identifier for an ONNX name, noted when it differs.
    func bindName(_ onnx: String, kind: String, opType: String? = nil) -> String {
        let base = DLGText.identifier(from: onnx, opType: opType)
        var name = base
        var k = 0
        while taken.contains(name) || (kind != "output" && layerPrefixes.contains(name)) {
            name = "\(base)_\(k)"
            k += 1
        }
        taken.insert(name)
        if (kind == "input" || kind == "output"), name != onnx { renamed.append((kind, onnx, name)) }
        return name
    }

    // MARK: Values

    func value(_ name: String) -> ImportValue? {
        name.isEmpty ? nil : values[name]
    }

    /// Operand `i` as a runtime tensor; a constant becomes a literal number or a `param`.
    func tensor(_ n: ONNXNode, _ i: Int) throws -> (Expr, TensorInfo) {
        guard i < n.inputs.count, !n.inputs[i].isEmpty, let v = values[n.inputs[i]] else {
            throw Unsupported("operand \(i + 1) is missing")
        }
        switch v {
        case .tensor(let e, let info): return (e, info)
        case .constant(let a): return try materialize(n.inputs[i], a, near: n)
        case .sizes(let dims): throw Unsupported("operand '\(n.inputs[i])' is a shape (\(dims)) used as data, which dlg cannot compute")
        case .zeros: throw Unsupported("operand '\(n.inputs[i])' is zeros of a symbolic shape used as data, which dlg cannot write")
        case .poison: throw Unsupported("operand '\(n.inputs[i])' is not available")
        }
    }

    /// The value of operand `i` when it is known while importing.
    func constant(_ n: ONNXNode, _ i: Int) -> NDArray? {
        guard i < n.inputs.count, case .constant(let a)? = value(n.inputs[i]) else { return nil }
        return a
    }

    /// Operand `i` as integers known while importing (a constant or a shape with known sizes).
    func ints(_ n: ONNXNode, _ i: Int) -> [Int]? {
        guard i < n.inputs.count, let v = value(n.inputs[i]) else { return nil }
        switch v {
        case .constant(let a):
            guard !a.elementType.isFloatingPoint else { return nil }
            return Self.integers(a)
        case .sizes(let d):
            let k = d.compactMap(\.value)
            return k.count == d.count ? k : nil
        default: return nil
        }
    }

    /// Operand `i` as sizes (known or symbolic) known while importing.
    func sizes(_ n: ONNXNode, _ i: Int) -> [IDim]? {
        guard i < n.inputs.count, let v = value(n.inputs[i]) else { return nil }
        switch v {
        case .sizes(let d): return d
        case .constant(let a) where !a.elementType.isFloatingPoint: return Self.integers(a)?.map { .known($0) }
        default: return nil
        }
    }

    func float(_ n: ONNXNode, _ i: Int) -> Double? {
        guard let a = constant(n, i), a.count == 1 else { return nil }
        return a.toDoubles()[0]
    }

    /// A constant used as data: one element is written as a number; more become a `param`.
    func materialize(_ onnxName: String, _ a: NDArray, near n: ONNXNode) throws -> (Expr, TensorInfo) {
        let name = constantAliases[onnxName] ?? onnxName
        let dtype: ElementType = a.elementType == .f64 ? .f64 : a.elementType.isFloatingPoint ? .f32 : .i32
        let info = TensorInfo(dtype: dtype, dims: a.shape.map { .known($0) })
        if a.count == 1 {
            let v = a.toDoubles()[0]
            let text = DLGText.number(v)
            if a.shape.isEmpty || a.shape.allSatisfy({ $0 == 1 }) && a.rank <= 1 {
                return (Expr(text: text, precedence: v < 0 ? 6 : 10, layers: 0), info)
            }
        }
        if let p = materialized[name] { return (.atom(p), info) }
        guard a.elementType.isFloatingPoint else {
            throw Unsupported("the integer tensor '\(name)' (\(a)) is used as data; dlg parameters are floating point")
        }
        guard a.count > 0 else { throw Unsupported("the empty tensor '\(name)' is used as data") }
        let p = bindName(name, kind: "param")
        materialized[name] = p
        let dt = dtype == .f64 ? "f64" : "f32"
        let shape = a.shape.isEmpty ? "" : "[" + a.shape.map(String.init).joined(separator: ", ") + "]"
        paramLines.append("param \(p): \(dt)\(shape)")
        addWeight(p, a, from: name)
        return (.atom(p), info)
    }

    func addWeight(_ dlgName: String, _ a: NDArray, from onnx: String, note: String = "") {
        let array: NDArray
        if a.elementType == .f64 || a.elementType == .f32 {
            array = a
        } else {
            array = (try? a.converted(to: .f32)) ?? a
        }
        weights.append(NamedArray(dlgName, array))
        let (source, how) = derived[onnx] ?? (onnx, "")
        origins[dlgName] = "ONNX initializer '\(source)'" + how + note
    }

    /// A layer's initializer operand: its array, when it is an initializer read by this node only.
    func ownedInitializer(_ n: ONNXNode, _ i: Int) -> NDArray? {
        // Shape reads only its size (PyTorch's dynamo exporter takes a bias's size from the weight).
        guard i < n.inputs.count, initializerNames.contains(n.inputs[i]) || derived[n.inputs[i]] != nil, materialized[n.inputs[i]] == nil,
              (consumers[n.inputs[i]] ?? []).filter({ $0.opType != "Shape" }).count == 1, let a = constant(n, i),
              a.elementType.isFloatingPoint else { return nil }
        return a
    }

    /// The `name:` of a layer whose main initializer is operand `i`: its prefix, else one made from the node.
    func layerName(_ n: ONNXNode, weightOperand i: Int) -> String {
        let source = derived[n.inputs[i]]?.source ?? n.inputs[i]
        return uniqueLayerName(DLGText.layerName(fromInitializer: source) ?? DLGText.identifier(from: n.name.isEmpty ? n.outputs[0] : n.name))
    }

    // MARK: Statements

    /// Ops whose single operand reads well inlined: `relu(batchnorm(conv2d(…)))`.
    static let wrappers: Set<String> = [
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Softsign", "Gelu", "Clip", "BatchNormalization",
        "Dropout", "Identity", "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "Flatten", "PRelu", "HardSigmoid", "HardSwish", "Cast", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal",
    ]
    /// Layers that read their data operand well inlined when it holds no layer (`dense(flatten(x), 10)`).
    static let layerConsumers: Set<String> = ["Gemm", "Conv", "MatMul"]

    /// Records the value of output `o` of `n`: inline in its single reader, or bound by a statement.
    func define(_ n: ONNXNode, _ o: Int, _ e: Expr, _ info: TensorInfo) {
        let name = n.outputs[o]
        guard !name.isEmpty else { return }
        let users = consumers[name] ?? []
        if graphOutputs.contains(name) {
            let out = outputName(name)
            if users.isEmpty {
                values[name] = .tensor(e, info)
            } else {
                lines.append("\(out) = \(e.text)")
                values[name] = .tensor(.atom(out), info)
            }
            return
        }
        if e.isName || users.isEmpty {
            values[name] = .tensor(e, info)
            return
        }
        if users.count == 1, let u = users.first, u.inputs.filter({ $0 == name }).count == 1 {
            let op = geluPatterns[u.index] != nil ? "Gelu" : u.opType
            let operand = geluPatterns[u.index].map { u.inputs[$0.xOperand] } ?? u.inputs.first
            if Self.wrappers.contains(op) && operand == name && e.layers <= 2 && (op != "BatchNormalization" || e.layers <= 1) {
                values[name] = .tensor(e, info)
                return
            }
            if Self.layerConsumers.contains(op) && u.inputs.first == name && e.layers == 0 && e.text.count < 40 {
                values[name] = .tensor(e, info)
                return
            }
        }
        let stmt = bindName(name, kind: "value", opType: n.opType)
        lines.append("\(stmt) = \(e.text)")
        values[name] = .tensor(.atom(stmt), info)
    }

    /// An operand that appears twice in an expression must be a name.
    func atom(_ e: Expr, _ info: TensorInfo, hint: String) -> Expr {
        if e.isName || (e.precedence == 10 && !e.text.contains("(")) { return e }
        let stmt = bindName(hint, kind: "value")
        lines.append("\(stmt) = \(e.text)")
        return .atom(stmt)
    }

    // MARK: Finish

    func finish() -> ONNXImport {
        var out: [String] = []
        out.append("# \(options.modelName).dlg: imported by dlg import from \(fileName(model.path))")
        let producer = model.producer.isEmpty ? "" : "made by \(model.producer), "
        out.append("# (\(producer)ONNX IR version \(model.irVersion), opset \(model.opset)).")
        out.append("# Weights: \(options.modelName).safetensors, under the parameter names below, e.g.")
        let inputsText = model.inputs.compactMap { v -> String? in
            guard case .tensor(let e, _)? = values[v.name] else { return nil }
            return "--input \(e.text)=\(e.text).npy"
        }.joined(separator: " ")
        out.append("#   dlg run \(options.modelName).dlg --weights \(options.modelName).safetensors \(inputsText) --output out.npy")
        if !renamed.isEmpty {
            out.append("# ONNX names that are not dlg names:")
            for (kind, onnx, dlg) in renamed { out.append("#   \(kind) '\(onnx)' is \(dlg)") }
        }
        out.append("model \(options.modelName) {")
        for l in inputLines { out.append("    " + l) }
        var lossLines: [String] = []
        if let loss = options.loss, let (name, info) = outputInfo.first {
            let label = bindName(loss.takesLabels ? "label" : "target", kind: "value")
            let dims = info.dims ?? []
            if loss.takesLabels {
                // One class per row: i32[B] for logits [B, C], i32[B, T] for a sequence's [B, T, C].
                let rows = dims.count >= 2 ? dims.dropLast().map(\.description) : [dims.first?.description ?? "B"]
                out.append("    input \(label): i32[\(rows.joined(separator: ", "))]")
            } else {
                out.append("    input \(label): \(info.dtype == .f64 ? "f64" : "f32")[" + dims.map(\.description).joined(separator: ", ") + "]")
            }
            lossLines.append("minimize \(loss.rawValue)(\(name), \(label))")
        }
        if !paramLines.isEmpty { out.append("") }
        for l in paramLines { out.append("    " + l) }
        out.append("")
        for l in lines { out.append("    " + l) }
        for l in outputLines { out.append("    " + l) }
        for l in lossLines { out.append("    " + l) }
        out.append("}")
        return ONNXImport(modelName: options.modelName, source: out.joined(separator: "\n") + "\n", weights: weights, origins: origins)
    }

    func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
