import DLGCompiler
import DLGData
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGSource
import Foundation

public struct TrainError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// In a data-parallel run: every replica raised this error at the same point (they agreed
    /// on it), so the job can end normally; otherwise it is this replica's alone.
    public var collective: Bool
    /// Nothing to print: another replica says why (see `DataParallel.agree`).
    public var silent: Bool
    public init(_ m: String, collective: Bool = false, silent: Bool = false) {
        message = m
        self.collective = collective
        self.silent = silent
    }
    public var description: String { message }
}

/// One model compiled for training and for evaluation, at whatever batch
/// sizes the data needs (a full batch and a last partial one), with all
/// programs sharing one state store: parameters, batchnorm buffers and
/// optimizer state live once.
public final class Session: @unchecked Sendable {
    public let file: SourceFile
    /// The model chosen on the command line (`--model`); nil for the file's first model.
    public let modelName: String?
    /// The name of the model being trained, as declared in the file.
    public let name: String
    public let config: TrainConfig
    public let threads: Int
    public let state = StateStore()
    /// The model's inputs in declaration order: (name, dtype, shape with symbols).
    public let inputs: [(name: String, type: TensorType)]
    public let outputs: [String]
    /// The symbol used as the batch size (the first input's leading dimension).
    public let batchSymbol: String?
    /// A session made from a compiled file runs at one batch size only.
    public let fixedBatch: Int?
    var trainExecutors: [Int: Executor] = [:]
    var evalExecutors: [Int: Executor] = [:]
    var predictExecutors: [Int: Executor] = [:]
    var stateInitialized = false
    /// The loss function the model minimizes (`bce`, `cross_entropy`, …), when it is one call.
    public private(set) var lossKind: String?
    /// Time spent compiling (parse to executor), in seconds.
    public private(set) var compileSeconds = 0.0

    /// Sizes fixed on the command line (`--bind size=64`); the batch symbol follows each batch.
    public let bindings: [String: Int]
    /// The replicas of a data-parallel run (Docs/distributed.md); nil in a single process.
    /// With more than one, the training step takes this replica's share of each global batch
    /// and sums the gradients over all of them.
    public let collective: Collective?
    /// The size of a bucket of gradients summed in one call (nil: the compiler's choice).
    public var bucketBytes: Int?
    /// Warnings of the training step's compilation (for example a loss that replicas cannot share exactly).
    public private(set) var warnings = Diagnostics()

    /// Whether the training step runs across several replicas.
    public var isReplicated: Bool { (collective?.size ?? 1) > 1 }

    public init(file: SourceFile, model: String?, config: TrainConfig, threads: Int, bindings: [String: Int] = [:],
                collective: Collective? = nil) throws {
        self.file = file
        self.bindings = bindings
        self.collective = collective
        self.modelName = model
        self.config = config
        self.threads = threads
        // Elaborate once with symbols to learn the inputs.
        let r = Frontend.compile(file, model: model, options: ElaborationOptions(training: true, bindings: bindings))
        guard let g = r.graph, !r.hasErrors else {
            throw CompileFailure(diagnostics: r.diagnostics, file: file)
        }
        name = g.name
        inputs = g.inputs.map { ($0.name ?? "?", $0.type) }
        outputs = g.outputs.map(\.name)
        fixedBatch = nil
        if case .symbol(let s)? = g.inputs.first?.type.shape.dims?.first { batchSymbol = s } else { batchSymbol = nil }
        if g.loss == nil {
            throw TrainError("model '\(g.name)' has nothing to minimize; add 'minimize <loss>' to train it")
        }
        lossKind = Session.lossKind(g)
        try checkFreezePatterns(g)
    }

    /// A session over programs compiled ahead of time (`dlg compile --training-step -o`).
    public init(compiled: CompiledModel, config: TrainConfig, threads: Int) throws {
        guard let train = compiled.train, let eval = compiled.eval, let batch = compiled.batch else {
            throw TrainError("this compiled file (of \(compiled.source)) holds no training step; compile it with --training-step")
        }
        file = SourceFile(path: compiled.source, text: "")
        bindings = [:]
        collective = nil
        modelName = compiled.model
        name = compiled.model
        self.config = config
        self.threads = threads
        inputs = train.inputs.map { ($0.name, TensorType($0.buffer.dtype, Shape([Int]([batch]) + $0.buffer.shape.dropFirst()))) }
        outputs = train.outputs.map(\.name)
        batchSymbol = nil
        fixedBatch = batch
        let te = try Session.executor(train, state: state, threads: threads)
        te.seed = config.seed
        te.initializeState(seed: config.seed)
        stateInitialized = true
        markInitialized(te)
        trainExecutors[batch] = te
        evalExecutors[batch] = try Session.executor(eval, state: state, threads: threads)
    }

    static func executor(_ p: Program, state: StateStore, threads: Int) throws -> Executor {
        do {
            return try Executor(p, state: state, threads: threads)
        } catch {
            throw TrainError(error.message)
        }
    }

    func compile(batch: Int, training: Bool, keepLoss: Bool = true, batchInvariant: Bool = false) throws -> Executor {
        if let fixedBatch {
            throw TrainError("the compiled program runs at batch \(fixedBatch) only; \(batch) was asked for")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var o = PipelineOptions()
        o.keepLoss = keepLoss
        o.training = training
        o.differentiate = training
        o.optimizer = training ? config.optimizer : nil
        o.bindings = bindings
        o.freeze = config.freeze
        if let s = batchSymbol { o.bindings[s] = batch }
        if training, let c = collective, c.size > 1 {
            o.replicas = c.size
            o.syncBatchnorm = config.syncBatchnorm
            o.bucketBytes = bucketBytes
        }
        let (graph, diags, _) = Pipeline.compile(file, model: modelName, options: o)
        guard let g = graph else { throw CompileFailure(diagnostics: diags, file: file) }
        if training { warnings.append(contentsOf: diags.warnings.filter { $0.id == "replica-loss" }) }
        var program: Program
        do { program = try Lowering.lower(g) } catch { throw TrainError(error.message) }
        program.batchInvariant = batchInvariant
        let e: Executor
        do { e = try Executor(program, state: state, threads: threads, collective: collective) } catch { throw TrainError(error.message) }
        e.seed = config.seed
        if !stateInitialized {
            e.initializeState(seed: config.seed)
            stateInitialized = true
        } else {
            // Slots this program adds (optimizer state) start from their initializers.
            initializeNewState(e)
        }
        compileSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return e
    }

    var initializedNames: Set<String> = []

    func initializeNewState(_ e: Executor) {
        for slot in e.program.state where !initializedNames.contains(slot.name) {
            let v = ParameterInit.values(slot.initializer, count: slot.buffer.count, fanIn: slot.fanIn, fanOut: slot.fanOut,
                                         seed: config.seed, name: slot.name)
            try? state.set(slot.name, values: v)
            initializedNames.insert(slot.name)
        }
    }

    /// Profile the training step kernel by kernel (see `ProfileReport`).
    public var profile = false

    /// The training executors, largest batch first (for reports).
    public var trainingExecutors: [Executor] { trainExecutors.sorted { $0.key > $1.key }.map(\.value) }

    public func trainExecutor(batch: Int) throws -> Executor {
        if let e = trainExecutors[batch] {
            if profile, e.profile == nil { e.profile = [] }
            return e
        }
        let e = try compile(batch: batch, training: true)
        if profile { e.profile = [] }
        markInitialized(e)
        trainExecutors[batch] = e
        return e
    }

    public func evalExecutor(batch: Int) throws -> Executor {
        if let e = evalExecutors[batch] { return e }
        let e = try compile(batch: batch, training: false)
        markInitialized(e)
        evalExecutors[batch] = e
        return e
    }

    /// The forward pass alone, in the inference form and without the loss: it reads only
    /// the inputs the outputs depend on (no labels), for predictions on unlabelled data.
    /// Batch-invariant: a prediction does not depend on the batch size (and equals `dlg run`'s).
    public func predictExecutor(batch: Int) throws -> Executor {
        if let e = predictExecutors[batch] { return e }
        let e = try compile(batch: batch, training: false, keepLoss: false, batchInvariant: true)
        markInitialized(e)
        predictExecutors[batch] = e
        return e
    }

    func markInitialized(_ e: Executor) {
        for s in e.program.state { initializedNames.insert(s.name) }
    }

    /// Every state entry, for checkpoints; the replicas' per-step scalars
    /// (`replica.fraction`, `replica.active`) are not part of a model's state.
    public func stateArrays() -> [NamedArray] {
        state.entries.filter { !Session.isReplicaScalar($0.name) }.map { NamedArray($0.name, state.array($0.name)!) }
    }

    /// The scalars the trainer sets before each step of a data-parallel run.
    public static func isReplicaScalar(_ name: String) -> Bool {
        name == ReplicaLossScaling.fraction || name == ReplicaLossScaling.active
    }
}

/// Compilation failed; the diagnostics say why.
public struct CompileFailure: Error, Sendable {
    public var diagnostics: Diagnostics
    public var file: SourceFile
}
