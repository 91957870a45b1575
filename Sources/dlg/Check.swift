import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGSource

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse, elaborate and shape-check .dlg files; print every diagnostic.",
        discussion: "Exit status 0 when every file is free of errors (warnings allowed), 1 otherwise.")

    @Argument(help: "The .dlg files, one or more.")
    var files: [String]

    @OptionGroup var binding: BindingOptions

    @Flag(help: "Print the diagnostics as JSON on standard output instead of the text form on standard error.")
    var json = false

    @Flag(name: .customLong("werror"), help: "Treat warnings as errors: exit 1 if any file has a warning.")
    var warningsAsErrors = false

    func run() throws {
        var failed = false
        var results: [JSON] = []
        for path in files {
            let file: SourceFile
            do { file = try loadSource(path) } catch {
                failed = true
                results.append(.object([("file", .string(path)), ("error", .string("cannot be read"))]))
                continue
            }
            let diags = Frontend.check(file, options: ElaborationOptions(training: true, bindings: try binding.bindings()))
            if json {
                results.append(.object([("file", .string(path)), ("errors", .int(diags.errors.count)),
                                        ("warnings", .int(diags.warnings.count)), ("diagnostics", diagnosticsJSON(diags, in: file))]))
            } else {
                report(diags, in: file)
            }
            if diags.hasErrors || (warningsAsErrors && !diags.warnings.isEmpty) { failed = true }
        }
        if json { print(JSON.object([("files", .array(results))]).serialized(pretty: true)) }
        if failed { throw ExitCode.failure }
    }
}
