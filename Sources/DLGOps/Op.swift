/// Every primitive operation of the graph IR, and the one name kernels, folding
/// and tests use for an elementwise function. Each op has exactly one
/// declaration: its `OpDecl` in DLGGraph (`Op.decl`), which for the
/// elementwise functions is built from their definition here
/// (`UnaryDefinition`, `BinaryDefinition`). Passes ask the declaration about
/// properties and never switch over lists of op names.
public enum Op: String, CaseIterable, Sendable, Hashable, Codable {
    // Sources
    case input, param, constant
    // Elementwise, one operand
    case neg, exp, log, sqrt, rsqrt, abs, square, reciprocal, sign
    case sigmoid, tanh, relu, leaky_relu, elu, selu, gelu, swish, softplus, softsign, mish, hard_sigmoid, hard_swish, log_sigmoid
    case hardlim, hardlims, satlin, satlins, step, stop_gradient
    /// dx = dy · f′(x) for the elementwise function named by attribute `fn`.
    case unary_grad
    // Elementwise, two operands with broadcasting
    case add, sub, mul, div, pow, maximum, minimum, greater, greater_equal, equal
    case bias_add
    // Reductions
    case reduce_sum, reduce_mean, reduce_max, reduce_min
    case reduce_max_grad, reduce_min_grad
    // Layout
    case reshape, transpose, broadcast_to, concat, slice, slice_grad, pad, pad_grad, one_hot, cast
    /// The elements in reverse order along one axis.
    case reverse
    /// Elements of a or b as a condition says (ONNX Where).
    case `where`
    /// Rows of a table picked by integer indices (embeddings), and its scatter-add gradient.
    case gather, gather_grad
    // Neural-network operations
    case matmul
    case conv2d, conv2d_grad_input, conv2d_grad_weight
    case pool2d, pool2d_grad
    case softmax, log_softmax, softmax_grad, log_softmax_grad
    /// Softmax over the last axis of rows [..., Tq, Tk] keeping keys j ≤ i (no mask tensor).
    case causal_softmax
    case softmax_ce, sparse_softmax_ce, softmax_ce_grad, sparse_softmax_ce_grad
    case dropout_mask
    /// An LSTM layer's recurrence over all its time steps as one op (the tape of states and
    /// gates), and its backward to the gate pre-activations.
    case lstm_scan, lstm_scan_grad
    /// The product of some axes' sizes, as a scalar (for symbolic batch sizes).
    case axis_size
    // Across the replicas of a data-parallel run
    case allreduce, allreduce_start, allreduce_wait
    /// Several ops run as one kernel: see `FusedRegion` (attribute `region`).
    case fused
}


extension Op {
    /// The op's position in `allCases` (its declaration order): tables indexed
    /// by op (`Op.decl`, the kernel table) read it instead of hashing the
    /// name. An `Op` is stored as one byte, its case number, which this
    /// reads; `OpRegistry` checks once that it equals the position.
    @inlinable public var ordinal: Int { Int(unsafeBitCast(self, to: UInt8.self)) }

    /// Hashes the case number, not the name (the default for an enum with raw
    /// values): every `[Op: …]` and `Set<Op>` lookup of the compiler does this.
    @inlinable public func hash(into hasher: inout Hasher) { hasher.combine(unsafeBitCast(self, to: UInt8.self)) }

    @inlinable public static func == (a: Op, b: Op) -> Bool {
        unsafeBitCast(a, to: UInt8.self) == unsafeBitCast(b, to: UInt8.self)
    }
}
