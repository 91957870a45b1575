import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGSyntax
import DLGTrain

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A table of a model's layers, output shapes and parameter counts, with totals (FLOPs, memory).")

    @OptionGroup var options: ModelOptions
    @OptionGroup var form: FormOptions

    @Option(help: ArgumentHelp(
        "Count the parameters matching PATTERN ('*' any characters, e.g. 'c1.*') as frozen, hence non-trainable; repeatable; none clears the block's; a pattern that matches no trainable parameter is an error (default: the train block's freeze).",
        valueName: "PATTERN"))
    var freeze: [String] = []

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func run() throws {
        let (file, compiled) = try compileOrExit(options, inference: form.inference)
        var graph = compiled
        let patterns = freeze.isEmpty ? blockFreezePatterns(file, model: options.model) : freeze.filter { !$0.isEmpty && $0 != "none" }
        let (frozen, unmatched) = Freezing.apply(patterns, to: &graph)
        if let bad = unmatched.first {
            printError("error: freeze pattern '\(bad)' matches no trainable parameter of \(graph.name); its trainable parameters are "
                       + compiled.trainableParams.compactMap(\.name).joined(separator: ", "))
            throw ExitCode.failure
        }
        let summary = ModelSummary(graph)
        let frozenCount = graph.params.filter { frozen.contains($0.name ?? "") }.reduce(0) { $0 + ($1.type.shape.elementCount ?? 0) }
        if json {
            var j = summary.json()
            if !frozen.isEmpty, case .object(var fields) = j {
                fields.append(("frozen", .object([("parameters", .int(frozenCount)), ("tensors", .array(frozen.map { .string($0) }))])))
                j = .object(fields)
            }
            print(j.serialized(pretty: true))
            return
        }
        var text = summary.text()
        if !frozen.isEmpty {
            // Frozen parameters are counted as non-trainable; say which they are.
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if let i = lines.firstIndex(where: { $0.hasPrefix("Non-trainable params:") }) {
                lines.insert("  of which frozen:     \(groupDigits(frozenCount)) in \(frozen.count) tensor\(frozen.count == 1 ? "" : "s") ("
                             + patterns.joined(separator: ", ") + ")", at: i + 1)
            }
            text = lines.joined(separator: "\n")
        }
        print(text, terminator: "")
    }
}
