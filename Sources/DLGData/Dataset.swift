import DLGKernels

/// A dataset in memory: features `[N, …]` and, where it has them, labels
/// `[N]` (class indices, integer) or `[N, k]` (targets, one-hot rows, …).
/// Sample `i` is row `i` of both.
public struct Dataset: Sendable, Equatable {
    /// A short name for messages ("mnist-t10k", "xor", a CSV path).
    public var name: String
    /// Inputs, first axis = sample.
    public private(set) var features: NDArray
    /// Labels or targets, first axis = sample; nil for unlabelled data.
    public private(set) var labels: NDArray?
    /// The number of classes when the labels are class indices in
    /// `0..<classCount`; nil when unknown or not a classification set.
    public var classCount: Int?
    /// Where the labels come from, for messages, when not from `name`
    /// (a separate labels file).
    public var labelSource: String?

    /// The file or set the labels come from, for messages.
    public var labelsName: String { labelSource ?? name }

    /// Checks that `features` has at least one axis, that `labels` is
    /// `[N]` or `[N, k]` with the same N, and — when `classCount` is given
    /// and the labels are one value per sample — that every label is an
    /// integer in `0..<classCount`.
    public init(name: String, features: NDArray, labels: NDArray? = nil, classCount: Int? = nil) throws {
        let what = "dataset '\(name)'"
        guard features.rank >= 1 else {
            throw DataError(file: what, .invalid("features \(features) have no sample axis"))
        }
        if let labels {
            guard labels.rank == 1 || labels.rank == 2 else {
                throw DataError(file: what, .invalid("labels \(labels) must be [N] or [N, k]"))
            }
            guard labels.shape[0] == features.shape[0] else {
                throw DataError(file: what, .invalid(
                    "\(features.shape[0]) feature rows (\(features)) but \(labels.shape[0]) labels (\(labels))"))
            }
        }
        if let classCount {
            guard classCount > 0 else {
                throw DataError(file: what, .invalid("class count \(classCount) must be positive"))
            }
            if let labels, labels.rowSize == 1 {
                for i in 0..<labels.count {
                    let v = labels.doubleValue(at: i)
                    guard v.rounded() == v, v >= 0, v < Double(classCount) else {
                        throw DataError(file: what, .invalid(
                            "label \(v) of sample \(i) is not a class index in 0..<\(classCount)"))
                    }
                }
            }
        }
        self.name = name
        self.features = features
        self.labels = labels
        self.classCount = classCount
    }

    init(unchecked name: String, features: NDArray, labels: NDArray?, classCount: Int?) {
        self.name = name
        self.features = features
        self.labels = labels
        self.classCount = classCount
    }

    /// The number of samples N.
    public var count: Int { features.shape[0] }

    /// Throws naming the file, the example, the element and the value when
    /// a feature or a float label is NaN or infinite (one vectorized pass
    /// over each array).
    public func checkFinite() throws {
        let arrays: [(NDArray?, String, String)] = [(features, name, "feature"), (labels, labelsName, "label")]
        for (array, file, what) in arrays {
            guard let array, let k = array.firstNonFinite() else { continue }
            let example = array.rank >= 1 && array.rowSize > 0 ? k / array.rowSize : 0
            throw DataError(file: file, .invalid(
                "\(what) element \(array.indexText(k)) (example \(example)) is \(array.doubleValue(at: k)); "
                + "data must be finite (set allow_nonfinite = true to load NaN and infinity)"))
        }
    }

    /// The first `k` samples and the rest. `k` must be in `0...count`.
    public func split(first k: Int) throws -> (first: Dataset, rest: Dataset) {
        guard k >= 0, k <= count else {
            throw DataError(file: "dataset '\(name)'", .invalid("cannot split off \(k) of \(count) samples"))
        }
        return (try rows(0..<k), try rows(k..<count))
    }

    /// All samples but the last `k`, and the last `k`. `k` must be in
    /// `0...count`. (Taking a validation set off the end: `split(last: 1000)`.)
    public func split(last k: Int) throws -> (rest: Dataset, last: Dataset) {
        guard k >= 0, k <= count else {
            throw DataError(file: "dataset '\(name)'", .invalid("cannot split off \(k) of \(count) samples"))
        }
        return (try rows(0..<(count - k)), try rows((count - k)..<count))
    }

    /// Samples `range` (a contiguous slice).
    public func rows(_ range: Range<Int>) throws -> Dataset {
        var d = Dataset(unchecked: name, features: try features.rows(range), labels: try labels?.rows(range), classCount: classCount)
        d.labelSource = labelSource
        return d
    }

    /// The samples at `indices`, in that order (repeats allowed). Used for
    /// batches and shuffles; throws naming an index outside `0..<count`.
    public func subset(_ indices: [Int]) throws -> Dataset {
        var d = Dataset(unchecked: name, features: try features.gatherRows(indices),
                        labels: try labels?.gatherRows(indices), classCount: classCount)
        d.labelSource = labelSource
        return d
    }

    /// The samples in the order of `RandomStream(seed:).permutation(count)`.
    public func shuffled(seed: UInt64) throws -> Dataset {
        var rng = RandomStream(seed: seed)
        return try subset(rng.permutation(count))
    }

    /// The label of each sample as an integer. Requires labels with one
    /// value per sample (`[N]` or `[N, 1]`), each an integer.
    public func classLabels() throws -> [Int] {
        let what = "dataset '\(name)'"
        guard let labels else {
            throw DataError(file: what, .invalid("has no labels"))
        }
        guard labels.rowSize == 1 else {
            throw DataError(file: what, .invalid("labels \(labels) are not one class index per sample"))
        }
        var out = [Int]()
        out.reserveCapacity(labels.count)
        for i in 0..<labels.count {
            let v = labels.doubleValue(at: i)
            guard v.rounded() == v, let k = Int(exactly: v) else {
                throw DataError(file: what, .invalid("label \(v) of sample \(i) is not an integer"))
            }
            out.append(k)
        }
        return out
    }

    /// Only the samples whose class label is in `classes`, in their
    /// original order. With `relabel`, class `classes[j]` becomes label `j`
    /// (same element type) and `classCount` becomes `classes.count`;
    /// without, labels and `classCount` are kept. E.g. MNIST digits 0 and 1
    /// only: `filter(classes: [0, 1])`; 3 vs 8 as 0/1:
    /// `filter(classes: [3, 8], relabel: true)`. Throws when the labels are
    /// not class indices, `classes` is empty or repeats a class, or no
    /// sample remains.
    public func filter(classes: [Int], relabel: Bool = false) throws -> Dataset {
        let what = "dataset '\(name)'"
        guard !classes.isEmpty, Set(classes).count == classes.count else {
            throw DataError(file: what, .invalid("classes \(classes) must be non-empty and distinct"))
        }
        let all = try classLabels()
        var position = [Int: Int]()
        for (j, c) in classes.enumerated() { position[c] = j }
        let keep = all.indices.filter { position[all[$0]] != nil }
        guard !keep.isEmpty else {
            throw DataError(file: what, .emptyDataset(detail: "no sample has a label in \(classes)"))
        }
        var result = try subset(keep)
        if relabel, let labels = result.labels {
            let newValues = keep.map { Double(position[all[$0]]!) }
            let relabelled = try NDArray(newValues, shape: labels.shape).converted(to: labels.elementType)
            result.labels = relabelled
            result.classCount = classes.count
        }
        return result
    }
}
