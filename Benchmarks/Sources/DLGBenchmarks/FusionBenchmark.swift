import ArgumentParser
import DLGCompiler
import DLGKernels
import DLGRuntime
import DLGSource
import Foundation

/// Training-step time with the fusion pass against the same step with fusion
/// disabled, both compiled in this process and timed in alternating rounds so
/// that drift of the machine falls on both alike. Reports the ratio of medians.
struct FusionBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusion",
        abstract: "Fused vs unfused training-step time (SGD with momentum 0.9), interleaved in one run.")

    @Option(help: "Comma-separated model files in Graphs/, without .dlg.")
    var models = "mnist_mlp,lenet5"

    @Option(help: "Batch size.")
    var batch = 128

    @Option(help: "Threads.")
    var threads = 2

    @Option(help: "Rounds; each round times --steps steps of each variant.")
    var rounds = 10

    @Option(help: "Steps per round and variant.")
    var steps = 10

    func run() throws {
        Threads.configure(threads)
        var optimizer = OptimizerSpec(kind: .momentum, lr: 0.01)
        optimizer.momentumForm = .pytorch
        print("batch \(batch), \(threads) threads, \(rounds) rounds × \(steps) steps per variant, interleaved")
        for name in models.split(separator: ",") {
            let path = repositoryRoot.appendingPathComponent("Graphs/\(name).dlg").path
            let file = SourceFile(path: path, text: try String(contentsOfFile: path, encoding: .utf8))
            let fused = try StepBenchmark(file: file, training: true, batch: batch, optimizer: optimizer, threads: threads)
            let unfused = try StepBenchmark(file: file, training: true, batch: batch, optimizer: optimizer,
                                            disabled: ["fusion"], threads: threads)
            _ = try fused.time(steps: 3)
            _ = try unfused.time(steps: 3)
            var a: [Double] = [], b: [Double] = []
            for _ in 0..<rounds {
                a += try fused.time(steps: steps)
                b += try unfused.time(steps: steps)
            }
            let ma = StepBenchmark.median(a), mb = StepBenchmark.median(b)
            print("\(name): fused \(ms(ma)) (\(fused.program.instructions.count) kernels), unfused \(ms(mb)) "
                  + "(\(unfused.program.instructions.count) kernels); fused / unfused = "
                  + String(format: "%.3f", ma / mb))
        }
    }
}
