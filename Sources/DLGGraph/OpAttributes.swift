/// The typed attributes of an op. Each op's declaration names the kind it
/// takes, with each attribute's type, default and one-line doc
/// (`OpDecl.attributes`); `Graph.add` checks the kind (filling the
/// declaration's defaults when none are given) and the shape rule checks the
/// values, once, when the op is created by the elaborator or a pass. After
/// that everything reads typed values: shape rules, gradient rules, passes
/// and lowering. The text and JSON dumps print `entries`.
///
/// The cases whose values are larger than a word are `indirect` (boxed):
/// nodes are copied far more often than made, and a node's attributes are
/// then one reference to retain.
public enum Attributes: Hashable, Sendable, Codable {
    case none
    /// `input`.
    indirect case source(SourceAttributes)
    indirect case param(ParamAttributes)
    indirect case constant(ConstantAttributes)
    /// The parameter of a unary function that has one (leaky relu's and elu's `alpha`).
    case alpha(Double)
    /// `unary_grad`: the function differentiated.
    indirect case unaryGrad(UnaryFunction)
    /// One axis: `bias_add`, `concat`, the softmaxes.
    case axis(Int)
    /// `axis_size`.
    case axes([Int])
    /// Reductions and their gradients.
    indirect case reduce(ReduceAttributes)
    /// `reshape`, `broadcast_to`: the target shape.
    case shape(Shape)
    case perm([Int])
    indirect case slice(SliceAttributes)
    indirect case pad(PadAttributes)
    indirect case oneHot(OneHotAttributes)
    /// `cast`: the target dtype.
    case dtype(DType)
    case matmul(MatmulAttributes)
    indirect case conv(ConvAttributes)
    indirect case pool(PoolAttributes)
    indirect case dropout(DropoutAttributes)
    /// `allreduce_start`, `allreduce_wait`: which bucket of gradients (a data-parallel step's).
    case bucket(Int)
    indirect case fused(FusedAttributes)
    /// `lstm_scan`, `lstm_scan_grad`: the direction of time.
    case scan(ScanAttributes)

    public init() { self = .none }

    /// The cases, for declarations.
    public enum Kind: String, Sendable, Hashable {
        case none, source, param, constant, alpha, unaryGrad, axis, axes, reduce, shape, perm, slice, pad, oneHot, dtype
        case matmul, conv, pool, dropout, bucket, fused, scan
    }

    public var kind: Kind {
        switch self {
        case .none: .none
        case .source: .source
        case .param: .param
        case .constant: .constant
        case .alpha: .alpha
        case .unaryGrad: .unaryGrad
        case .axis: .axis
        case .axes: .axes
        case .reduce: .reduce
        case .shape: .shape
        case .perm: .perm
        case .slice: .slice
        case .pad: .pad
        case .oneHot: .oneHot
        case .dtype: .dtype
        case .matmul: .matmul
        case .conv: .conv
        case .pool: .pool
        case .dropout: .dropout
        case .bucket: .bucket
        case .fused: .fused
        case .scan: .scan
        }
    }

    public var isEmpty: Bool { self == .none }

    /// name = value pairs, in print order: what the dumps show. Attributes at
    /// a default that says nothing (keepdims false, round floor, no transpose)
    /// are left out.
    public var entries: [(name: String, value: AttrValue)] {
        switch self {
        case .none: return []
        case .source(let a): return [("dtype", .dtype(a.dtype)), ("shape", .shape(a.shape))]
        case .param(let a):
            return [("dtype", .dtype(a.dtype)), ("shape", .shape(a.shape)), ("init", .initializer(a.initializer)),
                    ("trainable", .bool(a.trainable)), ("fan_in", .int(a.fanIn)), ("fan_out", .int(a.fanOut))]
        case .constant(let a): return [("dtype", .dtype(a.dtype)), ("value", .tensor(a.value))]
        case .alpha(let v): return [("alpha", .float(v))]
        case .unaryGrad(let f):
            var e: [(String, AttrValue)] = [("fn", .string(f.op.rawValue))]
            if let p = f.info.parameter { e.append((p.name, .float(f.alpha))) }
            return e
        case .axis(let a): return [("axis", .int(a))]
        case .axes(let a): return [("axes", .ints(a))]
        case .reduce(let a):
            var e: [(String, AttrValue)] = [("axes", .ints(a.axes))]
            if a.keepdims { e.append(("keepdims", .bool(true))) }
            return e
        case .shape(let s): return [("shape", .shape(s))]
        case .perm(let p): return [("perm", .ints(p))]
        case .slice(let a):
            var e: [(String, AttrValue)] = [("starts", .ints(a.starts)), ("ends", .ints(a.ends)), ("steps", .ints(a.steps))]
            if let s = a.inputShape { e.append(("input_shape", .shape(s))) }
            return e
        case .pad(let a):
            var e: [(String, AttrValue)] = [("pads", .ints(a.pads)), ("mode", .string(a.mode.rawValue))]
            if a.mode == .constant { e.append(("value", .float(a.value))) }
            if let s = a.inputShape { e.append(("input_shape", .shape(s))) }
            return e
        case .oneHot(let a): return [("classes", .int(a.classes)), ("dtype", .dtype(a.dtype))]
        case .dtype(let d): return [("dtype", .dtype(d))]
        case .matmul(let a):
            var e: [(String, AttrValue)] = []
            if a.transposeA { e.append(("transpose_a", .bool(true))) }
            if a.transposeB { e.append(("transpose_b", .bool(true))) }
            return e
        case .conv(let a):
            var e: [(String, AttrValue)] = [("stride", .ints(a.stride)), ("pad", .ints(a.pad)), ("dilation", .ints(a.dilation)),
                                            ("groups", .int(a.groups))]
            if a.round != .floor { e.append(("round", .string(a.round.rawValue))) }
            switch a.operand {
            case nil: break
            case .input(let s)?: e.append(("input_shape", .shape(s)))
            case .weight(let s)?: e.append(("weight_shape", .shape(s)))
            }
            return e
        case .pool(let a):
            var e: [(String, AttrValue)] = [("kind", .string(a.kind.rawValue)), ("kernel", .ints(a.kernel)),
                                            ("stride", .ints(a.stride)), ("pad", .ints(a.pad))]
            if a.round != .floor { e.append(("round", .string(a.round.rawValue))) }
            if !a.countIncludePad { e.append(("count_include_pad", .bool(false))) }
            return e
        case .dropout(let a): return [("rate", .float(a.rate)), ("stream", .int(a.stream))]
        case .bucket(let b): return [("bucket", .int(b))]
        case .fused(let a):
            return [("kind", .string(a.kind.rawValue)), ("region", .region(a.region)), ("dtype", .dtype(a.dtype)),
                    ("shape", .shape(a.shape))]
        case .scan(let a): return a.reverse ? [("reverse", .bool(true))] : []
        }
    }

    // MARK: Typed reads
    //
    // `Graph.add` guarantees that a node's attributes have its op's kind, so
    // these reads cannot fail on a graph's nodes; reading the wrong kind is a
    // bug in the reader.

    public var source: SourceAttributes { guard case .source(let a) = self else { mismatch("source") }; return a }
    public var param: ParamAttributes { guard case .param(let a) = self else { mismatch("param") }; return a }
    public var constant: ConstantAttributes { guard case .constant(let a) = self else { mismatch("constant") }; return a }
    /// A unary function's parameter; nil for attributes of another kind.
    public var alpha: Double? { if case .alpha(let v) = self { v } else { nil } }
    public var unaryGrad: UnaryFunction { guard case .unaryGrad(let f) = self else { mismatch("unaryGrad") }; return f }
    public var axis: Int { guard case .axis(let a) = self else { mismatch("axis") }; return a }
    public var axes: [Int] { guard case .axes(let a) = self else { mismatch("axes") }; return a }
    public var reduce: ReduceAttributes { guard case .reduce(let a) = self else { mismatch("reduce") }; return a }
    public var shape: Shape { guard case .shape(let s) = self else { mismatch("shape") }; return s }
    public var perm: [Int] { guard case .perm(let p) = self else { mismatch("perm") }; return p }
    public var slice: SliceAttributes { guard case .slice(let a) = self else { mismatch("slice") }; return a }
    public var pad: PadAttributes { guard case .pad(let a) = self else { mismatch("pad") }; return a }
    public var oneHot: OneHotAttributes { guard case .oneHot(let a) = self else { mismatch("oneHot") }; return a }
    public var dtype: DType { guard case .dtype(let d) = self else { mismatch("dtype") }; return d }
    public var matmul: MatmulAttributes { guard case .matmul(let a) = self else { mismatch("matmul") }; return a }
    public var conv: ConvAttributes { guard case .conv(let a) = self else { mismatch("conv") }; return a }
    public var pool: PoolAttributes { guard case .pool(let a) = self else { mismatch("pool") }; return a }
    public var dropout: DropoutAttributes { guard case .dropout(let a) = self else { mismatch("dropout") }; return a }
    public var bucket: Int { guard case .bucket(let b) = self else { mismatch("bucket") }; return b }
    public var fused: FusedAttributes { guard case .fused(let a) = self else { mismatch("fused") }; return a }
    public var scan: ScanAttributes { guard case .scan(let a) = self else { mismatch("scan") }; return a }
    /// The fused region, when these are a fused op's attributes.
    public var region: FusedRegion? { if case .fused(let a) = self { a.region } else { nil } }

    private func mismatch(_ wanted: String) -> Never {
        preconditionFailure("attributes of kind \(kind.rawValue) read as \(wanted)")
    }
}

/// One attribute of an op's declaration: the op reference shows these.
public struct AttributeSpec: Sendable, Hashable {
    public var name: String
    /// How the value is written: `int`, `[int]`, `shape`, …
    public var type: String
    /// The default as written in the reference; nil when the attribute is required.
    public var defaultValue: String?
    public var doc: String
    public init(_ name: String, _ type: String, default defaultValue: String? = nil, _ doc: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
    }
}

// MARK: The attribute sets

public struct SourceAttributes: Hashable, Sendable, Codable {
    public var dtype: DType
    public var shape: Shape
    public init(dtype: DType, shape: Shape) {
        self.dtype = dtype
        self.shape = shape
    }
}

public struct ParamAttributes: Hashable, Sendable, Codable {
    public var dtype: DType
    public var shape: Shape
    public var initializer: Initializer
    public var trainable: Bool
    public var fanIn: Int
    public var fanOut: Int
    public init(dtype: DType, shape: Shape, initializer: Initializer, trainable: Bool, fanIn: Int, fanOut: Int) {
        self.dtype = dtype
        self.shape = shape
        self.initializer = initializer
        self.trainable = trainable
        self.fanIn = fanIn
        self.fanOut = fanOut
    }
}

public struct ConstantAttributes: Hashable, Sendable, Codable {
    public var dtype: DType
    public var value: TensorLiteral
    public init(dtype: DType, value: TensorLiteral) {
        self.dtype = dtype
        self.value = value
    }
}

public struct ReduceAttributes: Hashable, Sendable, Codable {
    /// The reduced axes (negative ones count from the end); empty means all.
    public var axes: [Int]
    public var keepdims: Bool
    public init(axes: [Int], keepdims: Bool = false) {
        self.axes = axes
        self.keepdims = keepdims
    }

    /// The reduced axes of a tensor of rank `rank`, normalized (all when `axes` is empty).
    public func normalizedAxes(rank: Int) -> [Int] {
        axes.isEmpty ? Array(0..<rank) : axes.map { $0 < 0 ? $0 + rank : $0 }
    }
}

public struct SliceAttributes: Hashable, Sendable, Codable {
    /// One entry per axis: elements start ..< end by step (`Int.max` ends at the axis's end).
    public var starts: [Int]
    public var ends: [Int]
    public var steps: [Int]
    /// `slice_grad`: the shape of the sliced tensor.
    public var inputShape: Shape?
    public init(starts: [Int], ends: [Int], steps: [Int], inputShape: Shape? = nil) {
        self.starts = starts
        self.ends = ends
        self.steps = steps
        self.inputShape = inputShape
    }
}

/// How `pad` fills the new cells.
public enum PaddingMode: String, Hashable, Sendable, Codable, CaseIterable {
    case zero, constant, replicate, reflect
}

public struct PadAttributes: Hashable, Sendable, Codable {
    /// Before and after, two entries per axis.
    public var pads: [Int]
    public var mode: PaddingMode
    /// The fill of `constant` mode.
    public var value: Double
    /// `pad_grad`: the shape of the padded tensor.
    public var inputShape: Shape?
    public init(pads: [Int], mode: PaddingMode = .zero, value: Double = 0, inputShape: Shape? = nil) {
        self.pads = pads
        self.mode = mode
        self.value = value
        self.inputShape = inputShape
    }
}

public struct OneHotAttributes: Hashable, Sendable, Codable {
    public var classes: Int
    public var dtype: DType
    public init(classes: Int, dtype: DType) {
        self.classes = classes
        self.dtype = dtype
    }
}

public struct MatmulAttributes: Hashable, Sendable, Codable {
    public var transposeA: Bool
    public var transposeB: Bool
    public init(transposeA: Bool = false, transposeB: Bool = false) {
        self.transposeA = transposeA
        self.transposeB = transposeB
    }
}

/// How an output size is rounded when the windows do not tile the input exactly.
public enum WindowRounding: String, Hashable, Sendable, Codable, CaseIterable {
    /// ⌊(n + p₀ + p₁ − f)/s⌋ + 1: windows that would run past the end are dropped.
    case floor
    /// Caffe's and PyTorch's ceil_mode: one more window when the last one still
    /// starts inside the input or the leading padding; the part past the end reads zeros.
    case ceil
    /// The windows must tile the input exactly; otherwise an error.
    case exact
}

/// A convolution's attributes (conv2d and its two gradients).
public struct ConvAttributes: Hashable, Sendable, Codable {
    /// The shape of the operand a gradient op computes.
    public enum GradientOperand: Hashable, Sendable, Codable {
        case input(Shape)
        case weight(Shape)
    }

    /// [h, w].
    public var stride: [Int]
    /// [top, bottom, left, right].
    public var pad: [Int]
    /// [h, w].
    public var dilation: [Int]
    public var groups: Int
    public var round: WindowRounding
    /// `conv2d_grad_input`: the input's shape; `conv2d_grad_weight`: the filter's.
    public var operand: GradientOperand?

    public init(stride: [Int] = [1, 1], pad: [Int] = [0, 0, 0, 0], dilation: [Int] = [1, 1], groups: Int = 1,
                round: WindowRounding = .floor, operand: GradientOperand? = nil) {
        self.stride = stride
        self.pad = pad
        self.dilation = dilation
        self.groups = groups
        self.round = round
        self.operand = operand
    }
}

/// A pooling's attributes (pool2d and its gradient).
public struct PoolAttributes: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable { case max, avg, min }
    public var kind: Kind
    /// [h, w].
    public var kernel: [Int]
    /// [h, w].
    public var stride: [Int]
    /// [top, bottom, left, right].
    public var pad: [Int]
    public var round: WindowRounding
    /// Average pooling divides by the window cells inside the padded input (true) or inside the input.
    public var countIncludePad: Bool

    /// `stride` defaults to the kernel.
    public init(kind: Kind, kernel: [Int], stride: [Int]? = nil, pad: [Int] = [0, 0, 0, 0], round: WindowRounding = .floor,
                countIncludePad: Bool = true) {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.pad = pad
        self.round = round
        self.countIncludePad = countIncludePad
    }
}

public struct DropoutAttributes: Hashable, Sendable, Codable {
    public var rate: Double
    /// Which of the model's dropout layers (each draws its own mask).
    public var stream: Int
    public init(rate: Double, stream: Int) {
        self.rate = rate
        self.stream = stream
    }
}

public struct FusedAttributes: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// One loop over the output with no temporaries.
        case elementwise
        /// A matmul or conv2d whose output is finished in the same pass.
        case epilogue
        /// An elementwise chain folded into a reduction as it is computed.
        case reduction
    }
    public var kind: Kind
    public var region: FusedRegion
    public var dtype: DType
    public var shape: Shape
    public init(kind: Kind, region: FusedRegion, dtype: DType, shape: Shape) {
        self.kind = kind
        self.region = region
        self.dtype = dtype
        self.shape = shape
    }
}

/// A recurrence over time steps (`lstm_scan` and its gradient).
public struct ScanAttributes: Hashable, Sendable, Codable {
    /// false: steps t = 0, 1, …, T−1; true: t = T−1, …, 0 (a bidirectional layer's backward direction).
    public var reverse: Bool
    public init(reverse: Bool = false) {
        self.reverse = reverse
    }
}
