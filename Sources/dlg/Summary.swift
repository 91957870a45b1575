import ArgumentParser
import DLGCompiler
import DLGGraph

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A table of a model's layers, output shapes and parameter counts, with totals (FLOPs, memory).")

    @OptionGroup var options: ModelOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() throws {
        let (_, graph) = try compileOrExit(options)
        let summary = ModelSummary(graph)
        if json { print(summary.json().serialized(pretty: true)) } else { print(summary.text(), terminator: "") }
    }
}
