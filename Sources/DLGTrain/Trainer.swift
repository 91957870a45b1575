import DLGCompiler
import DLGData
import DLGKernels
import DLGRuntime
import Foundation

/// The figures of a finished run.
public struct TrainResult: Sendable {
    /// The epochs' records; for long runs thinned to at most `History.capacity` (see `History`).
    public var history: [EpochRecord]
    /// Epochs run by this invocation.
    public var epochs: Int
    public var steps: Int
    public var stoppedEarly: Bool
    /// Why training stopped before its last epoch (a non-finite loss), if it did.
    public var failure: String?
    public var bestEpoch: Int?
    public var seconds: Double
    /// The processes of a data-parallel run (1 for a single process).
    public var worldSize = 1
    /// Seconds this process spent blocked in collectives (summing gradients, statistics and tallies).
    public var collectiveSeconds = 0.0
}

/// Trains a session's model on a dataset: per-sample, mini-batch or full
/// batch; shuffled per epoch from the seed; learning-rate schedule, validation,
/// early stopping, per-epoch JSON log, curves and checkpoints.
public final class Trainer {
    public let session: Session
    public var progress: ProgressReporter = SilentProgress()
    public var logPath: String?
    public var plotPath: String?
    public var checkpointPath: String?
    /// Save the checkpoint every this many epochs, and always after the last epoch of a run.
    /// nil: about 20 times per run, every max(1, epochs / 20) epochs, so that a run of
    /// thousands of tiny epochs (XOR) does not spend its time writing and syncing files.
    public var checkpointEvery: Int?
    public var resumePath: String?
    public var checkNumerics = false
    /// Stop after this many epochs of this run even if more are configured (to split a run).
    public var stopAfterEpochs: Int?
    /// Data-parallel runs: compare a fingerprint of the parameters and optimizer state across
    /// the replicas after every this many steps and at the end of every epoch (nil: never).
    public var checkReplicasEvery: Int?
    /// Fault injection for tests: the checkpoint written once `epoch` epochs are complete is
    /// cut off after `bytes` bytes, as if the process were killed while writing it; `run`
    /// then throws, and the checkpoint file keeps its previous contents.
    public var interruptCheckpoint: (epoch: Int, bytes: Int)?
    /// Start from another model's parameters (transfer learning), before training.
    public var initFrom: InitFrom?

    /// The input the data's features feed.
    public let featureInput: String
    let labelInput: String?

    public init(session: Session) throws {
        self.session = session
        let names = session.config.inputs ?? session.inputs.map(\.name)
        guard let f = names.first else { throw TrainError("the model has no inputs to feed") }
        for n in names where !session.inputs.contains(where: { $0.name == n }) {
            throw TrainError("train setting inputs names '\(n)', but the model's inputs are " + session.inputs.map(\.name).joined(separator: ", "))
        }
        featureInput = f
        labelInput = names.count > 1 ? names[1] : nil
    }

    var lrBase: Double { session.config.optimizer.lr }

    /// Checks that the data fits the model before anything runs; with `labels: false`
    /// (predictions) only the features are checked.
    public func validate(_ d: Dataset, role: String, labels needLabels: Bool = true) throws {
        guard d.count > 0 else { throw TrainError("the \(role) data (\(d.name)) is empty") }
        let input = session.inputs.first { $0.name == featureInput }!
        if let dims = input.type.shape.dims {
            let perRow = dims.dropFirst().compactMap(\.value).reduce(1, *)
            let dataPerRow = d.features.count / d.count
            if dims.dropFirst().allSatisfy({ $0.value != nil }), perRow != dataPerRow {
                throw TrainError("\(d.name): the \(role) data does not fit the model: features are \(d.features) but input '\(input.name)' is \(input.type) (\(perRow) values per example, the data has \(dataPerRow))")
            }
        }
        guard let labelInput, needLabels else { return }
        guard let labels = d.labels else {
            throw TrainError("the \(role) data (\(d.name)) has no labels, but the model's input '\(labelInput)' needs them")
        }
        let li = session.inputs.first { $0.name == labelInput }!
        if let dims = li.type.shape.dims, dims.dropFirst().allSatisfy({ $0.value != nil }) {
            let perRow = dims.dropFirst().compactMap(\.value).reduce(1, *)
            if labels.count / d.count != perRow {
                throw TrainError("\(d.labelsName): the \(role) labels are \(labels) but input '\(labelInput)' is \(li.type)")
            }
        }
        // Integer labels must index the model's classes.
        if li.type.dtype == .i32 {
            let e = try session.evalExecutor(batch: session.fixedBatch ?? 1)
            if let classes = e.program.outputs.first?.buffer.shape.last, (e.program.outputs.first?.buffer.shape.count ?? 0) >= 2 {
                let values = labels.toDoubles()
                if let bad = values.firstIndex(where: { !($0 >= 0 && $0 < Double(classes) && $0 == $0.rounded()) }) {
                    throw TrainError("\(d.labelsName): label \(formatLabel(values[bad])) of \(role) example \(bad) is out of range for the model's \(classes) classes (0…\(classes - 1))")
                }
            }
        }
    }

    /// How a program's first output is scored against labels; a model without outputs has only its
    /// loss, and so has a model that is not fed labels (an autoencoder), whatever the data holds.
    public func scoring(_ e: Executor, labels: NDArray?) -> Scoring {
        guard labelInput != nil, let first = e.program.outputs.first, !Self.isPenalty(first.name) else {
            return .regression
        }
        return Scoring.decide(outputShape: first.buffer.shape, labels: labels, loss: session.lossKind)
    }

    /// A label as written: an integer without a fraction when it is one that fits, else as a float (`1e+30`, `inf`, `nan`).
    func formatLabel(_ v: Double) -> String { Int(exactly: v).map(String.init) ?? String(v) }

    func batchSize(_ n: Int, data: String) throws -> Int {
        let b = session.fixedBatch ?? (session.config.batch == 0 ? n : session.config.batch)
        guard b <= n else {
            throw TrainError("batch \(b) is larger than the training data (\(data): \(n) examples); use a smaller batch or batch = full")
        }
        return b
    }

    /// Copies the rows of a dataset into an executor's feature and label inputs.
    public func feed(_ e: Executor, _ d: Dataset, _ rows: ArraySlice<Int>) throws {
        do {
            if let i = e.program.inputIndex(named: featureInput) { try e.setInput(i, rowsOf: d.features, rows) }
            if let l = labelInput, let i = e.program.inputIndex(named: l), let labels = d.labels {
                try e.setInput(i, rowsOf: labels, rows)
            }
        } catch {
            throw TrainError("\(error)")
        }
    }

    /// Loss and scores over a dataset (or rows `range` of it), in the inference form.
    public func evaluate(_ d: Dataset, batch: Int? = nil, rows range: Range<Int>? = nil) throws -> (tally: Tally, scoring: Scoring) {
        let span = range ?? 0..<d.count
        let b = session.fixedBatch ?? min(batch ?? (session.config.batch == 0 ? d.count : max(session.config.batch, 1)),
                                          max(span.count, 1))
        var scoring = Scoring.regression
        var tally = Tally()
        if span.isEmpty {
            // A replica without held-out rows still scores as the others do.
            scoring = self.scoring(try session.evalExecutor(batch: b), labels: d.labels)
            return (tally, scoring)
        }
        var start = span.lowerBound
        while start < span.upperBound {
            let rows = Array(start..<min(start + b, span.upperBound))[...]
            // A program compiled for one batch size skips a last, partial batch.
            if let f = session.fixedBatch, rows.count != f { break }
            let e = try session.evalExecutor(batch: rows.count)
            if start == span.lowerBound {
                scoring = self.scoring(e, labels: d.labels)
                if case .classes(let c) = scoring { tally = Tally(classes: c) }
            }
            try feed(e, d, rows)
            do { try e.run() } catch { throw TrainError(error.message) }
            tally.add(loss: e.loss ?? .nan, batch: rows.count, output: scoring == .regression ? nil : e.output(0),
                      labels: d.labels, rows: rows, scoring: scoring)
            start += b
        }
        return (tally, scoring)
    }

    /// The order of an epoch's examples and its learning rate.
    func epochPlan(_ epoch: Int, count n: Int) -> (order: [Int], lr: Double) {
        let cfg = session.config
        let lr = cfg.schedule.rate(lrBase, epoch: epoch)
        if cfg.shuffle {
            // conversion: epochs count from 0
            var rng = RandomStream(seed: cfg.seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
            return (rng.permutation(n), lr)
        }
        return (Array(0..<n), lr)
    }

    /// Runs one training step on this process's share of the global batch `global` (all of it
    /// in a single process), with `features` the global batch's augmented features if any. The
    /// executor holds the loss (and, when checked, `nonFinite`); `share` is the fraction of
    /// the global batch this process ran (0: none, it ran one row to take part in the collectives).
    func step(_ train: Dataset, global: ArraySlice<Int>, features: NDArray?, step: Int,
              checked: Bool) throws -> (e: Executor, rows: ArraySlice<Int>, share: Double) {
        let group = session.isReplicated ? session.collective : nil
        let replicas = group?.size ?? 1, rank = group?.rank ?? 0
        // This replica's rows of the global batch. One without rows (a last batch shorter
        // than the replicas are many) runs on the batch's first row with a share of 0.
        var rows = global
        var share = 1.0
        if replicas > 1 {
            let mine = DataParallel.shard(global.count, replicas: replicas, rank: rank)
            share = Double(mine.count) / Double(global.count)
            rows = mine.isEmpty ? global.prefix(1)
                : global[(global.startIndex + mine.lowerBound)..<(global.startIndex + mine.upperBound)]
        }
        let e = try session.trainExecutor(batch: rows.count)
        if group != nil {
            try? session.state.set(ReplicaLossScaling.fraction, values: [share])
            try? session.state.set(ReplicaLossScaling.active, values: [share > 0 ? 1 : 0])
            e.firstRow = DataParallel.shard(global.count, replicas: replicas, rank: rank).lowerBound
        }
        if let features {
            // This replica's rows of the augmented global batch.
            let offset = rows.startIndex - global.startIndex
            try feed(e, train, rows, features: features, featureRows: offset..<(offset + rows.count))
        } else {
            try feed(e, train, rows)
        }
        // conversion: steps count from 0 (a checkpoint's step is checked non-negative)
        e.step = UInt64(step)
        e.checkNumerics = checked
        defer { e.checkNumerics = false }
        do { try e.run() } catch { throw TrainError(error.message) }
        return (e, rows, share)
    }

    /// After a step gave a non-finite loss (or left a non-finite parameter):
    /// restores the state copied at the start of an epoch and runs the same
    /// steps again, each op's output checked, up to `failedStep` (1-based).
    /// Returns where the first non-finite value appeared, or why it was not found.
    /// The augmented features are made again for each epoch re-run, so that each step sees the
    /// batch it saw. Over several processes each re-runs its own share of the batches, all of
    /// them step by step together (the steps' collectives need every process); they stop at
    /// the first step where any of them found a non-finite value.
    func locate(_ train: Dataset, augmentation: Augmentation?, snapshot: StateSnapshot?, failedStep: Int, batch: Int) -> String {
        guard let snapshot, snapshot.taken else {
            return "the op that produced it was not located (no copy of the state was kept: not enough memory); rerun with --check-numerics to find it"
        }
        snapshot.restore(session.state)
        let n = train.count
        var stepIndex = snapshot.step
        var epoch = snapshot.epoch
        let group = session.isReplicated ? session.collective : nil
        do {
            while stepIndex < failedStep {
                let (order, lr) = epochPlan(epoch, count: n)
                try? session.state.set("optimizer.lr", values: [lr])
                let batches = session.fixedBatch != nil ? n / batch : (n + batch - 1) / batch
                let augmented = augmentation?.batches(order: order, batch: batch, epoch: epoch)
                defer { augmented?.finish() }
                var start = 0
                var done = 0
                while start < n && stepIndex < failedStep {
                    let global = order[start..<min(start + batch, n)]
                    if let f = session.fixedBatch, global.count != f { break }
                    let e = try step(train, global: global, features: try augmented?.take(done), step: stepIndex, checked: true).e
                    let bad = e.nonFinite
                    let at = stepIndex + 1 == failedStep ? "" : " at step \(stepIndex + 1) (epoch \(epoch + 1), batch \(done + 1) of \(batches))"
                    if let group {
                        // Per rank: 1 where it found a non-finite value, 2 where its first one is not
                        // a collective's (it arose there rather than arriving in a sum).
                        var mine = [Double](repeating: 0, count: group.size)
                        if let bad { mine[group.rank] = bad.op.isCollective ? 1 : 2 }
                        let all: [Double]
                        do { all = try group.allreduceSum(mine) } catch { throw TrainError(error.message) }
                        if all.contains(where: { $0 > 0 }) {
                            let origin = all.firstIndex(of: 2)
                            if let bad, origin == nil || origin == group.rank {
                                return "the first non-finite value comes from \(describeNonFinite(bad))\(at) on rank \(group.rank)"
                            }
                            let k = origin ?? all.firstIndex { $0 > 0 }!
                            return "the first non-finite value comes from rank \(k)'s share of the batch\(at)"
                                + (bad.map { " (on rank \(group.rank) it arrives through \(describeNonFinite($0)))" } ?? "")
                        }
                    } else if let bad {
                        return "the first non-finite value comes from \(describeNonFinite(bad))\(at)"
                    }
                    stepIndex += 1
                    start += batch
                    done += 1
                }
                epoch += 1
            }
        } catch {
            return "re-running the steps from epoch \(snapshot.epoch + 1) with checks failed: \(error)"
        }
        return "re-running the steps from epoch \(snapshot.epoch + 1) with every op's output checked found no non-finite value (the failure did not reproduce)"
    }

    /// After an evaluation gave a non-finite loss: runs the batches again with
    /// every op's output checked and says where the first non-finite value appears.
    public func locateEvaluation(_ d: Dataset, batch: Int? = nil) -> String {
        let b = session.fixedBatch ?? min(batch ?? (session.config.batch == 0 ? d.count : max(session.config.batch, 1)), d.count)
        var start = 0
        while start < d.count {
            let rows = Array(start..<min(start + b, d.count))[...]
            if let f = session.fixedBatch, rows.count != f { break }
            do {
                let e = try session.evalExecutor(batch: rows.count)
                try feed(e, d, rows)
                e.checkNumerics = true
                defer { e.checkNumerics = false }
                try e.run()
                if let bad = e.nonFinite {
                    return "examples \(start)..<\(start + rows.count) give a non-finite value first in \(describeNonFinite(bad))"
                }
            } catch {
                return "re-running with checks failed: \(error)"
            }
            start += b
        }
        return "re-running every batch with every op's output checked found no non-finite value"
    }

    /// Everything `run` checks before it trains, without side effects: the data fits the
    /// model, the batch fits the data (and, over several replicas, splits evenly over them),
    /// early stopping watches a metric the run has.
    public func check(train: Dataset, validation: Dataset?) throws {
        let cfg = session.config
        try validate(train, role: "training")
        if let v = validation { try validate(v, role: "validation") }
        let batch = try batchSize(train.count, data: train.name)
        let replicas = session.isReplicated ? session.collective!.size : 1
        if replicas > 1 {
            if session.fixedBatch != nil {
                throw TrainError("a compiled training step runs in one process; train the .dlg file to run on \(replicas) processes")
            }
            guard batch % replicas == 0 else {
                let below = batch / replicas * replicas, above = below + replicas
                throw TrainError("the global batch \(batch) does not split evenly over \(replicas) processes; "
                                 + "choose a multiple of \(replicas)" + (below > 0 ? ", such as \(below) or \(above)" : ", such as \(above)")
                                 + " (each process takes batch/\(replicas) examples of every step)")
            }
        }
        if cfg.patience != nil {
            if cfg.metric.hasPrefix("val_"), validation == nil {
                throw TrainError("early stopping watches \(cfg.metric), which needs held-out data: add 'validation = 0.1' (--validation) or watch loss")
            }
            let scoring = self.scoring(try session.trainExecutor(batch: batch / replicas), labels: train.labels)
            if cfg.metric.hasSuffix("accuracy"), scoring == .regression {
                throw TrainError("early stopping watches \(cfg.metric), but this model's output is scored as a regression (no accuracy); watch \(cfg.metric.hasPrefix("val_") ? "val_loss" : "loss")")
            }
        }
    }

    /// Reads a checkpoint into the state: every tensor must be a state entry and every entry present.
    func load(checkpoint path: String) throws -> Checkpoint.Position? {
        let file: SafetensorsFile
        let pos: Checkpoint.Position?
        do { (file, pos) = try Checkpoint.load(path, model: session.name) } catch let e as DataError {
            throw TrainError(e.description)
        }
        for t in file.tensors {
            guard session.state.entry(t.name) != nil, !Session.isReplicaScalar(t.name) else {
                throw TrainError("\(path): tensor '\(t.name)' is not part of this model"
                                 + (t.name.hasPrefix("optimizer.") ? " (optimizer state of another optimizer: \(session.config.optimizer.kind.rawValue) keeps no such entry)" : ""))
            }
            do { try session.state.set(t.name, t.array) } catch { throw TrainError("\(path): \(error.message)") }
        }
        for e in session.state.entries where file[e.name] == nil && !Session.isReplicaScalar(e.name) {
            throw TrainError("\(path): tensor '\(e.name)' is missing")
        }
        if let bad = session.state.firstNonFinite() {
            throw TrainError("\(path): tensor '\(bad.name)' element \(bad.index) is \(bad.value); a checkpoint to resume from must be finite")
        }
        return pos
    }

    /// Over several replicas: rank 0 reads the checkpoint and sends its state and position to
    /// the others (so that only rank 0's machine needs the file); a failure is every replica's.
    func loadReplicated(checkpoint path: String, position: Checkpoint.Position, over c: Collective) throws -> Checkpoint.Position {
        var failure: String?
        var pos: Checkpoint.Position?
        if c.rank == 0 {
            do { pos = try load(checkpoint: path) } catch let e as TrainError { failure = e.message } catch let e as DataError {
                failure = e.description
            }
        }
        let p = pos ?? position
        var header: [Double] = [failure == nil ? 1 : 0, pos == nil ? 0 : 1, Double(p.epoch), Double(p.step),
                                p.best ?? 0, p.best == nil ? 0 : 1, Double(p.sinceBest)]
        var sent: CollectiveError?
        header.withUnsafeMutableBytes { b in
            do throws(CollectiveError) { try c.broadcast(b.baseAddress!, bytes: b.count, root: 0) } catch { sent = error }
        }
        if let sent { throw TrainError(sent.message) }
        guard header[0] == 1 else {
            throw TrainError(failure ?? "", collective: true, silent: c.rank != 0)
        }
        try DataParallel.broadcast(session.state, names: session.stateArrays().map(\.name), over: c)
        guard header[1] == 1 else { return position }
        // conversion: rank 0 set these from the Int fields of a checkpoint position it validated; exact in Double
        return Checkpoint.Position(epoch: Int(header[2]), step: Int(header[3]), seed: position.seed,
                                   best: header[5] == 1 ? header[4] : nil, sinceBest: Int(header[6]))   // conversion: as above
    }

    public func run(train: Dataset, validation: Dataset?) throws -> TrainResult {
        let cfg = session.config
        try check(train: train, validation: validation)
        let n = train.count
        let batch = try batchSize(n, data: train.name)
        // A data-parallel run: this replica takes its share of every global batch.
        let group = session.isReplicated ? session.collective : nil
        let replicas = group?.size ?? 1, rank = group?.rank ?? 0
        let waited0 = group?.waitSeconds ?? 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        var position = Checkpoint.Position(epoch: 0, step: 0, seed: cfg.seed, best: nil, sinceBest: 0)
        let first = try session.trainExecutor(batch: batch / replicas)
        let augmentation = try augmentation(for: train)
        if let initFrom { for line in try initialize(from: initFrom).lines(path: initFrom.path) { progress.message(line) } }
        // Temporary files left by a killed run's atomic writes of the files this run writes.
        if rank == 0 {
            for path in [checkpointPath, logPath, plotPath].compactMap({ $0 }) {
                for stale in AtomicFile.removeStaleTemporaries(of: path) {
                    progress.message("removed \(stale), left by an interrupted run")
                }
            }
        }
        if let resumePath {
            if let group {
                position = try loadReplicated(checkpoint: resumePath, position: position, over: group)
            } else if let pos = try load(checkpoint: resumePath) {
                position = pos
                position.seed = cfg.seed
            } else {
                progress.message("\(resumePath) records no training position (it is not a dlg checkpoint); starting at epoch 1 from its tensors")
            }
            progress.message("resumed from \(resumePath) after epoch \(position.epoch), step \(position.step)")
            if position.epoch >= cfg.epochs {
                progress.message("the checkpoint already holds \(position.epoch) of \(cfg.epochs) epochs; nothing to train (raise --epochs to continue)")
            }
        }
        // What must be the same on every replica: the parameters and the optimizer state. The
        // buffers a step updates besides (batchnorm's running statistics, from each replica's
        // own batches unless they are synchronized) are rank 0's, sent to the others after each epoch.
        let replicated = first.program.state.filter { $0.trainable || $0.name.hasPrefix("optimizer.") }.map(\.name)
        let buffers = first.program.updates.map { first.program.state[$0.target] }
            .filter { !$0.trainable && !$0.name.hasPrefix("optimizer.") }.map(\.name)
        func checkReplicas(_ group: Collective, after what: String) throws {
            let all: [[UInt64]]
            do { all = try group.allgather([DataParallel.fingerprint(session.state, names: replicated)]) } catch {
                throw TrainError(error.message)
            }
            let differing = all.indices.filter { all[$0][0] != all[0][0] }
            guard differing.isEmpty else {
                throw TrainError("the replicas have drifted apart \(what): the parameters or optimizer state of rank"
                                 + (differing.count == 1 ? " " : "s ") + differing.map(String.init).joined(separator: ", ")
                                 + " differ from rank 0's", collective: true)
            }
        }
        if let group, checkReplicasEvery != nil { try checkReplicas(group, after: "before the first step") }
        // Epochs complete in the checkpoint file on disk, for the message of a failed run.
        var savedEpoch: Int? = resumePath != nil && resumePath == checkpointPath ? position.epoch : nil
        let checkpointInterval = max(1, checkpointEvery ?? cfg.epochs / 20)
        // The log: a fresh run starts it; a resumed run keeps the records of the epochs it resumes after.
        var log: FileHandle?
        if let logPath { log = try openLog(logPath, keeping: position.epoch) }
        defer { try? log?.close() }
        progress.begin(model: session.name, epochs: cfg.epochs,
                       examples: n, batch: batch, validation: validation?.count ?? 0)
        var history = History()
        var stoppedEarly = false
        var failure: String?
        var bestEpoch: Int?
        let scoring = self.scoring(first, labels: train.labels)
        // The state at the start of an epoch, to locate a non-finite value (see StateSnapshot).
        let snapshot = checkNumerics ? nil : StateSnapshot(session.state)
        func failureMessage(_ why: String) -> String {
            var why = why
            if let checkpointPath {
                why += savedEpoch.map { "; the last checkpoint, \(checkpointPath), is from epoch \($0)" }
                    ?? "; no checkpoint was written (no epoch finished)"
            }
            return why
        }
        var epochsThisRun = 0
        epochs: while position.epoch < cfg.epochs {
            if let s = stopAfterEpochs, epochsThisRun >= s { break }
            let epoch = position.epoch
            if let snapshot, !snapshot.taken || position.step - snapshot.step >= StateSnapshot.interval {
                // A non-finite parameter left by the last epoch (with a finite loss) is found here.
                if let bad = session.state.firstNonFinite() {
                    var why = "parameter '\(bad.name)' element \(bad.index) became \(bad.value) by the end of epoch \(epoch)"
                    why += "; " + locate(train, augmentation: augmentation, snapshot: snapshot, failedStep: position.step, batch: batch)
                    failure = failureMessage(why)
                    break epochs
                }
                snapshot.take(session.state, epoch: epoch, step: position.step)
            }
            let (order, lr) = epochPlan(epoch, count: n)
            try? session.state.set("optimizer.lr", values: [lr])
            var tally = Tally(classes: { if case .classes(let c) = scoring { c } else { nil } }())
            // Augmented batches (whole global batches) are made on a worker thread, ahead of the steps that take them.
            let augmented = augmentation?.batches(order: order, batch: batch, epoch: epoch)
            defer { augmented?.finish() }
            let e0 = DispatchTime.now().uptimeNanoseconds
            var start = 0
            let batches = session.fixedBatch != nil ? n / batch : (n + batch - 1) / batch
            var done = 0
            while start < n {
                let global = order[start..<min(start + batch, n)]
                if let f = session.fixedBatch, global.count != f { break }
                let (e, rows, share) = try step(train, global: global, features: try augmented?.take(done),
                                                step: position.step, checked: checkNumerics)
                var loss = e.nonFinite != nil ? .nan : (e.loss ?? .nan)
                var stepTally = Tally()
                if share > 0 {
                    stepTally.add(loss: 0, batch: rows.count, output: scoring == .regression ? nil : e.output(0),
                                  labels: train.labels, rows: rows, scoring: scoring)
                }
                // The L1/L2 penalty, part of the step's loss: on every replica in full, counted once.
                let stepPenalty = penalty(e)
                if let group {
                    // The global batch's loss is the sum of the replicas' shares of it.
                    let p = stepPenalty ?? 0
                    let sums: [Double]
                    do { sums = try group.allreduceSum([loss - p, Double(stepTally.correct), Double(stepTally.scored)]) } catch {
                        throw TrainError(error.message)
                    }
                    loss = sums[0] + p
                    stepTally.correct = Int(sums[1])   // conversion: a sum of the ranks' Int counts, exact in Double
                    stepTally.scored = Int(sums[2])   // conversion: a sum of the ranks' Int counts, exact in Double
                }
                if !loss.isFinite {
                    var why = "the loss became \(loss) at step \(position.step + 1) (epoch \(epoch + 1), batch \(done + 1) of \(batches))"
                    if checkNumerics, let bad = e.firstNonFinite() {
                        why += "; the first non-finite value comes from \(describeNonFinite(bad))"
                            + (group != nil ? " on rank \(rank)" : "")
                    } else if !checkNumerics {
                        why += "; " + locate(train, augmentation: augmentation, snapshot: snapshot, failedStep: position.step + 1, batch: batch)
                    }
                    failure = failureMessage(why)
                    break epochs
                }
                tally.lossSum += loss * Double(global.count)
                tally.examples += global.count
                tally.correct += stepTally.correct
                tally.scored += stepTally.scored
                if let p = stepPenalty { tally.penaltySum += p * Double(global.count) }
                position.step += 1
                start += batch
                done += 1
                if let group, let k = checkReplicasEvery, position.step % k == 0 {
                    try checkReplicas(group, after: "at step \(position.step)")
                }
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - e0) * 1e-9
                progress.batch(epoch: epoch, done: done, total: batches, loss: tally.loss,
                               accuracy: scoring == .regression ? nil : tally.accuracy,
                               samplesPerSecond: Double(tally.examples) / max(elapsed, 1e-9))
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - e0) * 1e-9
            var record = EpochRecord(epoch: epoch, loss: tally.loss, accuracy: scoring == .regression ? nil : tally.accuracy,
                                     valLoss: nil, valAccuracy: nil, learningRate: lr, seconds: seconds,
                                     samplesPerSecond: Double(n) / max(seconds, 1e-9))
            if penalty(first) != nil { record.penalty = tally.penalty }
            if let augmented {
                augmented.finish()
                record.augmentSeconds = augmented.producingSeconds
                record.augmentWaitSeconds = augmented.waitingSeconds
            }
            if let group {
                try DataParallel.broadcast(session.state, names: buffers, over: group)
                if checkReplicasEvery != nil { try checkReplicas(group, after: "at the end of epoch \(epoch + 1)") }
            }
            if let v = validation {
                // Over several replicas each evaluates its share of the held-out rows; the sums are combined.
                let mine = DataParallel.shard(v.count, replicas: replicas, rank: rank)
                let evaluated = try evaluate(v, batch: batch / replicas, rows: group == nil ? nil : mine)
                var vt = evaluated.tally
                let vs = evaluated.scoring
                if let group {
                    let sums: [Double]
                    do { sums = try group.allreduceSum([vt.lossSum, Double(vt.examples), Double(vt.correct), Double(vt.scored)]) } catch {
                        throw TrainError(error.message)
                    }
                    (vt.lossSum, vt.examples, vt.correct, vt.scored) = (sums[0], Int(sums[1]), Int(sums[2]), Int(sums[3]))   // conversion: sums of the ranks' Int counts, exact in Double
                }
                // The held-out loss includes the penalty at the current weights, as the training loss does.
                if let p = currentPenalty() {
                    vt.lossSum += p * Double(vt.examples)
                    vt.penaltySum = p * Double(vt.examples)
                }
                record.valLoss = vt.loss
                record.valAccuracy = vs == .regression ? nil : vt.accuracy
            }
            history.append(record)
            position.epoch += 1
            epochsThisRun += 1
            progress.epoch(record, epochs: cfg.epochs)
            if let log, let logPath {
                do { try log.write(contentsOf: Data(logLine(record).utf8)) } catch {
                    throw TrainError("\(logPath): cannot append to the log: \(error.localizedDescription)")
                }
            }
            // Early stopping on the chosen metric.
            if let patience = cfg.patience {
                let value: Double? = switch cfg.metric {
                case "loss": record.loss
                case "accuracy": record.accuracy.map { -$0 }
                case "val_accuracy": record.valAccuracy.map { -$0 }
                default: record.valLoss
                }
                if let v = value {
                    if position.best == nil || v < position.best! - cfg.minDelta {
                        position.best = v
                        position.sinceBest = 0
                        bestEpoch = epoch
                    } else {
                        position.sinceBest += 1
                    }
                }
                if position.sinceBest >= patience {
                    progress.message("early stopping: \(cfg.metric) has not improved for \(patience) epoch\(patience == 1 ? "" : "s")")
                    stoppedEarly = true
                }
            }
            let lastOfRun = stoppedEarly || position.epoch >= cfg.epochs || stopAfterEpochs.map { epochsThisRun >= $0 } == true
            if lastOfRun, !checkNumerics, let bad = session.state.firstNonFinite() {
                // The last step's update left a non-finite parameter: no checkpoint of it.
                var why = "parameter '\(bad.name)' element \(bad.index) became \(bad.value) by the end of epoch \(position.epoch)"
                why += "; " + locate(train, augmentation: augmentation, snapshot: snapshot, failedStep: position.step, batch: batch)
                failure = failureMessage(why)
                break epochs
            }
            if let checkpointPath, lastOfRun || position.epoch % checkpointInterval == 0 {
                try Checkpoint.save(session.stateArrays(), model: session.name, position: position, to: checkpointPath,
                                    interruptAfterBytes: interruptCheckpoint.flatMap { $0.epoch == position.epoch ? $0.bytes : nil })
                savedEpoch = position.epoch
            }
            if stoppedEarly { break }
        }
        if let plotPath, !history.all.isEmpty {
            let all = (try? readLog(logPath)) ?? history.all
            try AtomicFile.write(CurvePlot.svg(model: session.name, history: all), to: plotPath)
        }
        var result = TrainResult(history: history.all, epochs: epochsThisRun, steps: position.step, stoppedEarly: stoppedEarly,
                                 failure: failure, bestEpoch: bestEpoch,
                                 seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        result.worldSize = replicas
        result.collectiveSeconds = (group?.waitSeconds ?? 0) - waited0
        return result
    }

    /// One JSON object per line; epochs counted from 1.
    func logLine(_ r: EpochRecord) -> String {
        var line = "{\"epoch\":\(r.epoch + 1),\"loss\":\(json(r.loss))"
        if let p = r.penalty { line += ",\"penalty\":\(json(p))" }
        if let a = r.accuracy { line += ",\"accuracy\":\(json(a))" }
        if let v = r.valLoss { line += ",\"val_loss\":\(json(v))" }
        if let v = r.valAccuracy { line += ",\"val_accuracy\":\(json(v))" }
        line += ",\"lr\":\(json(r.learningRate)),\"seconds\":\(json(r.seconds)),\"samples_per_second\":\(json(r.samplesPerSecond))"
        if let a = r.augmentSeconds { line += ",\"augment_seconds\":\(json(a))" }
        if let w = r.augmentWaitSeconds { line += ",\"augment_wait_seconds\":\(json(w))" }
        line += "}\n"
        return line
    }

    /// Opens the log for appending, keeping the lines of the first `epochs` epochs (none for a fresh run).
    func openLog(_ path: String, keeping epochs: Int) throws -> FileHandle {
        var kept = ""
        if epochs > 0, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let e = obj["epoch"] as? Int, e <= epochs else { continue }
                kept += line + "\n"
            }
        }
        try AtomicFile.write(kept, to: path)
        guard let h = FileHandle(forWritingAtPath: path) else { throw TrainError("\(path): cannot open the log for writing") }
        do { try h.seekToEnd() } catch { throw TrainError("\(path): cannot open the log for writing: \(error.localizedDescription)") }
        return h
    }

    /// The whole run's records from the log (a resumed run plots every epoch), thinned as `History` does.
    func readLog(_ path: String?) throws -> [EpochRecord]? {
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var out = History()
        for line in text.split(separator: "\n") {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let e = obj["epoch"] as? Int, let l = obj["loss"] as? Double else { continue }
            var r = EpochRecord(epoch: e - 1, loss: l, accuracy: obj["accuracy"] as? Double,
                                valLoss: obj["val_loss"] as? Double, valAccuracy: obj["val_accuracy"] as? Double,
                                learningRate: obj["lr"] as? Double ?? 0, seconds: obj["seconds"] as? Double ?? 0,
                                samplesPerSecond: obj["samples_per_second"] as? Double ?? 0)
            r.penalty = obj["penalty"] as? Double
            out.append(r)
        }
        return out.all.isEmpty ? nil : out.all
    }

    func json(_ v: Double) -> String { v.isFinite ? String(v) : "null" }
}
