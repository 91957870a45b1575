import Crypto
import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import DLGTrain
import Foundation

/// A tensor a client sends or receives, as `GET /v1/model` describes it.
public struct TensorSpec: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    /// The whole shape, batch axis first, with symbolic sizes by name (`B`).
    public var shape: [Dim]
    /// One example's shape: the shape without the batch axis, every size known.
    public var example: [Int]
    /// Elements of one example.
    public var exampleCount: Int { example.reduce(1, *) }
}

/// How an output reads as a classification, when it is one.
public struct Classifier: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Scores fed to a softmax cross entropy: the class is the argmax, its probability the softmax's.
        case logits
        /// A softmax's result: the class is the argmax, its probability the value.
        case probabilities
        /// A sigmoid's single value p: class 1 when p ≥ 0.5, with probability p, else class 0 with 1 − p.
        case sigmoid
    }
    /// The output it applies to (index into `ServedModel.outputs`).
    public var output: Int
    public var kind: Kind
    public var classes: Int
    /// Names of the classes (`--class-names`), or nil.
    public var names: [String]?
}

/// Why a model cannot be served; `diagnostics` when its source has errors.
public struct ModelLoadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var diagnostics: Diagnostics?
    public var file: SourceFile?
    public init(_ message: String, diagnostics: Diagnostics? = nil, file: SourceFile? = nil) {
        self.message = message
        self.diagnostics = diagnostics
        self.file = file
    }
    public var description: String { message }
}

/// A model ready to serve: one inference program per batch-size bucket,
/// lowered batch-invariant (`Program.batchInvariant`), so that an example's
/// outputs are the same bit for bit whichever bucket it runs in and
/// whatever else is in its batch — and equal to `dlg run`'s.
public struct ServedModel: Sendable {
    public var name: String
    /// The file served (.dlg or .dlgc) and the SHA-256 of its bytes, in hex.
    public var path: String
    public var sha256: String
    /// The inputs the forward pass reads, in the programs' order, and the outputs.
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]
    /// The batch sizes programs were compiled for, ascending; the last is the largest batch.
    public var buckets: [Int]
    /// One program per bucket, in `buckets`' order.
    public var programs: [Program]
    /// Elements of the parameters and buffers (batchnorm statistics) the programs read.
    public var parameterCount: Int
    public var classifier: Classifier?

    /// Powers of two below `maxBatch`, and `maxBatch`: 1, 2, 4, 8, 16, 32 for 32.
    public static func buckets(maxBatch: Int) -> [Int] {
        var b: [Int] = []
        var size = 1
        while size < maxBatch {
            b.append(size)
            size *= 2
        }
        return b + [maxBatch]
    }

    /// The smallest bucket that holds `rows` examples.
    public func bucket(for rows: Int) -> Int? { buckets.firstIndex { $0 >= rows } }

    public var maxBatch: Int { buckets.last ?? 1 }

    /// Loads a .dlg file (or a `dlg compile` program, .dlgc) and compiles it
    /// for every bucket up to `maxBatch`. `bindings` fix symbolic sizes other
    /// than the batch; `classNames`, when given, must match the classifier's
    /// class count.
    public static func load(path: String, model: String? = nil, bindings: [String: Int] = [:], maxBatch: Int,
                            classNames: [String]? = nil) throws -> ServedModel {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ModelLoadError("\(path) \(why)")
        }
        let hash = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        var served: ServedModel
        if CompiledModel.isCompiled(path) {
            served = try loadCompiled(path: path, hash: hash)
        } else {
            guard let text = String(data: bytes, encoding: .utf8) else { throw ModelLoadError("\(path) is not UTF-8 text") }
            served = try loadSource(SourceFile(path: path, text: text), model: model, bindings: bindings,
                                    maxBatch: maxBatch, hash: hash)
        }
        if let names = classNames {
            guard let c = served.classifier else {
                throw ModelLoadError("--class-names: model '\(served.name)' is not a classifier (no output feeds a cross entropy, a softmax or a sigmoid of one value)")
            }
            let expected = c.kind == .sigmoid ? 2 : c.classes
            guard names.count == expected else {
                throw ModelLoadError("--class-names gives \(names.count) names, but output '\(served.outputs[c.output].name)' has \(expected) classes")
            }
            served.classifier?.names = names
        }
        return served
    }

    static func loadSource(_ file: SourceFile, model: String?, bindings: [String: Int], maxBatch: Int,
                           hash: String) throws -> ServedModel {
        // The training form, with symbols, tells the batch axis and which outputs a loss reads.
        let symbolic = Frontend.compile(file, model: model, options: ElaborationOptions(training: true, bindings: bindings))
        guard let graph = symbolic.graph, !symbolic.hasErrors else {
            throw ModelLoadError("\(file.path) has errors", diagnostics: symbolic.diagnostics, file: file)
        }
        let batchSymbol: String? = {
            if case .symbol(let s)? = graph.inputs.first?.type.shape.dims?.first { return s }
            return nil
        }()
        let sizes: [Int]
        if batchSymbol != nil {
            sizes = buckets(maxBatch: maxBatch)
        } else if let n = graph.inputs.first?.type.shape.knownDims?.first {
            // Inputs of fixed size: every batch runs at that size.
            sizes = [n]
        } else {
            throw ModelLoadError("model '\(graph.name)' has no input with a batch axis to serve")
        }
        var programs: [Program] = []
        for size in sizes {
            var o = PipelineOptions()
            o.training = false
            o.keepLoss = false
            o.bindings = bindings
            if let s = batchSymbol { o.bindings[s] = size }
            let (g, diags, _) = Pipeline.compile(file, model: model, options: o)
            guard let g else { throw ModelLoadError("\(file.path) has errors", diagnostics: diags, file: file) }
            do {
                var p = try Lowering.lower(g)
                p.batchInvariant = true
                programs.append(p)
            } catch {
                throw ModelLoadError(error.message)
            }
        }
        func spec(_ name: String, _ type: TensorType, _ buffer: Buffer, batch: Int) throws -> TensorSpec {
            let dims = type.shape.dims ?? []
            let leading = batchSymbol.map { dims.first == .symbol($0) } ?? (buffer.shape.first == batch)
            guard leading, dims.count == buffer.shape.count else {
                throw ModelLoadError("'\(name)' (\(type)) does not have the batch axis first; dlg serve answers example by example")
            }
            return TensorSpec(name: name, dtype: buffer.dtype, shape: dims, example: Array(buffer.shape.dropFirst()))
        }
        let first = programs[0]
        let inputs = try first.inputs.map { slot -> TensorSpec in
            guard let node = graph.inputs.first(where: { $0.name == slot.name }) else {
                throw ModelLoadError("input '\(slot.name)' of the forward pass is not declared")
            }
            return try spec(slot.name, node.type, slot.buffer, batch: sizes[0])
        }
        let outputs = try first.outputs.map { slot -> TensorSpec in
            guard let out = graph.outputs.first(where: { $0.name == slot.name }) else {
                throw ModelLoadError("output '\(slot.name)' is not declared")
            }
            return try spec(slot.name, graph.nodes[out.value].type, slot.buffer, batch: sizes[0])
        }
        if inputs.isEmpty { throw ModelLoadError("model '\(graph.name)': its outputs read no input") }
        if outputs.isEmpty { throw ModelLoadError("model '\(graph.name)' has no outputs to serve; mark one with 'output NAME = …'") }
        return ServedModel(name: graph.name, path: file.path, sha256: hash, inputs: inputs, outputs: outputs,
                           buckets: sizes, programs: programs, parameterCount: parameterCount(first),
                           classifier: classifier(graph, outputs: outputs))
    }

    static func loadCompiled(path: String, hash: String) throws -> ServedModel {
        let compiled: CompiledModel
        do { compiled = try CompiledModel.load(path) } catch { throw ModelLoadError("\(path): \(error)") }
        guard var program = compiled.forward else {
            throw ModelLoadError("\(path) holds no forward program (it was compiled with --training-step); compile the model without it to serve")
        }
        program.batchInvariant = true
        guard let batch = program.inputs.first?.buffer.shape.first else { throw ModelLoadError("\(path): the program reads no input") }
        // Compiled at one batch size: the source, when it is still there, names the symbols and the classes.
        var graph: Graph?
        if let text = try? String(contentsOfFile: compiled.source, encoding: .utf8) {
            let r = Frontend.compile(SourceFile(path: compiled.source, text: text), model: compiled.model,
                                     options: ElaborationOptions(training: true))
            if !r.hasErrors { graph = r.graph }
        }
        func spec(_ slot: IOSlot, _ type: TensorType?) throws -> TensorSpec {
            guard slot.buffer.shape.first == batch else {
                throw ModelLoadError("'\(slot.name)' (\(slot.buffer.dtype.rawValue)\(Shape(slot.buffer.shape))) does not have the batch axis first; dlg serve answers example by example")
            }
            var dims = slot.buffer.shape.map { Dim.known($0) }
            if let d = type?.shape.dims, d.count == dims.count, case .symbol = d[0] { dims[0] = d[0] }
            return TensorSpec(name: slot.name, dtype: slot.buffer.dtype, shape: dims, example: Array(slot.buffer.shape.dropFirst()))
        }
        let inputs = try program.inputs.map { s in try spec(s, graph?.inputs.first { $0.name == s.name }?.type) }
        let outputs = try program.outputs.map { s in
            try spec(s, graph?.outputs.first { $0.name == s.name }.map { graph!.nodes[$0.value].type })
        }
        if outputs.isEmpty { throw ModelLoadError("\(path): the program has no outputs to serve") }
        return ServedModel(name: compiled.model, path: path, sha256: hash, inputs: inputs, outputs: outputs,
                           buckets: [batch], programs: [program], parameterCount: parameterCount(program),
                           classifier: graph.flatMap { classifier($0, outputs: outputs) })
    }

    static func parameterCount(_ p: Program) -> Int {
        p.state.filter { !$0.name.hasPrefix("optimizer.") }.reduce(0) { $0 + $1.buffer.count }
    }

    /// The first output that reads as a classification: fed to a softmax
    /// cross entropy (logits), computed by a softmax, or a sigmoid of one value.
    static func classifier(_ g: Graph, outputs: [TensorSpec]) -> Classifier? {
        for (i, spec) in outputs.enumerated() {
            guard let out = g.outputs.first(where: { $0.name == spec.name }), spec.example.count == 1 else { continue }
            let classes = spec.example[0]
            let node = g.nodes[out.value]
            let feedsCrossEntropy = g.nodes.contains { n in
                (n.op == .sparse_softmax_ce || n.op == .softmax_ce) && n.inputs.first == out.value
            }
            if feedsCrossEntropy && classes > 1 { return Classifier(output: i, kind: .logits, classes: classes) }
            if node.op == .softmax && classes > 1 { return Classifier(output: i, kind: .probabilities, classes: classes) }
            if node.op == .sigmoid && classes == 1 { return Classifier(output: i, kind: .sigmoid, classes: 2) }
        }
        return nil
    }
}
