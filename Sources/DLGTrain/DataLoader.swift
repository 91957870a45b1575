import DLGData
import Foundation

/// Turns a data specification into a dataset. Relative paths are resolved
/// against the directory of the .dlg file that names them.
public enum DataLoader {
    /// Loads a data source. Unless `allowNonFinite`, NaN and infinity in the
    /// features or float labels of a file are an error naming the file, the
    /// element and the value.
    /// Text is encoded with `vocabulary` when given (a checkpoint's, or the training part's
    /// for held-out text), else with a vocabulary made from the text itself.
    public static func load(_ spec: DataSpec, relativeTo base: String, seed: UInt64, allowNonFinite: Bool = false,
                            vocabulary: Vocabulary? = nil) throws -> Dataset {
        let d = try loadUnchecked(spec, relativeTo: base, seed: seed, allowNonFinite: allowNonFinite, vocabulary: vocabulary)
        if !allowNonFinite { try d.checkFinite() }
        return d
    }

    /// Features and labels from two sources: the counts must agree, and the
    /// error names the labels' file.
    static func pair(_ name: String, _ x: NDArray, labels: NDArray?, labelsFile: String?, classCount: Int? = nil) throws -> Dataset {
        if let y = labels, let lf = labelsFile {
            guard y.rank >= 1, x.rank >= 1, y.shape[0] == x.shape[0] else {
                throw DataError(file: lf, .invalid(
                    "holds \(y.rank >= 1 ? y.shape[0] : 0) labels (\(y)) but \(name) holds \(x.rank >= 1 ? x.shape[0] : 0) examples (\(x))"))
            }
        }
        do {
            var d = try Dataset(name: name, features: x, labels: labels, classCount: classCount)
            d.labelSource = labelsFile
            return d
        } catch let e as DataError {
            throw DataError(file: name, e.kind)
        }
    }

    /// An array converted to i32 labels; a value that is not an integer in
    /// range is an error naming the file.
    static func integerLabels(_ a: NDArray, file: String) throws -> NDArray {
        do { return try a.converted(to: .i32) } catch let e as DataError {
            throw DataError(file: file, e.kind)
        }
    }

    static func loadUnchecked(_ spec: DataSpec, relativeTo base: String, seed: UInt64, allowNonFinite: Bool,
                              vocabulary: Vocabulary?) throws -> Dataset {
        func path(_ p: String) -> String {
            if p.hasPrefix("/") || base.isEmpty { return p }
            return (base as NSString).appendingPathComponent(p)
        }
        switch spec {
        case .and: return Synthetic.and()
        case .or: return Synthetic.or()
        case .xor: return Synthetic.xor()
        case .sine(let n): return try Synthetic.sine(count: n, seed: seed)
        case .spirals(let n, let noise): return try Synthetic.spirals(perClass: n, noise: noise, seed: seed)
        case .shapes(let n, let noise): return try Synthetic.shapes(count: n, seed: seed, noise: noise)
        case .mnist(let dir, let split, let classes):
            var directory = dir
            if directory.isEmpty {
                guard let env = ProcessInfo.processInfo.environment["DLG_MNIST_DIR"], !env.isEmpty else {
                    throw DataError(file: "mnist()", .invalid("no directory given; write mnist(\"path/to/mnist\") or set DLG_MNIST_DIR"))
                }
                directory = env
            } else {
                directory = path(dir)
            }
            var d = try MNIST.load(directory: directory, split: split == "train" ? .train : .test)
            if let classes { d = try d.filter(classes: classes, relabel: true) }
            return d
        case .csv(let p, let label):
            // Labels are class indices when every one is an integer, regression targets otherwise.
            let d = try CSV.read(path(p), label: label, labelType: .f32, allowNonFinite: allowNonFinite)
            guard let y = d.labels, y.toDoubles().allSatisfy({ $0 == $0.rounded() && abs($0) < 2e9 }) else { return d }
            return try Dataset(name: d.name, features: d.features, labels: try y.converted(to: .i32).reshaped([d.count]))
        case .npy(let f, let l):
            let x = try NPY.read(path(f))
            let y = try l.map { try NPY.read(path($0)) }
            return try pair(path(f), x, labels: y, labelsFile: l.map(path))
        case .npz(let p, let f, let l):
            let arrays = try NPZ.read(path(p))
            func named(_ n: String) throws -> NDArray {
                guard let a = arrays.first(where: { $0.name == n }) else {
                    throw DataError(file: path(p), .invalid("no array named '\(n)'; it has " + arrays.map(\.name).joined(separator: ", ")))
                }
                return a.array
            }
            let x = try named(f)
            let y = try l.map(named)
            return try pair("\(path(p)) (array '\(f)')", x, labels: y, labelsFile: l.map { "\(path(p)) (array '\($0)')" })
        case .idx(let images, let labels):
            var x = try IDX.read(path(images))
            if !allowNonFinite, let k = x.firstNonFinite() {
                throw DataError(file: path(images), .invalid(
                    "feature element \(x.indexText(k)) is \(x.doubleValue(at: k)); data must be finite (set allow_nonfinite = true to load NaN and infinity)"))
            }
            if x.elementType == .u8 { x = try Normalization.unitRange(fittedOn: x).apply(x, as: .f32) }
            let y = try labels.map { try integerLabels(try IDX.read(path($0)), file: path($0)) }
            return try pair(path(images), x, labels: y, labelsFile: labels.map(path))
        case .cifar10(let files): return try CIFAR10.load(files: files.map(path))
        case .text(let p, let seq, let level, let stride):
            return try TextCorpus.read(path(p), seq: seq, level: level, stride: stride, vocabulary: vocabulary)
        case .csvSeries(let p, let label, let window, let horizon):
            return try TimeSeries.readCSV(path(p), label: label, window: window, horizon: horizon, allowNonFinite: allowNonFinite)
        case .adder(let digits, let count): return try Synthetic.adder(digits: digits, count: count, seed: seed)
        case .copy(let length, let symbols, let count, let reverse):
            return try Synthetic.copy(length: length, symbols: symbols, count: count, reverse: reverse, seed: seed)
        case .firstSymbol(let length, let symbols, let count):
            return try Synthetic.firstSymbol(length: length, symbols: symbols, count: count, seed: seed)
        case .sineSequence(let count, let window, let horizon, let period, let noise):
            return try Synthetic.sineSequence(count: count, window: window, horizon: horizon, period: period, noise: noise, seed: seed)
        }
    }
}
