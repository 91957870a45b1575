import DLGData
import DLGRuntime

/// How predictions are scored against labels, decided from the model's first
/// output and the labels:
/// - classes: an output [N, C] (C > 1) and integer labels → argmax accuracy and a confusion matrix;
/// - binary: an output [N, 1] and labels in {0, 1} → threshold 0.5; labels in {−1, 1} → threshold 0;
/// - multi-label: an output [N, K] (K > 1) minimized with `bce` (or `bce_logits`) against
///   labels [N, K] in {0, 1} → the share of (output ≥ 0.5) = label over every example and
///   label (Keras's binary accuracy); on logits (`bce_logits`) the threshold is 0;
/// - regression: anything else → loss only.
/// A binary output minimized with `bce_logits` is a logit, so its threshold is 0 as well.
public enum Scoring: Sendable, Equatable {
    case classes(Int)
    case binary(threshold: Double)
    case multiLabel(threshold: Double)
    case regression

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

    public init(classes: Int? = nil) {
        if let c = classes { confusion = Array(repeating: Array(repeating: 0, count: c), count: c) }
    }

    public var loss: Double { examples == 0 ? .nan : lossSum / Double(examples) }
    public var accuracy: Double { scored == 0 ? .nan : Double(correct) / Double(scored) }
    /// The mean penalty, weighted like the loss.
    public var penalty: Double { examples == 0 ? .nan : penaltySum / Double(examples) }

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
        case .regression:
            break
        }
    }
}
