import ArgumentParser
import DLGKernels
import Foundation

/// The fused LSTM recurrence (`LSTMScan.forward` / `backward`, the kernels of
/// the graph ops `lstm_scan` / `lstm_scan_grad`) against the per-step matrix
/// products an unrolled LSTM runs through `GemmPlan.run` — T products
/// h_prev·W_hhᵀ ([B, H]·[H, 4H]) forward and T products dpre·W_hh
/// ([B, 4H]·[4H, H]) backward, the products alone, without the cell's
/// elementwise ops — interleaved sample by sample, Float.
struct LSTMScanBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstmscan",
        abstract: "The fused LSTM recurrence (LSTMScan forward/backward) against T per-step GemmPlan products (Float), interleaved.")

    @OptionGroup var options: KernelBenchmarkOptions

    @Option(help: "Batch size B.")
    var batch = 32

    @Option(help: "Time steps T.")
    var steps = 64

    @Option(help: "Hidden size H.")
    var hidden = 256

    struct Row: Encodable {
        var label: String
        var fused: Timing
        var products: Timing
        /// GFLOP/s of the recurrent products (2·B·4H·H per step) in the fused kernel.
        var fusedGflops: Double
        var productsGflops: Double
        /// Median over rounds of fused time / products time.
        var ratio: Double
    }

    struct Report: Encodable {
        var benchmark = "lstmscan"
        var machine = MachineInfo()
        var avx512 = CPUFeatures.useAVX512
        var threads: Int
        var runs: Int
        var batch: Int, steps: Int, hidden: Int
        var rows: [Row]
    }

    func validate() throws {
        if batch < 1 || steps < 1 || hidden < 1 {
            throw ValidationError("--batch, --steps and --hidden must be positive, got \(batch), \(steps), \(hidden)")
        }
    }

    func run() throws {
        let threads = options.threads
        try configureThreads(threads)
        let (B, T, H) = (batch, steps, hidden)
        let xb = FloatBuffer(count: B * T * 4 * H, seed: 1), whh = FloatBuffer(count: 4 * H * H, seed: 2)
        // Recurrent weights of a trained size (uniform ±1/√H, PyTorch's initialization), inputs ±1.
        let scale = 1 / Float(H).squareRoot()
        for i in 0 ..< whh.count { whh.base[i] *= scale }
        let h0 = FloatBuffer(count: B * H, seed: 3), c0 = FloatBuffer(count: B * H, seed: 4)
        let tape = FloatBuffer(count: B * T * 6 * H, seed: 5), dtape = FloatBuffer(count: B * T * 6 * H, seed: 6)
        let dpre = FloatBuffer(count: B * (T + 1) * 4 * H, seed: 7)
        let wf = FloatBuffer(count: LSTMScan.forwardWorkspace(Float.self, batch: B, hidden: H, threads: threads), seed: 8)
        let wb = FloatBuffer(count: LSTMScan.backwardWorkspace(Float.self, batch: B, hidden: H, threads: threads), seed: 9)

        let forward = {
            LSTMScan.forward(xb: xb.pointer, whh: whh.pointer, h0: h0.pointer, c0: c0.pointer, tape: tape.base, batch: B, steps: T,
                             hidden: H, reverse: false, workspace: wf.base, threads: threads)
        }
        let backward = {
            LSTMScan.backward(tape: tape.pointer, whh: whh.pointer, h0: h0.pointer, c0: c0.pointer, dtape: dtape.pointer,
                              dpre: dpre.base, batch: B, steps: T, hidden: H, reverse: false, workspace: wb.base, threads: threads)
        }
        // The unrolled graph's products: A of step t is the previous step's output, here rows of the same buffers.
        let forwardPlan = try GemmPlan(m: B, n: 4 * H, k: H, transB: true, lda: T * 6 * H)
        let backwardPlan = try GemmPlan(m: B, n: H, k: 4 * H, lda: (T + 1) * 4 * H)
        let out = FloatBuffer(count: B * 4 * H, seed: 10)
        let pf = FloatBuffer(count: max(forwardPlan.workspaceCount(threads: threads), backwardPlan.workspaceCount(threads: threads)),
                             seed: 11)
        let forwardProducts = {
            for t in 0 ..< T {
                forwardPlan.run(a: tape.pointer + t * 6 * H, b: whh.pointer, c: out.base, threads: threads, workspace: pf.buffer)
            }
        }
        let backwardProducts = {
            for t in 0 ..< T {
                backwardPlan.run(a: dpre.pointer + t * 4 * H, b: whh.pointer, c: out.base, threads: threads, workspace: pf.buffer)
            }
        }
        forward()
        backward()
        let flops = 2 * Double(B) * Double(4 * H) * Double(H) * Double(T)
        var rows: [Row] = []
        for (label, fused, products) in [("forward", forward, forwardProducts), ("backward", backward, backwardProducts)] {
            let repeats = repeatsFor(target: options.sampleSeconds, products)
            let m = measureInterleaved(["LSTMScan \(label)", "GemmPlan ×\(T)"], warmup: options.warmup, runs: options.runs,
                                       repeats: repeats, [fused, products])
            rows.append(Row(label: label, fused: Timing(m[0], repeats: repeats), products: Timing(m[1], repeats: repeats),
                            fusedGflops: flops / m[0].median * 1e-9, productsGflops: flops / m[1].median * 1e-9,
                            ratio: m[0].pairedRatio(to: m[1])))
        }
        let report = Report(threads: threads, runs: options.runs, batch: B, steps: T, hidden: H, rows: rows)
        if options.json { try printJSON(report) } else { printTables(report) }
    }

    func printTables(_ report: Report) {
        print("lstmscan: LSTMScan (fused recurrence + cell) vs \(report.steps) GemmPlan.run products alone, Float, B = \(report.batch), "
              + "T = \(report.steps), H = \(report.hidden), \(report.threads) thread\(report.threads == 1 ? "" : "s"), "
              + "AVX-512 path: \(report.avx512 ? "yes" : "no")")
        print(report.machine.line)
        print("\(report.runs) interleaved samples each; ms median / min per call; GFLOP/s = the recurrent products' 2·B·4H·H·T / median;")
        print("ratio = median over samples of fused time / products time in the same round\n")
        var table = TextTable("pass", "fused ms", "min", "GFLOP/s", "products ms", "min", "GFLOP/s", "fused/products")
        for r in report.rows {
            table.add(r.label, msLabel(r.fused.medianMs), msLabel(r.fused.minMs), fmt(r.fusedGflops, 1),
                      msLabel(r.products.medianMs), msLabel(r.products.minMs), fmt(r.productsGflops, 1), fmt(r.ratio, 3))
        }
        print(table.render())
    }
}
