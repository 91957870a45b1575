import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax

/// One fuzz input: arbitrary bytes, read as UTF-8 with invalid sequences
/// replaced by U+FFFD, go through every stage of the front end that a user
/// can reach from `dlg check`, `dlg dump` and `dlg summary`.
///
/// A crash, a trap (overflow, out-of-bounds index, force-unwrap of nil), a
/// hang (libFuzzer's -timeout) or memory exhaustion (-rss_limit_mb) is a
/// finding. Beyond "does not trap", two invariants are checked, and a
/// violation traps on purpose so that libFuzzer records the input:
///   - a graph that elaborated without errors passes the IR verifier after
///     shape inference;
///   - every diagnostic lies inside the source text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0)
    let text = String(decoding: bytes, as: UTF8.self)
    exerciseFrontend(text)
    return 0
}

func exerciseFrontend(_ text: String) {
    let file = SourceFile(path: "fuzz.dlg", text: text)

    // The parse tree, printed back.
    let (unit, _) = Parser.parse(file)
    _ = ASTPrinter.print(unit)

    // Every model and train block, as `dlg check` does; diagnostics rendered.
    let diags = Frontend.check(file)
    checkRanges(diags, file)
    _ = DiagnosticsFormatter(colors: false).format(diags.sorted, in: file)
    _ = DiagnosticsFormatter(colors: true).format(diags.sorted, in: file)

    // The first model, in both forms, through shape inference and every printer.
    for training in [true, false] {
        let result = Frontend.compile(file, options: ElaborationOptions(training: training))
        checkRanges(result.diagnostics, file)
        guard !result.hasErrors, var graph = result.graph else { continue }
        var context = PassContext(verify: true)
        _ = Pipeline.run(&graph, upTo: .shapes, context: &context)
        let verifierFailures = context.diagnostics.all.filter { $0.id == "verifier" }
        if !verifierFailures.isEmpty {
            fatalError("IR verifier failed after a clean elaboration: \(verifierFailures.map(\.message))")
        }
        _ = TextPrinter.print(graph, options: PrintOptions(stage: "shapes", showCosts: true))
        _ = JSONPrinter.json(graph, stage: "shapes").serialized(pretty: true)
        _ = DotPrinter.dot(graph, stage: "shapes")
        let summary = ModelSummary(graph)
        _ = summary.text()
        _ = summary.json().serialized()
    }
}

func checkRanges(_ diags: Diagnostics, _ file: SourceFile) {
    for d in diags.all where d.range.start < 0 || d.range.end > file.bytes.count {
        fatalError("diagnostic '\(d.message)' has range \(d.range) outside a file of \(file.bytes.count) bytes")
    }
}
