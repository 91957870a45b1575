import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGSource
import Foundation

/// Time to build the backward graph (the Autodiff pass) of a model's
/// training form, against the time to build its forward graph (parse +
/// elaborate + shape inference) in the same run, as the reference of the ratio.
struct AutodiffBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autodiff",
        abstract: "Time the reverse-mode pass on a model's training graph (default ResNet-50 at B=32).")

    @Option(help: "Model file (default Graphs/resnet50.dlg).")
    var file: String = repositoryRoot.appendingPathComponent("Graphs/resnet50.dlg").path

    @Option(help: "Batch size bound to B.")
    var batch = 32

    @Option(help: "Timed runs.")
    var runs = 15

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let source = SourceFile(path: file, text: text)
        var options = PipelineOptions()
        options.stage = .shapes
        options.bindings = ["B": batch]

        // Reference: the forward graph, from source text.
        let forwardBuild = measure("forward: parse + elaborate + shapes", runs: runs) {
            _ = Pipeline.compile(source, options: options)
        }
        let (compiled, diagnostics, _) = Pipeline.compile(source, options: options)
        guard let forward = compiled else {
            throw ValidationError("\(file) does not compile: " + diagnostics.errors.map(\.message).joined(separator: "; "))
        }

        // The pass alone, each run on a fresh copy of the forward graph. The copy is made
        // (and made unique) before the clock starts, so only the pass is timed.
        var backwardNodes = 0, gradients = 0
        func once() -> Double {
            var g = forward
            g.nodes.reserveCapacity(forward.nodes.count * 4)
            var ctx = PassContext()
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = Autodiff().run(&g, &ctx)
            let t1 = DispatchTime.now().uptimeNanoseconds
            backwardNodes = g.nodes.count - forward.nodes.count
            gradients = g.gradients.count
            return Double(t1 - t0) * 1e-9
        }
        for _ in 0..<3 { _ = once() }
        let autodiff = Measurement(name: "autodiff (backward graph)", samples: (0..<runs).map { _ in once() })
        var check = forward
        var ctx = PassContext(verify: true)
        _ = Autodiff().run(&check, &ctx)
        if let e = ctx.diagnostics.errors.first { throw ValidationError("autodiff failed: \(e.message)") }

        print("file: \((file as NSString).lastPathComponent), B=\(batch)")
        print("forward graph: \(forward.nodes.count) IR values; backward adds \(backwardNodes) values, \(gradients) parameter gradients")
        for m in [forwardBuild, autodiff] {
            print("\(m.name): median \(ms(m.median)), min \(ms(m.min)) over \(m.samples.count) runs")
        }
        print(String(format: "autodiff / forward build: %.2f (median), %.2f (min)",
                     autodiff.median / forwardBuild.median, autodiff.min / forwardBuild.min))
        print(String(format: "autodiff per backward IR value: %.2f µs", autodiff.median / Double(max(backwardNodes, 1)) * 1e6))
    }
}
