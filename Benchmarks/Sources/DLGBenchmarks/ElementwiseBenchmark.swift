import ArgumentParser
import DLGKernels
import Foundation

/// Elementwise kernels on Float buffers — `unary`, `binary` (same-shape
/// broadcast plan) and `FusedElementwiseKernel` chains — in GB/s of bytes
/// read plus bytes written, against a plain memory copy of the same element
/// count (memcpy; read n, write n) measured interleaved with each kernel at
/// the same thread count. `unary` and `binary` take no thread count (the
/// runtime calls them on one thread), so they run on one thread against a
/// one-thread copy; the fused kernel runs on 1 and on `--threads` threads,
/// against a copy split the same way.
struct ElementwiseBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elementwise",
        abstract: "Elementwise kernels (unary, binary, fused) in GB/s against memcpy of the same size.")

    @OptionGroup var options: KernelBenchmarkOptions

    @Option(help: "Element counts, each a multiple of 64·\(channels) (repeat the option for several).")
    var sizes: [Int] = [16 << 20, 64 << 10]

    /// Channels of the [1, C, count/C] layout the bias + relu chain runs on.
    static let channels = 64

    enum Kernel {
        case unary(UnaryFunction)
        case binary(Op)
        /// relu(a·b + c)
        case fusedMulAddRelu
        /// relu(x + bias[channel]) over [1, C, count/C]
        case fusedBiasRelu
        /// (x − μ[channel])·σ[channel] over [count/(C·64), C, 8·8]: batchnorm's
        /// normalization on 8×8 planes, 64 values per row
        case fusedNormalizeShortRows
    }

    struct Row: Encodable {
        var kernel: String
        var elements: Int
        var threads: Int
        /// Bytes read + written by one call.
        var bytes: Int
        var timing: Timing
        var gbps: Double
        var copy: Timing
        var copyGbps: Double
        /// Median over rounds of kernel GB/s / copy GB/s.
        var ratio: Double
    }

    struct Report: Encodable {
        var benchmark = "elementwise"
        var machine = MachineInfo()
        var threads: Int
        var runs: Int
        var rows: [Row]
    }

    func validate() throws {
        if let s = sizes.first(where: { $0 < 64 * Self.channels || $0 % (64 * Self.channels) != 0 }) {
            throw ValidationError("--sizes must be positive multiples of 64·\(Self.channels) = \(64 * Self.channels), got \(s)")
        }
    }

    func run() throws {
        try configureThreads(options.threads)
        let threadCounts = options.threads == 1 ? [1] : [1, options.threads]
        var rows: [Row] = []
        for count in sizes {
            let buffers = Buffers(count: count)
            let kernels: [Kernel] = [.unary(UnaryFunction(.relu)!), .unary(UnaryFunction(.exp)!), .unary(UnaryFunction(.sigmoid)!), .unary(UnaryFunction(.tanh)!),
                                     .binary(.add), .binary(.mul)]
            for k in kernels { rows.append(try measure(k, buffers, threads: 1)) }
            for k in [Kernel.fusedMulAddRelu, .fusedBiasRelu, .fusedNormalizeShortRows] {
                for t in threadCounts { rows.append(try measure(k, buffers, threads: t)) }
            }
        }
        let report = Report(threads: options.threads, runs: options.runs, rows: rows)
        if options.json { try printJSON(report) } else { printTable(report) }
    }

    /// The operands of one size: inputs in [−4, 4), an output, a copy
    /// destination and the per-channel bias.
    final class Buffers {
        let count: Int
        let a: FloatBuffer, b: FloatBuffer, c: FloatBuffer, out: FloatBuffer, copy: FloatBuffer
        let bias: FloatBuffer

        init(count: Int) {
            self.count = count
            a = FloatBuffer(count: count, low: -4, high: 4, seed: 1)
            b = FloatBuffer(count: count, low: -4, high: 4, seed: 2)
            c = FloatBuffer(count: count, low: -4, high: 4, seed: 3)
            out = FloatBuffer(count: count, seed: 4)
            copy = FloatBuffer(count: count, seed: 5)
            bias = FloatBuffer(count: ElementwiseBenchmark.channels, seed: 6)
        }
    }

    func measure(_ kernel: Kernel, _ buffers: Buffers, threads: Int) throws -> Row {
        let n = buffers.count
        let element = MemoryLayout<Float>.stride
        let (a, b, c, out) = (buffers.a, buffers.b, buffers.c, buffers.out)
        let label: String
        let bytes: Int
        let body: () -> Void
        switch kernel {
        case .unary(let op):
            label = "unary \(op)"
            bytes = 2 * n * element
            body = { unary(op, a.pointer, out.base, count: n) }
        case .binary(let op):
            let plan = try BroadcastPlan(lhs: [n], rhs: [n])
            label = "binary \(op)"
            bytes = 3 * n * element
            body = { binary(op, plan, a.pointer, b.pointer, out.base) }
        case .fusedMulAddRelu:
            let kernel = FusedElementwiseKernel(
                steps: [.init(code: .binary(.mul), operands: [.view(0), .view(1)]),
                        .init(code: .binary(.add), operands: [.step(0), .view(2)]),
                        .init(code: .unary(UnaryFunction(.relu)!), operands: [.step(1)])],
                shape: [n], views: [(0, [1]), (1, [1]), (2, [1])])
            let inputs = [a.pointer, b.pointer, c.pointer]
            label = "fused relu(a·b + c)"
            bytes = 4 * n * element
            body = { kernel.run(inputs, out.base, threads: threads) }
        case .fusedBiasRelu:
            let shape = [1, Self.channels, n / Self.channels]
            let kernel = FusedElementwiseKernel(
                steps: [.init(code: .binary(.add), operands: [.view(0), .view(1)]),
                        .init(code: .unary(UnaryFunction(.relu)!), operands: [.step(0)])],
                shape: shape,
                views: [(0, FusedElementwiseKernel.broadcastStrides(shape, to: shape)),
                        (1, FusedElementwiseKernel.axisStrides(axis: 1, of: shape))])
            let inputs = [a.pointer, buffers.bias.pointer]
            label = "fused relu(x + bias[c])"
            bytes = (2 * n + Self.channels) * element
            body = { kernel.run(inputs, out.base, threads: threads) }
        case .fusedNormalizeShortRows:
            let shape = [n / (Self.channels * 64), Self.channels, 64]
            let perChannel = FusedElementwiseKernel.axisStrides(axis: 1, of: shape)
            let kernel = FusedElementwiseKernel(
                steps: [.init(code: .binary(.sub), operands: [.view(0), .view(1)]),
                        .init(code: .binary(.mul), operands: [.step(0), .view(2)])],
                shape: shape,
                views: [(0, FusedElementwiseKernel.broadcastStrides(shape, to: shape)), (1, perChannel), (2, perChannel)])
            let inputs = [a.pointer, buffers.bias.pointer, buffers.bias.pointer]
            label = "fused (x − μ[c])·σ[c], 8×8"
            bytes = (2 * n + 2 * Self.channels) * element
            body = { kernel.run(inputs, out.base, threads: threads) }
        }
        let copy = copyBody(from: a, to: buffers.copy, threads: threads)
        let copyBytes = 2 * n * element
        let repeats = repeatsFor(target: options.sampleSeconds, body)
        let timed = measureInterleaved([label, "memcpy"], warmup: options.warmup, runs: options.runs,
                                       repeats: repeats, [body, copy])
        let (k, m) = (timed[0], timed[1])
        // GB/s ratio per round: (bytes / t_kernel) / (copyBytes / t_copy).
        let ratio = m.pairedRatio(to: k) * Double(bytes) / Double(copyBytes)
        return Row(kernel: label, elements: n, threads: threads, bytes: bytes,
                   timing: Timing(k, repeats: repeats), gbps: Double(bytes) / k.median * 1e-9,
                   copy: Timing(m, repeats: repeats), copyGbps: Double(copyBytes) / m.median * 1e-9, ratio: ratio)
    }

    /// memcpy of `source` into `destination`, split into `threads`
    /// contiguous parts copied concurrently when `threads > 1`.
    func copyBody(from source: FloatBuffer, to destination: FloatBuffer, threads: Int) -> () -> Void {
        let n = source.count, element = MemoryLayout<Float>.stride
        if threads == 1 {
            return { _ = memcpy(destination.base, source.pointer, n * element) }
        }
        return {
            Threads.parallelFor(0..<n, threads: threads) { r in
                _ = memcpy(destination.base + r.lowerBound, source.pointer + r.lowerBound, r.count * element)
            }
        }
    }

    func printTable(_ report: Report) {
        print("elementwise: dlg kernels on Float buffers vs memcpy of the same element count, interleaved")
        print(report.machine.line)
        print("\(report.runs) samples each; GB/s = (bytes read + bytes written) / median time (memcpy: 2·4·n bytes);")
        print("ratio = median over samples of kernel GB/s / memcpy GB/s at the same thread count\n")
        var table = TextTable("kernel", "elements", "threads", "µs", "min", "GB/s", "memcpy µs", "GB/s", "ratio", "reps")
        for r in report.rows {
            table.add(r.kernel, sizeLabel(r.elements), "\(r.threads)", fmt(r.timing.medianMs * 1e3, 1),
                      fmt(r.timing.minMs * 1e3, 1), fmt(r.gbps, 1), fmt(r.copy.medianMs * 1e3, 1), fmt(r.copyGbps, 1),
                      fmt(r.ratio, 2), "\(r.timing.repeatsPerSample)")
        }
        print(table.render())
    }

    func sizeLabel(_ n: Int) -> String {
        if n % (1 << 20) == 0 { return "\(n >> 20)M" }
        if n % (1 << 10) == 0 { return "\(n >> 10)K" }
        return "\(n)"
    }
}
