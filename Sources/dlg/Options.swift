import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGSource
import Foundation

/// `--bind SYM=N`, repeatable.
struct BindingOptions: ParsableArguments {
    @Option(name: .customLong("bind"), help: ArgumentHelp(
        "Fix the symbolic size SYM (or a model parameter) to the positive integer N, e.g. --bind B=64; repeatable.",
        valueName: "SYM=N"))
    var binds: [String] = []

    func validate() throws {
        _ = try bindings()
    }

    func bindings() throws -> [String: Int] {
        var out: [String: Int] = [:]
        for b in binds {
            let parts = b.split(separator: "=", maxSplits: 1).map(String.init)
            // conversion: parses text (failable)
            guard parts.count == 2, let v = Int(parts[1]), v > 0, !parts[0].isEmpty else {
                throw ValidationError("--bind takes SYMBOL=N with N a positive integer, e.g. --bind B=64; got '\(b)'")
            }
            out[parts[0]] = v
        }
        return out
    }
}

/// Options shared by every command that compiles a model.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The .dlg file.")
    var file: String

    @Option(name: .long, help: ArgumentHelp(
        "The model to use when the file has several; an unknown name is an error that lists them (default: the first).",
        valueName: "NAME"))
    var model: String?

    @OptionGroup var binding: BindingOptions

    func bindings() throws -> [String: Int] { try binding.bindings() }
}

/// `--inference`, for the commands where the model's form is a choice.
struct FormOptions: ParsableArguments {
    @Flag(name: .long, help: "Elaborate the inference form: dropout is the identity, batchnorm uses its running statistics.")
    var inference = false
}

/// Reads a source file; a missing or unreadable file is an error naming it.
func loadSource(_ path: String) throws -> SourceFile {
    guard let data = FileManager.default.contents(atPath: path) else {
        let why = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
        printError("error: \(path) \(why)")
        throw ExitCode.failure
    }
    guard let text = String(data: data, encoding: .utf8) else {
        printError("error: \(path) is not UTF-8 text")
        throw ExitCode.failure
    }
    return SourceFile(path: path, text: text)
}

func printError(_ s: String) {
    FileHandle.standardError.write((s.hasSuffix("\n") ? s : s + "\n").data(using: .utf8)!)
}

/// Diagnostics to standard error, colored on a terminal.
func report(_ diags: Diagnostics, in file: SourceFile) {
    guard !diags.isEmpty else { return }
    let colors = isatty(2) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    printError(DiagnosticsFormatter(colors: colors).format(diags.sorted, in: file))
}

/// Compiles a model and reports diagnostics; exits 1 on errors.
func compileOrExit(_ options: ModelOptions, inference: Bool = false, replicas: Int = 1, syncBatchnorm: Bool = false) throws -> (SourceFile, Graph) {
    let file = try loadSource(options.file)
    let result = Frontend.compile(file, model: options.model,
                                  options: ElaborationOptions(training: !inference, bindings: try options.bindings(),
                                                              replicas: replicas, syncBatchnorm: syncBatchnorm))
    report(result.diagnostics, in: file)
    guard !result.hasErrors, var graph = result.graph else { throw ExitCode.failure }
    graph.bindings = try options.bindings()
    return (file, graph)
}

func diagnosticsJSON(_ diags: Diagnostics, in file: SourceFile) -> JSON {
    func loc(_ r: SourceRange) -> [(String, JSON)] {
        let (l, c) = file.lineColumn(of: r.start)
        let (el, ec) = file.lineColumn(of: r.end)
        return [("line", .int(l)), ("column", .int(c)), ("end_line", .int(el)), ("end_column", .int(ec))]
    }
    return .array(diags.sorted.map { d in
        .object([("severity", .string(d.severity.rawValue)), ("id", .string(d.id)), ("message", .string(d.message))]
            + loc(d.range)
            + [("notes", .array(d.notes.map { n in .object([("message", .string(n.message))] + (n.range.map(loc) ?? [])) }))])
    })
}
