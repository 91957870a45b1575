import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGTrain
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a model's training step (or forward pass) in this build: median and min ms, samples/s, GFLOP/s, % of the sgemm peak.",
        discussion: """
            The step runs on random data after warm-up steps. GFLOP/s counts the ops' FLOPs; the sgemm \
            peak is measured at start-up on this machine with the same thread count. Use a release build.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var form: FormOptions
    @Option(help: ArgumentHelp("The batch size, N ≥ 1; every symbol of every input is bound to it.", valueName: "N")) var batch: Int = 32
    @Option(help: ArgumentHelp("Timed steps, N ≥ 1.", valueName: "N")) var steps: Int = 50
    @Option(help: ArgumentHelp("Untimed steps before, N ≥ 0.", valueName: "N")) var warmup: Int = 5
    @Flag(help: "Time the training step; this is the default, and the flag only conflicts with --inference.") var training = false
    @Option(name: .customLong("threads"), help: ArgumentHelp("Threads for kernels and BLAS, N ≥ 1 (default: all cores).", valueName: "N"))
    var threadCount: Int?
    var threads: Int { threadCount ?? Threads.coreCount }
    @Option(help: ArgumentHelp("The optimizer of the training step (the train block's is not used).", valueName: "SETTING"))
    var optimizer: String = "sgd(lr: 0.01, momentum: 0.9, form: pytorch)"
    @Option(name: .customLong("disable-pass"), help: ArgumentHelp("Skip a pass; repeatable; the names as for compile.", valueName: "NAME"))
    var disabled: [String] = []
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "After timing, run --steps more steps kernel by kernel and print the per-kernel table and its sums by ops (as train --profile).")
    var profile = false

    var mode: String { form.inference ? "inference" : "training" }

    func validate() throws {
        if training && form.inference { throw ValidationError("--training and --inference exclude each other") }
        if batch < 1 || steps < 1 || threads < 1 { throw ValidationError("--batch, --steps and --threads must be positive") }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
        for d in disabled where !Pipeline.passNames.contains(d) {
            throw ValidationError("unknown pass '\(d)'; the passes are: " + Pipeline.passNames.joined(separator: ", "))
        }
    }

    @OptionGroup var memory: MemoryOptions

    func run() throws {
        memory.apply()
        Threads.configure(threads)
        let file = try loadSource(options.file)
        guard let setting = Setting.parse(optimizer),
              case .success(let spec) = OptimizerSpec.parse(setting, keeping: OptimizerSpec(kind: .sgd, lr: 0.01)) else {
            throw ValidationError("--optimizer: cannot read '\(optimizer)'")
        }
        let peak = StepBenchmark.sgemmPeak(threads: threads)
        let bench: StepBenchmark
        do {
            bench = try StepBenchmark(file: file, model: options.model, training: !form.inference, batch: batch,
                                      optimizer: spec, disabled: Set(disabled), threads: threads,
                                      bindings: try options.bindings())
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        _ = try bench.time(steps: warmup)
        let t = try bench.time(steps: steps)
        let median = StepBenchmark.median(t), best = t.min() ?? .nan
        let gflops = Double(bench.flops) / median / 1e9
        let name = bench.program.name
        if json {
            print(JSON.object([
                ("model", .string(name)), ("mode", .string(mode)), ("batch", .int(batch)), ("threads", .int(threads)),
                ("steps", .int(steps)), ("median_ms", .double(median * 1e3)), ("min_ms", .double(best * 1e3)),
                ("samples_per_second", .double(Double(batch) / median)), ("gflops", .double(gflops)),
                ("sgemm_peak_gflops", .double(peak)), ("percent_of_peak", .double(100 * gflops / peak)),
                ("flops_per_step", .int(bench.flops)), ("arena_bytes", .int(bench.program.arenaBytes)),
                ("compile_ms", .double(bench.compileSeconds * 1e3)), ("kernels", .int(bench.program.instructions.count)),
                ("blas_kernels", .string(BLASCore.current)),
            ]).serialized(pretty: true))
            return
        }
        print("\(name) \(form.inference ? "forward pass" : "training step"), batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"): "
              + String(format: "median %.3f ms, min %.3f ms over %d steps", median * 1e3, best * 1e3, steps))
        print(String(format: "  %.0f samples/s; %.1f GFLOP/s = %.1f%% of the sgemm peak measured now (%.1f GFLOP/s, OpenBLAS %@ kernels)",
                     Double(batch) / median, gflops, 100 * gflops / peak, peak, BLASCore.current))
        print("  \(bench.program.instructions.count) kernels, arena \(byteString(bench.program.arenaBytes)), "
              + String(format: "compiled in %.1f ms", bench.compileSeconds * 1e3))
        if profile {
            bench.executor.profile = []
            _ = try bench.time(steps: steps)
            print(ProfileReport.report(ProfileReport.rows(bench.executor)), terminator: "")
        }
    }
}
