/// Helpers shared by shape rules. Every failure is a catalog message
/// (`ShapeMessage`) saying what was expected and what was found.
extension ShapeContext {
    public func fail(_ problem: ShapeMessage) -> ShapeError {
        ShapeError(problem, what: what)
    }

    public func requireFloat(_ i: Int) throws(ShapeError) {
        guard inputs[i].dtype.isFloat else { throw fail(.notFloat(inputs[i], expected: "a floating-point tensor")) }
    }

    /// All operands share one dtype.
    public func requireSameDType() throws(ShapeError) -> DType {
        let d = inputs[0].dtype
        for t in inputs.dropFirst() where t.dtype != d { throw fail(.dtypeMismatch(inputs)) }
        return d
    }

    /// The dims of operand `i`, which must have known rank `rank` (or any known rank if nil).
    public func dims(_ i: Int, rank: Int? = nil, role: String? = nil) throws(ShapeError) -> [Dim] {
        let name = role ?? (inputs.count > 1 ? "operand \(i + 1)" : "input")
        guard let d = inputs[i].dims else { throw fail(.unknownRank(role: name, type: inputs[i], op: what)) }
        if let rank, d.count != rank { throw fail(.wrongRank(role: name, rank: rank, type: inputs[i])) }
        return d
    }

    /// A dimension that must be a known number (spatial sizes, channel counts).
    public func known(_ d: Dim, _ what: String) throws(ShapeError) -> Int {
        switch d {
        case .known(let v): return v
        case .symbol(let s): throw fail(.symbolicSize(what: what, symbol: s))
        }
    }

    /// Normalize an axis (negative counts from the end).
    public func axis(_ a: Int, rank: Int) throws(ShapeError) -> Int {
        let n = a < 0 ? a + rank : a
        guard n >= 0, n < rank else { throw fail(.axisOutOfRange(axis: a, rank: rank)) }
        return n
    }
}

/// NumPy broadcasting of two shapes (right-aligned; size-1 dims stretch).
public struct BroadcastMismatch: Error, Sendable {
    public var reason: String
}

public func broadcastShapes(_ a: Shape, _ b: Shape) -> Result<Shape, BroadcastMismatch> {
    guard let da = a.dims, let db = b.dims else {
        // Unknown rank: only a scalar partner keeps the result well-defined.
        if a.dims == nil, b.dims?.isEmpty == true { return .success(a) }
        if b.dims == nil, a.dims?.isEmpty == true { return .success(b) }
        if a.dims == nil, b.dims == nil { return .success(Shape.unknownRank) }
        return .failure(BroadcastMismatch(reason: "a shape of unknown rank broadcasts only with a scalar"))
    }
    let n = max(da.count, db.count)
    var out: [Dim] = []
    for i in 0..<n {
        let x = i < n - da.count ? Dim.known(1) : da[i - (n - da.count)]
        let y = i < n - db.count ? Dim.known(1) : db[i - (n - db.count)]
        if x == y { out.append(x); continue }
        if x == .known(1) { out.append(y); continue }
        if y == .known(1) { out.append(x); continue }
        return .failure(BroadcastMismatch(reason: "dimension \(i) is \(x) in one operand and \(y) in the other"))
    }
    return .success(Shape(out))
}

/// Product of dims as (known factor, symbols).
public func symbolicProduct(_ dims: [Dim]) -> (Int, [String]) {
    var k = 1
    var syms: [String] = []
    for d in dims {
        switch d {
        case .known(let v): k *= v
        case .symbol(let s): syms.append(s)
        }
    }
    return (k, syms.sorted())
}

/// The output size of a convolution or pooling window along one axis:
/// ⌊(n + p₀ + p₁ − d·(f−1) − 1)/s⌋ + 1, or with ceil rounding, or exact.
public struct WindowAxis: Sendable {
    public var input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, dilation: Int

    public init(input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, dilation: Int = 1) {
        self.input = input
        self.kernel = kernel
        self.stride = stride
        self.padBefore = padBefore
        self.padAfter = padAfter
        self.dilation = dilation
    }

    public var effectiveKernel: Int { dilation * (kernel - 1) + 1 }
    public var span: Int { input + padBefore + padAfter - effectiveKernel }

    /// The formula with this axis's numbers, e.g. `(5 + 0 − 7)/1 + 1`.
    public var formula: String {
        let pad = padBefore == padAfter ? (padBefore == 0 ? "0" : "2·\(padBefore)") : "\(padBefore) + \(padAfter)"
        let k = dilation == 1 ? "\(kernel)" : "\(effectiveKernel)"
        return "(\(input) + \(pad) − \(k))/\(stride) + 1"
    }

    public func output(round: WindowRounding) -> (value: Int, exact: Bool) {
        let span = self.span
        let exact = span >= 0 && span % stride == 0
        var q: Int
        if span >= 0 {
            q = round == .ceil ? (span + stride - 1) / stride : span / stride
        } else {
            // Floor division towards −∞ for a negative span.
            q = -((-span + stride - 1) / stride)
        }
        var out = q + 1
        // PyTorch's ceil rule: the last window must start inside the input or the leading padding.
        if round == .ceil, out > 1, (out - 1) * stride >= input + padBefore { out -= 1 }
        return (out, exact)
    }

    /// The padding after the input that the last of `output` windows reaches: `padAfter`, or more
    /// when ceil rounding adds a window that runs past it (those cells read zeros).
    public func effectivePadAfter(output: Int) -> Int {
        max(padAfter, (output - 1) * stride + effectiveKernel - input - padBefore)
    }
}

/// Shape rule for conv2d and pool2d output spatial dims.
func windowOutput(_ ctx: ShapeContext, axisName: String, input: Int, kernel: Int, stride: Int,
                  padBefore: Int, padAfter: Int, dilation: Int, round: WindowRounding) throws(ShapeError) -> Int {
    guard stride > 0 else { throw ctx.fail(.windowParameter(name: "stride", value: stride)) }
    guard kernel > 0 else { throw ctx.fail(.windowParameter(name: "kernel \(axisName)", value: kernel)) }
    guard dilation > 0 else { throw ctx.fail(.windowParameter(name: "dilation", value: dilation)) }
    guard padBefore >= 0, padAfter >= 0 else { throw ctx.fail(.negativeWindowPadding(padBefore, padAfter)) }
    let w = WindowAxis(input: input, kernel: kernel, stride: stride, padBefore: padBefore, padAfter: padAfter,
                       dilation: dilation)
    let (out, exact) = w.output(round: round)
    let numbers = "input \(axisName) \(input), kernel \(kernel)" + (dilation > 1 ? " (dilation \(dilation), effective \(w.effectiveKernel))" : "")
        + ", padding \(padBefore == padAfter ? "\(padBefore)" : "\(padBefore)+\(padAfter)"), stride \(stride)"
    if out <= 0 {
        let raw = Double(w.span) / Double(stride) + 1
        let shown = round == .floor || w.span % stride == 0 ? "\(out)" : "\(formatNumber(raw)) → \(out)"
        throw ctx.fail(.windowOutput(axis: axisName, numbers: numbers, formula: w.formula, value: shown, fractional: false))
    }
    if round == .exact, !exact {
        let raw = Double(w.span) / Double(stride) + 1
        throw ctx.fail(.windowOutput(axis: axisName, numbers: numbers, formula: w.formula, value: formatNumber(raw),
                                     fractional: true))
    }
    return out
}
