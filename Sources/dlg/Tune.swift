import ArgumentParser
import DLGData
import DLGDistributed
import DLGGraph
import DLGKernels
import DLGSource
import DLGSyntax
import DLGTrain
import Foundation

extension TuneStrategy: ExpressibleByArgument {}

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search model parameters and train settings (grid, random, Hyperband), trials in parallel processes.",
        discussion: """
            Each trial is a `dlg train` run of the model with one configuration; every train flag given here \
            passes to all of them. Results go to a table as trials finish, to DIR/trials.jsonl (which a rerun \
            with the same search continues from), DIR/results.svg and DIR/best.txt. --metric is the objective \
            (loss, accuracy, val_loss or val_accuracy; default val_loss, or loss without held-out data).
            """)

    @OptionGroup var options: ModelOptions
    @Option(name: .customLong("param"), help: ArgumentHelp(
        "A parameter and its values, repeatable, searched in the order given. NAME is a model parameter (model m(width = 32): integers, set as with --bind) or a train setting: lr, batch, epochs, l1, l2, weight_decay, clip_value, clip_norm, min_delta, patience, seed, optimizer, schedule, normalize, augment. SPEC is a list 16,32,64 (values may be words or calls: adam,sgd(lr: 0.1)), a range 1..3 (integers, both ends included), log(1e-4,1e-1) (log-uniform) or uniform(a,b); continuous draws keep three significant digits, rounded for integer parameters (default: at least one).",
        valueName: "NAME=SPEC"))
    var params: [String] = []
    @Option(help: ArgumentHelp(
        "grid: every combination of lists and ranges, the first parameter slowest; random: --trials draws; hyperband: Hyperband with R = the trials' epochs and η = --factor; halving: one bracket of successive halving of --trials configurations.",
        valueName: "STRATEGY"))
    var strategy: TuneStrategy = .random
    @Option(help: ArgumentHelp(
        "Configurations to try, N ≥ 1: random draws; the first N of a grid; the first round of halving; Hyperband's brackets decide, not N (default: random and halving 10, grid all).",
        valueName: "N"))
    var trials: Int?
    @Option(help: ArgumentHelp("Trials run at once (by each process under mpirun), J in 1…256, each a process with ⌊cores/J⌋ threads (at least 1) kept on processors of its own.",
                               valueName: "J"))
    var jobs: Int = 1
    @Option(name: [.short, .long], help: ArgumentHelp("The directory of the results, created if missing.", valueName: "DIR")) var output: String = "tune"
    @Option(name: .customLong("search-seed"), help: ArgumentHelp(
        "Seed of the random configurations: trial i's draw depends on it and i alone, so a longer search begins with a shorter one's trials.",
        valueName: "N"))
    var searchSeed: UInt64 = 0
    @Option(help: ArgumentHelp("Hyperband's η ≥ 2: each round keeps 1/η of the configurations and trains them η times longer.", valueName: "η"))
    var factor: Int = 3
    @OptionGroup var flags: TrainingOptions
    @OptionGroup var transfer: TransferOptions
    @Option(help: ArgumentHelp("Every trial's training seed (default: the train block's, else 0).", valueName: "N")) var seed: UInt64?
    @Option(help: ArgumentHelp("Threads of each trial, N ≥ 1 (default: ⌊cores/J⌋, at least 1).", valueName: "N")) var threads: Int?

    func validate() throws {
        if params.isEmpty { throw ValidationError("give at least one --param NAME=SPEC, e.g. --param lr=log(1e-4,1e-1)") }
        if let t = trials, t < 1 { throw ValidationError("--trials must be at least 1") }
        if jobs < 1 || jobs > 256 { throw ValidationError("--jobs must be in 1…256") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if factor < 2 { throw ValidationError("--factor must be at least 2") }
        if let m = flags.metric, !["loss", "accuracy", "val_loss", "val_accuracy"].contains(m) {
            throw ValidationError("--metric is loss, accuracy, val_loss or val_accuracy, not '\(m)'")
        }
    }

    /// What every process of a search works from: the model, the search, the settings.
    struct Plan {
        var file: SourceFile
        var unit: SourceUnit
        var model: ModelDecl
        var search: TuneSearch
        var objective: TuneObjective
        var passThrough: [String]
        var header: JSON
    }

    func run() throws {
        // Started by mpirun: every rank runs trials, rank 0 hands them out and records them.
        guard let job = try ReplicaJob.start(requested: false) else {
            let plan = try prepare()
            let log = try openLog(plan)
            defer { log.close() }
            try search(plan, log: log, runner: runner(plan, group: nil))
            return
        }
        let plan = try job.phase { try prepare() }
        try checkSharedDirectory(job)
        let log = try job.phase { job.rank == 0 ? try openLog(plan) : nil }
        let runner = runner(plan, group: job.group)
        guard job.rank == 0, let log else {
            do { try runner.serve() } catch { runner.fail(job.group, ReplicaJob.describe(error)) }
            throw job.end(status: 0)
        }
        defer { log.close() }
        do {
            try search(plan, log: log, runner: runner)
        } catch let e as ExitCode {
            throw job.end(status: e.rawValue)
        } catch {
            printError("error: \(ReplicaJob.describe(error))")
            throw job.end(status: 1)
        }
        throw job.end(status: 0)
    }

    func runner(_ plan: Plan, group: (any ProcessGroup)?) -> TrialRunner {
        TrialRunner(search: plan.search, file: options.file, model: options.model, passThrough: plan.passThrough,
                    directory: output, jobs: jobs, threads: threads, group: group)
    }

    /// Reads the model and the parameters and plans the search; nothing is written.
    func prepare() throws -> Plan {
        let file = try loadSource(options.file)
        let (unit, parseDiagnostics) = Parser.parse(file)
        if parseDiagnostics.hasErrors {
            report(parseDiagnostics, in: file)
            throw ExitCode.failure
        }
        guard let model = options.model.flatMap({ n in unit.models.first { $0.name.name == n } }) ?? unit.models.first else {
            printError("error: \(options.file): no model" + (options.model.map { " named '\($0)'" } ?? ""))
            throw ExitCode.failure
        }
        let modelParameters = model.parameters.map(\.name.name)
        var tuned: [TunedParameter] = []
        do {
            for text in params {
                let p = try TunedParameter.parse(text, modelParameters: modelParameters, model: model.name.name)
                if tuned.contains(where: { $0.name == p.name }) { throw TuneError("--param \(p.name) is given twice") }
                tuned.append(p)
            }
        } catch let e as TuneError {
            throw ValidationError(e.message)
        }
        let passThrough = passThroughArguments()
        for p in tuned {
            switch p.target {
            case .model:
                if (try options.bindings())[p.name] != nil { throw ValidationError("--param \(p.name) and --bind \(p.name) both set \(p.name)") }
            case .setting(let flag):
                if passThrough.contains(flag) || (p.name == "seed" && seed != nil) {
                    throw ValidationError("--param \(p.name) and \(flag) both set \(p.name)")
                }
            }
        }
        // The trials' settings, read as `dlg train` would (errors in the block or the flags stop here).
        let (config, _) = try trainConfiguration(file, model: options.model, flags: flags, seed: seed)
        let objective = TuneObjective(flags.metric ?? (config.validation == .none ? "loss" : "val_loss"))
        if objective.name.hasPrefix("val_"), config.validation == .none {
            throw ValidationError("the objective \(objective.name) needs held-out data: add 'validation = 0.1' to the train block, pass --validation, or use --metric loss")
        }
        let search: TuneSearch
        do {
            search = try TuneSearch(strategy: strategy, params: tuned, objective: objective, trials: trials, seed: searchSeed,
                                    maxEpochs: config.epochs, factor: factor)
        } catch let e as TuneError {
            throw ValidationError(e.message)
        }
        let header = TuneLog.header(fields: [
            ("file", .string(options.file)), ("source_fnv1a", .string(String(fnv1a(file.text), radix: 16))),
            ("model", .string(model.name.name)), ("strategy", .string(strategy.rawValue)), ("params", .array(params.map { .string($0) })),
            ("search_seed", .int(Int(truncatingIfNeeded: searchSeed))), ("objective", .string(objective.name)),
            ("factor", .int(factor)), ("max_epochs", .int(config.epochs)), ("train_arguments", .array(passThrough.map { .string($0) })),
        ])
        return Plan(file: file, unit: unit, model: model, search: search, objective: objective, passThrough: passThrough, header: header)
    }

    /// Creates the output directory and opens (or continues) its results log.
    func openLog(_ plan: Plan) throws -> TuneLog {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        do { return try TuneLog(path: output + "/trials.jsonl", header: plan.header, search: plan.search) } catch let e as TrainError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        }
    }

    /// Every rank writes its trials into the output directory, so every rank must see rank 0's:
    /// rank 0 puts a file there whose name the others are told, and they look for it.
    func checkSharedDirectory(_ job: ReplicaJob) throws {
        var token = job.rank == 0 ? UInt64.random(in: 1...UInt64.max) : 0
        let path = { (t: UInt64) in self.output + "/.rank0-" + String(t, radix: 16) }
        try job.phase {
            guard job.rank == 0 else { return }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path(token), contents: nil) else {
                throw TrainError("\(output): cannot write in this directory")
            }
        }
        do { try job.group.broadcast(&token, bytes: 8, root: 0) } catch { job.fail("error: rank \(job.rank): \(error.message)") }
        let seen = FileManager.default.fileExists(atPath: path(token))
        // Every rank has looked once all have reached this gather; rank 0 removes its mark before the
        // phase below, which a failing rank leaves only after rank 0 has entered it (mpirun ends the
        // other ranks as soon as one exits with an error).
        do { _ = try job.group.allgather([seen ? 1 : 0]) } catch { job.fail("error: rank \(job.rank): \(error.message)") }
        if job.rank == 0 { try? FileManager.default.removeItem(atPath: path(token)) }
        try job.phase {
            if !seen {
                throw TrainError("this process does not see the output directory \(output) that rank 0 writes (a file rank 0 made there is missing): run every rank in the same directory, with --output on a file system that every machine mounts at the same path")
            }
        }
    }

    /// Runs the search (rank 0, or the only process): the live table, the final one, the picture and the best configuration.
    func search(_ plan: Plan, log: TuneLog, runner: TrialRunner) throws {
        let (file, unit, model, search, objective, passThrough) = (plan.file, plan.unit, plan.model, plan.search, plan.objective, plan.passThrough)
        let report = TuneReport(search: search)
        let previous = log.results
        var what = "\(search.trials) configuration\(search.trials == 1 ? "" : "s"), \(strategy.rawValue) search"
        if strategy == .hyperband || strategy == .halving {
            what += " (brackets " + search.brackets.map { b in "s=\(b.s): " + zip(b.counts, b.epochs).map { "\($0)×\($1)" }.joined(separator: " → ") }
                .joined(separator: "; ") + " configurations × epochs)"
        }
        let ranks = runner.group.map { "\($0.size) processes × " } ?? ""
        printError("tuning \(model.name.name): \(what), objective \(objective.name) (\(objective.maximized ? "higher" : "lower") is better), "
                   + ranks + "\(jobs) job\(jobs == 1 ? "" : "s") × \(runner.threadsPerTrial) thread\(runner.threadsPerTrial == 1 ? "" : "s")"
                   + (previous.isEmpty ? "" : "; \(previous.count) finished trial\(previous.count == 1 ? "" : "s") read from \(output)/trials.jsonl"))
        print(report.header())
        for r in previous.sorted(by: { $0.job.key < $1.job.key }) { print(report.row(r)) }
        fflush(nil)
        let results: [TrialResult]
        do {
            results = try runner.run(previous: previous) { r in
                try log.append(r, search: search)
                print(report.row(r))
                fflush(nil)
            }
        } catch {
            // Trials may be running on other processes: the whole job ends.
            if let group = runner.group { runner.fail(group, ReplicaJob.describe(error)) }
            throw error
        }
        // The final table, the picture and the best configuration.
        print("\nall trials, best first:")
        print(report.table(results), terminator: "")
        let totalEpochs = results.reduce(0) { $0 + $1.epochsRun }
        print("epochs trained: \(totalEpochs) in all" + (strategy == .hyperband || strategy == .halving
            ? " (full trials of the \(search.trials) configurations would take \(search.fullTrialEpochs))" : ""))
        try AtomicFile.write(report.svg(results, title: model.name.name), to: output + "/results.svg")
        guard let best = report.finalResults(results).first, best.ok, best.metric != nil else {
            printError("error: no trial finished with a value of \(objective.name); see \(output)/trial-*/stderr.txt")
            throw ExitCode.failure
        }
        let command = report.commandLine(best, file: options.file, model: options.model,
                                         passThrough: flags.patience == nil ? dropping("--metric", from: passThrough) : passThrough)
        let source = report.trainBlock(best, model: model.name.name,
                                       modelParameters: model.parameters.map { ($0.name.name, $0.defaultValue.map { text(file, $0.range) } ?? "?") },
                                       block: blockSettings(file, unit, model: model.name.name), settings: settingsFromFlags())
        let bestText = "best: trial \(best.job.trial), \(objective.name) \(String(format: "%.4f", best.metric!)) at epoch \(best.bestEpoch ?? 0)\n"
            + command + "\n\n" + source
        print("\n" + bestText, terminator: "")
        try AtomicFile.write(bestText, to: output + "/best.txt")
        print("results: \(output)/trials.jsonl, \(output)/results.svg, \(output)/best.txt")
    }

    /// The flags every trial gets: the train flags given here, the fixed bindings, the seed.
    func passThroughArguments() -> [String] {
        var a = flags.arguments + transfer.arguments
        for b in options.binding.binds { a += ["--bind", b] }
        if let seed { a += ["--seed", String(seed)] }
        return a
    }

    /// The arguments without a flag and its value.
    func dropping(_ flag: String, from args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            if args[i] == flag { i += 2; continue }
            out.append(args[i])
            i += 1
        }
        return out
    }

    /// The flags given here as train-block settings, for the best configuration's block.
    func settingsFromFlags() -> [(String, String)] {
        var out: [(String, String)] = []
        let a = flags.arguments
        var i = 0
        while i < a.count {
            let flag = a[i]
            if let s = TunedParameter.settings.first(where: { $0.flag == flag }), i + 1 < a.count, flag != "--lr" {
                out.append((s.name, a[i + 1]))
                i += 2
                continue
            }
            if ["--data", "--validation", "--test"].contains(flag), i + 1 < a.count {
                out.append((String(flag.dropFirst(2)), a[i + 1]))
                i += 2
                continue
            }
            i += 1
        }
        return out
    }

    func blockSettings(_ file: SourceFile, _ unit: SourceUnit, model: String) -> [(String, String)] {
        guard let block = unit.trains.last(where: { $0.model.name == model }) else { return [] }
        return block.settings.map { ($0.key.name, text(file, $0.value.range)) }
    }

    func text(_ file: SourceFile, _ r: SourceRange) -> String {
        let bytes = Array(file.text.utf8)
        guard r.start >= 0, r.end <= bytes.count, r.start <= r.end else { return "?" }
        return String(decoding: bytes[r.start..<r.end], as: UTF8.self)
    }

    func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }   // conversion: a byte always fits in UInt64
        return h
    }
}

extension TrainingOptions {
    /// The flags as given, for the `dlg train` runs of another command (`dlg tune`).
    var arguments: [String] {
        var a: [String] = []
        func add(_ flag: String, _ v: String?) { if let v { a += [flag, v] } }
        add("--data", data)
        add("--validation", validation)
        add("--test", test)
        add("--epochs", epochs.map(String.init))
        add("--batch", batch)
        add("--lr", lr.map { String($0) })
        add("--optimizer", optimizer)
        add("--schedule", schedule)
        add("--patience", patience.map(String.init))
        add("--metric", metric)
        add("--min-delta", minDelta.map { String($0) })
        add("--l1", l1.map { String($0) })
        add("--l2", l2.map { String($0) })
        add("--weight-decay", weightDecay.map { String($0) })
        add("--clip-value", clipValue.map { String($0) })
        add("--clip-norm", clipNorm.map { String($0) })
        add("--normalize", normalize)
        add("--augment", augment)
        for f in freeze { a += ["--freeze", f] }
        if let shuffle { a.append(shuffle ? "--shuffle" : "--no-shuffle") }
        if let syncBatchnorm { a.append(syncBatchnorm ? "--sync-batchnorm" : "--no-sync-batchnorm") }
        return a
    }
}
