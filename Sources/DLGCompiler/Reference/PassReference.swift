/// The pass list of Docs/passes.md, generated from the passes themselves:
/// their order in `Pipeline.passes`, the stage each belongs to, and their own
/// `summary` and `details`.
public enum PassReference {
    /// Every pass a training step runs, in order, with its stage.
    public static var passes: [(stage: Stage, pass: any GraphPass)] {
        var o = PipelineOptions()
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .sgd, lr: 0.1)
        // A data-parallel step's, which has every pass.
        o.replicas = 2
        return Pipeline.passes(o)
    }

    public static func markdown() -> String {
        let list = passes
        var out = "| pass | stage | what it does |\n|---|---|---|\n"
        for (stage, pass) in list {
            out += "| `\(pass.name)` | `\(stage.rawValue)` | \(pass.summary) |\n"
        }
        for (_, pass) in list {
            out += "\n**\(pass.name).** \(pass.details)\n"
        }
        return out
    }
}
