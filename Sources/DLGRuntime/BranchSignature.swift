import DLGGraph
import DLGKernels

extension Executor {
    /// A hash of every branch decision the last run took in piecewise ops
    /// (which side of 0 each relu input was on, which operand won each
    /// maximum, which cell won each max-pooling window, …). Two points with
    /// the same signature lie in the same smooth piece of the function, so a
    /// finite difference between them measures a true slope.
    public func branchSignature() -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) {
            h ^= v
            h = h &* 0x0000_0100_0000_01B3
        }
        for ins in program.instructions where ins.op.decl.piecewise && ins.output.dtype.isFloat {
            mix(UInt64(ins.value))
            switch program.floatType {
            case .f64: decisions(ins, Double.self, mix)
            default: decisions(ins, Float.self, mix)
            }
        }
        return h
    }

    private func decisions<T: KernelScalar>(_ ins: Instruction, _: T.Type, _ mix: (UInt64) -> Void) {
        func ptr(_ b: Buffer) -> UnsafeMutablePointer<T> { pointer(b, T.self) }
        switch ins.op {
        case .maximum, .minimum, .greater, .greater_equal, .equal:
            guard let plan = try? BroadcastPlan(lhs: ins.inputs[0].shape, rhs: ins.inputs[1].shape) else { return }
            var ge = [T](repeating: 0, count: plan.outputCount), eq = ge
            ge.withUnsafeMutableBufferPointer { binary(.greaterEqual, plan, ptr(ins.inputs[0]), ptr(ins.inputs[1]), $0.baseAddress!) }
            eq.withUnsafeMutableBufferPointer { binary(.equal, plan, ptr(ins.inputs[0]), ptr(ins.inputs[1]), $0.baseAddress!) }
            for i in 0..<plan.outputCount { mix(UInt64(ge[i] != 0 ? 1 : 0) | UInt64(eq[i] != 0 ? 2 : 0)) }
        case .reduce_max, .reduce_min:
            let s = ins.inputs[0].shape
            let axes = ins.attrs.ints("axes") ?? []
            guard let plan = try? ReductionPlan(shape: s, axes: axes.isEmpty ? Array(0..<s.count) : axes) else { return }
            let ones = [T](repeating: 1, count: plan.outputCount)
            var mask = [T](repeating: 0, count: plan.inputCount)
            ones.withUnsafeBufferPointer { o in
                mask.withUnsafeMutableBufferPointer { m in
                    if ins.op == .reduce_max {
                        reduceMaxBackward(plan, x: ptr(ins.inputs[0]), dy: o.baseAddress!, dx: m.baseAddress!)
                    } else {
                        reduceMinBackward(plan, x: ptr(ins.inputs[0]), dy: o.baseAddress!, dx: m.baseAddress!)
                    }
                }
            }
            for (i, v) in mask.enumerated() where v != 0 { mix(UInt64(i)) }
        case .pool2d:
            guard let (g, kind) = try? Executor.poolGeometry(x: ins.inputs[0].shape, y: ins.output.shape, attrs: ins.attrs),
                  kind == .max || kind == .min else { return }
            var out = [T](repeating: 0, count: ins.output.count)
            var idx = [Int32](repeating: 0, count: ins.output.count)
            out.withUnsafeMutableBufferPointer { o in
                idx.withUnsafeMutableBufferPointer { i in
                    Pool2D.forward(g, kind: kind, input: ptr(ins.inputs[0]), output: o.baseAddress!, indices: i.baseAddress!,
                                   threads: 1)
                }
            }
            for v in idx { mix(UInt64(UInt32(bitPattern: v))) }
        default:
            // Elementwise, each with its own kinks: satlin at 0 and 1, satlins at ±1, the others
            // (relu, abs, leaky_relu, elu, hardlim, …) at 0. Crossing a point that is no kink of the op
            // (relu through 1) is no change of branch.
            guard ins.inputs.count == 1 else { return }
            let x = ptr(ins.inputs[0])
            let n = ins.inputs[0].count
            switch ins.op {
            case .satlin:
                for i in 0..<n { mix((x[i] > 0 ? 1 : 0) | (x[i] == 0 ? 2 : 0) | (x[i] >= 1 ? 4 : 0)) }
            case .satlins:
                for i in 0..<n { mix((x[i] >= 1 ? 4 : 0) | (x[i] <= -1 ? 8 : 0)) }
            default:
                for i in 0..<n { mix((x[i] > 0 ? 1 : 0) | (x[i] == 0 ? 2 : 0)) }
            }
        }
    }
}
