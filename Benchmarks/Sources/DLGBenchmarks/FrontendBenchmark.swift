import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax
import Foundation

/// Parse + elaborate + shape inference of a model file, stage by stage.
struct FrontendBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "frontend",
                                                    abstract: "Time parse, elaboration and shape inference of a model.")

    @Option(help: "Model file (default Graphs/resnet50.dlg).")
    var file: String = repositoryRoot.appendingPathComponent("Graphs/resnet50.dlg").path

    @Option(help: "Timed runs.")
    var runs = 20

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let source = SourceFile(path: file, text: text)
        let parse = measure("parse", runs: runs) { _ = Parser.parse(source) }
        let all = measure("parse + elaborate + shapes", runs: runs) {
            var r = Frontend.compile(source, options: ElaborationOptions(training: true, bindings: ["B": 32]))
            var ctx = PassContext()
            _ = Pipeline.run(&r.graph!, upTo: .shapes, context: &ctx)
        }
        let result = Frontend.compile(source)
        let nodes = result.graph?.nodes.count ?? 0
        print("file: \((file as NSString).lastPathComponent), \(nodes) IR values")
        for m in [parse, all] {
            print("\(m.name): median \(ms(m.median)), min \(ms(m.min)) over \(m.samples.count) runs")
        }
        print(String(format: "per IR value: %.2f µs", all.median / Double(max(nodes, 1)) * 1e6))
    }
}
