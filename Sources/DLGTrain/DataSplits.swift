import DLGData
import Foundation

/// A run's data: the training part, the held-out part watched after every epoch
/// (`validation`), and the test part evaluated once after training (`test`), each
/// normalized with statistics fitted on the training part.
public struct DataSplits: Sendable {
    public var train: Dataset
    public var validation: Dataset?
    public var test: Dataset?

    public init(train: Dataset, validation: Dataset? = nil, test: Dataset? = nil) {
        self.train = train
        self.validation = validation
        self.test = test
    }

    /// Loads the configured data and splits it. Fractions and counts of `test` and
    /// `validation` are of the whole data: the test part is its last examples, the
    /// validation part the examples just before them, the rest trains. A data source
    /// is loaded on its own (validation with seed + 1, test with seed + 2).
    public static func load(_ c: TrainConfig, relativeTo base: String) throws -> DataSplits {
        guard let spec = c.data else { throw TrainError("no data: give the train block a 'data = …' setting or pass --data") }
        var train = try DataLoader.load(spec, relativeTo: base, seed: c.seed, allowNonFinite: c.allowNonFinite)
        let total = train.count
        func count(_ s: ValidationSpec) -> Int? {
            switch s {
            case .none, .data: return nil
            case .fraction(let f): return max(1, Int((Double(total) * f).rounded()))
            case .count(let k): return k
            }
        }
        let testCount = count(c.test), validationCount = count(c.validation)
        let heldOut = (testCount ?? 0) + (validationCount ?? 0)
        guard heldOut < total else {
            var parts: [String] = []
            if let v = validationCount { parts.append("validation \(v)") }
            if let t = testCount { parts.append("test \(t)") }
            throw TrainError("\(parts.joined(separator: " and ")) of \(total) examples leave none to train on")
        }
        var splits = DataSplits(train: train)
        if let k = testCount { (train, splits.test) = try train.split(last: k) }
        if let k = validationCount { (train, splits.validation) = try train.split(last: k) }
        splits.train = train
        if case .data(let v) = c.validation { splits.validation = try DataLoader.load(v, relativeTo: base, seed: c.seed &+ 1, allowNonFinite: c.allowNonFinite) }
        if case .data(let t) = c.test { splits.test = try DataLoader.load(t, relativeTo: base, seed: c.seed &+ 2, allowNonFinite: c.allowNonFinite) }
        if c.normalize != .none {
            // Each feature on its own (scikit-learn's MinMaxScaler and StandardScaler); f64 data stays f64, other types become f32.
            let norm = c.normalize == .unit ? try Normalization.unitRange(fittedOn: splits.train.features, perFeature: true)
                                            : try Normalization.standardize(fittedOn: splits.train.features, perFeature: true)
            splits.train = try norm.apply(to: splits.train)
            splits.validation = try splits.validation.map { try norm.apply(to: $0) }
            splits.test = try splits.test.map { try norm.apply(to: $0) }
        }
        return splits
    }
}
