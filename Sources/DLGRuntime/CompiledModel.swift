import DLGCompiler
import DLGData
import DLGGraph
import DLGSource
import Foundation

/// What `dlg compile -o` writes: the lowered programs of a model (JSON,
/// format `dlg-compiled/2`), which `dlg run` and `dlg train` accept in place
/// of a .dlg file.
///
/// A compiled file is input like any other: a program's offsets, sizes and
/// shapes index memory directly, so a program edited by hand (or damaged)
/// would make the executor read and write outside its buffers. The file
/// therefore carries what it was compiled from — the source text and the
/// compiler's options (`Recipe`) — and `load` compiles that again and
/// requires everything the compiler derives (the programs, the batch, the
/// train block's settings) to be equal to what the file holds, comparing
/// their encoded forms field by field; the first difference is an error
/// naming the file, the field and, inside a program, the instruction. The
/// comparison runs over the whole encoded `CompiledModel`, so it covers
/// every field a program has, whatever fields it gains.
public struct CompiledModel: Codable, Sendable {
    public static let format = "dlg-compiled/2"
    /// The largest compiled file read (the source text and the programs of a large model fit easily).
    public static let maxFileBytes = 256 << 20

    public var format: String = CompiledModel.format
    public var model: String
    /// The .dlg file it was compiled from, and its directory (data paths in the train block are relative to it).
    public var source: String
    /// What the programs were compiled from.
    public var recipe: Recipe
    public var batch: Int?
    /// The forward pass (inference form, no loss).
    public var forward: Program?
    /// The whole training step, and the evaluation program (inference form with the loss).
    public var train: Program?
    public var eval: Program?
    /// The train block's settings as written (`key = value` text), for `dlg train`.
    public var trainSettings: [String: String]

    /// The source text and the compiler's options: enough to compile the
    /// programs again.
    public struct Recipe: Codable, Sendable, Equatable {
        /// The .dlg text.
        public var text: String
        /// `--model`, when given.
        public var model: String?
        /// Every symbol's size (the ones `--bind` left unbound at 1).
        public var bindings: [String: Int]
        /// `--training-step`: the training step and the evaluation program instead of the forward pass.
        public var trainingStep: Bool
        /// The optimizer of the training step.
        public var optimizer: OptimizerSpec?
        /// `--disable-pass`, sorted.
        public var disabledPasses: [String]

        public init(text: String, model: String?, bindings: [String: Int], trainingStep: Bool,
                    optimizer: OptimizerSpec?, disabledPasses: [String]) {
            self.text = text
            self.model = model
            self.bindings = bindings
            self.trainingStep = trainingStep
            self.optimizer = optimizer
            self.disabledPasses = disabledPasses.sorted()
        }

        /// The pipeline's options for the main program (`training`) or the evaluation program.
        func options(evaluation: Bool = false) -> PipelineOptions {
            var o = PipelineOptions()
            o.stage = .planned
            o.bindings = bindings
            o.disabled = Set(disabledPasses)
            o.training = trainingStep && !evaluation
            o.keepLoss = trainingStep
            o.differentiate = trainingStep && !evaluation
            o.optimizer = trainingStep && !evaluation ? optimizer : nil
            return o
        }
    }

    public init(model: String, source: String, recipe: Recipe, batch: Int?, forward: Program?, train: Program?,
                eval: Program?, trainSettings: [String: String]) {
        self.model = model
        self.source = source
        self.recipe = recipe
        self.batch = batch
        self.forward = forward
        self.train = train
        self.eval = eval
        self.trainSettings = trainSettings
    }

    /// The thread count a compiled file's programs are lowered for (the instructions'
    /// workspace figures): a fixed one, so that the file does not depend on the cores of the
    /// process that wrote or checks it. Executors size their workspace for their own threads.
    public static let loweringThreads = 1

    /// Compiles a recipe: what `dlg compile -o` writes, and what `load`
    /// compares a file with. Errors are the compiler's diagnostics, formatted.
    public static func build(source path: String, recipe: Recipe) throws(ExecutionError) -> CompiledModel {
        let file = SourceFile(path: path, text: recipe.text)
        func compile(_ o: PipelineOptions) throws(ExecutionError) -> (Graph, Program) {
            let (graph, diags, _) = Pipeline.compile(file, model: recipe.model, options: o)
            guard let graph else {
                throw ExecutionError(DiagnosticsFormatter(colors: false).format(diags.sorted, in: file))
            }
            do { return (graph, try Lowering.lower(graph, threads: loweringThreads)) } catch { throw ExecutionError(error.message) }
        }
        let (graph, main) = try compile(recipe.options())
        let eval = recipe.trainingStep ? try compile(recipe.options(evaluation: true)).1 : nil
        // The batch: the size bound to the first input's leading symbol.
        var batch: Int?
        let elaborated = Frontend.compile(file, model: recipe.model, options: ElaborationOptions(training: true))
        if case .symbol(let s)? = elaborated.graph?.inputs.first?.type.shape.dims?.first { batch = recipe.bindings[s] }
        // The train block's settings as written.
        var settings: [String: String] = [:]
        if let t = Frontend.trainBlock(file, model: graph.name) {
            for s in t.settings { settings[s.key] = file.text(in: s.valueRange) }
        }
        return CompiledModel(model: graph.name, source: path, recipe: recipe, batch: batch,
                             forward: recipe.trainingStep ? nil : main, train: recipe.trainingStep ? main : nil,
                             eval: eval, trainSettings: settings)
    }

    /// A compiled file is JSON: it starts with '{', which no .dlg file can.
    public static func isCompiled(_ path: String) -> Bool {
        if path.hasSuffix(".dlgc") { return true }
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 64)) ?? Data()
        return head.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D } == UInt8(ascii: "{")
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public func encoded() throws -> Data {
        try Self.encoder().encode(self)
    }

    /// Reads a compiled file and verifies it: the format, then the whole
    /// file against its recipe compiled again (see the type's description).
    /// Every error names the file.
    public static func load(_ path: String) throws(ExecutionError) -> CompiledModel {
        let bytes: [UInt8]
        do {
            bytes = try readFileBytes(path)
        } catch {
            throw ExecutionError("\(error)")
        }
        return try decode(bytes, file: path)
    }

    /// As `load`, from the file's bytes; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file path: String) throws(ExecutionError) -> CompiledModel {
        guard bytes.count <= maxFileBytes else {
            throw ExecutionError("\(path): \(bytes.count) bytes is more than the \(maxFileBytes) bytes a compiled file may have")
        }
        let data = Data(bytes)
        // The format first, so that another version's file gets a plain message.
        struct Head: Decodable { var format: String? }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let head = try? decoder.decode(Head.self, from: data) else {
            throw ExecutionError("\(path): not a compiled dlg program (not a JSON object)")
        }
        guard head.format == format else {
            throw ExecutionError("\(path): not a \(format) file (format '\(head.format ?? "none")'); compile the model again with this dlg")
        }
        let m: CompiledModel
        do { m = try decoder.decode(CompiledModel.self, from: data) } catch {
            throw ExecutionError("\(path): not a valid \(format) file: \(decodingErrorText(error))")
        }
        try m.verify(file: path)
        return m
    }

    /// Compiles the recipe again and requires the same model.
    public func verify(file path: String) throws(ExecutionError) {
        let rebuilt: CompiledModel
        do { rebuilt = try Self.build(source: source, recipe: recipe) } catch {
            throw ExecutionError("\(path): the source it holds does not compile:\n\(error.message)")
        }
        let mine: Any, theirs: Any
        do {
            mine = try JSONSerialization.jsonObject(with: try encoded(), options: [.fragmentsAllowed])
            theirs = try JSONSerialization.jsonObject(with: try rebuilt.encoded(), options: [.fragmentsAllowed])
        } catch {
            throw ExecutionError("\(path): cannot compare the programs: \(error)")
        }
        if let difference = firstDifference(mine, theirs, path: "") {
            var where_ = difference.path
            if let what = difference.instruction { where_ += " (instruction \(what))" }
            throw ExecutionError("\(path): the compiled programs do not match their source compiled again: "
                                 + "\(where_) is \(difference.found) in the file, the compiler gives \(difference.expected); "
                                 + "the file was edited or damaged, compile it again")
        }
    }

    struct Difference {
        var path: String
        var found: String
        var expected: String
        var instruction: String?
    }

    /// The first place where two JSON trees differ, in key order.
    func firstDifference(_ a: Any, _ b: Any, path: String) -> Difference? {
        func text(_ v: Any) -> String {
            if let s = v as? String { return "\"\(s.count > 60 ? String(s.prefix(60)) + "…" : s)\"" }
            if v is [Any] { return "a list" }
            if v is [String: Any] { return "an object" }
            if v is NSNull { return "null" }
            return "\(v)"
        }
        switch (a, b) {
        case let (x as [String: Any], y as [String: Any]):
            for key in Set(x.keys).union(y.keys).sorted() {
                let p = path.isEmpty ? key : "\(path).\(key)"
                guard let xv = x[key] else { return Difference(path: p, found: "missing", expected: text(y[key]!)) }
                guard let yv = y[key] else { return Difference(path: p, found: text(xv), expected: "not there") }
                if let d = firstDifference(xv, yv, path: p) { return d }
            }
            return nil
        case let (x as [Any], y as [Any]):
            for i in 0..<min(x.count, y.count) {
                if var d = firstDifference(x[i], y[i], path: "\(path)[\(i)]") {
                    if d.instruction == nil, let ins = y[i] as? [String: Any], ins["op"] != nil {
                        d.instruction = instructionText(ins)
                    }
                    return d
                }
            }
            if x.count != y.count {
                return Difference(path: path, found: "\(x.count) items", expected: "\(y.count)")
            }
            return nil
        case let (x as NSNumber, y as NSNumber):
            return x == y ? nil : Difference(path: path, found: text(x), expected: text(y))
        case let (x as String, y as String):
            return x == y ? nil : Difference(path: path, found: text(x), expected: text(y))
        case (is NSNull, is NSNull):
            return nil
        default:
            return Difference(path: path, found: text(a), expected: text(b))
        }
    }

    /// `%12 = matmul ('h1') at x.dlg:4:9` from an encoded instruction.
    func instructionText(_ ins: [String: Any]) -> String {
        var s = ""
        if let v = ins["value"] { s += "%\(v) = " }
        if let op = ins["op"] as? String { s += op } else { s += "instruction" }
        if let l = ins["label"] as? String { s += " ('\(l)')" }
        if let loc = ins["loc"] as? String { s += " at \(loc)" }
        return s
    }
}

/// A decoding error as one line: what was wrong and where.
func decodingErrorText(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ c: DecodingError.Context) -> String {
        c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }
    switch e {
    case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
        return "\(path(c)): \(c.debugDescription)"
    case .keyNotFound(let key, let c):
        return "\(path(c)): missing '\(key.stringValue)'"
    @unknown default:
        return "\(error)"
    }
}
