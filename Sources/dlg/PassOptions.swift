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

    @Flag(name: [.customLong("verify"), .customLong("verify-passes")],
          help: "Run the IR verifier after every pass; a failure is an error naming the pass, status 1.")
    var verify = false

    static var optimizingPasses: [String] {
        Pipeline.passNames.filter { !["shape-inference", "autodiff", "optimizer"].contains($0) }
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
