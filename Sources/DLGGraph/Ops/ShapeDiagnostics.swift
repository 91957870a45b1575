import DLGSource

/// The messages shape rules and gradient rules give: the shape phase's
/// diagnostic catalog (swift-syntax's `ParserDiagnosticMessages` is the
/// model), one case per message whose payload holds the numbers it shows.
/// The ID (`Kind`) names the class of problem (`matmul-mismatch`,
/// `window-output`, …) and never changes once released; the text may be
/// reworded. A shape error (`ShapeError`) puts the op in front of the text.
public enum ShapeMessage: DiagnosticCatalog, Hashable {
    // MARK: Operands
    /// `expected` is "a floating-point tensor", "floating-point matrices", …
    case notFloat(TensorType, expected: String)
    case dtypeMismatch([TensorType])
    case unknownRank(role: String, type: TensorType, op: String)
    case wrongRank(role: String, rank: Int, type: TensorType)
    case symbolicSize(what: String, symbol: String)
    case axisOutOfRange(axis: Int, rank: Int)
    case wrongArity(op: Op, arity: Arity, count: Int)
    case wrongAttributes(op: Op, expected: Attributes.Kind, got: Attributes.Kind)
    case missingAttribute(String)
    // MARK: Elementwise
    case broadcastMismatch(TensorType, TensorType, reason: String)
    case biasMismatch(entries: Dim, axis: Int, type: TensorType, size: Dim)
    case notUnaryFunction(Op)
    case gradientOperands([TensorType])
    // MARK: Reductions and layout
    case reductionUnknownRank(TensorType)
    case gradientShape(expected: TensorType, got: TensorType, of: String)
    case reshapeCount(TensorType, to: Shape)
    case notPermutation([Int], type: TensorType)
    case broadcastTo(TensorType, to: Shape)
    case concatRanks(TensorType, TensorType)
    case concatAxis(operand: Int, type: TensorType, first: TensorType, axis: Int, concatAxis: Int)
    case sliceEntries(rank: Int)
    case sliceRange(start: Int, end: Int, axis: Int, size: Int)
    case padEntries(count: Int, type: TensorType)
    case negativePadding(Int, Int, axis: Int)
    case reflectPadding(Int, axis: Int, size: Int)
    case labelsNotInteger(TensorType, role: String)
    case classesNotPositive(Int)
    case paramShape(TensorType)
    // MARK: Matrix products
    case notMatrix(side: String, TensorType)
    case matmulMismatch(TensorType, TensorType, inner: Dim, rows: Dim)
    case matmulBatch(TensorType, TensorType)
    // MARK: Convolution and pooling
    case filterDType(TensorType, TensorType)
    case nchwUnknownRank(TensorType, op: String)
    case nchwRank(TensorType)
    case filterRank(TensorType)
    case windowEntries(String)
    case groupsNotPositive(Int)
    case channelsNotDivisible(channels: Int, groups: Int)
    case filtersNotDivisible(filters: Int, groups: Int)
    case channelMismatch(channels: Int, expected: Int, filter: TensorType, groups: Int)
    case windowParameter(name: String, value: Int)
    case negativeWindowPadding(Int, Int)
    /// The output size of a window is not positive or, with exact rounding, not whole.
    case windowOutput(axis: String, numbers: String, formula: String, value: String, fractional: Bool)
    case poolPadding(pad: [Int], kernel: [Int])
    // MARK: Losses and dropout
    case batchMismatch(logits: TensorType, labels: TensorType)
    /// Labels of logits with several leading axes must have exactly those axes.
    case labelsShape(labels: TensorType, logits: TensorType)
    case targetsDType(TensorType, logits: TensorType)
    case targetsShape(TensorType, logits: TensorType)
    case dropoutRate(Double)
    // MARK: Recurrences
    /// An operand of `lstm_scan`/`lstm_scan_grad` without the shape the others imply.
    case scanOperand(role: String, expected: String, got: TensorType)
    /// `lstm_scan` with h0 but no c0 (or c0 but no h0).
    case scanStates(count: Int, op: Op)
    // MARK: Fused regions and gradients
    case emptyRegion
    case regionInput(step: Int, input: Int, count: Int)
    case regionOrder(step: Int, reads: Int)
    case unbroadcastUnknownRank(TensorType, TensorType)

    /// The stable IDs, one per message.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case notFloat = "not-float"
        case dtypeMismatch = "dtype-mismatch"
        case unknownRank = "unknown-rank"
        case wrongRank = "wrong-rank"
        case symbolicSize = "symbolic-size"
        case axisOutOfRange = "axis-out-of-range"
        case wrongArity = "wrong-arity"
        case wrongAttributes = "wrong-attributes"
        case missingAttribute = "missing-attribute"
        case broadcastMismatch = "broadcast-mismatch"
        case biasMismatch = "bias-mismatch"
        case notUnaryFunction = "not-unary-function"
        case gradientOperands = "gradient-operands"
        case reductionUnknownRank = "reduction-unknown-rank"
        case gradientShape = "gradient-shape"
        case reshapeCount = "reshape-count"
        case notPermutation = "not-permutation"
        case broadcastTo = "broadcast-to-mismatch"
        case concatRanks = "concat-ranks"
        case concatAxis = "concat-axis"
        case sliceEntries = "slice-entries"
        case sliceRange = "slice-range"
        case padEntries = "pad-entries"
        case negativePadding = "negative-padding"
        case reflectPadding = "reflect-padding"
        case labelsNotInteger = "labels-not-integer"
        case classesNotPositive = "classes-not-positive"
        case paramShape = "param-shape"
        case notMatrix = "not-matrix"
        case matmulMismatch = "matmul-mismatch"
        case matmulBatch = "matmul-batch-mismatch"
        case filterDType = "filter-dtype"
        case nchwUnknownRank = "nchw-unknown-rank"
        case nchwRank = "nchw-rank"
        case filterRank = "filter-rank"
        case windowEntries = "window-entries"
        case groupsNotPositive = "groups-not-positive"
        case channelsNotDivisible = "conv-groups-mismatch"
        case filtersNotDivisible = "filters-not-divisible"
        case channelMismatch = "conv-channel-mismatch"
        case windowParameter = "window-parameter"
        case negativeWindowPadding = "negative-window-padding"
        case windowOutput = "window-output"
        case poolPadding = "pool-padding"
        case batchMismatch = "batch-mismatch"
        case labelsShape = "labels-shape"
        case targetsDType = "targets-dtype"
        case targetsShape = "targets-shape"
        case dropoutRate = "dropout-rate"
        case scanOperand = "scan-operand"
        case scanStates = "scan-states"
        case emptyRegion = "empty-region"
        case regionInput = "region-input"
        case regionOrder = "region-order"
        case unbroadcastUnknownRank = "unbroadcast-unknown-rank"
    }

    public static let phase = "shapes"

    public var kind: Kind {
        switch self {
        case .notFloat: .notFloat
        case .dtypeMismatch: .dtypeMismatch
        case .unknownRank: .unknownRank
        case .wrongRank: .wrongRank
        case .symbolicSize: .symbolicSize
        case .axisOutOfRange: .axisOutOfRange
        case .wrongArity: .wrongArity
        case .wrongAttributes: .wrongAttributes
        case .missingAttribute: .missingAttribute
        case .broadcastMismatch: .broadcastMismatch
        case .biasMismatch: .biasMismatch
        case .notUnaryFunction: .notUnaryFunction
        case .gradientOperands: .gradientOperands
        case .reductionUnknownRank: .reductionUnknownRank
        case .gradientShape: .gradientShape
        case .reshapeCount: .reshapeCount
        case .notPermutation: .notPermutation
        case .broadcastTo: .broadcastTo
        case .concatRanks: .concatRanks
        case .concatAxis: .concatAxis
        case .sliceEntries: .sliceEntries
        case .sliceRange: .sliceRange
        case .padEntries: .padEntries
        case .negativePadding: .negativePadding
        case .reflectPadding: .reflectPadding
        case .labelsNotInteger: .labelsNotInteger
        case .classesNotPositive: .classesNotPositive
        case .paramShape: .paramShape
        case .notMatrix: .notMatrix
        case .matmulMismatch: .matmulMismatch
        case .matmulBatch: .matmulBatch
        case .filterDType: .filterDType
        case .nchwUnknownRank: .nchwUnknownRank
        case .nchwRank: .nchwRank
        case .filterRank: .filterRank
        case .windowEntries: .windowEntries
        case .groupsNotPositive: .groupsNotPositive
        case .channelsNotDivisible: .channelsNotDivisible
        case .filtersNotDivisible: .filtersNotDivisible
        case .channelMismatch: .channelMismatch
        case .windowParameter: .windowParameter
        case .negativeWindowPadding: .negativeWindowPadding
        case .windowOutput: .windowOutput
        case .poolPadding: .poolPadding
        case .batchMismatch: .batchMismatch
        case .labelsShape: .labelsShape
        case .targetsDType: .targetsDType
        case .targetsShape: .targetsShape
        case .dropoutRate: .dropoutRate
        case .scanOperand: .scanOperand
        case .scanStates: .scanStates
        case .emptyRegion: .emptyRegion
        case .regionInput: .regionInput
        case .regionOrder: .regionOrder
        case .unbroadcastUnknownRank: .unbroadcastUnknownRank
        }
    }

    /// The message, without the op it concerns.
    public var message: String {
        switch self {
        case .notFloat(let t, let expected): "expects \(expected), got \(t)"
        case .dtypeMismatch(let ts): "operands have different dtypes: " + ts.map(\.description).joined(separator: " and ")
        case .unknownRank(let role, let t, let op): "\(role) has unknown rank (\(t)); \(op) needs a known rank"
        case .wrongRank(let role, let rank, let t): "\(role) must have rank \(rank), got \(t) of rank \(t.rank ?? 0)"
        case .symbolicSize(let what, let s): "\(what) is the symbol \(s); it must be a known size here"
        case .axisOutOfRange(let a, let r): "axis \(a) is out of range for rank \(r)"
        case .wrongArity(let op, let arity, let n): "\(op.rawValue) takes \(arity) operands, got \(n)"
        case .wrongAttributes(let op, let expected, let got):
            "\(op.rawValue) takes attributes of kind \(expected.rawValue), got \(got.rawValue)"
        case .missingAttribute(let name): "needs \(name)"
        case .broadcastMismatch(let a, let b, let why): "cannot broadcast \(a) with \(b): \(why)"
        case .biasMismatch(let n, let ax, let t, let d): "bias has \(n) entries but axis \(ax) of \(t) has \(d)"
        case .notUnaryFunction(let op): "unknown function \(op.rawValue)"
        case .gradientOperands(let ts): "x, y and dy must have one shape, got \(ts.map(\.description).joined(separator: ", "))"
        case .reductionUnknownRank(let t): "input has unknown rank (\(t)); reducing over axes needs a known rank"
        case .gradientShape(let expected, let got, let of): "dy must have the \(of) shape \(expected), got \(got)"
        case .reshapeCount(let t, let to): "cannot reshape \(t) to \(to): element counts differ"
        case .notPermutation(let p, let t): "perm \(p) is not a permutation of the \(t.rank ?? 0) axes of \(t)"
        case .broadcastTo(let t, let to): "cannot broadcast \(t) to \(to)"
        case .concatRanks(let a, let b): "operands have different ranks: \(a) and \(b)"
        case .concatAxis(let i, let t, let first, let k, let ax):
            "operand \(i + 1) (\(t)) differs from \(first) in axis \(k), which is not the concatenation axis \(ax)"
        case .sliceEntries(let r): "needs starts and ends for each of the \(r) axes"
        case .sliceRange(let s, let e, let i, let n):
            "\(s)..<\(e == Int.max ? "end" : String(e)) of axis \(i) (size \(n)) is empty or out of range"
        case .padEntries(let n, let t): "needs two padding amounts per axis (\(n) for \(t))"
        case .negativePadding(let a, let b, let i): "padding must not be negative, got \(a), \(b) on axis \(i)"
        case .reflectPadding(let p, let i, let n): "reflect padding of \(p) needs an axis longer than that; axis \(i) has \(n)"
        case .labelsNotInteger(let t, let role): "\(role) must be integers (i32), got \(t)"
        case .classesNotPositive(let k): "classes must be positive, got \(k)"
        case .paramShape(let t): "a parameter needs a fully known shape, got \(t)"
        case .notMatrix(let side, let t): "\(side) operand must be a matrix (rank ≥ 2), got \(t)"
        case .matmulMismatch(let a, let b, let inner, let rows): "inner dimensions differ: \(a) @ \(b) needs \(inner) = \(rows)"
        case .matmulBatch(let a, let b): "batch dimensions do not broadcast: \(a) @ \(b)"
        case .filterDType(let x, let w): "input and filter have different dtypes: \(x) and \(w)"
        case .nchwUnknownRank(let t, let op): "input has unknown rank (\(t)); \(op) needs an NCHW tensor of rank 4"
        case .nchwRank(let t): "input must be an NCHW tensor of rank 4, got \(t)"
        case .filterRank(let t): "filter must have rank 4 [F, C, kh, kw], got \(t)"
        case .windowEntries(let what): "\(what) need 2 entries and pad 4"
        case .groupsNotPositive(let g): "groups must be at least 1, got \(g)"
        case .channelsNotDivisible(let c, let g): "input channels \(c) are not divisible by groups \(g)"
        case .filtersNotDivisible(let f, let g): "filters \(f) are not divisible by groups \(g)"
        case .channelMismatch(let c, let expected, let filter, let g):
            "input has \(c) \(c == 1 ? "channel" : "channels") but the filter expects \(expected) (filter \(filter)\(g > 1 ? ", groups \(g)" : ""))"
        case .windowParameter(let name, let v): "\(name) must be positive, got \(v)"
        case .negativeWindowPadding(let a, let b): "padding must not be negative, got \(a), \(b)"
        case .windowOutput(let axis, let numbers, let formula, let value, let fractional):
            "output \(axis) is \(fractional ? "fractional" : "not positive"): \(numbers) → \(formula) = \(value)"
        case .poolPadding(let pad, let kernel): "padding \(pad) is more than half the window \(kernel); a window could see only padding"
        case .batchMismatch(let z, let l): "\(z) logits but \(l) labels: batch sizes \(z.dims?.first?.description ?? "?") and \(l.dims?.first?.description ?? "?") differ"
        case .labelsShape(let l, let z): "labels \(l) must have the shape of the logits \(z) without its last (class) axis"
        case .targetsDType(let t, let z): "targets \(t) and logits \(z) have different dtypes"
        case .targetsShape(let t, let z): "targets \(t) must have the shape of the logits \(z)"
        case .dropoutRate(let r): "rate must be in [0, 1), got \(formatNumber(r))"
        case .scanOperand(let role, let expected, let t): "\(role) must be \(expected), got \(t)"
        case .scanStates(let n, let op):
            "\(op.rawValue) takes its initial states h0 and c0 both or neither: \(n) operands, expected \(op == .lstm_scan ? "2 or 4" : "3 or 5")"
        case .emptyRegion: "a fused op needs a non-empty region"
        case .regionInput(let k, let i, let n): "step \(k) reads input \(i) of \(n)"
        case .regionOrder(let k, let j): "step \(k) reads step \(j), which does not come before it"
        case .unbroadcastUnknownRank(let g, let t): "cannot reduce a gradient of \(g) to \(t): unknown rank"
        }
    }

    /// Notes that say what to do.
    public var notes: [DiagnosticNote] { noteTexts.map { DiagnosticNote($0) } }

    var noteTexts: [String] {
        switch self {
        case .dtypeMismatch(let ts):
            ["convert one side with cast(x, dtype: \(ts.first?.dtype.rawValue ?? "f32")) or declare both with the same dtype"]
        case .unknownRank: ["declare the input with a full shape such as f32[B, 1, 28, 28]"]
        case .symbolicSize(_, let s): ["bind it with --bind \(s)=N"]
        case .broadcastMismatch: ["broadcasting aligns shapes from the right; each pair of dimensions must be equal or one of them 1"]
        case .matmulMismatch: ["in a @ b the last dimension of a must equal the first of b"]
        case .nchwRank(let t) where t.rank == 2: ["to convolve a flat vector, reshape it to [N, C, H, W] first"]
        case .windowOutput(_, _, _, _, false):
            ["the input is too small for this window: reduce the kernel or stride, add padding, or remove a downsampling layer before it"]
        case .windowOutput(_, _, _, _, true):
            ["round: exact requires (n + padding − kernel) to be a multiple of the stride; use round: floor or ceil, or change the padding"]
        default: []
        }
    }
}

/// A shape-rule failure: a catalog message about one op. The elaborator and
/// the passes attach the source location.
public struct ShapeError: Error, Sendable, Hashable {
    public var problem: ShapeMessage
    /// How the message names the op (`conv2d 'c3'`, `'@'`, `relu`); nil for none.
    public var what: String?

    public init(_ problem: ShapeMessage, what: String? = nil) {
        self.problem = problem
        self.what = what
    }

    /// The stable ID of the problem (`matmul-mismatch`).
    public var id: String { problem.id }
    public var message: String { what.map { "\($0): \(problem.message)" } ?? problem.message }
    public var notes: [String] { problem.noteTexts }
}

extension ShapeMessage {
    /// One example of every message, with sample types and numbers (Docs/diagnostics.md).
    public static var examples: [ShapeMessage] {
        let x = TensorType(.f32, Shape([.symbol("B"), .known(3)]))
        let y = TensorType(.f32, Shape([.symbol("B"), .known(4)]))
        let image = TensorType(.f32, Shape([.symbol("B"), .known(3), .known(32), .known(32)]))
        let filter = TensorType(.f32, [8, 2, 3, 3])
        let labels = TensorType(.i32, Shape([.symbol("B")]))
        return [
            .notFloat(TensorType(.i32, Shape([.symbol("B")])), expected: "a floating-point tensor"),
            .dtypeMismatch([x, TensorType(.f64, Shape([.symbol("B"), .known(3)]))]),
            .unknownRank(role: "input", type: TensorType(.f32, .unknownRank), op: "flatten"),
            .wrongRank(role: "bias", rank: 1, type: TensorType(.f32, [3, 1])),
            .symbolicSize(what: "the input height", symbol: "H"),
            .axisOutOfRange(axis: 2, rank: 2),
            .wrongArity(op: .matmul, arity: .exactly(2), count: 3),
            .wrongAttributes(op: .conv2d, expected: .conv, got: .pool),
            .missingAttribute("input_shape"),
            .broadcastMismatch(x, y, reason: "dimension 1 is 3 in one operand and 4 in the other"),
            .biasMismatch(entries: .known(4), axis: 1, type: x, size: .known(3)),
            .notUnaryFunction(.matmul),
            .gradientOperands([x, x, y]),
            .reductionUnknownRank(TensorType(.f32, .unknownRank)),
            .gradientShape(expected: x, got: y, of: "reduced"),
            .reshapeCount(x, to: Shape([.symbol("B"), .known(4)])),
            .notPermutation([0, 0], type: x),
            .broadcastTo(y, to: Shape([.symbol("B"), .known(3)])),
            .concatRanks(x, image),
            .concatAxis(operand: 1, type: TensorType(.f32, [2, 3]), first: TensorType(.f32, [4, 4]), axis: 1, concatAxis: 0),
            .sliceEntries(rank: 2),
            .sliceRange(start: 5, end: 3, axis: 1, size: 8),
            .padEntries(count: 4, type: x),
            .negativePadding(-1, 0, axis: 2),
            .reflectPadding(4, axis: 3, size: 3),
            .labelsNotInteger(x, role: "labels"),
            .classesNotPositive(0),
            .paramShape(x),
            .notMatrix(side: "left", TensorType(.f32, [3])),
            .matmulMismatch(x, TensorType(.f32, [4, 5]), inner: .known(3), rows: .known(4)),
            .matmulBatch(TensorType(.f32, [2, 3, 4]), TensorType(.f32, [5, 4, 6])),
            .filterDType(image, TensorType(.f64, [8, 3, 3, 3])),
            .nchwUnknownRank(TensorType(.f32, .unknownRank), op: "conv2d"),
            .nchwRank(x),
            .filterRank(TensorType(.f32, [8, 3, 3])),
            .windowEntries("stride, dilation"),
            .groupsNotPositive(0),
            .channelsNotDivisible(channels: 3, groups: 2),
            .filtersNotDivisible(filters: 9, groups: 2),
            .channelMismatch(channels: 3, expected: 2, filter: filter, groups: 1),
            .windowParameter(name: "stride", value: 0),
            .negativeWindowPadding(-1, 1),
            .windowOutput(axis: "height", numbers: "input height 5, kernel 7, padding 0, stride 1", formula: "(5 + 0 − 7)/1 + 1",
                          value: "-1", fractional: false),
            .windowOutput(axis: "width", numbers: "input width 8, kernel 3, padding 0, stride 2", formula: "(8 + 0 − 3)/2 + 1",
                          value: "3.5", fractional: true),
            .poolPadding(pad: [2, 2, 2, 2], kernel: [2, 2]),
            .batchMismatch(logits: TensorType(.f32, [8, 10]), labels: TensorType(.i32, [6])),
            .labelsShape(labels: TensorType(.i32, [8]), logits: TensorType(.f32, [8, 16, 10])),
            .targetsDType(TensorType(.f64, [8, 10]), logits: TensorType(.f32, [8, 10])),
            .targetsShape(TensorType(.f32, [8, 5]), logits: TensorType(.f32, [8, 10])),
            .dropoutRate(1),
            .scanOperand(role: "w_hh", expected: "[4·H, H] = [64, 16] (H from the gate pre-activations [B, T, 64])",
                         got: TensorType(.f32, [64, 32])),
            .scanStates(count: 3, op: .lstm_scan),
            .emptyRegion,
            .regionInput(step: 1, input: 3, count: 2),
            .regionOrder(step: 1, reads: 2),
            .unbroadcastUnknownRank(TensorType(.f32, .unknownRank), labels),
        ]
    }
}
