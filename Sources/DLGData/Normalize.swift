/// An affine normalization `y = (x − shift) / scale`, with statistics
/// fitted on one array (the training features) and applied to others
/// (validation, test, prediction inputs).
///
/// Global statistics have one shift and one scale; per-feature statistics
/// have one of each per feature, where a feature is a position within a
/// sample (all axes but the first: for images `[N, 1, 28, 28]`, each of
/// the 784 pixels).
public struct Normalization: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// Scale to [0, 1]: shift = min, scale = max − min (u8 data: 0 and 255).
        case unitRange
        /// Standardize: shift = mean, scale = population standard deviation.
        case standardize
    }

    public var method: Method
    /// True when `shift` and `scale` hold one value per feature.
    public var perFeature: Bool
    /// Subtracted first; one value, or one per feature.
    public var shift: [Double]
    /// Divided by next; never zero (a constant feature gets scale 1).
    public var scale: [Double]

    public init(method: Method, perFeature: Bool, shift: [Double], scale: [Double]) {
        self.method = method
        self.perFeature = perFeature
        self.shift = shift
        self.scale = scale
    }

    /// Min–max scaling fitted on `x`. For u8 data the range is fixed to
    /// 0…255 (divide by 255) and global, whatever `perFeature` says.
    /// Throws for an array without samples.
    public static func unitRange(fittedOn x: NDArray, perFeature: Bool = false) throws -> Normalization {
        try checkNonEmpty(x)
        if x.elementType == .u8 {
            return Normalization(method: .unitRange, perFeature: false, shift: [0], scale: [255])
        }
        try MemoryBudget.require(x.count * 8, for: "fitting normalization statistics on \(x)", file: x.description)
        let values = x.toDoubles()
        let width = perFeature ? x.rowSize : 1
        var lo = [Double](repeating: .infinity, count: width)
        var hi = [Double](repeating: -.infinity, count: width)
        for (i, v) in values.enumerated() {
            let f = perFeature ? i % width : 0
            lo[f] = min(lo[f], v)
            hi[f] = max(hi[f], v)
        }
        let scale = zip(lo, hi).map { $1 - $0 > 0 ? $1 - $0 : 1 }
        return Normalization(method: .unitRange, perFeature: perFeature, shift: lo, scale: scale)
    }

    /// Standardization fitted on `x`: mean and population standard
    /// deviation (dividing by the number of values), accumulated in Double
    /// with two passes. A zero deviation becomes 1. Throws for an array
    /// without samples.
    public static func standardize(fittedOn x: NDArray, perFeature: Bool = false) throws -> Normalization {
        try checkNonEmpty(x)
        try MemoryBudget.require(x.count * 8, for: "fitting normalization statistics on \(x)", file: x.description)
        let values = x.toDoubles()
        let width = perFeature ? x.rowSize : 1
        let perSlot = Double(values.count / width)
        var mean = [Double](repeating: 0, count: width)
        for (i, v) in values.enumerated() { mean[perFeature ? i % width : 0] += v }
        for f in 0..<width { mean[f] /= perSlot }
        var variance = [Double](repeating: 0, count: width)
        for (i, v) in values.enumerated() {
            let f = perFeature ? i % width : 0
            variance[f] += (v - mean[f]) * (v - mean[f])
        }
        let std = variance.map { s -> Double in
            let d = (s / perSlot).squareRoot()
            return d > 0 ? d : 1
        }
        return Normalization(method: .standardize, perFeature: perFeature, shift: mean, scale: std)
    }

    private static func checkNonEmpty(_ x: NDArray) throws {
        guard x.rank >= 1, x.count > 0 else {
            throw DataError(file: x.description, .emptyDataset(detail: "cannot fit normalization statistics on no values"))
        }
    }

    /// `(x − shift) / scale` elementwise, as `type` (default: f64 for f64
    /// input, else f32). Per-feature statistics require `x.rowSize` to equal
    /// the number of features they were fitted on.
    public func apply(_ x: NDArray, as type: ElementType? = nil) throws -> NDArray {
        let outType = type ?? (x.elementType == .f64 ? .f64 : .f32)
        guard outType.isFloatingPoint else {
            throw DataError(file: x.description, .unsupported("normalized values must be f32 or f64, not \(outType)"))
        }
        let width = shift.count
        if perFeature {
            guard x.rank >= 1, x.rowSize == width else {
                throw DataError(file: x.description, .shapeMismatch(
                    what: "features per sample (normalization fitted on \(width))",
                    expected: [width], found: [x.rank >= 1 ? x.rowSize : 0]))
            }
        }
        // The values as Doubles, the results, and the converted array.
        try MemoryBudget.require(x.count * (16 + outType.byteSize), for: "normalizing \(x)", file: x.description)
        let values = x.toDoubles()
        var out = [Double](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let f = perFeature ? i % width : 0
            out[i] = (v - shift[f]) / scale[f]
        }
        return try NDArray(out, shape: x.shape).converted(to: outType)
    }

    /// The dataset with its features normalized (labels unchanged).
    public func apply(to dataset: Dataset, as type: ElementType? = nil) throws -> Dataset {
        var d = Dataset(unchecked: dataset.name, features: try apply(dataset.features, as: type),
                        labels: dataset.labels, classCount: dataset.classCount)
        d.labelSource = dataset.labelSource
        return d
    }
}
