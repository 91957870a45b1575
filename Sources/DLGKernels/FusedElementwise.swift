/// A chain of elementwise operations run as one loop over the output: each
/// block of 16 output elements is computed through every step in registers,
/// so intermediate results never touch memory.
///
/// Operands are the step results, immediates, or *views* of input tensors: a
/// view gives, for each axis of the output, the input's stride (0 where the
/// input is broadcast). Axes that every view traverses contiguously are
/// merged, so the loop runs over rows of the innermost (merged) axis.
public struct FusedElementwiseKernel: Sendable {
    public enum Code: Sendable, Hashable {
        case unary(UnaryOp)
        /// dy·f′(x) from (x, y, dy).
        case unaryGrad(UnaryOp)
        case binary(BinaryOp)
        /// The first operand, unchanged (stop_gradient, identity).
        case copy
    }

    public enum Operand: Sendable, Hashable {
        case view(Int)
        case step(Int)
        case immediate(Double)
    }

    public struct Step: Sendable, Hashable {
        public var code: Code
        public var operands: [Operand]
        public init(code: Code, operands: [Operand]) {
            self.code = code
            self.operands = operands
        }
    }

    public let steps: [Step]
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
    public init(steps: [Step], shape: [Int], views: [(input: Int, strides: [Int])]) {
        self.steps = steps
        viewInputs = views.map(\.input)
        count = shape.reduce(1, *)
        // Merge axis i into i+1 when the output and every view are contiguous across them.
        var d: [Int] = []
        var s: [[Int]] = views.map { _ in [] }
        for (i, size) in shape.enumerated() {
            if size == 1 { continue }
            if let last = d.last {
                let mergeable = views.indices.allSatisfy { v in s[v].last! == views[v].strides[i] * size }
                if mergeable {
                    d[d.count - 1] = last * size
                    for v in views.indices { s[v][s[v].count - 1] = views[v].strides[i] }
                    continue
                }
            }
            d.append(size)
            for v in views.indices { s[v].append(views[v].strides[i]) }
        }
        if d.isEmpty {
            d = [1]
            for v in views.indices { s[v] = [0] }
        }
        dims = d
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

    /// Runs the chain; `inputs[k]` is element 0 of input k. `out` may be an input with the output's layout.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func run<T: KernelScalar>(_ inputs: [UnsafePointer<T>], _ out: UnsafeMutablePointer<T>, threads: Int = 1) {
        if count == 0 { return }
        let rank = dims.count
        let inner = dims[rank - 1]
        let rows = count / max(inner, 1)
        let views = viewInputs.count
        codes.withUnsafeBufferPointer { codes in
        operandStart.withUnsafeBufferPointer { starts in
        flatOperands.withUnsafeBufferPointer { operands in
        flatStrides.withUnsafeBufferPointer { strides in
        dims.withUnsafeBufferPointer { dims in
        viewInputs.withUnsafeBufferPointer { viewInputs in
        inputs.withUnsafeBufferPointer { inputs in
            let stepCount = codes.count
            // Work is a range of (row, column-block) units: rows × ⌈inner / 16⌉ blocks, split in order.
            let blocksPerRow = (inner + 15) / 16
            let units = rows * blocksPerRow
            let work = { (range: Range<Int>) in
                withUnsafeTemporaryAllocation(of: SIMD16<T>.self, capacity: max(stepCount, 1)) { regs in
                    withUnsafeTemporaryAllocation(of: UnsafePointer<T>.self, capacity: max(views, 1)) { base in
                        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(views, 1)) { innerStride in
                            for v in 0..<views { innerStride[v] = strides[v * rank + rank - 1] }
                            var unit = range.lowerBound
                            while unit < range.upperBound {
                                let row = unit / blocksPerRow
                                var block = unit % blocksPerRow
                                let lastBlock = min(blocksPerRow, block + range.upperBound - unit)
                                // Each view's start for this row (an odometer over the outer axes).
                                for v in 0..<views { base[v] = inputs[viewInputs[v]] }
                                var rem = row
                                var a = rank - 2
                                while a >= 0 {
                                    let idx = rem % dims[a]
                                    rem /= dims[a]
                                    for v in 0..<views { base[v] += idx * strides[v * rank + a] }
                                    a -= 1
                                }
                                let o = out + row * inner
                                while block < lastBlock {
                                    let j = block * 16
                                    let n = min(16, inner - j)
                                    for k in 0..<stepCount {
                                        regs[k] = FusedElementwiseKernel.evaluate(codes[k], operands, starts[k], regs, base,
                                                                                  innerStride, j, n)
                                    }
                                    let r = regs[stepCount - 1]
                                    if n == 16 { SIMDMath.store(r, o + j) } else { SIMDMath.storePartial(r, o + j, n) }
                                    block += 1
                                }
                                unit += lastBlock - (unit % blocksPerRow)
                            }
                        }
                    }
                }
            }
            if threads > 1, count >= 1 << 15, units > 1 {
                Threads.parallelFor(0..<units, threads: threads, minChunk: 256, work)
            } else {
                work(0..<units)
            }
        }
        }
        }
        }
        }
        }
        }
    }

    @inlinable @inline(__always)
    static func operand<T: KernelScalar>(_ o: Operand, _ regs: UnsafeMutableBufferPointer<SIMD16<T>>,
                                         _ base: UnsafeMutableBufferPointer<UnsafePointer<T>>,
                                         _ innerStride: UnsafeMutableBufferPointer<Int>, _ j: Int, _ n: Int) -> SIMD16<T> {
        switch o {
        case .step(let k): return regs[k]
        case .immediate(let v): return SIMD16<T>(repeating: T(v))
        case .view(let v):
            let s = innerStride[v]
            let p = base[v]
            if s == 1 { return n == 16 ? SIMDMath.load(p + j) : SIMDMath.loadPartial(p + j, n, fill: 0) }
            if s == 0 { return SIMD16<T>(repeating: p.pointee) }
            var r = SIMD16<T>(repeating: 0)
            withUnsafeMutableBytes(of: &r) { raw in
                let lanes = raw.baseAddress!.assumingMemoryBound(to: T.self)
                for l in 0..<n { lanes[l] = p[(j + l) * s] }
            }
            return r
        }
    }

    @inlinable @inline(__always)
    static func evaluate<T: KernelScalar>(_ code: Code, _ operands: UnsafeBufferPointer<Operand>, _ start: Int,
                                          _ regs: UnsafeMutableBufferPointer<SIMD16<T>>,
                                          _ base: UnsafeMutableBufferPointer<UnsafePointer<T>>,
                                          _ innerStride: UnsafeMutableBufferPointer<Int>, _ j: Int, _ n: Int) -> SIMD16<T> {
        switch code {
        case .unary(let u): return u.apply(operand(operands[start], regs, base, innerStride, j, n))
        case .copy: return operand(operands[start], regs, base, innerStride, j, n)
        case .binary(let b):
            return b.apply(operand(operands[start], regs, base, innerStride, j, n),
                           operand(operands[start + 1], regs, base, innerStride, j, n))
        case .unaryGrad(let u):
            let x = operand(operands[start], regs, base, innerStride, j, n)
            let y = operand(operands[start + 1], regs, base, innerStride, j, n)
            let dy = operand(operands[start + 2], regs, base, innerStride, j, n)
            return u.derivative(x: x, y: y, dy: dy)
        }
    }
}
