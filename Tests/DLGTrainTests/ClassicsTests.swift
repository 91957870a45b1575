import DLGData
import DLGTrain
import Foundation
import Testing

/// Trains a model of Graphs/ with its own train block, in-process, and
/// returns the session (for its weights) and the trainer (to evaluate).
private func trainGraph(_ name: String, sourceLocation: SourceLocation = #_sourceLocation)
    throws -> (session: Session, trainer: Trainer, data: Dataset, result: TrainResult) {
    let file = try Repository.graph(name)
    let config = try trainConfig(file, sourceLocation: sourceLocation)
    let spec = try #require(config.data, "\(name) has no data setting", sourceLocation: sourceLocation)
    let data = try DataLoader.load(spec, relativeTo: (file.path as NSString).deletingLastPathComponent, seed: config.seed)
    let session = try makeSession(file, config: config, sourceLocation: sourceLocation)
    let trainer = try Trainer(session: session)
    let result = try trainer.run(train: data, validation: nil)
    #expect(result.failure == nil, sourceLocation: sourceLocation)
    #expect(result.epochs == config.epochs, sourceLocation: sourceLocation)
    // The records kept in memory are thinned past History.capacity epochs (XOR runs 5000).
    #expect(result.history.count == min(config.epochs, History.capacity) || config.epochs > History.capacity,
            sourceLocation: sourceLocation)
    #expect(result.history.last?.epoch == config.epochs - 1, sourceLocation: sourceLocation)
    return (session, trainer, data, result)
}

/// The perceptron rule, run plainly: for each pattern p with target t, in order,
/// a = hardlim(p·W + b) (1 if the net input is ≥ 0), W ← W + η(t − a)p, b ← b + η(t − a).
/// Returns the weights after `epochs` passes and the errors made in each pass.
private func perceptronRule(_ data: Dataset, w: [Double], b: Double, eta: Double, epochs: Int)
    -> (w: [Double], b: Double, errors: [Int]) {
    var w = w, b = b
    var errors: [Int] = []
    let x = data.features.toDoubles(), t = data.labels!.toDoubles()
    for _ in 0..<epochs {
        var wrong = 0
        for n in 0..<data.count {
            let p = [x[2 * n], x[2 * n + 1]]
            let net = p[0] * w[0] + p[1] * w[1] + b
            let a: Double = net >= 0 ? 1 : 0
            let e = t[n] - a
            if e != 0 { wrong += 1 }
            w[0] += eta * e * p[0]
            w[1] += eta * e * p[1]
            b += eta * e
        }
        errors.append(wrong)
    }
    return (w, b, errors)
}

@Suite("Classic exercises")
struct ClassicsTests {
    /// AND with a hardlim perceptron: zero errors, and exactly the weights the
    /// perceptron rule reaches from the same start.
    @Test func perceptronLearnsAND() throws {
        let (session, trainer, data, _) = try trainGraph("perceptron_and.dlg")
        let (tally, scoring) = try trainer.evaluate(data)
        #expect(scoring == .binary(threshold: 0.5))
        #expect(tally.examples == 4 && tally.correct == 4)
        #expect(tally.loss == 0)
        let rule = perceptronRule(data, w: [1.0, -0.8], b: 0, eta: 1, epochs: 20)
        expectClose(session.state.values("W") ?? [], rule.w, tolerance: 1e-6, "W")
        expectClose(session.state.values("b") ?? [], [rule.b], tolerance: 1e-6, "b")
        // The file's comment: every pattern is right from the 7th epoch on, with W = [2, 1.2] and b = −3.
        #expect(rule.errors[5] > 0 && rule.errors[6...].allSatisfy { $0 == 0 })
        expectClose(rule.w + [rule.b], [2, 1.2, -3], tolerance: 1e-12, "rule's weights")
    }

    /// OR with a hardlim perceptron: zero errors, the perceptron rule's weights.
    @Test func perceptronLearnsOR() throws {
        let (session, trainer, data, _) = try trainGraph("perceptron_or.dlg")
        let (tally, _) = try trainer.evaluate(data)
        #expect(tally.examples == 4 && tally.correct == 4)
        let rule = perceptronRule(data, w: [0.5, -0.5], b: 0.5, eta: 1, epochs: 20)
        expectClose(session.state.values("W") ?? [], rule.w, tolerance: 1e-6, "W")
        expectClose(session.state.values("b") ?? [], [rule.b], tolerance: 1e-6, "b")
        // The file's comment: the third epoch is error-free, with W = [0.5, 0.5] and b = −0.5.
        #expect(rule.errors[1] > 0 && rule.errors[2...].allSatisfy { $0 == 0 })
        expectClose(rule.w + [rule.b], [0.5, 0.5, -0.5], tolerance: 1e-12, "rule's weights")
    }

    /// XOR with a 2-2-1 sigmoid network: MSE below 0.01 on the truth table.
    @Test func xorNetworkReachesSmallError() throws {
        let (session, trainer, data, _) = try trainGraph("xor.dlg")
        let (tally, scoring) = try trainer.evaluate(data)
        #expect(tally.loss < 0.01, "MSE \(tally.loss)")
        #expect(scoring == .binary(threshold: 0.5))
        #expect(tally.correct == 4)
        // The MSE recomputed plainly from the trained weights: ŷ = σ(σ(xW₁ + b₁)W₂ + b₂).
        let w1 = try #require(session.state.values("W1")), b1 = try #require(session.state.values("b1"))
        let w2 = try #require(session.state.values("W2")), b2 = try #require(session.state.values("b2"))
        func sigmoid(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
        let x = data.features.toDoubles(), y = data.labels!.toDoubles()
        var sum = 0.0
        for n in 0..<4 {
            let h = (0..<2).map { j in sigmoid(x[2 * n] * w1[j] + x[2 * n + 1] * w1[2 + j] + b1[j]) }
            let yhat = sigmoid(h[0] * w2[0] + h[1] * w2[1] + b2[0])
            sum += (yhat - y[n]) * (yhat - y[n])
        }
        #expect(abs(sum / 4 - tally.loss) < 1e-6)
    }

    /// y = 1 + sin 2πx with one tanh hidden layer and a linear output: MSE below 0.01.
    @Test func sineRegressionReachesSmallError() throws {
        let (_, trainer, data, _) = try trainGraph("sine.dlg")
        let (tally, scoring) = try trainer.evaluate(data)
        #expect(scoring == .regression)
        #expect(tally.examples == 200)
        #expect(tally.loss < 0.01, "MSE \(tally.loss)")
    }
}
