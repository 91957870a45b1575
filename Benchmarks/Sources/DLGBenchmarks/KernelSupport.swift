import ArgumentParser
import CBLAS
import DLGKernels
import Foundation

/// Options shared by the kernel benchmarks (`gemm`, `conv`, `elementwise`).
struct KernelBenchmarkOptions: ParsableArguments {
    @Option(help: "Threads for dlg's kernels and OpenBLAS (the same count for dlg and its references).")
    var threads = 2

    @Option(help: "Timed samples per measurement (interleaved with the reference's).")
    var runs = 15

    @Option(help: "Untimed rounds before each measurement.")
    var warmup = 3

    @Option(help: "Minimum length of one sample in milliseconds; short kernels are repeated within a sample to reach it.")
    var sampleMs = 2.0

    @Flag(help: "Print the figures as JSON instead of tables.")
    var json = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if runs < 1 { throw ValidationError("--runs must be at least 1, got \(runs)") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        if !(sampleMs >= 0) { throw ValidationError("--sample-ms must not be negative, got \(sampleMs)") }
    }

    /// The target length of one sample, in seconds.
    var sampleSeconds: Double { sampleMs * 1e-3 }
}

/// What the figures were measured on, printed above every kernel benchmark.
struct MachineInfo: Encodable {
    var cores = Threads.coreCount
    var openblasCore = BLASCore.current
    var openblasConfig = BLASCore.configuration.trimmingCharacters(in: .whitespaces)

    /// Set when OpenBLAS runs its generic Prescott kernels on a CPU that allows better ones:
    /// the user chose them (OPENBLAS_CORETYPE), or `BLASCore` could not re-execute the process.
    var warning: String? = MachineInfo.kernelWarning()

    var line: String {
        "cores: \(cores); \(openblasConfig)"
            + (warning.map { "\nwarning: " + $0 } ?? "")
    }

    static func kernelWarning() -> String? {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let best = BLASCore.bestCoreType(cpuFlags: BLASCore.cpuFlags(cpuinfo: cpuinfo)),
              BLASCore.current.lowercased() == "prescott" else { return nil }
        let set = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (OPENBLAS_CORETYPE=\($0))" } ?? ""
        return "the CPU allows OpenBLAS's \(best) kernels but it runs its generic Prescott ones\(set); "
            + "run with OPENBLAS_CORETYPE=\(best)"
    }
}

/// Sets dlg's default thread count and OpenBLAS's thread count to `n` and
/// checks that OpenBLAS took it.
func configureThreads(_ n: Int) throws {
    Threads.configure(n)
    let actual = Int(openblas_get_num_threads())
    if actual != n {
        throw ValidationError("OpenBLAS runs \(actual) threads after openblas_set_num_threads(\(n)); it may be built with a lower thread limit")
    }
}

/// A 64-byte-aligned buffer of Float, allocated and filled (every page
/// touched) before anything is timed, freed with the object.
final class FloatBuffer {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    /// `count` values uniform in `[low, high)` from `seed`.
    init(count: Int, low: Float = -1, high: Float = 1, seed: UInt64 = 1) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
        var rng = RandomStream(seed: seed)
        fillUniform(base, count: count, low: low, high: high, using: &rng)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    var pointer: UnsafePointer<Float> { UnsafePointer(base) }
    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }
    var bytes: Int { count * MemoryLayout<Float>.stride }

    /// The largest |self[i] − other[i]|.
    func maxDifference(_ other: FloatBuffer) -> Float {
        var d: Float = 0
        for i in 0..<min(count, other.count) { d = max(d, abs(base[i] - other.base[i])) }
        return d
    }
}

/// A plain text table: a header row, a rule, and right-aligned cells (the
/// first column left-aligned).
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0.indices.contains(c) ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in
                let pad = String(repeating: " ", count: widths[c] - s.count)
                return c == 0 ? s + pad : pad + s
            }.joined(separator: "  ")
        }
        let rule = String(repeating: "─", count: widths.reduce(0, +) + 2 * (widths.count - 1))
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

/// Prints `value` as pretty-printed JSON with sorted keys.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

/// Milliseconds to four significant digits ("0.0004833", "1.398", "38.49").
func msLabel(_ ms: Double) -> String { String(format: "%.4g", ms) }

/// Figures of one timed kernel, in milliseconds, for JSON.
struct Timing: Encodable {
    var medianMs: Double
    var minMs: Double
    var samples: Int
    var repeatsPerSample: Int

    init(_ m: Measurement, repeats: Int) {
        medianMs = m.median * 1e3
        minMs = m.min * 1e3
        samples = m.samples.count
        repeatsPerSample = repeats
    }
}

/// Row-major `C = op(A)·op(B)` through `cblas_sgemm` called directly (alpha 1,
/// beta 0), on OpenBLAS's current thread count: the reference for dlg's GEMM.
@inline(__always)
func rawSgemm(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
              c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
}

/// The sgemm peak: the best GFLOP/s (from the fastest sample) of raw
/// `cblas_sgemm` on `size`³ square Float matrices with `threads` OpenBLAS
/// threads. Leaves OpenBLAS (and dlg's default) at `threads` threads.
struct SgemmPeak: Encodable {
    var size: Int
    var threads: Int
    var bestGflops: Double
    var medianGflops: Double
    var timing: Timing

    static func measured(size: Int, threads: Int, runs: Int, warmup: Int) throws -> SgemmPeak {
        try configureThreads(threads)
        let a = FloatBuffer(count: size * size, seed: 11), b = FloatBuffer(count: size * size, seed: 12)
        let c = FloatBuffer(count: size * size, seed: 13)
        let m = measure("sgemm \(size)³", warmup: max(1, warmup), runs: runs) {
            rawSgemm(m: size, n: size, k: size, a: a.pointer, lda: size, b: b.pointer, ldb: size, c: c.base, ldc: size)
        }
        let flops = 2 * Double(size) * Double(size) * Double(size)
        return SgemmPeak(size: size, threads: threads, bestGflops: flops / m.min * 1e-9,
                         medianGflops: flops / m.median * 1e-9, timing: Timing(m, repeats: 1))
    }

    var line: String {
        "sgemm peak (raw cblas_sgemm \(size)³, \(threads) thread\(threads == 1 ? "" : "s")): best \(fmt(bestGflops, 1)) GFLOP/s, median \(fmt(medianGflops, 1)) GFLOP/s"
    }
}
