import ArgumentParser
import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGTrain
import Foundation

/// Loads a checkpoint's tensors into a session's state (every parameter must be there).
func restore(_ session: Session, from path: String) throws {
    try restore(session.state, from: path)
}

/// Loads a checkpoint's tensors into a state store (every parameter must be there).
func restore(_ state: StateStore, from path: String) throws {
    let file: SafetensorsFile
    do { file = try Safetensors.read(path) } catch let e as DataError {
        printError("error: \(e.description)")
        throw ExitCode.failure
    }
    let problems = Checkpoint.restore(state, from: file)
    if !problems.isEmpty {
        printError("error: \(path) does not match the model:\n" + problems.map { "  \($0)" }.joined(separator: "\n"))
        throw ExitCode.failure
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained model: loss, accuracy and, for classifiers, the confusion matrix.",
        discussion: "Uses the inference form (dropout off, batchnorm on running statistics). The data defaults to the train block's validation set, or its data.")

    @OptionGroup var options: ModelOptions
    @Option(help: ArgumentHelp(
        "The checkpoint (safetensors); every parameter and buffer must be there with its shape (optimizer.* entries are not needed).",
        valueName: "PATH"))
    var weights: String
    @Option(help: ArgumentHelp(
        "A data source, as in a train block; given here it is evaluated whole, with paths relative to the working directory (default: the train block's held-out data, else its data).",
        valueName: "SETTING"))
    var data: String?
    @Option(help: ArgumentHelp(
        "The part of the train block's data to evaluate: validation, test or train (default: validation, else test, else all of it).",
        valueName: "PART"))
    var split: String?
    @Option(help: ArgumentHelp("Examples per batch, N ≥ 1 (capped at the set's size).", valueName: "N")) var batch: Int = 256
    @Option(name: .customLong("threads"), help: ArgumentHelp("Threads for kernels and BLAS (default: all cores).", valueName: "N"))
    var threadCount: Int?
    var threads: Int { threadCount ?? ProcessInfo.processInfo.activeProcessorCount }
    @Flag(help: "Print the results as JSON.") var json = false
    @OptionGroup var memory: MemoryOptions
    @Flag(name: .customLong("allow-nonfinite"), help: "Load NaN and infinity in the data instead of refusing them.")
    var allowNonFinite = false

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let split, !["validation", "test", "train"].contains(split) {
            throw ValidationError("--split is validation, test or train, not '\(split)'")
        }
        if split != nil, data != nil { throw ValidationError("--split chooses a part of the train block's data; --data is evaluated whole") }
    }

    func run() throws {
        memory.apply()
        let file = try loadSource(options.file)
        var flags = try TrainingOptions.parse([])
        flags.data = data
        flags.allowNonFinite = allowNonFinite
        let (blockConfig, base) = try trainConfiguration(file, model: options.model, flags: flags, seed: nil)
        var config = blockConfig
        // Data given on the command line is evaluated whole; the train block's split applies to its own data.
        if data != nil { config.validation = .none; config.test = .none }
        let data = try loadData(config, base: base)
        let set: Dataset
        switch split {
        case "train": set = data.train
        case "validation", "test":
            guard let part = split == "test" ? data.test : data.validation else {
                printError("error: --split \(split!): the train block of \(options.file) sets no \(split!) part")
                throw ExitCode.failure
            }
            set = part
        default: set = data.validation ?? data.test ?? data.train
        }
        let session = try makeSession(file, model: options.model, config: config, threads: threads, bindings: try options.bindings())
        let result: (tally: Tally, scoring: Scoring)
        var nonFinite: String?
        do {
            let trainer = try Trainer(session: session)
            try trainer.validate(set, role: "evaluation")
            _ = try session.evalExecutor(batch: min(batch, set.count))
            try restore(session, from: weights)
            result = try trainer.evaluate(set, batch: batch)
            if !result.tally.loss.isFinite {
                nonFinite = "the loss is \(result.tally.loss) over \(set.name); " + trainer.locateEvaluation(set, batch: batch)
            }
        } catch let e as TrainError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        } catch let f as CompileFailure {
            report(f.diagnostics, in: f.file)
            throw ExitCode.failure
        }
        let t = result.tally
        if json {
            var fields: [(String, JSON)] = [("examples", .int(t.examples)), ("loss", .double(t.loss))]
            if result.scoring != .regression { fields.append(("accuracy", .double(t.accuracy))) }
            if let c = t.confusion { fields.append(("confusion", .array(c.map { .array($0.map { .int($0) }) }))) }
            print(JSON.object(fields).serialized(pretty: true))
            if let nonFinite {
                fflush(nil)
                printError("error: \(nonFinite)")
                throw ExitCode.failure
            }
            return
        }
        print("\(t.examples) examples (\(set.name)): loss \(String(format: "%.4f", t.loss))"
              + (result.scoring == .regression ? "" : ", accuracy \(String(format: "%.2f%%", t.accuracy * 100))"))
        if let c = t.confusion {
            print("confusion matrix (rows: true class, columns: predicted):")
            let w = max(4, String(c.flatMap { $0 }.max() ?? 0).count + 1)
            func pad(_ s: String) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
            print("    " + (0..<c.count).map { pad(String($0)) }.joined())
            for (i, row) in c.enumerated() { print(pad(String(i)) + row.map { pad(String($0)) }.joined()) }
        }
        if let nonFinite {
            // The results first, as on a terminal, also when standard output is a file or a pipe (nil: every stream).
            fflush(nil)
            printError("error: \(nonFinite)")
            throw ExitCode.failure
        }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a trained model's predictions for a dataset: the first output, and the predicted class for classifiers.")

    @OptionGroup var options: ModelOptions
    @Option(help: ArgumentHelp("The checkpoint (safetensors), as for eval.", valueName: "PATH")) var weights: String
    @Option(help: ArgumentHelp("A data source, with paths relative to the working directory (default: the train block's data).",
                               valueName: "SETTING"))
    var data: String?
    @Option(help: ArgumentHelp("A .csv file (one row per example), or for any other name a .npy file holding the output array.",
                               valueName: "PATH"))
    var output: String
    @Option(help: ArgumentHelp("Examples per batch, N ≥ 1.", valueName: "N")) var batch: Int = 256
    @Option(name: .customLong("threads"), help: ArgumentHelp("Threads for kernels and BLAS (default: all cores).", valueName: "N"))
    var threadCount: Int?
    var threads: Int { threadCount ?? ProcessInfo.processInfo.activeProcessorCount }
    @OptionGroup var memory: MemoryOptions
    @Flag(name: .customLong("allow-nonfinite"), help: "Load NaN and infinity in the data instead of refusing them.")
    var allowNonFinite = false

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        memory.apply()
        let file = try loadSource(options.file)
        var flags = try TrainingOptions.parse([])
        flags.data = data
        flags.allowNonFinite = allowNonFinite
        let (config, base) = try trainConfiguration(file, model: options.model, flags: flags, seed: nil)
        var c = config
        if data != nil { c.validation = .none; c.test = .none }
        // The train block's data is split as in training, so that normalization is fitted on the
        // same training part; the predictions then cover both parts, in order.
        let data = try loadData(c, base: base)
        var set = data.train
        // Separate held-out data sources are not "the data"; parts split off it follow in order.
        var parts = [data.train]
        if case .data = c.validation {} else if let v = data.validation { parts.append(v) }
        if case .data = c.test {} else if let t = data.test { parts.append(t) }
        if parts.count > 1 {
            do {
                set = try Dataset(name: set.name, features: try NDArray.concatenateRows(parts.map(\.features)),
                                  labels: parts.allSatisfy { $0.labels != nil }
                                      ? try NDArray.concatenateRows(parts.map { $0.labels! }) : nil)
            } catch let e as DataError {
                printError("error: \(e.description)")
                throw ExitCode.failure
            }
        }
        let session = try makeSession(file, model: options.model, config: config, threads: threads, bindings: try options.bindings())
        if session.outputs.isEmpty {
            printError("error: model '\(session.name)' has no outputs to predict; mark one with 'output NAME = …'")
            throw ExitCode.failure
        }
        var rows: [NDArray] = []
        do {
            _ = try session.predictExecutor(batch: min(batch, set.count))
            try restore(session, from: weights)
            let trainer = try Trainer(session: session)
            try trainer.validate(set, role: "prediction", labels: false)
            var start = 0
            while start < set.count {
                let r = Array(start..<min(start + batch, set.count))[...]
                let e = try session.predictExecutor(batch: r.count)
                try trainer.feed(e, set, r)
                try e.run()
                rows.append(e.output(0))
                start += batch
            }
        } catch let e as TrainError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        } catch let e as ExecutionError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        } catch let f as CompileFailure {
            report(f.diagnostics, in: f.file)
            throw ExitCode.failure
        }
        do {
            let all = try NDArray.concatenateRows(rows)
            if output.hasSuffix(".csv") {
                var columns = [NamedArray(session.outputs.first ?? "output", all)]
                if all.rank == 2, all.shape[1] > 1 {
                    let v = all.toDoubles(), k = all.shape[1]
                    let classes = (0..<all.shape[0]).map { r -> Int32 in
                        let row = v[(r * k)..<((r + 1) * k)]
                        // conversion: a column index, below the output's width (at most 2^31 − 1 elements)
                        return Int32(row.indices.max { row[$0] < row[$1] }! - r * k)
                    }
                    columns.append(NamedArray("predicted", NDArray(classes)))
                }
                try CSV.write(columns: columns, to: output)
            } else {
                try NPY.write(all, to: output)
            }
            printError("\(all) → \(output)")
        } catch let e as DataError {
            printError("error: \(e.description)")
            throw ExitCode.failure
        }
    }
}
