import ArgumentParser
import DLGKernels
import Foundation

/// Forward convolution as dlg runs it — `Conv2D.forward` with a bias and a
/// ReLU epilogue: the implicit GEMM (AVX-512 CPUs), im2col + GEMM, the
/// pointwise (1×1) GEMM path, or the direct depthwise kernel — on LeNet-5,
/// ResNet-20, ResNet-50 and MobileNet layer shapes, in GFLOP/s and as a
/// fraction of the sgemm peak measured in the same run with the same thread
/// count. Where the convolution is one GEMM (groups = 1), the raw
/// `cblas_sgemm` of the same M×N×K (M = filters, N = batch·out-plane,
/// K = channels·kh·kw) on ready-made columns is timed interleaved with it,
/// as the figure that im2col, the epilogue and the batch split cost against;
/// where the implicit GEMM runs, so is the im2col algorithm on the same
/// layer.
struct ConvBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "Conv2D.forward (bias + ReLU) on LeNet-5, ResNet-20, ResNet-50 and depthwise shapes against the sgemm peak and im2col.")

    @OptionGroup var options: KernelBenchmarkOptions

    @Option(help: "Batch of the ResNet-50 and depthwise shapes (LeNet-5 runs at 128 and 1).")
    var batch = 8

    @Option(help: "Square size of the sgemm peak measurement.")
    var peakSize = 2048

    @Flag(inversion: .prefixedNo, help: "Time the same-size raw sgemm interleaved with each convolution of one group.")
    var gemmReference = true

    struct Case {
        var label: String
        var n: Int, c: Int, size: Int, f: Int, kernel: Int
        var stride = 1, pad = 0, groups = 1
    }

    func cases() -> [Case] {
        let b = batch
        return [
            Case(label: "LeNet c1 1→6 5×5 p2 @28", n: 128, c: 1, size: 28, f: 6, kernel: 5, pad: 2),
            Case(label: "LeNet c1 1→6 5×5 p2 @28", n: 1, c: 1, size: 28, f: 6, kernel: 5, pad: 2),
            Case(label: "LeNet c3 6→16 5×5 @14", n: 128, c: 6, size: 14, f: 16, kernel: 5),
            Case(label: "LeNet c3 6→16 5×5 @14", n: 1, c: 6, size: 14, f: 16, kernel: 5),
            Case(label: "ResNet-20 3×3 16→16 @32", n: 32, c: 16, size: 32, f: 16, kernel: 3, pad: 1),
            Case(label: "ResNet-20 3×3 32→32 @16", n: 32, c: 32, size: 16, f: 32, kernel: 3, pad: 1),
            Case(label: "ResNet-20 3×3 64→64 @8", n: 32, c: 64, size: 8, f: 64, kernel: 3, pad: 1),
            Case(label: "ResNet conv1 3→64 7×7 s2 p3 @224", n: b, c: 3, size: 224, f: 64, kernel: 7, stride: 2, pad: 3),
            Case(label: "ResNet 3×3 64→64 @56", n: b, c: 64, size: 56, f: 64, kernel: 3, pad: 1),
            Case(label: "ResNet 3×3 128→128 @28", n: b, c: 128, size: 28, f: 128, kernel: 3, pad: 1),
            Case(label: "ResNet 3×3 256→256 @14", n: b, c: 256, size: 14, f: 256, kernel: 3, pad: 1),
            Case(label: "ResNet 3×3 512→512 @7", n: b, c: 512, size: 7, f: 512, kernel: 3, pad: 1),
            Case(label: "ResNet 1×1 256→64 @56", n: b, c: 256, size: 56, f: 64, kernel: 1),
            Case(label: "MobileNet dw 3×3 32 @112", n: b, c: 32, size: 112, f: 32, kernel: 3, pad: 1, groups: 32),
            Case(label: "MobileNet dw 3×3 512 @14", n: b, c: 512, size: 14, f: 512, kernel: 3, pad: 1, groups: 512),
        ]
    }

    struct Row: Encodable {
        var label: String
        var batch: Int
        var geometry: String
        /// "implicit", "im2col", "pointwise" or "depthwise".
        var path: String
        var flops: Int
        var workspaceBytes: Int
        var conv: Timing
        /// From the median time.
        var gflops: Double
        /// From the fastest sample.
        var bestGflops: Double
        /// Best conv GFLOP/s / the sgemm peak's best GFLOP/s (best against best:
        /// the figure least disturbed by other load on the machine).
        var fractionOfPeak: Double
        /// The same-size raw sgemm (groups = 1 only).
        var gemm: Timing?
        var gemmGflops: Double?
        /// Median over rounds of conv time / GEMM time.
        var convOverGemm: Double?
        /// The im2col algorithm on the same layer, where the implicit GEMM runs.
        var im2col: Timing?
        /// Median over rounds of conv time / im2col time.
        var convOverIm2col: Double?
    }

    struct Report: Encodable {
        var benchmark = "conv"
        var machine = MachineInfo()
        var threads: Int
        var runs: Int
        var epilogue = "bias + relu"
        var peak: SgemmPeak
        var rows: [Row]
    }

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be positive, got \(batch)") }
        if peakSize < 1 { throw ValidationError("--peak-size must be positive, got \(peakSize)") }
    }

    func run() throws {
        let threads = options.threads
        let peak = try SgemmPeak.measured(size: peakSize, threads: threads, runs: options.runs, warmup: options.warmup)
        var rows: [Row] = []
        for c in cases() { rows.append(try measureCase(c, threads: threads, peak: peak)) }
        let report = Report(threads: threads, runs: options.runs, peak: peak, rows: rows)
        if options.json { try printJSON(report) } else { printTable(report) }
    }

    func measureCase(_ c: Case, threads: Int, peak: SgemmPeak) throws -> Row {
        let g = try Conv2DGeometry(n: c.n, c: c.c, h: c.size, w: c.size, filters: c.f, kernelH: c.kernel, kernelW: c.kernel,
                                   strideH: c.stride, strideW: c.stride, padTop: c.pad, padBottom: c.pad,
                                   padLeft: c.pad, padRight: c.pad, groups: c.groups)
        let input = FloatBuffer(count: g.inputCount, seed: 1)
        let weight = FloatBuffer(count: g.weightCount, low: -0.1, high: 0.1, seed: 2)
        let bias = FloatBuffer(count: g.f, seed: 3)
        let output = FloatBuffer(count: g.outputCount, seed: 4)
        let workspace = FloatBuffer(count: Conv2D.workspaceCount(.forward, for: g, threads: threads, as: Float.self), seed: 5)
        let conv = {
            Conv2D.forward(g, input: input.pointer, weight: weight.pointer, bias: bias.pointer, epilogue: UnaryFunction(.relu),
                           output: output.base, workspace: workspace.buffer, threads: threads)
        }
        let implicit = Conv2D.algorithm(.forward, for: g, as: Float.self) == .implicitGemm
        let path = g.isDepthwise ? "depthwise" : g.isPointwise ? "pointwise" : implicit ? "implicit" : "im2col"
        let flops = Double(g.forwardFlops)
        let repeats = repeatsFor(target: options.sampleSeconds, conv)

        var convTime: Measurement
        var gemmTime: Measurement?
        var im2colTime: Measurement?
        if implicit {
            let scratch = FloatBuffer(count: Conv2D.workspaceCount(.forward, for: g, threads: threads, as: Float.self,
                                                                   algorithm: .im2col), seed: 8)
            let reference = {
                Conv2D.forward(g, input: input.pointer, weight: weight.pointer, bias: bias.pointer, epilogue: UnaryFunction(.relu),
                               output: output.base, workspace: scratch.buffer, threads: threads, algorithm: .im2col)
            }
            let timed = measureInterleaved(["conv", "im2col"], warmup: options.warmup, runs: options.runs,
                                           repeats: repeats, [conv, reference])
            (convTime, im2colTime) = (timed[0], timed[1])
        } else if g.groups == 1 && gemmReference {
            // The reference: one sgemm over the whole batch, W[f, K] · columns[K, N].
            let (m, n, k) = (g.f, g.n * g.outputPlane, g.colRows)
            let columns = FloatBuffer(count: k * n, seed: 6), product = FloatBuffer(count: m * n, seed: 7)
            let gemm = {
                // Conv2D.forward leaves OpenBLAS at one thread when it splits the batch over workers.
                Threads.setBLASThreads(threads)
                rawSgemm(m: m, n: n, k: k, a: weight.pointer, lda: k, b: columns.pointer, ldb: n, c: product.base, ldc: n)
            }
            let timed = measureInterleaved(["conv", "gemm"], warmup: options.warmup, runs: options.runs,
                                           repeats: repeats, [conv, gemm])
            (convTime, gemmTime) = (timed[0], timed[1])
        } else {
            convTime = measureInterleaved(["conv"], warmup: options.warmup, runs: options.runs, repeats: repeats, [conv])[0]
        }
        let gflops = flops / convTime.median * 1e-9, bestGflops = flops / convTime.min * 1e-9
        return Row(label: c.label, batch: c.n, geometry: g.description, path: path, flops: g.forwardFlops,
                   workspaceBytes: workspace.bytes, conv: Timing(convTime, repeats: repeats), gflops: gflops,
                   bestGflops: bestGflops, fractionOfPeak: bestGflops / peak.bestGflops,
                   gemm: gemmTime.map { Timing($0, repeats: repeats) },
                   gemmGflops: gemmTime.map { flops / $0.median * 1e-9 },
                   convOverGemm: gemmTime.map { convTime.pairedRatio(to: $0) },
                   im2col: im2colTime.map { Timing($0, repeats: repeats) },
                   convOverIm2col: im2colTime.map { convTime.pairedRatio(to: $0) })
    }

    func printTable(_ report: Report) {
        print("conv: Conv2D.forward with bias + ReLU epilogue, Float, NCHW, \(report.threads) thread\(report.threads == 1 ? "" : "s")")
        print(report.machine.line)
        print(report.peak.line)
        print("""
            \(report.runs) samples each; ms median / min per call; GFLOP/s = 2·N·Cout·Hout·Wout·(Cin/groups)·kh·kw / median time;
            best = the same from the fastest sample; % peak = best GFLOP/s / the sgemm peak's best GFLOP/s;
            gemm = raw cblas_sgemm of the same M×N×K (M = Cout, N = N·Hout·Wout, K = Cin·kh·kw) on ready columns,
            interleaved with the conv; conv/gemm = median over samples of conv time / gemm time;
            where the path is the implicit GEMM, the im2col algorithm on the same layer is interleaved instead
            (im2col ms, conv/im2col)

            """)
        var table = TextTable("layer", "N", "path", "ms", "min", "GFLOP/s", "best", "% peak", "gemm ms", "GFLOP/s", "conv/gemm",
                              "im2col ms", "conv/im2col", "ws MiB", "reps")
        for r in report.rows {
            table.add(r.label, "\(r.batch)", r.path, msLabel(r.conv.medianMs), msLabel(r.conv.minMs), fmt(r.gflops, 1),
                      fmt(r.bestGflops, 1), fmt(r.fractionOfPeak * 100, 1), r.gemm.map { msLabel($0.medianMs) } ?? "—",
                      r.gemmGflops.map { fmt($0, 1) } ?? "—", r.convOverGemm.map { fmt($0, 2) } ?? "—",
                      r.im2col.map { msLabel($0.medianMs) } ?? "—", r.convOverIm2col.map { fmt($0, 2) } ?? "—",
                      fmt(Double(r.workspaceBytes) / 1048576, 2), "\(r.conv.repeatsPerSample)")
        }
        print(table.render())
    }
}
