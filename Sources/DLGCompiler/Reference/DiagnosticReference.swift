import DLGGraph
import DLGSource
import DLGSyntax

/// Docs/diagnostics.md, generated from the diagnostic catalogs: every ID, the
/// phase that reports it, its severity, and its message and notes as the
/// catalog's examples give them. The shape rules' catalog (`ShapeMessage`)
/// is in DLGGraph, with the op declarations.
public enum DiagnosticReference {
    /// Every catalog, in pipeline order.
    public static var entries: [DiagnosticReferenceEntry] {
        SyntaxDiagnostic.referenceEntries + ElaborationDiagnostic.referenceEntries + ShapeMessage.referenceEntries
            + TrainSettingDiagnostic.referenceEntries + PassDiagnostic.referenceEntries
    }

    /// Where each phase's catalog is, and what it covers.
    static let phases: [(phase: String, title: String, text: String)] = [
        (SyntaxDiagnostic.phase, "Syntax",
         "The lexer and the parser (`SyntaxDiagnostic`, Sources/DLGSyntax/SyntaxDiagnostics.swift). After a syntax error the parser skips to the end of the statement and goes on."),
        (ElaborationDiagnostic.phase, "Elaboration",
         "Names, declarations, calls and their arguments, compile-time evaluation, layers, losses, initializers and the elaboration limits (`ElaborationDiagnostic`, Sources/DLGCompiler/Elaboration/ElaborationDiagnostics.swift). A block's errors carry notes naming the calls that led to them (`in block 'b' called here`)."),
        (ShapeMessage.phase, "Shapes",
         "The ops' shape rules and gradient rules (`ShapeMessage`, Sources/DLGGraph/Ops/ShapeDiagnostics.swift), reported while elaborating, or by the shape-inference pass once sizes are bound. The message starts with the operation (`'@'`, `conv2d 'c3'`), which the patterns below leave out."),
        (TrainSettingDiagnostic.phase, "Train settings",
         "`train` blocks and the command-line flags that override them (`TrainSettingDiagnostic`, Sources/DLGCompiler/TrainSettingDiagnostics.swift). `dlg check` checks the names; the values are checked when `dlg train` reads them, and a value given as a flag is a usage error reading `--name: message`."),
        (PassDiagnostic.phase, "Passes",
         "The passes after elaboration (`PassDiagnostic`, Sources/DLGCompiler/Passes/PassDiagnostics.swift): a model autodiff cannot differentiate, and failures of a pass or of the IR verifier, which are bugs of the compiler."),
    ]

    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    public static func markdown() -> String {
        var out = """
            # Diagnostics

            Every problem `dlg` finds in a `.dlg` file or a `train` setting is a
            diagnostic: a severity (error, warning, or a note attached to either),
            a stable ID, a message, the range of the source it is about, and notes,
            some pointing to other places. [cli.md](cli.md#diagnostics) shows how they
            are printed; `dlg check --json` gives the ID as `id`. Each phase of the
            compiler keeps its messages in one catalog, an enum whose cases carry the
            data a message shows; the code that finds a problem only picks a case and a
            place. IDs are stable: a message's wording may improve, its ID stays.

            This file is generated from the catalogs (`make docs`); a test fails when it
            is stale. In the messages below, ‹…› stands for what the diagnostic fills in;
            numbers and types are examples.

            """
        let all = entries
        for (phase, title, text) in phases {
            out += "\n## \(title)\n\n\(text)\n\n| ID | severity | message | notes |\n|---|---|---|---|\n"
            for e in all where e.phase == phase {
                let notes = e.notes.map { "`note:` " + cell($0) }.joined(separator: "<br>")
                out += "| `\(e.id)` | \(e.severity.rawValue) | \(cell(e.pattern)) | \(notes) |\n"
            }
        }
        return out
    }
}
