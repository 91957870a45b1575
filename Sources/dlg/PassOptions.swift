import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax
import DLGTrain
import Foundation

/// Options of every command that compiles: which passes run, what is printed, checks.
struct PassOptions: ParsableArguments {
    @Flag(name: [.customLong("training"), .customLong("training-step")],
          help: "Compile the whole training step: the forward pass, autodiff's backward pass and the optimizer's updates; the model must minimize something.")
    var trainingStep = false

    @Option(help: ArgumentHelp("The optimizer of the training step, e.g. 'adam(lr: 1e-3)' (default: the train block's optimizer with its penalties and clipping, else sgd(lr: 0.01)).",
                               valueName: "SETTING"))
    var optimizer: String?

    @Option(name: .customLong("disable-pass"), help: ArgumentHelp(
        "Skip a pass; repeatable. Every pass can be named: \(Pipeline.passNames.joined(separator: ", ")).", valueName: "NAME"))
    var disabled: [String] = []

    @Option(name: .customLong("print-after"), help: ArgumentHelp(
        "Print the IR to standard error after that pass, headed '// after NAME'; 'all' prints it after every pass; repeatable.",
        valueName: "NAME"))
    var printAfter: [String] = []

    @Option(name: .customLong("dump-dir"), help: ArgumentHelp(
        "Write the IR into DIR (created if missing): 00-elaborated.txt, then one file per pass numbered in the order the passes ran (a disabled pass has no file and takes no number); dump writes the passes up to its --stage.",
        valueName: "DIR"))
    var dumpDir: String?

    @Flag(help: "In printed IR, every step of an unrolled loop (a recurrent layer's time steps) on its own lines, instead of each run of like steps once as 'repeat t in a..<b { … }'.")
    var unrolled = false

    @Flag(name: [.customLong("verify"), .customLong("verify-passes")],
          help: "Run the IR verifier after every pass; a failure is an error naming the pass, status 1.")
    var verify = false

    @Option(help: "Compile the training step of a data-parallel run over this many processes (Docs/distributed.md).")
    var replicas = 1

    @Flag(name: .customLong("sync-batchnorm"), help: "With --replicas: batchnorm statistics over the replicas' whole batch.")
    var syncBatchnorm = false

    @Option(help: ArgumentHelp(
        "Keep the parameters matching PATTERN ('*' any characters, e.g. 'c1.*') fixed: the backward pass computes no gradient for them and the optimizer no update; repeatable; none clears the block's (default: the train block's freeze).",
        valueName: "PATTERN"))
    var freeze: [String] = []

    /// The patterns of --freeze, else of the train block's `freeze` setting ('none' clears them).
    func freezePatterns(_ file: SourceFile, model: String?) -> [String] {
        freeze.isEmpty ? blockFreezePatterns(file, model: model) : freeze.filter { !$0.isEmpty && $0 != "none" }
    }

    static var optimizingPasses: [String] {
        Pipeline.passNames.filter { !["shape-inference", "autodiff", "optimizer", "replica-loss", "gradient-allreduce"].contains($0) }
    }

    func validate() throws {
        let names = Pipeline.passNames
        for d in disabled where !names.contains(d) {
            throw ValidationError("unknown pass '\(d)' for --disable-pass; the passes are: " + names.joined(separator: ", "))
        }
        for p in printAfter where !names.contains(p) && p != "all" {
            throw ValidationError("unknown pass '\(p)' for --print-after; the passes are: " + names.joined(separator: ", ") + ", or all")
        }
        if let o = optimizer, Setting.parse(o) == nil {
            throw ValidationError("--optimizer: cannot read '\(o)'")
        }
        if replicas < 1 { throw ValidationError("--replicas must be at least 1") }
        if replicas > 1 && !trainingStep { throw ValidationError("--replicas needs --training-step: only the training step runs on several processes") }
        if syncBatchnorm && replicas == 1 { throw ValidationError("--sync-batchnorm needs --replicas 2 or more") }
    }

    func printAfterSet() throws -> Set<String> { Set(printAfter) }

    /// `blockOptimizer`: the train block's optimizer, used unless --optimizer is given.
    func pipelineOptions(stage: Stage, blockOptimizer: OptimizerSpec? = nil) throws -> PipelineOptions {
        var o = PipelineOptions()
        o.stage = stage
        o.verify = verify
        o.disabled = Set(disabled)
        if trainingStep {
            o.differentiate = true
            var spec = blockOptimizer ?? OptimizerSpec(kind: .sgd, lr: 0.01)
            if let text = optimizer, let s = Setting.parse(text) {
                switch OptimizerSpec.parse(s, keeping: spec) {
                case .success(let v): spec = v
                case .failure(let e): throw ValidationError("--optimizer: \(e.message)")
                }
            }
            o.optimizer = spec
            o.replicas = replicas
            o.syncBatchnorm = syncBatchnorm
        }
        return o
    }
}

/// The optimizer a model's train block names (with its penalties and clipping), if it has one.
func blockOptimizer(_ file: SourceFile, model: String?) -> OptimizerSpec? {
    let (unit, diags) = Parser.parse(file)
    guard !diags.hasErrors else { return nil }
    guard let block = Frontend.trainBlock(unit, model: model) else { return nil }
    var d = Diagnostics()
    return TrainConfig.from(block, diagnostics: &d).optimizer
}

/// The `freeze` setting of a model's train block (the last one naming it), if it has a readable one.
func blockFreezePatterns(_ file: SourceFile, model: String?) -> [String] {
    let (unit, diags) = Parser.parse(file)
    guard !diags.hasErrors else { return [] }
    let name = model ?? unit.models.first?.name.name
    guard let block = unit.trains.last(where: { $0.model.name == name }),
          let s = block.settings.last(where: { $0.key.name == "freeze" }),
          case .success(let v) = Setting.from(s.value), case .success(let p) = FreezePatterns.parse(v) else { return [] }
    return p
}
