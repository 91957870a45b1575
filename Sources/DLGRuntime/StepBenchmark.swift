import DLGCompiler
import DLGGraph
import DLGKernels
import DLGSource
import Foundation

/// Times compiled steps (a training step, or a forward pass) on random data,
/// for `dlg bench` and the benchmark suite.
public final class StepBenchmark: @unchecked Sendable {
    public let executor: Executor
    public let program: Program
    /// FLOPs of one step, from the ops' declarations.
    public let flops: Int
    public let compileSeconds: Double
    public let batch: Int

    /// Compiles `file` at batch `batch` (bound to the first input's leading symbol).
    public init(file: SourceFile, model: String? = nil, training: Bool, batch: Int, optimizer: OptimizerSpec?,
                disabled: Set<String> = [], threads: Int, seed: UInt64 = 0, bindings: [String: Int] = [:]) throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let probe = Frontend.compile(file, model: model, options: ElaborationOptions(training: true, bindings: bindings))
        guard let g0 = probe.graph, !probe.hasErrors else {
            throw ExecutionError(probe.diagnostics.errors.first.map { "\(file.location($0.range.start)): \($0.message)" } ?? "compile failed")
        }
        var o = PipelineOptions()
        o.training = training
        o.differentiate = training
        o.optimizer = training ? (optimizer ?? OptimizerSpec(kind: .sgd, lr: 0.01)) : nil
        o.keepLoss = training
        o.disabled = disabled
        o.bindings = bindings
        for n in g0.inputs { for s in n.type.shape.symbols where o.bindings[s] == nil { o.bindings[s] = batch } }
        let (graph, diags, _) = Pipeline.compile(file, model: model, options: o)
        guard let g = graph else {
            throw ExecutionError(diags.errors.first.map { "\(file.location($0.range.start)): \($0.message)" } ?? "compile failed")
        }
        program = try Lowering.lower(g)
        executor = try Executor(program, threads: threads)
        compileSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        flops = g.totalFlops() ?? 0
        self.batch = batch
        executor.seed = seed
        executor.initializeState(seed: seed)
        var rng = RandomStream(seed: seed ^ 0xBE7C)
        let classes = program.outputs.first?.buffer.shape.last ?? 2
        for slot in program.inputs {
            let values: [Double] = slot.buffer.dtype == .i32
                ? (0..<slot.buffer.count).map { _ in Double(rng.below(max(classes, 1))) }
                : (0..<slot.buffer.count).map { _ in rng.uniform(0.0, 1.0) }
            executor.setValues(slot.buffer, values)
        }
    }

    /// Runs `steps` steps and returns each one's wall time in seconds.
    public func time(steps: Int) throws -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(steps)
        for _ in 0..<steps {
            let t = DispatchTime.now().uptimeNanoseconds
            try executor.run()
            out.append(Double(DispatchTime.now().uptimeNanoseconds - t) * 1e-9)
        }
        return out
    }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The best sgemm rate of this machine now (GFLOP/s), from square products at `threads` threads,
    /// run in turn by OpenBLAS's own threads and split over the kernels' pool (`GemmPlan.run`),
    /// the faster of the two counting. Products run untimed for `warmup` seconds first (the
    /// cores of an idle machine, or a virtual machine's, take tens of milliseconds to reach full
    /// speed, and the first products also start BLAS's threads), then the best of those run in
    /// the next `window` seconds (at least three of each kind) is the peak.
    public static func sgemmPeak(threads: Int, size: Int = 1024, warmup: Double = 0.25, window: Double = 0.35) -> Double {
        guard let plan = try? GemmPlan(m: size, n: size, k: size) else { return 0 }
        var a = [Float](repeating: 0.5, count: size * size), b = a, c = a
        var best = Double.infinity
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    let start = DispatchTime.now().uptimeNanoseconds
                    var runs = 0, timed = 0
                    while true {
                        let t = DispatchTime.now().uptimeNanoseconds
                        if runs % 2 == 0 {
                            plan.runOnBLASThreads(a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!, threads: threads)
                        } else {
                            plan.run(a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!, threads: threads)
                        }
                        let now = DispatchTime.now().uptimeNanoseconds
                        let elapsed = Double(now - start) * 1e-9
                        runs += 1
                        if elapsed > warmup {
                            best = min(best, Double(now - t) * 1e-9)
                            timed += 1
                            if timed >= 6 && elapsed > warmup + window { break }
                        }
                    }
                }
            }
        }
        return 2 * Double(size * size * size) / best / 1e9
    }
}
