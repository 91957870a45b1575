import DLGData
import DLGRuntime
import Foundation

/// How predictions are scored against labels, decided from the model's first
/// output and the labels:
/// - classes: an output [N, C] (C > 1) and integer labels → argmax accuracy and a confusion matrix;
/// - binary: an output [N, 1] and labels in {0, 1} → threshold 0.5; labels in {−1, 1} → threshold 0;
/// - multi-label: an output [N, K] (K > 1) minimized with `bce` (or `bce_logits`) against
///   labels [N, K] in {0, 1} → the share of (output ≥ 0.5) = label over every example and
///   label (Keras's binary accuracy); on logits (`bce_logits`) the threshold is 0;
/// - tokens: a language corpus (`text(…)`): labels [N, T] of next-token ids and an output
///   holding T rows of logits per example → next-token accuracy; the loss is per token and
///   perplexity = exp(loss);
/// - exact match: a synthetic sequence task (`adder`, `copy`, `reverse`) → the share of
///   examples whose most likely token is right at every answer position;
/// - forecast: time-series windows → mean squared error of the output against the targets;
/// - regression: anything else → loss only.
/// A binary output minimized with `bce_logits` is a logit, so its threshold is 0 as well.
public enum Scoring: Sendable, Equatable {
    case classes(Int)
    case binary(threshold: Double)
    case multiLabel(threshold: Double)
    case tokens
    case exactMatch(answer: Range<Int>)
    case forecast
    case regression

    /// Whether the pass counts correct predictions (accuracy, or exact match).
    public var hasAccuracy: Bool {
        switch self {
        case .regression, .forecast: false
        default: true
        }
    }

    /// Whether scoring reads the model's output.
    public var needsOutput: Bool { self != .regression }

    /// Sequence data decides by what its labels are; `outputShape` must then hold, per
    /// example, one row of logits per label position (tokens, exact match) or one value
    /// per target (forecast), else only the loss is reported.
    public static func decide(outputShape: [Int], labels: NDArray?, loss: String? = nil, sequence: SequenceInfo?) -> Scoring {
        guard let sequence else { return decide(outputShape: outputShape, labels: labels, loss: loss) }
        guard let labels, labels.rank >= 1, labels.shape[0] > 0 else { return .regression }
        let positions = labels.rowSize
        switch sequence.scored {
        case .everyToken, .answer:
            guard labels.elementType == .i32 || labels.elementType == .i64,
                  let classes = outputShape.last, classes > 1 else { return .regression }
            if case .answer(let answer) = sequence.scored {
                guard answer.lowerBound >= 0, answer.upperBound <= positions, !answer.isEmpty else { return .regression }
                return .exactMatch(answer: answer)
            }
            return .tokens
        case .forecast:
            return .forecast
        }
    }

    /// `loss` is the kind of the loss call the model minimizes (`bce`, `cross_entropy`, …), when known.
    public static func decide(outputShape: [Int], labels: NDArray?, loss: String? = nil) -> Scoring {
        guard let labels else { return .regression }
        let columns = outputShape.count >= 2 ? outputShape.last! : 1
        let values = labels.toDoubles()
        let integral = values.allSatisfy { $0 == $0.rounded() }
        let onLogits = loss == "bce_logits"
        if columns > 1, loss == "bce" || onLogits, labels.rank == 2, labels.shape[1] == columns,
           Set(values).isSubset(of: [0, 1]) {
            return .multiLabel(threshold: onLogits ? 0 : 0.5)
        }
        if columns == 1, onLogits, labels.count == labels.shape[0], Set(values).isSubset(of: [0, 1]) {
            return .binary(threshold: 0)
        }
        if columns > 1, labels.elementType == .i32 || labels.elementType == .i64 || labels.elementType == .u8,
           labels.count == labels.shape[0] {
            return .classes(columns)
        }
        if columns == 1, integral, labels.count == labels.shape[0] {
            let set = Set(values)
            if set.isSubset(of: [0, 1]) { return .binary(threshold: 0.5) }
            if set.isSubset(of: [-1, 1]) { return .binary(threshold: 0) }
        }
        return .regression
    }
}

/// Running counts of one pass over data.
public struct Tally: Sendable {
    public var lossSum = 0.0
    public var examples = 0
    public var correct = 0
    /// What `correct` counts out of: examples, or every label of every example (multi-label).
    public var scored = 0
    public var confusion: [[Int]]?
    /// The penalty part of `lossSum` (L1/L2, when the step reports one).
    public var penaltySum = 0.0
    /// Forecasts: the sum of squared differences between output and target, and their count.
    public var squaredErrorSum = 0.0
    public var squaredErrorCount = 0

    public init(classes: Int? = nil) {
        if let c = classes { confusion = Array(repeating: Array(repeating: 0, count: c), count: c) }
    }

    public var loss: Double { examples == 0 ? .nan : lossSum / Double(examples) }
    public var accuracy: Double { scored == 0 ? .nan : Double(correct) / Double(scored) }
    /// The mean penalty, weighted like the loss.
    public var penalty: Double { examples == 0 ? .nan : penaltySum / Double(examples) }
    /// Forecasts: the mean squared error over every target value.
    public var mse: Double { squaredErrorCount == 0 ? .nan : squaredErrorSum / Double(squaredErrorCount) }
    /// exp of the mean loss without the penalty: a language model's perplexity when the loss
    /// is the mean cross entropy per token (what `cross_entropy` minimizes).
    public var perplexity: Double { Foundation.exp(loss - (penaltySum == 0 ? 0 : penalty)) }

    /// Adds one batch: the batch's mean loss, the output rows and the labels of those rows.
    /// Without an output (or labels) only the loss counts.
    public mutating func add(loss: Double, batch: Int, output: NDArray?, labels: NDArray?, rows: ArraySlice<Int>,
                             scoring: Scoring) {
        lossSum += loss * Double(batch)
        examples += batch
        guard let labels, let output else { return }
        let out = output.toDoubles()
        let width = output.count / max(batch, 1)
        switch scoring {
        case .classes(let c):
            for (k, r) in rows.enumerated() {
                let row = out[(k * width)..<((k + 1) * width)]
                var best = row.startIndex
                for i in row.indices where row[i] > row[best] { best = i }
                let predicted = best - row.startIndex
                let truth = Int(exactly: labels.doubleValue(at: r)) ?? -1
                scored += 1
                if predicted == truth { correct += 1 }
                if truth >= 0, truth < c, predicted < c { confusion?[truth][predicted] += 1 }
            }
        case .binary(let t):
            for (k, r) in rows.enumerated() {
                let positive = out[k * width] >= t
                // 0/1 labels are positive above 0.5 and 0 alike; −1/1 labels (threshold 0) above 0.
                let truth = labels.doubleValue(at: r) > (t == 0 ? 0 : 0.5)
                scored += 1
                if positive == truth { correct += 1 }
            }
        case .multiLabel(let t):
            for (k, r) in rows.enumerated() {
                for j in 0..<width {
                    let positive = out[k * width + j] >= t
                    let truth = labels.doubleValue(at: r * width + j) > 0.5
                    scored += 1
                    if positive == truth { correct += 1 }
                }
            }
        case .tokens, .exactMatch:
            // Per example `positions` label positions, each with a row of `classes` logits.
            let positions = labels.rowSize
            guard positions > 0, width % positions == 0, width / positions > 1 else { return }
            let classes = width / positions
            for (k, r) in rows.enumerated() {
                var allRight = true
                var right = 0
                for p in 0..<positions {
                    let base = (k * positions + p) * classes
                    var best = 0
                    for i in 1..<classes where out[base + i] > out[base + best] { best = i }
                    let hit = Double(best) == labels.doubleValue(at: r * positions + p)
                    if case .exactMatch(let answer) = scoring {
                        if answer.contains(p), !hit { allRight = false }
                    } else if hit {
                        right += 1
                    }
                }
                if case .exactMatch = scoring {
                    scored += 1
                    if allRight { correct += 1 }
                } else {
                    scored += positions
                    correct += right
                }
            }
        case .forecast:
            let targets = labels.rowSize
            guard width == targets else { return }
            for (k, r) in rows.enumerated() {
                for j in 0..<targets {
                    let d = out[k * width + j] - labels.doubleValue(at: r * targets + j)
                    squaredErrorSum += d * d
                }
                squaredErrorCount += targets
            }
        case .regression:
            break
        }
    }
}

extension Tally {
    /// The sequence metrics of a pass under their JSON names: perplexity (tokens),
    /// exact_match (exact-match tasks), mse (forecasts); none for other scorings.
    public func sequenceMetrics(_ scoring: Scoring) -> [(String, Double)] {
        switch scoring {
        case .tokens: [("perplexity", perplexity)]
        case .exactMatch: [("exact_match", accuracy)]
        case .forecast: [("mse", mse)]
        default: []
        }
    }

    /// The pass's scores for a person: "accuracy 97.50%", "perplexity 3.2, accuracy 61.00%",
    /// "exact match 99.10%", "mse 0.0004"; empty for a regression.
    public func scoreText(_ scoring: Scoring) -> String {
        func pct(_ v: Double) -> String { String(format: "%.2f%%", v * 100) }
        switch scoring {
        case .regression: return ""
        case .tokens: return "perplexity \(String(format: "%.4g", perplexity)), accuracy \(pct(accuracy))"
        case .exactMatch: return "exact match \(pct(accuracy))"
        case .forecast: return "mse \(String(format: "%.4g", mse))"
        default: return "accuracy \(pct(accuracy))"
        }
    }
}
