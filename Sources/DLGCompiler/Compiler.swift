import DLGGraph
import DLGSource
import DLGSyntax

/// The front door of the compiler: source text in, graph and diagnostics out.
public struct CompileResult: Sendable {
    public var file: SourceFile
    public var unit: SourceUnit
    public var graph: Graph?
    public var diagnostics: Diagnostics
    public var hasErrors: Bool { diagnostics.hasErrors }
}

public enum Frontend {
    /// The settings a `train` block may hold.
    public static let trainSettings: Set<String> = [
        "data", "validation", "test", "optimizer", "batch", "epochs", "seed", "schedule", "l1", "l2", "weight_decay",
        "clip_value", "clip_norm", "early_stopping", "patience", "metric", "shuffle", "normalize", "threads", "inputs",
        "loss_every", "checkpoint", "allow_nonfinite",
    ]

    /// Parses and checks a whole file: every model is elaborated (so every
    /// error in every model is reported), every train block is checked.
    public static func check(_ file: SourceFile, options: ElaborationOptions = ElaborationOptions()) -> Diagnostics {
        let (unit, parseDiags) = Parser.parse(file)
        var diags = parseDiags
        if unit.models.isEmpty {
            if !diags.hasErrors {
                diags.error("no-model", "no model in \(file.path)", at: .point(0),
                            notes: [DiagnosticNote("a file declares at least one 'model name { … }'")])
            }
            return diags
        }
        var usedBlocks: Set<String> = []
        // After a syntax error or a stopped elaboration, statements are missing
        // or were not run: an unused block or a model without output may only look so.
        var incomplete = parseDiags.hasErrors
        for m in unit.models {
            let e = Elaborator(unit: unit, model: m, options: options)
            e.afterSyntaxErrors = parseDiags.hasErrors
            e.collectBlocks()
            e.run(m)
            diags.append(contentsOf: e.diagnostics.all)
            usedBlocks.formUnion(e.usedBlocks)
            if e.aborted { incomplete = true }
        }
        for b in unit.blocks where !usedBlocks.contains(b.name.name) && !incomplete {
            diags.warning("unused-block", "block '\(b.name.name)' is never used, so its body is not checked", at: b.name.range)
        }
        checkTrainBlocks(unit, &diags)
        return diags
    }

    /// Parses and elaborates one model (the one named, or the first).
    public static func compile(_ file: SourceFile, model name: String? = nil,
                               options: ElaborationOptions = ElaborationOptions()) -> CompileResult {
        let (unit, parseDiags) = Parser.parse(file)
        var diags = parseDiags
        let model: ModelDecl?
        if let name {
            model = unit.models.first { $0.name.name == name }
            if model == nil {
                let names = unit.models.map(\.name.name)
                diags.error("unknown-model", "no model named '\(name)' in \(file.path)" + (names.isEmpty ? "" : "; it has " + names.joined(separator: ", ")),
                            at: .point(0))
            }
        } else {
            model = unit.models.first
            if model == nil, !diags.hasErrors {
                diags.error("no-model", "no model in \(file.path)", at: .point(0))
            }
        }
        guard let model else { return CompileResult(file: file, unit: unit, graph: nil, diagnostics: diags) }
        let (graph, elabDiags) = Elaborator.elaborate(unit, model: model, options: options, afterSyntaxErrors: parseDiags.hasErrors)
        diags.append(contentsOf: elabDiags.all)
        checkTrainBlocks(unit, &diags)
        return CompileResult(file: file, unit: unit, graph: graph, diagnostics: diags)
    }

    static func checkTrainBlocks(_ unit: SourceUnit, _ diags: inout Diagnostics) {
        let models = Set(unit.models.map(\.name.name))
        for t in unit.trains {
            if !models.contains(t.model.name) {
                let s = suggestion(for: t.model.name, among: models)
                diags.error("unknown-model", "train block refers to unknown model '\(t.model.name)'" + (s.map { "; did you mean '\($0)'?" } ?? ""),
                            at: t.model.range)
            }
            var seen: [String: SourceRange] = [:]
            for s in t.settings {
                if !trainSettings.contains(s.key.name) {
                    let sug = suggestion(for: s.key.name, among: trainSettings)
                    diags.error("unknown-setting", "unknown train setting '\(s.key.name)'" + (sug.map { "; did you mean '\($0)'?" } ?? ""),
                                at: s.key.range,
                                notes: [DiagnosticNote("settings: " + trainSettings.sorted().joined(separator: ", "))])
                }
                if let first = seen[s.key.name] {
                    diags.error("duplicate-setting", "train setting '\(s.key.name)' is given twice", at: s.key.range,
                                notes: [DiagnosticNote("first given here", at: first)])
                }
                seen[s.key.name] = s.key.range
            }
        }
    }
}
