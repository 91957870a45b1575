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
    @Option(help: ArgumentHelp(
        "Train setting test: test data, evaluated once after training and reported apart from validation; a fraction in (0, 1) of the data (its last examples, the validation part just before them), a count of examples, or a data source (default: none).",
        valueName: "SETTING"))
    var test: String?
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
    @Option(name: .customLong("min-delta"), help: ArgumentHelp(
        "Train setting min_delta: early stopping counts a change of --metric as an improvement only when it is larger than X ≥ 0 (default: 0).",
        valueName: "X"))
    var minDelta: Double?
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
    @Option(help: ArgumentHelp(
        "Train setting freeze: keep the parameters whose names match PATTERN ('*' any characters, e.g. 'c1.*') fixed; no gradient, no optimizer state; repeatable; none clears the block's (default: the train block's).",
        valueName: "PATTERN"))
    var freeze: [String] = []
    @Option(help: ArgumentHelp(
        "Train setting augment: transforms applied to each training batch, e.g. '[flip(horizontal), shift(0.1), rotate(15)]' (default: none).",
        valueName: "SETTING"))
    var augment: String?
    @Flag(name: .customLong("sync-batchnorm"), inversion: .prefixedNo,
          help: "Train setting sync_batchnorm: in a data-parallel run, batchnorm statistics over the whole global batch rather than each process's share (default: off).")
    var syncBatchnorm: Bool?

    func validate() throws {
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive, got \(lr)") }
        for (name, v) in [("l1", l1), ("l2", l2), ("weight-decay", weightDecay), ("clip-value", clipValue), ("clip-norm", clipNorm),
                          ("min-delta", minDelta)] {
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
        try set("test", test)
        try set("optimizer", optimizer)
        try set("schedule", schedule)
        try set("metric", metric)
        try set("normalize", normalize)
        try set("batch", batch)
        try set("augment", augment)
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
        if let minDelta { c.minDelta = minDelta }
        if !freeze.isEmpty { c.freeze = freeze.filter { !$0.isEmpty && $0 != "none" } }
        if let syncBatchnorm { c.syncBatchnorm = syncBatchnorm }
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

/// Loads the training, validation and test parts as configured.
func loadData(_ c: TrainConfig, base: String) throws -> DataSplits {
    do {
        return try DataSplits.load(c, relativeTo: base)
    } catch let e as DataError {
        printError("error: \(e.description)")
        throw ExitCode.failure
    } catch let e as TrainError {
        printError("error: \(e.message)")
        throw ExitCode.failure
    }
}

func makeSession(_ file: SourceFile, model: String?, config: TrainConfig, threads: Int,
                 bindings: [String: Int] = [:], collective: Collective? = nil) throws -> Session {
    do {
        return try Session(file: file, model: model, config: config, threads: threads, bindings: bindings,
                           collective: collective)
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
            Progress is a live bar on a terminal and one line per epoch otherwise. Started by \
            mpirun (mpirun -np N dlg train …), the processes train data-parallel: each takes \
            1/N of every batch and the gradients are summed over them (Docs/distributed.md).
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var flags: TrainingOptions
    @OptionGroup var transfer: TransferOptions
    @Option(help: ArgumentHelp("Train setting threads: threads for kernels and BLAS, N ≥ 1 (default: the train block's, else all cores, shared among the processes of a data-parallel job on one machine).",
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
    @OptionGroup var parallel: DistributedOptions

    func validate() throws {
        if let n = checkpointEvery, n < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        if let n = stopAfter, n < 1 { throw ValidationError("--stop-after must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if transfer.initFrom != nil, resume != nil {
            throw ValidationError("--init-from starts a new run from another model's parameters and --resume continues a run: give one of them")
        }
    }

    /// What a run trains: the session, its settings, the data, the trainer.
    struct Prepared {
        var session: Session
        var config: TrainConfig
        var data: DataSplits
        var train: Dataset { data.train }
        var validation: Dataset? { data.validation }
        var trainer: Trainer
        /// The model file's text and the model's name (empty for a compiled file).
        var source: String
    }

    func run() throws {
        memory.apply()
        guard let job = try ReplicaJob.start(requested: parallel.distributed) else {
            let p = try prepare(job: nil)
            let result: TrainResult
            do { result = try p.trainer.run(train: p.train, validation: p.validation) } catch {
                try reportAndExit(error)
            }
            try finish(p, result, job: nil)
            return
        }
        // A data-parallel job: read and compile, agree that every process runs the same
        // training, check the settings, train; rank 0 reports.
        let p = try job.phase { try prepare(job: job) }
        do {
            try DataParallel.checkSameRun(job.group, [
                ("model file", DataParallel.fingerprint(p.source)),
                ("settings", DataParallel.fingerprint(settingsFingerprintText(p.config))),
                ("data", DataParallel.fingerprint(p.train) ^ (p.validation.map(DataParallel.fingerprint) ?? 0)),
            ])
        } catch { job.report(error) }
        try job.phase {
            try p.trainer.check(train: p.train, validation: p.validation)
            if job.rank == 0, !p.session.warnings.isEmpty { report(p.session.warnings, in: p.session.file) }
        }
        let result: TrainResult
        do { result = try p.trainer.run(train: p.train, validation: p.validation) } catch { job.report(error) }
        do { try finish(p, result, job: job) } catch let e as ExitCode {
            throw job.end(status: e.rawValue)
        }
        throw job.end(status: 0)
    }

    /// The settings every process must share, as text: the configuration without what only
    /// rank 0 uses or what may differ per machine, and the flags that shape the collective calls.
    func settingsFingerprintText(_ c: TrainConfig) -> String {
        var shared = c
        shared.threads = nil
        shared.checkpoint = nil
        return "\(shared)|resume:\(resume != nil)|stop:\(stopAfter ?? 0)|check:\(parallel.checkReplicasEvery ?? 0)"
            + "|bucket:\(parallel.bucketMB ?? 0)|numerics:\(checkNumerics)"
    }

    func reportAndExit(_ error: Error) throws -> Never {
        switch error {
        case let e as TrainError: printError("error: \(e.message)")
        case let f as CompileFailure: report(f.diagnostics, in: f.file)
        case let e as DataError: printError("error: \(e.description)")
        default: throw error
        }
        throw ExitCode.failure
    }

    func prepare(job: ReplicaJob?) throws -> Prepared {
        func threadCount(_ c: TrainConfig) -> Int {
            threads ?? c.threads ?? (job != nil ? ReplicaJob.defaultThreads() : ProcessInfo.processInfo.activeProcessorCount)
        }
        let session: Session
        let config: TrainConfig
        let data: DataSplits
        var source = ""
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
            if !c.freeze.isEmpty {
                printError("error: \(options.file) is compiled: its trainable parameters were fixed when it was compiled, so freeze needs the .dlg file")
                throw ExitCode.failure
            }
            config = c
            data = try loadData(c, base: (compiled.source as NSString).deletingLastPathComponent)
            do { session = try Session(compiled: compiled, config: c, threads: threadCount(c)) } catch let e as TrainError {
                printError("error: \(options.file): \(e.message)")
                throw ExitCode.failure
            }
            if let job, job.size > 1 {
                printError("error: \(options.file) is a compiled training step, which runs in one process; train the .dlg file to run on \(job.size) processes")
                throw ExitCode.failure
            }
        } else {
            let file = try loadSource(options.file)
            let (c, base) = try trainConfiguration(file, model: options.model, flags: flags, seed: seed)
            config = c
            data = try loadData(c, base: base)
            session = try makeSession(file, model: options.model, config: c, threads: threadCount(c),
                                      bindings: try options.bindings(), collective: job?.group)
            source = file.text + "|model:\(options.model ?? "")|bind:\(try options.bindings().sorted { $0.key < $1.key })"
        }
        if let b = parallel.bucketMB { session.bucketBytes = max(1, Int(b * 1_048_576)) }   // conversion: validated to lie in (0, 1048576] MB
        // Only rank 0 of a data-parallel job reports and writes files.
        let lead = (job?.rank ?? 0) == 0
        let trainer: Trainer
        do {
            session.profile = profile
            trainer = try Trainer(session: session)
        } catch let e as TrainError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        }
        if let t = data.test {
            do { try trainer.validate(t, role: "test") } catch { try reportAndExit(error) }
        }
        if lead {
            let progress = ConsoleProgress(live: !json && isatty(2) != 0)
            progress.testExamples = data.test?.count ?? 0
            trainer.progress = progress
        } else {
            trainer.progress = SilentProgress()
        }
        trainer.logPath = lead ? log : nil
        trainer.plotPath = lead ? plot : nil
        trainer.checkpointPath = lead ? checkpoint ?? config.checkpoint : nil
        trainer.checkpointEvery = checkpointEvery
        trainer.resumePath = resume
        trainer.initFrom = transfer.source
        trainer.checkNumerics = checkNumerics
        trainer.stopAfterEpochs = stopAfter
        trainer.checkReplicasEvery = parallel.checkReplicasEvery
        return Prepared(session: session, config: config, data: data, trainer: trainer, source: source)
    }

    /// Prints the results (rank 0 only in a data-parallel job); status 1 for a run that failed.
    func finish(_ p: Prepared, _ result: TrainResult, job: ReplicaJob?) throws {
        let session = p.session, trainer = p.trainer
        guard (job?.rank ?? 0) == 0 else {
            if result.failure != nil { throw ExitCode.failure }
            return
        }
        if profile, let e = session.trainingExecutors.first {
            let rows = ProfileReport.rows(e)
            let steps = e.profile?.first?.calls ?? 0
            printError("per-kernel profile of the training step (batch \(e.program.inputs.first?.buffer.shape.first ?? 0), \(steps) steps):")
            printError(ProfileReport.report(rows))
        }
        // The test part is evaluated once, with the weights training ended with.
        var test: (tally: Tally, scoring: Scoring)?
        if let t = p.data.test, result.failure == nil, !result.history.isEmpty {
            do { test = try trainer.evaluateHeldOut(t, batch: p.config.batch == 0 ? nil : p.config.batch) } catch { try reportAndExit(error) }
        }
        let last = result.history.last
        if json {
            var fields: [(String, JSON)] = [("model", .string(session.name)),
                                            ("epochs", .int(result.epochs)), ("steps", .int(result.steps)),
                                            ("seconds", .double(result.seconds)), ("stopped_early", .bool(result.stoppedEarly)),
                                            ("world_size", .int(result.worldSize))]
            if let l = last {
                fields.append(("loss", .double(l.loss)))
                if let a = l.accuracy { fields.append(("accuracy", .double(a))) }
                if let v = l.valLoss { fields.append(("val_loss", .double(v))) }
                if let v = l.valAccuracy { fields.append(("val_accuracy", .double(v))) }
            }
            if let (t, s) = test {
                fields.append(("test_loss", .double(t.loss)))
                if s != .regression { fields.append(("test_accuracy", .double(t.accuracy))) }
            }
            if result.worldSize > 1 { fields.append(("collective_seconds", .double(result.collectiveSeconds))) }
            if let f = result.failure { fields.append(("error", .string(f))) }
            if let c = trainer.checkpointPath { fields.append(("checkpoint", .string(c))) }
            print(JSON.object(fields).serialized(pretty: true))
        } else if let l = last {
            let what = result.failure == nil ? "done" : "stopped after \(result.epochs) epoch\(result.epochs == 1 ? "" : "s")"
            var s = "\(what) in \(String(format: "%.1f", result.seconds)) s: loss \(String(format: "%.4g", l.loss))"
            if let a = l.accuracy { s += ", accuracy \(String(format: "%.2f%%", a * 100))" }
            if let v = l.valLoss { s += "; held out: loss \(String(format: "%.4g", v))" }
            if let v = l.valAccuracy { s += ", accuracy \(String(format: "%.2f%%", v * 100))" }
            if result.worldSize > 1 { s += " (\(result.worldSize) processes)" }
            print(s)
            if let (t, sc) = test {
                print("test: loss \(String(format: "%.4g", t.loss))"
                      + (sc == .regression ? "" : ", accuracy \(String(format: "%.2f%%", t.accuracy * 100))")
                      + " on \(t.examples) examples")
            }
            if let c = trainer.checkpointPath, result.failure == nil { print("checkpoint: \(c)") }
            if let p = plot { print("curves: \(p)") }
        }
        if let f = result.failure {
            printError("error: \(f)")
            throw ExitCode.failure
        }
    }
}
