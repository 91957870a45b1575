import ArgumentParser
import DLGCompiler
import DLGGraph

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A table of a model's layers, output shapes and parameter counts, with totals (FLOPs, memory).")

    @OptionGroup var options: ModelOptions
    @OptionGroup var form: FormOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() throws {
        let (_, graph) = try compileOrExit(options, inference: form.inference)
        let summary = ModelSummary(graph)
        if json { print(summary.json().serialized(pretty: true)) } else { print(summary.text(), terminator: "") }
    }
}
