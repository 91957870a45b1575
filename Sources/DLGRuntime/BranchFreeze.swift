import DLGGraph
import DLGKernels

/// The branch every piecewise op took at one point (which side of 0 each relu input was on,
/// which operand won each maximum, which cell won each max-pooling window, …), recorded so that
/// later runs stay on it.
///
/// A run with frozen branches computes the smooth function that agrees with the model on the
/// recorded point's piece: each piecewise op evaluates the formula of its recorded branch even
/// where its input has moved into another one (relu keeps passing x, or keeps giving 0; a
/// pooling window keeps reading its recorded cell). Where the recorded point lies inside its
/// piece, that function has the model's derivative there, and finite differences of it converge
/// at O(ε²) with no kink to step around. At a tie (relu at exactly 0, two equal cells) the
/// recorded branch is the one the gradient kernels choose, so the two agree on the convention.
struct FrozenBranch {
    enum Record {
        /// Unary ops with linear or exponential pieces: the piece of each element.
        case pieces([UInt8])
        /// Ops that are constant on each piece (hardlim, sign, step, comparisons): the output.
        case output([Double])
        /// maximum/minimum: 1 where the first operand was chosen, 0 where the second was.
        case select([Double])
        /// reduce_max/reduce_min: 1 at each output's chosen input element, else 0.
        case reductionMask([Double])
        /// Max/min pooling: each output's cell, a flat index into its input plane.
        case poolCells([Int32])
    }
    var record: Record
}

extension Executor {
    /// Records the branches of the last run; until `thawBranches()`, every run keeps to them.
    /// Double-precision programs only (gradient checks): other programs are refused.
    public func freezeBranches() throws(ExecutionError) {
        guard program.floatType == .f64 else {
            throw ExecutionError("branches can be frozen only in a double-precision program, not \(program.floatType)")
        }
        var records: [Int: FrozenBranch] = [:]
        for (index, ins) in program.instructions.enumerated() where ins.output.dtype == .f64 {
            guard let kind = ins.op.decl.properties.branch else { continue }
            if let r = Self.recordBranch(ins, kind, pointer) { records[index] = FrozenBranch(record: r) }
        }
        frozenBranches = records
    }

    public func thawBranches() { frozenBranches = nil }

    /// Overwrites the output of instruction `index` with its recorded branch's formula.
    func applyFrozenBranch(_ index: Int) {
        guard let frozen = frozenBranches?[index] else { return }
        let ins = program.instructions[index]
        let y = pointer(ins.output, Double.self)
        let n = ins.output.count
        switch frozen.record {
        case .output(let base):
            for i in 0..<n { y[i] = base[i] }
        case .pieces(let base):
            let x = pointer(ins.inputs[0], Double.self)
            guard case .unary(let f) = ins.kernel else { return }
            for i in 0..<n where f.piece(x[i]) != base[i] {
                y[i] = f.onPiece(base[i], x[i])
            }
        case .select(let chooseFirst):
            // y = m·a + (1 − m)·b, with a and b broadcast to the output's shape.
            let out = ins.output.shape
            guard let pa = try? BroadcastPlan(lhs: out, rhs: ins.inputs[0].shape),
                  let pb = try? BroadcastPlan(lhs: out, rhs: ins.inputs[1].shape) else { return }
            let other = chooseFirst.map { 1 - $0 }
            var second = [Double](repeating: 0, count: n)
            chooseFirst.withUnsafeBufferPointer { m in
                binary(.mul, pa, m.baseAddress!, pointer(ins.inputs[0], Double.self), y)
            }
            other.withUnsafeBufferPointer { m in
                second.withUnsafeMutableBufferPointer { s in
                    binary(.mul, pb, m.baseAddress!, pointer(ins.inputs[1], Double.self), s.baseAddress!)
                }
            }
            for i in 0..<n { y[i] += second[i] }
        case .reductionMask(let mask):
            // y = Σ over each output's group of mask·x: the recorded element's value.
            guard case .reduce(_, let plan) = ins.kernel else { return }
            let x = pointer(ins.inputs[0], Double.self)
            var masked = [Double](repeating: 0, count: mask.count)
            for i in 0..<mask.count { masked[i] = mask[i] * x[i] }
            masked.withUnsafeBufferPointer { reduce(.sum, plan, $0.baseAddress!, y) }
        case .poolCells(let cells):
            guard case .pooling(let g, _) = ins.kernel else { return }
            let x = pointer(ins.inputs[0], Double.self)
            let inPlane = g.h * g.w, outPlane = g.oh * g.ow
            for o in 0..<n { y[o] = x[(o / outPlane) * inPlane + Int(cells[o])] }
        }
    }

    private static func recordBranch(_ ins: Instruction, _ kind: BranchKind,
                                     _ pointer: (Buffer, Double.Type) -> UnsafeMutablePointer<Double>) -> FrozenBranch.Record? {
        let y = pointer(ins.output, Double.self)
        let n = ins.output.count
        switch kind {
        case .output:
            return .output(Array(UnsafeBufferPointer(start: y, count: n)))
        case .select(let minimum):
            // The gradient's convention: a wins ties (a ≥ b for maximum, b ≥ a for minimum).
            guard let plan = try? BroadcastPlan(lhs: ins.inputs[0].shape, rhs: ins.inputs[1].shape) else { return nil }
            var mask = [Double](repeating: 0, count: plan.outputCount)
            let a = pointer(ins.inputs[0], Double.self), b = pointer(ins.inputs[1], Double.self)
            mask.withUnsafeMutableBufferPointer { m in
                if !minimum { binary(.greater_equal, plan, a, b, m.baseAddress!) }
                else {
                    guard let swapped = try? BroadcastPlan(lhs: ins.inputs[1].shape, rhs: ins.inputs[0].shape) else { return }
                    binary(.greater_equal, swapped, b, a, m.baseAddress!)
                }
            }
            return .select(mask)
        case .extremum(let minimum):
            guard case .reduce(_, let plan) = ins.kernel else { return nil }
            let ones = [Double](repeating: 1, count: plan.outputCount)
            var mask = [Double](repeating: 0, count: plan.inputCount)
            let x = pointer(ins.inputs[0], Double.self)
            ones.withUnsafeBufferPointer { o in
                mask.withUnsafeMutableBufferPointer { m in
                    if !minimum { reduceMaxBackward(plan, x: x, dy: o.baseAddress!, dx: m.baseAddress!) }
                    else { reduceMinBackward(plan, x: x, dy: o.baseAddress!, dx: m.baseAddress!) }
                }
            }
            return .reductionMask(mask)
        case .window:
            guard case .pooling(let g, let kind) = ins.kernel, kind == .max || kind == .min else { return nil }
            // The cells the forward kernel chose are the ones its backward routes to.
            var out = [Double](repeating: 0, count: n)
            var cells = [Int32](repeating: 0, count: n)
            out.withUnsafeMutableBufferPointer { o in
                cells.withUnsafeMutableBufferPointer { c in
                    Pool2D.forward(g, kind: kind, input: pointer(ins.inputs[0], Double.self), output: o.baseAddress!,
                                   indices: c.baseAddress!, threads: 1)
                }
            }
            return .poolCells(cells)
        case .pieces:
            guard ins.inputs.count == 1, ins.inputs[0].count == n, case .unary(let f) = ins.kernel else { return nil }
            let x = pointer(ins.inputs[0], Double.self)
            return .pieces((0..<n).map { f.piece(x[$0]) })
        }
    }

}
