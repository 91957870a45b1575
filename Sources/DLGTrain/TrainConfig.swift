import DLGCompiler
import DLGData
import DLGSource

/// Where examples come from.
public enum DataSpec: Sendable, Equatable {
    case and, or, xor
    case sine(count: Int)
    case spirals(perClass: Int, noise: Double)
    case shapes(count: Int, noise: Double)
    /// MNIST-family IDX files in a directory; `classes` keeps only those digits, relabelled 0, 1, ….
    case mnist(directory: String, split: String, classes: [Int]?)
    case csv(path: String, label: String?)
    case npy(features: String, labels: String?)
    case npz(path: String, features: String, labels: String?)
    case idx(images: String, labels: String?)
    case cifar10(files: [String])
    /// A text file as windows of `seq` + 1 tokens (characters or bytes), one every `stride` tokens.
    case text(path: String, seq: Int, level: Vocabulary.Level, stride: Int?)
    /// A CSV time series: windows of `window` rows and the `horizon` rows after them.
    case csvSeries(path: String, label: String?, window: Int, horizon: Int)
    /// "a+b=c" with `digits`-digit numbers; `count` problems (nil: all of them).
    case adder(digits: Int, count: Int?)
    /// Random strings followed by a separator and the string again (or reversed).
    case copy(length: Int, symbols: Int, count: Int, reverse: Bool)
    /// Random strings labelled with their first letter (sequence classification).
    case firstSymbol(length: Int, symbols: Int, count: Int)
    /// Sine windows to forecast.
    case sineSequence(count: Int, window: Int, horizon: Int, period: Double, noise: Double)
}

public enum ValidationSpec: Sendable, Equatable {
    case none
    /// The last fraction of the data (Keras's validation_split).
    case fraction(Double)
    /// The last n examples.
    case count(Int)
    case data(DataSpec)
}

/// Learning-rate schedules, as functions of the epoch (0-based).
public enum ScheduleSpec: Sendable, Equatable {
    case constant
    /// α₀ / (1 + k·epoch)
    case timeBased(k: Double)
    /// α₀ / (1 + k·⌊epoch / every⌋)
    case steppedTimeBased(k: Double, every: Int)
    /// α₀ · γ^epoch
    case exponential(gamma: Double)
    /// α₀ · factor^⌊epoch / every⌋
    case step(every: Int, factor: Double)

    public func rate(_ base: Double, epoch: Int) -> Double {
        switch self {
        case .constant: return base
        case .timeBased(let k): return base / (1 + k * Double(epoch))
        case .steppedTimeBased(let k, let every): return base / (1 + k * Double(epoch / every))
        case .exponential(let g): return base * pow(g, epoch)
        case .step(let every, let f): return base * pow(f, epoch / every)
        }
    }

    private func pow(_ x: Double, _ n: Int) -> Double {
        var r = 1.0
        for _ in 0..<max(0, n) { r *= x }
        return r
    }
}

public enum NormalizeSpec: String, Sendable, Equatable { case none, unit, standardize }

/// Everything a training run needs besides the model: the `train` block's
/// settings, overridden by command-line flags.
public struct TrainConfig: Sendable {
    public var data: DataSpec?
    public var validation: ValidationSpec = .none
    public var optimizer = OptimizerSpec(kind: .sgd, lr: 0.01)
    /// 0 means the whole dataset in one batch (full-batch gradient descent).
    public var batch = 32
    public var epochs = 10
    public var seed: UInt64 = 0
    public var schedule: ScheduleSpec = .constant
    /// Stop when `metric` has not improved for this many epochs.
    public var patience: Int?
    public var metric = "val_loss"
    public var shuffle = true
    public var normalize: NormalizeSpec = .none
    public var threads: Int?
    /// Model inputs fed with the features and the labels (default: the first two inputs in order).
    public var inputs: [String]?
    public var checkpoint: String?
    /// Held-out test data, evaluated once after training (same forms as `validation`).
    public var test: ValidationSpec = .none
    /// Early stopping: a change of `metric` smaller than this is not an improvement (Keras's min_delta).
    public var minDelta = 0.0
    /// Parameters kept fixed: glob patterns over their hierarchical names (`c1.*`).
    public var freeze: [String] = []
    /// Transforms applied to each training batch (empty: none).
    public var augment: [AugmentSpec] = []
    /// Data-parallel runs: batchnorm's training statistics over the whole global batch (summed
    /// over the replicas) rather than each replica's own shard (Docs/distributed.md).
    public var syncBatchnorm = false
    /// Load NaN and infinity in the data instead of refusing them (`allow_nonfinite = true`).
    public var allowNonFinite = false

    public init() {}

    /// Reads a `train` block. Unknown or ill-formed settings are errors at their place in the file.
    public static func from(_ block: TrainBlock?, diagnostics: inout Diagnostics) -> TrainConfig {
        var c = TrainConfig()
        guard let block else { return c }
        for s in block.settings {
            switch s.value {
            case .failure(let d): diagnostics.append(d.diagnostic)
            case .success(let v):
                if let problem = c.apply(key: s.key, v) {
                    diagnostics.report(TrainSettingDiagnostic.inSetting(key: s.key, problem), at: badItem(s, v) ?? s.valueRange)
                }
            }
        }
        return c
    }

    /// In a list of transforms, the first one that cannot be read: the place to point at.
    static func badItem(_ s: TrainBlock.Entry, _ v: Setting) -> SourceRange? {
        guard s.key == "augment", case .list(let items) = v, items.count == s.itemRanges.count else { return nil }
        return zip(items, s.itemRanges).first { item, _ in
            if case .failure = AugmentSpec.parse(item) { return true }
            return false
        }?.1
    }

    /// Applies one setting; returns what is wrong with it, or nil.
    public mutating func apply(key: String, _ v: Setting) -> TrainSettingDiagnostic? {
        switch key {
        case "data":
            switch DataSpec.parse(v) {
            case .success(let d): data = d
            case .failure(let e): return e
            }
        case "validation", "test":
            let spec: ValidationSpec
            switch v {
            case .float(let f) where f > 0 && f < 1: spec = .fraction(f)
            case .int(let n) where n > 0: spec = .count(n)
            case .int(0), .word("none"), .bool(false): spec = .none
            default:
                switch DataSpec.parse(v) {
                case .success(let d): spec = .data(d)
                case .failure:
                    return .expected(.validation, got: v.description)
                }
            }
            if key == "test" { test = spec } else { validation = spec }
        case "optimizer":
            switch OptimizerSpec.parse(v, keeping: optimizer) {
            case .success(let o): optimizer = o
            case .failure(let e): return e
            }
        case "batch":
            if case .word("full") = v { batch = 0; return nil }
            guard let n = v.integer, n >= 0 else { return .expected(.batch, got: v.description) }
            batch = n
        case "epochs":
            guard let n = v.integer, n >= 1 else { return .expected(.epochs, got: v.description) }
            epochs = n
        case "seed":
            guard let n = v.integer, n >= 0 else { return .expected(.seed, got: v.description) }
            // conversion: n ≥ 0 checked above
            seed = UInt64(n)
        case "schedule":
            switch ScheduleSpec.parse(v) {
            case .success(let s): schedule = s
            case .failure(let e): return e
            }
        case "l1", "l2", "weight_decay", "clip_value", "clip_norm":
            guard let x = v.number, x >= 0 else { return .expected(.nonNegativeNumber, got: v.description) }
            switch key {
            case "l1": optimizer.l1 = x
            case "l2": optimizer.l2 = x
            case "weight_decay": optimizer.weightDecay = x
            case "clip_value": optimizer.clipValue = x > 0 ? x : nil
            default: optimizer.clipNorm = x > 0 ? x : nil
            }
        case "patience", "early_stopping":
            if case .bool(false) = v { patience = nil; return nil }
            guard let n = v.integer, n >= 1 else { return .expected(.patience, got: v.description) }
            patience = n
        case "metric":
            guard let m = v.text, ["loss", "accuracy", "val_loss", "val_accuracy"].contains(m) else {
                return .expected(.metric, got: v.description)
            }
            metric = m
        case "shuffle":
            guard case .bool(let b) = v else { return .expected(.bool, got: v.description) }
            shuffle = b
        case "sync_batchnorm":
            guard case .bool(let b) = v else { return .expected(.bool, got: v.description) }
            syncBatchnorm = b
        case "normalize":
            guard let w = v.text, let n = NormalizeSpec(rawValue: w) else { return .expected(.normalize, got: v.description) }
            normalize = n
        case "threads":
            guard let n = v.integer, n >= 1 else { return .expected(.threads, got: v.description) }
            threads = n
        case "inputs":
            guard case .list(let items) = v, !items.isEmpty, items.allSatisfy({ $0.text != nil }) else {
                return .expectedInputList
            }
            inputs = items.compactMap(\.text)
        case "checkpoint":
            guard let p = v.text else { return .expected(.path, got: v.description) }
            checkpoint = p
        case "allow_nonfinite":
            guard case .bool(let b) = v else { return .expected(.bool, got: v.description) }
            allowNonFinite = b
        case "min_delta":
            guard let x = v.number, x >= 0 else { return .expected(.nonNegativeNumber, got: v.description) }
            minDelta = x
        case "freeze":
            switch FreezePatterns.parse(v) {
            case .success(let p): freeze = p
            case .failure(let e): return e
            }
        case "augment":
            switch AugmentSpec.parseList(v) {
            case .success(let a): augment = a
            case .failure(let e): return e
            }
        case "loss_every":
            return nil
        default:
            return .unknownSetting(name: key, suggestion: nil, known: Frontend.trainSettings.sorted())
        }
        return nil
    }
}

extension DataSpec {
    public static let names = ["and", "or", "xor", "sine", "spirals", "shapes", "mnist", "csv", "npy", "npz", "idx", "cifar10",
                               "text", "adder", "copy", "reverse", "sine_sequence", "first_symbol"]

    /// The arguments each sequence source takes (others are refused by name).
    static let sequenceArguments: [String: [String]] = [
        "text": ["path", "seq", "level", "stride"],
        "adder": ["digits", "n"],
        "copy": ["length", "symbols", "n"],
        "reverse": ["length", "symbols", "n"],
        "sine_sequence": ["n", "window", "horizon", "period", "noise"],
        "first_symbol": ["length", "symbols", "n"],
    ]

    public static func parse(_ v: Setting) -> Result<DataSpec, TrainSettingDiagnostic> {
        guard let c = SettingCall(v) else {
            return .failure(.expected(.dataSource, got: v.description))
        }
        func str(_ k: String, _ p: Int?) -> String? { c.arg(k, p)?.text }
        func int(_ k: String, _ p: Int?, _ d: Int) -> Int? { c.arg(k, p).map { $0.integer } ?? d }
        switch c.name {
        case "and": return .success(.and)
        case "or": return .success(.or)
        case "xor": return .success(.xor)
        case "sine":
            guard let n = int("n", 0, 200), n > 0 else { return .failure(.badDataSource(.count(source: "sine"))) }
            return .success(.sine(count: n))
        case "spirals":
            guard let n = int("n", 0, 200), n > 0 else { return .failure(.badDataSource(.countPerClass(source: "spirals"))) }
            return .success(.spirals(perClass: n, noise: c.arg("noise")?.number ?? 0.05))
        case "shapes":
            guard let n = int("n", 0, 2000), n > 0 else { return .failure(.badDataSource(.count(source: "shapes"))) }
            return .success(.shapes(count: n, noise: c.arg("noise")?.number ?? 0.05))
        case "mnist":
            let split = str("split", nil) ?? "test"
            guard split == "test" || split == "train" else { return .failure(.badDataSource(.mnistSplit)) }
            var classes: [Int]? = nil
            if case .list(let items)? = c.arg("classes") {
                classes = items.compactMap(\.integer)
                guard classes!.count == items.count, classes!.allSatisfy({ (0...9).contains($0) }) else {
                    return .failure(.badDataSource(.mnistClasses))
                }
            }
            return .success(.mnist(directory: str("dir", 0) ?? "", split: split, classes: classes))
        case "csv":
            guard let p = str("path", 0) else { return .failure(.badDataSource(.csvPath)) }
            if c.arg("window") != nil || c.arg("horizon") != nil {
                guard let w = c.arg("window")?.integer, w >= 1, w <= 1_000_000 else {
                    return .failure(.badDataSource(.sequenceArgument(source: "csv", argument: "window",
                                                                     requirement: "needs a number of rows in 1…1000000 (with horizon: H)")))
                }
                guard let h = int("horizon", nil, 1), h >= 1, h <= 1_000_000 else {
                    return .failure(.badDataSource(.sequenceArgument(source: "csv", argument: "horizon",
                                                                     requirement: "needs a number of rows in 1…1000000")))
                }
                return .success(.csvSeries(path: p, label: str("label", 1), window: w, horizon: h))
            }
            return .success(.csv(path: p, label: str("label", 1)))
        case "text", "adder", "copy", "reverse", "sine_sequence", "first_symbol":
            return parseSequence(c)
        case "npy":
            guard let p = str("features", 0) else { return .failure(.badDataSource(.npyFeatures)) }
            return .success(.npy(features: p, labels: str("labels", 1)))
        case "npz":
            guard let p = str("path", 0) else { return .failure(.badDataSource(.npzFile)) }
            return .success(.npz(path: p, features: str("features", 1) ?? "x", labels: str("labels", 2)))
        case "idx":
            guard let p = str("images", 0) else { return .failure(.badDataSource(.idxImages)) }
            return .success(.idx(images: p, labels: str("labels", 1)))
        case "cifar10":
            var files: [String] = []
            for a in c.positional {
                if case .list(let l) = a { files += l.compactMap(\.text) } else if let s = a.text { files.append(s) }
            }
            guard !files.isEmpty else { return .failure(.badDataSource(.cifarFiles)) }
            return .success(.cifar10(files: files))
        default:
            return .failure(.unknownDataSource(name: c.name, known: names))
        }
    }
}

extension DataSpec {
    /// `text`, `adder`, `copy`, `reverse` and `sine_sequence`: every argument checked, unknown ones refused.
    static func parseSequence(_ c: SettingCall) -> Result<DataSpec, TrainSettingDiagnostic> {
        let known = sequenceArguments[c.name] ?? []
        if let bad = c.unknownNames(known).first {
            return .failure(.badDataSource(.unknownSourceArgument(source: c.name, argument: bad, known: known)))
        }
        func bad(_ argument: String, _ requirement: String) -> Result<DataSpec, TrainSettingDiagnostic> {
            .failure(.badDataSource(.sequenceArgument(source: c.name, argument: argument, requirement: requirement)))
        }
        /// An integer argument in `range` (its default when absent); nil when given but not such an integer.
        func int(_ key: String, _ position: Int?, _ fallback: Int?, _ range: ClosedRange<Int>) -> Int?? {
            guard let v = c.arg(key, position) else { return .some(fallback) }
            guard let n = v.integer, range.contains(n) else { return nil }
            return .some(n)
        }
        switch c.name {
        case "text":
            guard let p = c.arg("path", 0)?.text else {
                return bad("path", "needs a file: text(\"corpus.txt\", seq: 64)")
            }
            guard let seqArg = int("seq", nil, nil, 1...1_000_000), let seq = seqArg else {
                return bad("seq", "needs the window length T, an integer in 1…1000000: text(\"corpus.txt\", seq: 64)")
            }
            var level = Vocabulary.Level.char
            if let v = c.arg("level") {
                guard let w = v.text, let l = Vocabulary.Level(rawValue: w) else { return bad("level", "is char or byte") }
                level = l
            }
            guard let stride = int("stride", nil, nil, 1...1_000_000) else { return bad("stride", "is an integer in 1…1000000") }
            return .success(.text(path: p, seq: seq, level: level, stride: stride))
        case "adder":
            guard let d = int("digits", 0, 2, 1...3) else { return bad("digits", "is 1, 2 or 3") }
            guard let n = int("n", nil, nil, 1...1_000_000) else { return bad("n", "is a count of problems in 1…10^(2·digits)") }
            return .success(.adder(digits: d!, count: n))
        case "copy", "reverse":
            guard let l = int("length", 0, 8, 1...4096) else { return bad("length", "is an integer in 1…4096") }
            guard let s = int("symbols", nil, 10, 1...26) else { return bad("symbols", "is an integer in 1…26") }
            guard let n = int("n", nil, 1000, 1...10_000_000) else { return bad("n", "is a count in 1…10000000") }
            return .success(.copy(length: l!, symbols: s!, count: n!, reverse: c.name == "reverse"))
        case "first_symbol":
            guard let l = int("length", 0, 32, 1...4096) else { return bad("length", "is an integer in 1…4096") }
            guard let s = int("symbols", nil, 8, 2...26) else { return bad("symbols", "is an integer in 2…26") }
            guard let n = int("n", nil, 1000, 1...10_000_000) else { return bad("n", "is a count in 1…10000000") }
            return .success(.firstSymbol(length: l!, symbols: s!, count: n!))
        default:
            guard let n = int("n", 0, 1000, 1...10_000_000) else { return bad("n", "is a count in 1…10000000") }
            guard let w = int("window", nil, 20, 1...100_000) else { return bad("window", "is an integer in 1…100000") }
            guard let h = int("horizon", nil, 1, 1...100_000) else { return bad("horizon", "is an integer in 1…100000") }
            let period = c.arg("period").map { $0.number } ?? 25
            guard let period, period.isFinite, period > 0 else { return bad("period", "is a positive number of steps") }
            let noise = c.arg("noise").map { $0.number } ?? 0
            guard let noise, noise.isFinite, noise >= 0 else { return bad("noise", "is a standard deviation ≥ 0") }
            return .success(.sineSequence(count: n!, window: w!, horizon: h!, period: period, noise: noise))
        }
    }
}

extension ScheduleSpec {
    public static func parse(_ v: Setting) -> Result<ScheduleSpec, TrainSettingDiagnostic> {
        guard let c = SettingCall(v) else { return .failure(.expected(.schedule, got: v.description)) }
        let k = c.arg("k", 0)?.number
        switch c.name {
        case "constant", "none": return .success(.constant)
        case "time_based":
            guard let k, k >= 0 else { return .failure(.badSchedule(name: "time_based", usage: "k ≥ 0: time_based(k: 0.01)")) }
            return .success(.timeBased(k: k))
        case "stepped_time_based":
            guard let k, k >= 0, let e = c.arg("every", 1)?.integer, e >= 1 else {
                return .failure(.badSchedule(name: "stepped_time_based",
                                                     usage: "k and every: stepped_time_based(k: 0.5, every: 10)"))
            }
            return .success(.steppedTimeBased(k: k, every: e))
        case "exponential":
            guard let g = c.arg("gamma", 0)?.number, g > 0 else { return .failure(.badSchedule(name: "exponential", usage: "gamma > 0: exponential(gamma: 0.95)")) }
            return .success(.exponential(gamma: g))
        case "step":
            guard let e = c.arg("every", 0)?.integer, e >= 1, let f = c.arg("factor", 1)?.number, f > 0 else {
                return .failure(.badSchedule(name: "step", usage: "every and factor: step(every: 10, factor: 0.5)"))
            }
            return .success(.step(every: e, factor: f))
        default:
            return .failure(.unknownSchedule(name: c.name, known: ["constant", "time_based", "stepped_time_based", "exponential", "step"]))
        }
    }
}

extension OptimizerSpec {
    /// `sgd(lr: 0.1)`, `sgd(lr: 0.1, momentum: 0.9, form: pytorch)`, `adam(lr: 1e-3, beta1: 0.9)`, …
    /// A bare number changes only the learning rate of `base`.
    public static func parse(_ v: Setting, keeping base: OptimizerSpec) -> Result<OptimizerSpec, TrainSettingDiagnostic> {
        if let lr = v.number {
            var o = base
            o.lr = lr
            return .success(o)
        }
        guard let c = SettingCall(v) else { return .failure(.expected(.optimizer, got: v.description)) }
        let kinds = OptimizerSpec.Kind.allCases.map(\.rawValue)
        guard var kind = OptimizerSpec.Kind(rawValue: c.name) else {
            return .failure(.unknownOptimizer(name: c.name, known: kinds))
        }
        let allowed = ["lr", "momentum", "form", "nesterov", "beta1", "beta2", "rho", "eps"]
        if let bad = c.unknownNames(allowed).first {
            return .failure(.unknownOptimizerArgument(optimizer: c.name, argument: bad, known: allowed))
        }
        let defaultLR: Double = [.adam: 0.001, .rmsprop: 0.001, .adadelta: 1.0, .adagrad: 0.01][kind] ?? 0.01
        guard let lr = c.arg("lr", 0)?.number ?? Optional(defaultLR), lr > 0 else {
            return .failure(.badOptimizerArgument(.learningRate))
        }
        if kind == .sgd, let m = c.arg("momentum")?.number, m > 0 {
            kind = c.arg("nesterov") == .bool(true) ? .nesterov : .momentum
        }
        var o = OptimizerSpec(kind: kind, lr: lr)
        o.l1 = base.l1
        o.l2 = base.l2
        o.weightDecay = base.weightDecay
        o.clipValue = base.clipValue
        o.clipNorm = base.clipNorm
        if let m = c.arg("momentum")?.number {
            guard m >= 0, m < 1 else { return .failure(.badOptimizerArgument(.momentum)) }
            o.momentum = m
        }
        if let f = c.arg("form")?.text {
            guard let form = OptimizerSpec.MomentumForm(rawValue: f) else {
                return .failure(.badOptimizerArgument(.form))
            }
            o.momentumForm = form
        }
        for (key, range) in [("beta1", 0.0..<1.0), ("beta2", 0.0..<1.0), ("rho", 0.0..<1.0)] {
            if let x = c.arg(key)?.number {
                guard range.contains(x) else { return .failure(.badOptimizerArgument(.unitInterval(argument: key))) }
                switch key {
                case "beta1": o.beta1 = x
                case "beta2": o.beta2 = x
                default: o.rho = x
                }
            }
        }
        if let e = c.arg("eps")?.number {
            guard e > 0 else { return .failure(.badOptimizerArgument(.eps)) }
            o.eps = e
        }
        return .success(o)
    }
}
