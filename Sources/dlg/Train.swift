import ArgumentParser
import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import DLGSyntax
import DLGTrain
import Foundation

/// Flags that override a `train` block.
struct TrainingOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Train setting data: the data source, e.g. 'mnist()', 'csv(\"f.csv\", label: \"y\")', 'xor()'; paths given here are relative to the working directory (default: the train block's).",
        valueName: "SETTING"))
    var data: String?
    @Option(help: ArgumentHelp(
        "Train setting validation: held-out data, a fraction in (0, 1) of the data (its last examples), a count of examples, a data source, or 0, none or false (default: none).",
        valueName: "SETTING"))
    var validation: String?
    @Option(help: ArgumentHelp("Train setting epochs: epochs, N ≥ 1 (default: 10).", valueName: "N")) var epochs: Int?
    @Option(help: ArgumentHelp("Train setting batch: examples per step; 1 is per-sample SGD, full (or 0) the whole training set (default: 32).",
                               valueName: "N|full"))
    var batch: String?
    @Option(help: ArgumentHelp("The optimizer's learning rate; keeps the optimizer and its other settings.", valueName: "X")) var lr: Double?
    @Option(help: ArgumentHelp(
        "Train setting optimizer, e.g. 'sgd(lr: 0.1, momentum: 0.9)', 'adam(lr: 1e-3)'; a bare number sets only the rate (default: sgd(lr: 0.01)).",
        valueName: "SETTING"))
    var optimizer: String?
    @Option(help: ArgumentHelp(
        "Train setting schedule: the learning-rate schedule, e.g. 'time_based(k: 0.01)', 'step(every: 10, factor: 0.5)' (default: constant).",
        valueName: "SETTING"))
    var schedule: String?
    @Option(help: ArgumentHelp("Train setting patience: early stopping after N epochs (N ≥ 1) without improvement of --metric (default: off).",
                               valueName: "N"))
    var patience: Int?
    @Option(help: ArgumentHelp("Train setting metric: what early stopping watches, loss, accuracy, val_loss or val_accuracy (default: val_loss).",
                               valueName: "NAME"))
    var metric: String?
    @Option(name: .customLong("l1"), help: ArgumentHelp(
        "Train setting l1: L1 penalty, λ·sign(p) added to every trainable parameter's gradient (default: 0).", valueName: "X"))
    var l1: Double?
    @Option(name: .customLong("l2"), help: ArgumentHelp("Train setting l2: L2 penalty, λ·p added to the gradients (default: 0).", valueName: "X"))
    var l2: Double?
    @Option(name: .customLong("weight-decay"), help: ArgumentHelp(
        "Train setting weight_decay: decoupled weight decay, p ← p − α·wd·p (default: 0).", valueName: "X"))
    var weightDecay: Double?
    @Option(name: .customLong("clip-value"), help: ArgumentHelp(
        "Train setting clip_value: clip every gradient component to [−X, X]; 0 turns it off (default: off).", valueName: "X"))
    var clipValue: Double?
    @Option(name: .customLong("clip-norm"), help: ArgumentHelp(
        "Train setting clip_norm: scale all gradients together so that their global norm is at most X; 0 turns it off (default: off).",
        valueName: "X"))
    var clipNorm: Double?
    @Option(help: ArgumentHelp(
        "Train setting normalize: none, unit or standardize the features, with statistics fitted on the training part (default: none).",
        valueName: "MODE"))
    var normalize: String?
    @Flag(inversion: .prefixedNo, help: "Train setting shuffle: reshuffle the training examples every epoch, or keep their order (default: shuffle).")
    var shuffle: Bool?
    @Flag(name: .customLong("allow-nonfinite"),
          help: "Train setting allow_nonfinite: load NaN and infinity in the data instead of refusing them (default: off).")
    var allowNonFinite = false

    func validate() throws {
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive, got \(lr)") }
        for (name, v) in [("l1", l1), ("l2", l2), ("weight-decay", weightDecay), ("clip-value", clipValue), ("clip-norm", clipNorm)] {
            if let v, !(v >= 0) { throw ValidationError("--\(name) must not be negative, got \(v)") }
        }
    }

    /// Applies the flags on top of the train block's settings.
    func apply(to c: inout TrainConfig) throws {
        func set(_ key: String, _ text: String?) throws {
            guard let text else { return }
            guard let v = Setting.parse(text) else { throw ValidationError("--\(key): cannot read '\(text)'") }
            if let problem = c.apply(key: key, v) { throw ValidationError("--\(key): \(problem.message)") }
        }
        try set("data", data)
        try set("validation", validation)
        try set("optimizer", optimizer)
        try set("schedule", schedule)
        try set("metric", metric)
        try set("normalize", normalize)
        try set("batch", batch)
        if let epochs { try set("epochs", String(epochs)) }
        if let patience { try set("patience", String(patience)) }
        if let lr { c.optimizer.lr = lr }
        if let l1 { c.optimizer.l1 = l1 }
        if let l2 { c.optimizer.l2 = l2 }
        if let weightDecay { c.optimizer.weightDecay = weightDecay }
        if let clipValue { c.optimizer.clipValue = clipValue > 0 ? clipValue : nil }   // 0 turns clipping off, as in a train block
        if let clipNorm { c.optimizer.clipNorm = clipNorm > 0 ? clipNorm : nil }   // 0 turns clipping off, as in a train block
        if let shuffle { c.shuffle = shuffle }
        if allowNonFinite { c.allowNonFinite = true }
    }
}

/// Reads a model's train block and the flags into one configuration.
func trainConfiguration(_ file: SourceFile, model: String?, flags: TrainingOptions, seed: UInt64?) throws -> (TrainConfig, dataBase: String) {
    let (unit, pdiags) = Parser.parse(file)
    if pdiags.hasErrors {
        report(pdiags, in: file)
        throw ExitCode.failure
    }
    var diags = Diagnostics()
    var config = TrainConfig.from(Frontend.trainBlock(unit, model: model), diagnostics: &diags)
    if diags.hasErrors {
        report(diags, in: file)
        throw ExitCode.failure
    }
    let blockData = config.data
    try flags.apply(to: &config)
    if let seed { config.seed = seed }
    // Paths in a .dlg are relative to that file; paths on the command line to the working directory.
    let base = config.data == blockData ? (file.path as NSString).deletingLastPathComponent : ""
    return (config, base)
}

/// Loads training and validation sets as configured.
func loadData(_ c: TrainConfig, base: String) throws -> (Dataset, Dataset?) {
    guard let spec = c.data else {
        printError("error: no data: give the train block a 'data = …' setting or pass --data")
        throw ExitCode.failure
    }
    do {
        var train = try DataLoader.load(spec, relativeTo: base, seed: c.seed, allowNonFinite: c.allowNonFinite)
        var validation: Dataset?
        switch c.validation {
        case .none: break
        case .fraction(let f):
            // conversion: f is in (0, 1): at most the example count
            let k = max(1, Int((Double(train.count) * f).rounded()))
            guard k < train.count else { throw TrainError("validation \(f) leaves no training examples") }
            (train, validation) = try train.split(last: k)
        case .count(let k):
            guard k < train.count else {
                throw TrainError("validation holds out \(k) examples but the data has only \(train.count)")
            }
            (train, validation) = try train.split(last: k)
        case .data(let v):
            validation = try DataLoader.load(v, relativeTo: base, seed: c.seed &+ 1, allowNonFinite: c.allowNonFinite)
        }
        if c.normalize != .none {
            let norm = c.normalize == .unit ? try Normalization.unitRange(fittedOn: train.features)
                                            : try Normalization.standardize(fittedOn: train.features, perFeature: true)
            train = try norm.apply(to: train, as: .f32)
            validation = try validation.map { try norm.apply(to: $0, as: .f32) }
        }
        return (train, validation)
    } catch let e as DataError {
        printError("error: \(e.description)")
        throw ExitCode.failure
    } catch let e as TrainError {
        printError("error: \(e.message)")
        throw ExitCode.failure
    }
}

func makeSession(_ file: SourceFile, model: String?, config: TrainConfig, threads: Int,
                 bindings: [String: Int] = [:]) throws -> Session {
    do {
        return try Session(file: file, model: model, config: config, threads: threads, bindings: bindings)
    } catch let f as CompileFailure {
        report(f.diagnostics, in: f.file)
        throw ExitCode.failure
    } catch let e as TrainError {
        printError("error: \(e.message)")
        throw ExitCode.failure
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model: the train block gives the defaults, flags override them.",
        discussion: """
            The whole step — forward, backward, optimizer update — runs as one compiled program. \
            Progress is a live bar on a terminal and one line per epoch otherwise.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var flags: TrainingOptions
    @Option(help: ArgumentHelp("Train setting threads: threads for kernels and BLAS, N ≥ 1 (default: the train block's, else all cores).",
                               valueName: "N"))
    var threads: Int?
    @Option(help: ArgumentHelp(
        "Train setting seed: seed of initialization, shuffling, dropout and the synthetic data sets (default: the train block's, else 0).",
        valueName: "N"))
    var seed: UInt64?
    @Option(help: ArgumentHelp(
        "Train setting checkpoint: save a checkpoint (safetensors) every --checkpoint-every epochs and after the last epoch of the run.",
        valueName: "PATH"))
    var checkpoint: String?
    @Option(help: ArgumentHelp("Epochs between checkpoints, N ≥ 1 (default: max(1, ⌊epochs / 20⌋)).", valueName: "N")) var checkpointEvery: Int?
    @Option(help: ArgumentHelp(
        "Continue from a checkpoint: parameters, optimizer state, epoch, step and early-stopping state.", valueName: "PATH"))
    var resume: String?
    @Option(help: ArgumentHelp("Write one JSON object per epoch to this file.", valueName: "PATH")) var log: String?
    @Option(help: ArgumentHelp("Draw the loss and accuracy curves to this SVG file at the end of the run.", valueName: "PATH"))
    var plot: String?
    @Flag(name: .customLong("check-numerics"),
          help: "Check every op's output for NaN and infinity as it is computed, every step; on a non-finite value, name the op. Without it, a non-finite loss or parameter is still located, by re-running the steps since the last saved state with these checks.")
    var checkNumerics = false
    @Flag(help: "Print the final summary as JSON on standard output.") var json = false
    @Option(help: ArgumentHelp(
        "Stop after N epochs of this run (N ≥ 1), writing the checkpoint; the rest can follow with --resume.", valueName: "N"))
    var stopAfter: Int?
    @Flag(help: "Time every kernel of the training step and print a per-kernel table after training.") var profile = false
    @OptionGroup var memory: MemoryOptions

    func validate() throws {
        if let n = checkpointEvery, n < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        if let n = stopAfter, n < 1 { throw ValidationError("--stop-after must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        memory.apply()
        func threadCount(_ c: TrainConfig) -> Int { threads ?? c.threads ?? ProcessInfo.processInfo.activeProcessorCount }
        let session: Session
        let config: TrainConfig
        let train: Dataset, validation: Dataset?
        if CompiledModel.isCompiled(options.file) {
            // A compiled training step: the train block's settings travel with it.
            let compiled: CompiledModel
            do { compiled = try CompiledModel.load(options.file) } catch {
                printError("error: \(error.message)")
                throw ExitCode.failure
            }
            var c = TrainConfig()
            for (k, v) in compiled.trainSettings.sorted(by: { $0.key < $1.key }) {
                if let s = Setting.parse(v), c.apply(key: k, s) == nil { continue }
                printError("warning: ignoring train setting \(k) = \(v)")
            }
            try flags.apply(to: &c)
            if let seed { c.seed = seed }
            config = c
            (train, validation) = try loadData(c, base: (compiled.source as NSString).deletingLastPathComponent)
            do { session = try Session(compiled: compiled, config: c, threads: threadCount(c)) } catch let e as TrainError {
                printError("error: \(options.file): \(e.message)")
                throw ExitCode.failure
            }
        } else {
            let file = try loadSource(options.file)
            let (c, base) = try trainConfiguration(file, model: options.model, flags: flags, seed: seed)
            config = c
            (train, validation) = try loadData(c, base: base)
            session = try makeSession(file, model: options.model, config: c, threads: threadCount(c),
                                      bindings: try options.bindings())
        }
        let trainer: Trainer
        let result: TrainResult
        do {
            session.profile = profile
            trainer = try Trainer(session: session)
            trainer.progress = ConsoleProgress(live: !json && isatty(2) != 0)
            trainer.logPath = log
            trainer.plotPath = plot
            trainer.checkpointPath = checkpoint ?? config.checkpoint
            trainer.checkpointEvery = checkpointEvery
            trainer.resumePath = resume
            trainer.checkNumerics = checkNumerics
            trainer.stopAfterEpochs = stopAfter
            result = try trainer.run(train: train, validation: validation)
        } catch let e as TrainError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        } catch let f as CompileFailure {
            report(f.diagnostics, in: f.file)
            throw ExitCode.failure
        } catch let e as DataError {
            printError("error: \(e.description)")
            throw ExitCode.failure
        }
        if profile, let e = session.trainingExecutors.first {
            let rows = ProfileReport.rows(e)
            let steps = e.profile?.first?.calls ?? 0
            printError("per-kernel profile of the training step (batch \(e.program.inputs.first?.buffer.shape.first ?? 0), \(steps) steps):")
            printError(ProfileReport.report(rows))
        }
        let last = result.history.last
        if json {
            var fields: [(String, JSON)] = [("model", .string(session.name)),
                                            ("epochs", .int(result.epochs)), ("steps", .int(result.steps)),
                                            ("seconds", .double(result.seconds)), ("stopped_early", .bool(result.stoppedEarly))]
            if let l = last {
                fields.append(("loss", .double(l.loss)))
                if let a = l.accuracy { fields.append(("accuracy", .double(a))) }
                if let v = l.valLoss { fields.append(("val_loss", .double(v))) }
                if let v = l.valAccuracy { fields.append(("val_accuracy", .double(v))) }
            }
            if let f = result.failure { fields.append(("error", .string(f))) }
            if let c = trainer.checkpointPath { fields.append(("checkpoint", .string(c))) }
            print(JSON.object(fields).serialized(pretty: true))
        } else if let l = last {
            let what = result.failure == nil ? "done" : "stopped after \(result.epochs) epoch\(result.epochs == 1 ? "" : "s")"
            var s = "\(what) in \(String(format: "%.1f", result.seconds)) s: loss \(String(format: "%.4g", l.loss))"
            if let a = l.accuracy { s += ", accuracy \(String(format: "%.2f%%", a * 100))" }
            if let v = l.valLoss { s += "; held out: loss \(String(format: "%.4g", v))" }
            if let v = l.valAccuracy { s += ", accuracy \(String(format: "%.2f%%", v * 100))" }
            print(s)
            if let c = trainer.checkpointPath, result.failure == nil { print("checkpoint: \(c)") }
            if let p = plot { print("curves: \(p)") }
        }
        if let f = result.failure {
            printError("error: \(f)")
            throw ExitCode.failure
        }
    }
}
