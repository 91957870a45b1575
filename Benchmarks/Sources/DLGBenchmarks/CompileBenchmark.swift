import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGRuntime
import DLGSource
import DLGSyntax
import Foundation

/// The whole compiler, source text to a lowered Program (parse, elaborate,
/// every pass, lowering), on training steps: the time and the memory plan's
/// figures. The reference of the ratio is parsing alone, measured in the same run.
struct CompileBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Time parse → planned program for training steps (ResNet-50 with Adam, LeNet-5, the MNIST MLP).")

    @Option(help: "Comma-separated cases model:batch:optimizer, files relative to Graphs/.")
    var cases = "resnet50:32:adam,lenet5:128:momentum,mnist_mlp:128:momentum"

    @Option(help: "Timed runs per case.")
    var runs = 11

    @Flag(help: "Print the figures as JSON.")
    var json = false

    func optimizer(_ name: String) throws -> OptimizerSpec {
        switch name {
        case "adam": return OptimizerSpec(kind: .adam, lr: 1e-3)
        case "momentum":
            var o = OptimizerSpec(kind: .momentum, lr: 0.01)
            o.momentumForm = .pytorch
            return o
        case "sgd": return OptimizerSpec(kind: .sgd, lr: 0.01)
        default: throw ValidationError("unknown optimizer '\(name)' in --cases (adam, momentum, sgd)")
        }
    }

    func run() throws {
        var rows: [String] = []
        for spec in cases.split(separator: ",") {
            let parts = spec.split(separator: ":").map(String.init)
            guard parts.count == 3, let batch = Int(parts[1]), batch > 0 else {
                throw ValidationError("--cases: '\(spec)' is not model:batch:optimizer")
            }
            let path = repositoryRoot.appendingPathComponent("Graphs/\(parts[0]).dlg").path
            let source = SourceFile(path: path, text: try String(contentsOfFile: path, encoding: .utf8))
            var o = PipelineOptions()
            o.training = true
            o.differentiate = true
            o.keepLoss = true
            o.optimizer = try optimizer(parts[2])
            o.bindings = ["B": batch]

            var program: Program?
            var graph: Graph?
            var failure: String?
            let total = measure("compile", warmup: 2, runs: runs) {
                let (g, d, _) = Pipeline.compile(source, options: o)
                guard let g else { failure = d.errors.first?.message ?? "compile failed"; return }
                do { program = try Lowering.lower(g) } catch { failure = "\(error)" }
                graph = g
            }
            if let failure { throw ValidationError("\(parts[0]): \(failure)") }
            let parse = measure("parse", warmup: 2, runs: runs) { _ = Parser.parse(source) }
            guard let g = graph, let plan = g.plan, let p = program else { throw ValidationError("\(parts[0]): no plan") }
            let ratio = Double(plan.arenaBytes) / Double(max(plan.noReuseBytes, 1))
            if json {
                rows.append("""
                    {"model": "\(parts[0])", "batch": \(batch), "optimizer": "\(parts[2])", \
                    "compile_median_ms": \(total.median * 1e3), "compile_min_ms": \(total.min * 1e3), \
                    "parse_median_ms": \(parse.median * 1e3), "values": \(g.nodes.count), \
                    "kernels": \(p.instructions.count), "arena_bytes": \(plan.arenaBytes), \
                    "no_reuse_bytes": \(plan.noReuseBytes), "max_live_bytes": \(plan.maxLiveBytes), \
                    "efficiency": \(plan.efficiency), "arena_over_no_reuse": \(ratio)}
                    """)
            } else {
                print("\(parts[0]) training step, B=\(batch), \(parts[2]): \(g.nodes.count) values, \(p.instructions.count) kernels")
                print("  parse → program: median \(ms(total.median)), min \(ms(total.min)) over \(runs) runs"
                      + String(format: " (parse alone %@, %.0f×)", ms(parse.median), total.median / parse.median))
                print("  arena \(plan.arenaBytes) B, no-reuse \(plan.noReuseBytes) B (arena = "
                      + String(format: "%.1f%%), max-live lower bound %ld B, efficiency %.4f", 100 * ratio,
                               plan.maxLiveBytes, plan.efficiency))
            }
        }
        if json { print("[\n" + rows.joined(separator: ",\n") + "\n]") }
    }
}
