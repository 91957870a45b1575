import DLGData
import DLGRuntime

/// How predictions are scored against labels, decided from the model's first
/// output and the labels:
/// - classes: an output [N, C] (C > 1) and integer labels → argmax accuracy and a confusion matrix;
/// - binary: an output [N, 1] and labels in {0, 1} → threshold 0.5; labels in {−1, 1} → threshold 0;
/// - regression: anything else → loss only.
public enum Scoring: Sendable, Equatable {
    case classes(Int)
    case binary(threshold: Double)
    case regression

    public static func decide(outputShape: [Int], labels: NDArray?) -> Scoring {
        guard let labels else { return .regression }
        let columns = outputShape.count >= 2 ? outputShape.last! : 1
        let values = labels.toDoubles()
        let integral = values.allSatisfy { $0 == $0.rounded() }
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
    public var confusion: [[Int]]?

    public init(classes: Int? = nil) {
        if let c = classes { confusion = Array(repeating: Array(repeating: 0, count: c), count: c) }
    }

    public var loss: Double { examples == 0 ? .nan : lossSum / Double(examples) }
    public var accuracy: Double { examples == 0 ? .nan : Double(correct) / Double(examples) }

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
                if predicted == truth { correct += 1 }
                if truth >= 0, truth < c, predicted < c { confusion?[truth][predicted] += 1 }
            }
        case .binary(let t):
            for (k, r) in rows.enumerated() {
                let positive = out[k * width] >= t
                let truth = labels.doubleValue(at: r) > (t == 0 ? 0 : 0.5)
                if positive == truth { correct += 1 }
            }
        case .regression:
            break
        }
    }
}
