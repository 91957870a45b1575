import ArgumentParser
import DLGKernels
import Foundation

/// dlg's GEMM (`GemmPlan.run`, what the runtime calls for matmul and dense
/// layers: the product split over the kernels' pool, single-threaded
/// OpenBLAS in each part, with the workspace the runtime gives it) against
/// `cblas_sgemm` called directly with the same operands on OpenBLAS's own
/// threads, as many, the two alternating sample by sample; and the sgemm
/// peak (raw sgemm on a large square size) at 1 and 2 threads.
struct GemmBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "dlg's GemmPlan.run (split over the pool) against raw cblas_sgemm on OpenBLAS's threads (Float), interleaved; and the sgemm peak.")

    @OptionGroup var options: KernelBenchmarkOptions

    @Option(help: "Square size of the sgemm peak measurement.")
    var peakSize = 2048

    @Option(help: "OpenBLAS thread counts of the sgemm peak (repeat the option for several).")
    var peakThreads: [Int] = [1, 2]

    @Option(help: "Largest accepted slowdown of the wrapper against raw sgemm at 512³, as a fraction.")
    var tolerance = 0.05

    struct Case {
        var label: String
        var m: Int, n: Int, k: Int
        var transA = false, transB = false
    }

    /// The acceptance case's label.
    static let acceptanceLabel = "512³"

    static let cases: [Case] = [
        Case(label: "32³ (call overhead)", m: 32, n: 32, k: 32),
        Case(label: "256³", m: 256, n: 256, k: 256),
        Case(label: acceptanceLabel, m: 512, n: 512, k: 512),
        Case(label: "1024³", m: 1024, n: 1024, k: 1024),
        Case(label: "512³ A·Bᵀ", m: 512, n: 512, k: 512, transB: true),
        Case(label: "512³ Aᵀ·B", m: 512, n: 512, k: 512, transA: true),
        Case(label: "512³ Aᵀ·Bᵀ", m: 512, n: 512, k: 512, transA: true, transB: true),
        // ResNet-50's 3×3 64→64 convolution at 56×56, one image: W[64, 576] · col[576, 3136].
        Case(label: "conv 64×3136×576", m: 64, n: 3136, k: 576),
        // A 784→512 dense layer at batch 128: x[128, 784] · W[784, 512] …
        Case(label: "dense 128×512×784", m: 128, n: 512, k: 784),
        // … and its weight gradient xᵀ · dy.
        Case(label: "dense dW 784×512×128 Aᵀ·B", m: 784, n: 512, k: 128, transA: true),
    ]

    struct Row: Encodable {
        var label: String
        var m: Int, n: Int, k: Int
        var transA: Bool, transB: Bool
        var wrapper: Timing
        var raw: Timing
        var wrapperGflops: Double
        var rawGflops: Double
        /// Median over rounds of wrapper time / raw time (the figure to judge).
        var ratio: Double
        var ratioOfMedians: Double
        var ratioOfMins: Double
        /// Wrapper median − raw median, per call.
        var overheadMicroseconds: Double
        /// Largest |C_wrapper − C_raw| after one call each (0 expected).
        var maxDifference: Float
    }

    struct Acceptance: Encodable {
        var label: String
        var ratio: Double
        var tolerance: Double
        var within: Bool
    }

    struct Report: Encodable {
        var benchmark = "gemm"
        var machine = MachineInfo()
        var threads: Int
        var runs: Int
        var rows: [Row]
        var peaks: [SgemmPeak]
        var acceptance: Acceptance?
    }

    func validate() throws {
        if peakSize < 1 { throw ValidationError("--peak-size must be positive, got \(peakSize)") }
        if let t = peakThreads.first(where: { $0 < 1 }) { throw ValidationError("--peak-threads must be positive, got \(t)") }
    }

    func run() throws {
        let threads = options.threads
        try configureThreads(threads)
        var rows: [Row] = []
        for c in Self.cases { rows.append(try measureCase(c, threads: threads)) }

        var peaks: [SgemmPeak] = []
        for t in peakThreads {
            peaks.append(try SgemmPeak.measured(size: peakSize, threads: t, runs: options.runs, warmup: options.warmup))
        }
        try configureThreads(threads)

        let acceptance = rows.first { $0.label == Self.acceptanceLabel }.map {
            Acceptance(label: $0.label, ratio: $0.ratio, tolerance: tolerance, within: $0.ratio <= 1 + tolerance)
        }
        let report = Report(threads: threads, runs: options.runs, rows: rows, peaks: peaks, acceptance: acceptance)
        if options.json { try printJSON(report) } else { printTables(report) }
    }

    func measureCase(_ c: Case, threads: Int) throws -> Row {
        let plan = try GemmPlan(m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB)
        let a = FloatBuffer(count: plan.aCount, seed: 1), b = FloatBuffer(count: plan.bCount, seed: 2)
        let cWrapper = FloatBuffer(count: plan.cCount, seed: 3), cRaw = FloatBuffer(count: plan.cCount, seed: 3)
        let workspace = FloatBuffer(count: plan.workspaceCount(threads: threads), seed: 4)
        let wrapper = { plan.run(a: a.pointer, b: b.pointer, c: cWrapper.base, threads: threads, workspace: workspace.buffer) }
        let raw = {
            // The wrapper leaves OpenBLAS at one thread; the reference runs on all of its own.
            Threads.setBLASThreads(threads)
            rawSgemm(m: plan.m, n: plan.n, k: plan.k, transA: plan.transA, transB: plan.transB,
                     a: a.pointer, lda: plan.lda, b: b.pointer, ldb: plan.ldb, c: cRaw.base, ldc: plan.ldc)
        }
        wrapper()
        raw()
        let difference = cWrapper.maxDifference(cRaw)
        let repeats = repeatsFor(target: options.sampleSeconds, raw)
        let m = measureInterleaved(["dlg GemmPlan.run", "cblas_sgemm"], warmup: options.warmup, runs: options.runs,
                                   repeats: repeats, [wrapper, raw])
        let (w, r) = (m[0], m[1])
        let flops = Double(plan.flops)
        return Row(label: c.label, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB,
                   wrapper: Timing(w, repeats: repeats), raw: Timing(r, repeats: repeats),
                   wrapperGflops: flops / w.median * 1e-9, rawGflops: flops / r.median * 1e-9,
                   ratio: w.pairedRatio(to: r), ratioOfMedians: w.median / r.median, ratioOfMins: w.min / r.min,
                   overheadMicroseconds: (w.median - r.median) * 1e6, maxDifference: difference)
    }

    func printTables(_ report: Report) {
        print("gemm: dlg GemmPlan.run vs cblas_sgemm, Float, row-major, \(report.threads) OpenBLAS thread\(report.threads == 1 ? "" : "s") for both")
        print(report.machine.line)
        print("\(report.runs) interleaved samples each; ms median / min per call; GFLOP/s = 2·M·N·K / median time;")
        print("ratio = median over samples of wrapper time / raw time in the same round (1.000 = equal)\n")
        var table = TextTable("case (M×N×K)", "dlg ms", "min", "GFLOP/s", "raw ms", "min", "GFLOP/s",
                              "dlg/raw", "Δ µs/call", "reps", "max |ΔC|")
        for r in report.rows {
            table.add(r.label, msLabel(r.wrapper.medianMs), msLabel(r.wrapper.minMs), fmt(r.wrapperGflops, 1),
                      msLabel(r.raw.medianMs), msLabel(r.raw.minMs), fmt(r.rawGflops, 1),
                      fmt(r.ratio, 3), fmt(r.overheadMicroseconds, 2), "\(r.raw.repeatsPerSample)",
                      String(format: "%g", Double(r.maxDifference)))
        }
        print(table.render())
        print("")
        for p in report.peaks { print(p.line) }
        if let a = report.acceptance {
            print(String(format: "\nacceptance: dlg/raw at %@ = %.3f, limit %.3f → %@", a.label, a.ratio, 1 + a.tolerance,
                         a.within ? "within \(fmt(a.tolerance * 100, 0))%" : "NOT within \(fmt(a.tolerance * 100, 0))%"))
        }
    }
}
