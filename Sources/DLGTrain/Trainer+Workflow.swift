import DLGCompiler
import DLGData
import DLGRuntime

extension Trainer {
    /// Whether a program output is the penalty the optimizer pass adds (not a model output).
    static func isPenalty(_ output: String) -> Bool { output == OptimizerUpdate.penaltyOutput }

    /// The L1/L2 penalty a training step reported, when its optimizer has one.
    func penalty(_ e: Executor) -> Double? {
        guard let out = e.program.outputs.first(where: { $0.name == OptimizerUpdate.penaltyOutput }) else { return nil }
        return e.element(out.buffer, 0)
    }

    /// The penalty at the current weights, (λ₂/2)·Σp² + λ₁·Σ|p| over the parameters the
    /// training step updates, or nil without one. Held-out losses include it, as Keras's
    /// `val_loss` includes the regularization losses, so that they compare with `loss`.
    public func currentPenalty() -> Double? {
        let o = session.config.optimizer
        guard o.l1 > 0 || o.l2 > 0, let e = session.trainingExecutors.first else { return nil }
        var squares = 0.0, magnitudes = 0.0
        for slot in e.program.state where slot.trainable {
            guard let v = session.state.values(slot.name) else { continue }
            for x in v {
                squares += x * x
                magnitudes += abs(x)
            }
        }
        return o.l2 / 2 * squares + o.l1 * magnitudes
    }

    /// Loss and scores over held-out data as the run reports them: the model's loss plus
    /// the penalty at the current weights.
    public func evaluateHeldOut(_ d: Dataset, batch: Int? = nil) throws -> (tally: Tally, scoring: Scoring) {
        var (tally, scoring) = try evaluate(d, batch: batch)
        if let p = currentPenalty() {
            tally.lossSum += p * Double(tally.examples)
            tally.penaltySum = p * Double(tally.examples)
        }
        return (tally, scoring)
    }
}
