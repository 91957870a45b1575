#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// A chain of elementwise operations run as one loop over the output: each
/// block of 16 output elements is computed through every step in registers,
/// so intermediate results never touch memory.
///
/// Operands are the step results, immediates, or *views* of input tensors: a
/// view gives, for each axis of the output, the input's stride (0 where the
/// input is broadcast). Axes that every view traverses contiguously are
/// merged, so the loop runs over rows of the innermost (merged) axis.
public struct FusedElementwiseKernel: Sendable {
    public enum Code: Sendable, Hashable, Codable {
        case unary(UnaryFunction)
        /// dy·f′(x) from (x, y, dy).
        case unaryGrad(UnaryFunction)
        /// A binary function (`Op.visitBinary`).
        case binary(Op)
        /// The first operand, unchanged (stop_gradient, identity).
        case copy
    }

    public enum Operand: Sendable, Hashable, Codable {
        case view(Int)
        case step(Int)
        case immediate(Double)
    }

    public struct Step: Sendable, Hashable, Codable {
        public var code: Code
        public var operands: [Operand]
        public init(code: Code, operands: [Operand]) {
            self.code = code
            self.operands = operands
        }
    }

    /// A reduction finishing the chain: the last step's values are not
    /// stored but reduced (sum, mean, max or min) into a smaller output, one
    /// pass in all. `strides` gives, per axis of the chain's shape, the
    /// output's stride: 0 on the reduced axes, row-major over the kept ones.
    public struct Reduction: Sendable, Hashable {
        public var op: ReduceOp
        public var strides: [Int]
        /// Output elements.
        public var count: Int
        /// Chain elements per output element (mean divides by it).
        public var reducedCount: Int
        public init(op: ReduceOp, strides: [Int], count: Int, reducedCount: Int) {
            self.op = op
            self.strides = strides
            self.count = count
            self.reducedCount = reducedCount
        }

        /// The reduction of a tensor of `shape` over `axes` (normalized, distinct).
        public init(op: ReduceOp, shape: [Int], axes: Set<Int>) {
            var strides = Array(repeating: 0, count: shape.count)
            var acc = 1
            for i in stride(from: shape.count - 1, through: 0, by: -1) where !axes.contains(i) {
                strides[i] = acc
                acc *= shape[i]
            }
            let total = shape.reduce(1, *)
            self.init(op: op, strides: strides, count: acc, reducedCount: acc == 0 ? 0 : total / acc)
        }

        /// Accumulators a run with `threads` threads needs in scratch: one set per worker beyond the
        /// first, at most `maxPartials` elements in all (fewer workers otherwise).
        public static let maxPartials = 1 << 16
        public static func partialCount(outputs count: Int, threads: Int) -> Int {
            let workers = Swift.max(1, Swift.min(threads, 1 + maxPartials / Swift.max(count, 1)))
            return (workers - 1) * count
        }
        public func partialCount(threads: Int) -> Int { Reduction.partialCount(outputs: count, threads: threads) }
    }

    public let steps: [Step]
    public let reduction: Reduction?
    /// The reduction's output strides over `dims`.
    @usableFromInline let reduceStrides: [Int]
    /// Per view: which input it reads.
    public let viewInputs: [Int]
    /// Output dims after merging, and per view its strides over them.
    public let dims: [Int]
    public let strides: [[Int]]
    public let count: Int
    // The same program flattened into trivially copyable arrays, so the hot
    // loop reads it through raw pointers without reference counting.
    @usableFromInline let codes: [Code]
    @usableFromInline let operandStart: [Int]
    @usableFromInline let flatOperands: [Operand]
    /// strides[v][a] at flatStrides[v * rank + a].
    @usableFromInline let flatStrides: [Int]

    /// `views[k]` = (input index, strides over `shape`) for each view k.
    /// `shape` is the chain's shape (with a reduction, the shape reduced, not the output's).
    public init(steps: [Step], shape: [Int], views: [(input: Int, strides: [Int])], reduction: Reduction? = nil) {
        self.steps = steps
        self.reduction = reduction
        viewInputs = views.map(\.input)
        count = shape.reduce(1, *)
        // Merge axis i into i+1 when the output and every view are contiguous across them
        // (the reduction's output strides count as one more view: reduced and kept axes never merge).
        let all = views.map(\.strides) + (reduction.map { [$0.strides] } ?? [])
        var d: [Int] = []
        var s: [[Int]] = all.map { _ in [] }
        for (i, size) in shape.enumerated() {
            if size == 1 { continue }
            if let last = d.last {
                let mergeable = all.indices.allSatisfy { v in s[v].last! == all[v][i] * size }
                if mergeable {
                    d[d.count - 1] = last * size
                    for v in all.indices { s[v][s[v].count - 1] = all[v][i] }
                    continue
                }
            }
            d.append(size)
            for v in all.indices { s[v].append(all[v][i]) }
        }
        if d.isEmpty {
            d = [1]
            for v in all.indices { s[v] = [0] }
        }
        dims = d
        reduceStrides = reduction == nil ? [] : s.removeLast()
        strides = s
        codes = steps.map(\.code)
        var starts: [Int] = []
        var ops: [Operand] = []
        for st in steps {
            starts.append(ops.count)
            ops += st.operands
        }
        starts.append(ops.count)
        operandStart = starts
        flatOperands = ops
        flatStrides = s.flatMap { $0 }
    }

    /// Row-major strides of a shape, with broadcasting to `output` (NumPy rules): 0 on stretched axes.
    public static func broadcastStrides(_ shape: [Int], to output: [Int]) -> [Int] {
        let pad = output.count - shape.count
        var out = Array(repeating: 0, count: output.count)
        var acc = 1
        for i in stride(from: output.count - 1, through: 0, by: -1) {
            let s = i >= pad ? shape[i - pad] : 1
            out[i] = s == 1 ? 0 : acc
            acc *= s
        }
        return out
    }

    /// Strides of a vector that runs along `axis` of `output` (bias_add's operand).
    public static func axisStrides(axis: Int, of output: [Int]) -> [Int] {
        (0..<output.count).map { $0 == axis ? 1 : 0 }
    }

    /// Elements per tile: every step runs over a tile held in L1 before the next step starts.
    public static let tile = 512

    /// Runs the chain; `inputs[k]` is element 0 of input k. `out` may be an input with the output's layout.
    ///
    /// The program is interpreted a tile at a time: for each tile of up to
    /// `tile` output elements, each step runs one tight vector loop over the
    /// tile, reading its operands from the inputs (or, for a broadcast operand,
    /// a splat) and writing a scratch tile that stays in L1; the last step
    /// writes the output. Dispatch costs one switch per step per tile, and
    /// intermediate results never reach main memory.
    ///
    /// With a reduction, the last step's tile is folded into `out` (the
    /// reduction's output) instead of stored. Several threads then each fold
    /// into their own accumulators — the first into `out`, the others into
    /// `partials`, which holds `reduction.partialCount(threads:)` elements —
    /// and the accumulators are combined at the end; without `partials` the
    /// reduction runs on one thread.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func run<T: KernelScalar>(_ inputs: [UnsafePointer<T>], _ out: UnsafeMutablePointer<T>, threads: Int = 1,
                                     partials: UnsafeMutablePointer<T>? = nil) {
        if let reduction, count == 0 {
            // Nothing to reduce: the identity (a mean of no elements is NaN).
            out.update(repeating: reduction.op.ofNothing(T.self), count: reduction.count)
            return
        }
        if count == 0 { return }
        let inner = dims[dims.count - 1]
        let rows = count / max(inner, 1)
        let tile = FusedElementwiseKernel.tile
        let tilesPerRow = (inner + tile - 1) / tile
        let units = rows * tilesPerRow
        // Threads: the elementwise work splits over tiles; a reduction also needs room for each worker's accumulators.
        var workers = threads > 1 && count >= 1 << 15 && units > 1 ? Threads.chunkCount(units, threads: threads, minChunk: 8) : 1
        let outCount = reduction?.count ?? 0
        if let reduction, workers > 1 {
            workers = partials == nil ? 1 : Swift.min(workers, 1 + reduction.partialCount(threads: threads) / Swift.max(outCount, 1))
        }
        func accumulator(_ t: Int) -> UnsafeMutablePointer<T> { t == 0 ? out : partials! + (t - 1) * outCount }
        if let reduction {
            for t in 0..<workers { accumulator(t).update(repeating: reduction.op.identity(T.self), count: outCount) }
        }
        // The first element of unit u (a tile of a row); unit `units` starts at `count`.
        func firstElement(_ u: Int) -> Int { (u / tilesPerRow) * inner + (u % tilesPerRow) * tile }
        withProgram { program in
        inputs.withUnsafeBufferPointer { inputs in
            // The loop's body is passed straight to the loop: a closure held in a
            // local would have its captures boxed on the heap on every call.
            Threads.parallelChunks(0..<units, threads: workers, minChunk: 8) { (worker: Int, range: Range<Int>) in
                FusedElementwiseKernel.runElements(program, inputs, out: out, accumulator: reduction == nil ? out : accumulator(worker),
                                                   elements: firstElement(range.lowerBound) ..< firstElement(range.upperBound))
            }
        }
        }
        guard let reduction else { return }
        for t in 1..<Swift.max(workers, 1) {
            FusedElementwiseKernel.foldElementwise(reduction.op, UnsafePointer(accumulator(t)), outCount, into: out, stride: 1)
        }
        if reduction.op == .mean {
            let scale = 1 / T(reduction.reducedCount)
            SIMDMath.map(out, out, outCount) { $0 * scale }
        }
    }

    /// Runs the chain over the output elements `elements` (flat, row-major) on
    /// the calling thread: a block of the output that a library kernel heading
    /// the chain has just written, still in the core's cache. Every element
    /// goes through the same operations as in `run`, so the values do not
    /// depend on how the output is cut. Not for a chain with a reduction
    /// (which would need the whole of its input): that does nothing.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func run<T: KernelScalar>(_ inputs: [UnsafePointer<T>], _ out: UnsafeMutablePointer<T>, elements: Range<Int>) {
        guard reduction == nil else { return }
        let elements = elements.clamped(to: 0 ..< count)
        if elements.isEmpty { return }
        withProgram { program in
            inputs.withUnsafeBufferPointer { inputs in
                FusedElementwiseKernel.runElements(program, inputs, out: out, accumulator: out, elements: elements)
            }
        }
    }

    /// The program's arrays as raw buffers, for the hot loop.
    @usableFromInline
    struct Program {
        let reduction: Reduction?
        let reduceStrides: UnsafeBufferPointer<Int>
        let codes: UnsafeBufferPointer<Code>
        let starts: UnsafeBufferPointer<Int>
        let operands: UnsafeBufferPointer<Operand>
        /// strides[v * rank + a]: view v's stride on merged axis a.
        let strides: UnsafeBufferPointer<Int>
        let dims: UnsafeBufferPointer<Int>
        let viewInputs: UnsafeBufferPointer<Int>
    }

    func withProgram<R>(_ body: (Program) -> R) -> R {
        reduceStrides.withUnsafeBufferPointer { reduceStrides in
        codes.withUnsafeBufferPointer { codes in
        operandStart.withUnsafeBufferPointer { starts in
        flatOperands.withUnsafeBufferPointer { operands in
        flatStrides.withUnsafeBufferPointer { strides in
        dims.withUnsafeBufferPointer { dims in
        viewInputs.withUnsafeBufferPointer { viewInputs in
            body(Program(reduction: reduction, reduceStrides: reduceStrides, codes: codes, starts: starts, operands: operands,
                         strides: strides, dims: dims, viewInputs: viewInputs))
        }
        }
        }
        }
        }
        }
        }
    }

    /// The loop over the elements `elements` (non-empty, within the output),
    /// in pieces of at most `tile` elements that do not cross the end of a
    /// row of the innermost merged axis; the last step writes `out`, or with
    /// a reduction folds into `accumulator`.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func runElements<T: KernelScalar>(_ p: Program, _ inputs: UnsafeBufferPointer<UnsafePointer<T>>,
                                             out: UnsafeMutablePointer<T>, accumulator acc: UnsafeMutablePointer<T>,
                                             elements: Range<Int>) {
        let rank = p.dims.count
        let dims = p.dims, strides = p.strides, reduceStrides = p.reduceStrides
        let codes = p.codes, starts = p.starts, operands = p.operands
        let inner = dims[rank - 1]
        let views = p.viewInputs.count
        let tile = FusedElementwiseKernel.tile
        let stepCount = codes.count
        let reducing = p.reduction != nil
        let reduceOp = p.reduction?.op ?? .sum
        // Scratch: one tile per step, one per operand that needs gathering or a splat.
        let operandCount = operands.count
        withUnsafeTemporaryAllocation(of: T.self, capacity: (stepCount + operandCount) * tile) { scratch in
        withUnsafeTemporaryAllocation(of: UnsafePointer<T>.self, capacity: max(views, 1)) { base in
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(rank, 1)) { index in
            let s = scratch.baseAddress!
            // Each view's start for the first row (an odometer over the outer axes), then
            // advanced row by row without divisions.
            var row = elements.lowerBound / inner
            var j = elements.lowerBound - row * inner
            for v in 0..<views { base[v] = inputs[p.viewInputs[v]] }
            var outOffset = 0
            var rem = row
            var a = rank - 2
            while a >= 0 {
                let idx = rem % dims[a]
                rem /= dims[a]
                index[a] = idx
                for v in 0..<views { base[v] += idx * strides[v * rank + a] }
                if reducing { outOffset += idx * reduceStrides[a] }
                a -= 1
            }
            var e = elements.lowerBound
            while e < elements.upperBound {
                if j == inner {
                    j = 0
                    row += 1
                    var a = rank - 2
                    while a >= 0 {
                        index[a] += 1
                        for v in 0..<views { base[v] += strides[v * rank + a] }
                        if reducing { outOffset += reduceStrides[a] }
                        if index[a] < dims[a] { break }
                        for v in 0..<views { base[v] -= dims[a] * strides[v * rank + a] }
                        if reducing { outOffset -= dims[a] * reduceStrides[a] }
                        index[a] = 0
                        a -= 1
                    }
                }
                let n = min(tile, inner - j, elements.upperBound - e)
                // A contiguous pointer to n values of operand `o` (index `slot` in the flat list).
                func source(_ o: Operand, _ slot: Int) -> UnsafePointer<T> {
                    switch o {
                    case .step(let k): return UnsafePointer(s + k * tile)
                    case .immediate(let v):
                        let p = s + (stepCount + slot) * tile
                        p.update(repeating: T(v), count: n)
                        return UnsafePointer(p)
                    case .view(let v):
                        let stride = strides[v * rank + rank - 1]
                        let p = base[v] + j * stride
                        if stride == 1 { return p }
                        let g = s + (stepCount + slot) * tile
                        if stride == 0 { g.update(repeating: p.pointee, count: n) } else {
                            for l in 0..<n { g[l] = p[l * stride] }
                        }
                        return UnsafePointer(g)
                    }
                }
                func scalar(_ o: Operand) -> T? {
                    switch o {
                    case .immediate(let v): return T(v)
                    case .view(let v) where strides[v * rank + rank - 1] == 0: return base[v].pointee
                    default: return nil
                    }
                }
                for k in 0..<stepCount {
                    let dst = k == stepCount - 1 && !reducing ? out + e : s + k * tile
                    let first = starts[k]
                    switch codes[k] {
                    case .copy:
                        let x = source(operands[first], first)
                        if UnsafePointer(dst) != x { dst.update(from: x, count: n) }
                    case .unary(let u):
                        unary(u, source(operands[first], first), dst, count: n)
                    case .binary(let b):
                        // A scalar operand (an immediate or a broadcast value) stays in a register.
                        let oa = operands[first], ob = operands[first + 1]
                        if let sb = scalar(ob) {
                            FusedElementwiseKernel.binaryTile(b, source(oa, first), sb, dst, n)
                        } else if let sa = scalar(oa) {
                            FusedElementwiseKernel.binaryTile(b, sa, source(ob, first + 1), dst, n)
                        } else {
                            FusedElementwiseKernel.binaryTile(b, source(oa, first), source(ob, first + 1), dst, n)
                        }
                    case .unaryGrad(let u):
                        unaryBackward(u, x: source(operands[first], first), y: source(operands[first + 1], first + 1),
                                      dy: source(operands[first + 2], first + 2), dx: dst, count: n)
                    }
                }
                if reducing {
                    let values = UnsafePointer(s + (stepCount - 1) * tile)
                    let innerStride = reduceStrides[rank - 1]
                    if innerStride == 0 {
                        FusedElementwiseKernel.fold(reduceOp, values, n, into: acc + outOffset)
                    } else {
                        FusedElementwiseKernel.foldElementwise(reduceOp, values, n, into: acc + outOffset + j * innerStride,
                                                              stride: innerStride)
                    }
                }
                j += n
                e += n
            }
        }
        }
        }
    }

    /// acc = op(acc, op over the n values) for a reduction (a mean sums).
    @inlinable
    static func fold<T: KernelScalar>(_ op: ReduceOp, _ values: UnsafePointer<T>, _ n: Int, into acc: UnsafeMutablePointer<T>) {
        #if arch(x86_64)
        if usesAVX512(T.self) && (op == .sum || op == .mean) {
            f32(acc).pointee += TileOps.sum(f32(values), n)
            return
        }
        #endif
        switch op {
        case .sum, .mean: acc.pointee += SIMDMath.sum(values, n)
        case .max: acc.pointee = Swift.max(acc.pointee, ReductionKernels.extremum(values, n, isMin: false))
        case .min: acc.pointee = Swift.min(acc.pointee, ReductionKernels.extremum(values, n, isMin: true))
        }
    }

    /// acc[l·stride] = op(acc[l·stride], values[l]) for l in 0..<n.
    @inlinable
    static func foldElementwise<T: KernelScalar>(_ op: ReduceOp, _ values: UnsafePointer<T>, _ n: Int,
                                                 into acc: UnsafeMutablePointer<T>, stride: Int) {
        #if arch(x86_64)
        if usesAVX512(T.self) && stride == 1 && (op == .sum || op == .mean) {
            TileOps.accumulate(f32(acc), f32(values), n)
            return
        }
        #endif
        if stride == 1 {
            switch op {
            case .sum, .mean: SIMDMath.map2(acc, values, acc, n) { $0 + $1 }
            case .max: SIMDMath.map2(acc, values, acc, n) { a, b in SIMDMath.select(b, .gt, a, then: b, else: a) }
            case .min: SIMDMath.map2(acc, values, acc, n) { a, b in SIMDMath.select(b, .lt, a, then: b, else: a) }
            }
            return
        }
        for l in 0..<n {
            let p = acc + l * stride
            switch op {
            case .sum, .mean: p.pointee += values[l]
            case .max: p.pointee = Swift.max(p.pointee, values[l])
            case .min: p.pointee = Swift.min(p.pointee, values[l])
            }
        }
    }

    /// out[i] = a[i] op b over n contiguous elements.
    @inlinable
    static func binaryTile<T: KernelScalar>(_ op: Op, _ a: UnsafePointer<T>, _ b: T,
                                             _ out: UnsafeMutablePointer<T>, _ n: Int) {
        #if arch(x86_64)
        if usesAVX512(T.self) {
            TileOps.binary(op, f32(a), scalar: unsafeBitCast(b, to: Float.self), f32(out), n)
            return
        }
        #endif
        _ = op.visitBinary(ScalarRightLoop(a: a, b: SIMD16(repeating: b), out: out, n: n))
    }

    /// out[i] = a op b[i] over n contiguous elements.
    @inlinable
    static func binaryTile<T: KernelScalar>(_ op: Op, _ a: T, _ b: UnsafePointer<T>,
                                             _ out: UnsafeMutablePointer<T>, _ n: Int) {
        #if arch(x86_64)
        if usesAVX512(T.self) {
            TileOps.binary(op, scalar: unsafeBitCast(a, to: Float.self), f32(b), f32(out), n)
            return
        }
        #endif
        _ = op.visitBinary(ScalarLeftLoop(a: SIMD16(repeating: a), b: b, out: out, n: n))
    }

    /// out[i] = a[i] op b[i] over n contiguous elements, the op chosen once per tile.
    @inlinable
    static func binaryTile<T: KernelScalar>(_ op: Op, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                             _ out: UnsafeMutablePointer<T>, _ n: Int) {
        #if arch(x86_64)
        if usesAVX512(T.self) {
            TileOps.binary(op, f32(a), f32(b), f32(out), n)
            return
        }
        #endif
        _ = op.visitBinary(PairLoop(a: a, b: b, out: out, n: n))
    }

    @usableFromInline
    struct PairLoop<T: KernelScalar>: BinaryVisitor {
        @usableFromInline let a: UnsafePointer<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>, n: Int
        @inlinable init(a: UnsafePointer<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>, n: Int) {
            self.a = a; self.b = b; self.out = out; self.n = n
        }
        @inlinable @inline(__always)
        func visit<F: BinaryDefinition>(_: F.Type) { SIMDMath.map2(a, b, out, n) { F.forward($0, $1) } }
    }

    @usableFromInline
    struct ScalarRightLoop<T: KernelScalar>: BinaryVisitor {
        @usableFromInline let a: UnsafePointer<T>, b: SIMD16<T>, out: UnsafeMutablePointer<T>, n: Int
        @inlinable init(a: UnsafePointer<T>, b: SIMD16<T>, out: UnsafeMutablePointer<T>, n: Int) {
            self.a = a; self.b = b; self.out = out; self.n = n
        }
        @inlinable @inline(__always)
        func visit<F: BinaryDefinition>(_: F.Type) {
            let v = b
            SIMDMath.map(a, out, n) { F.forward($0, v) }
        }
    }

    @usableFromInline
    struct ScalarLeftLoop<T: KernelScalar>: BinaryVisitor {
        @usableFromInline let a: SIMD16<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>, n: Int
        @inlinable init(a: SIMD16<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>, n: Int) {
            self.a = a; self.b = b; self.out = out; self.n = n
        }
        @inlinable @inline(__always)
        func visit<F: BinaryDefinition>(_: F.Type) {
            let v = a
            SIMDMath.map(b, out, n) { F.forward(v, $0) }
        }
    }
}
