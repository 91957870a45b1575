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
        "loss_every", "checkpoint", "min_delta", "freeze", "augment", "sync_batchnorm", "allow_nonfinite",
    ]

    /// Parses and checks a whole file: every model is elaborated (so every
    /// error in every model is reported), every train block is checked.
    public static func check(_ file: SourceFile, options: ElaborationOptions = ElaborationOptions()) -> Diagnostics {
        let (unit, parseDiags) = Parser.parse(file)
        var diags = parseDiags
        if unit.models.isEmpty {
            if !diags.hasErrors {
                diags.report(ElaborationDiagnostic.noModel(path: file.path), at: .point(0))
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
            diags.report(ElaborationDiagnostic.unusedBlock(name: b.name.name), at: b.name.range)
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
                diags.report(ElaborationDiagnostic.unknownModel(name: name, path: file.path, available: unit.models.map(\.name.name)),
                             at: .point(0))
            }
        } else {
            model = unit.models.first
            if model == nil, !diags.hasErrors {
                diags.report(ElaborationDiagnostic.noModel(path: file.path), at: .point(0))
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
                diags.report(TrainSettingDiagnostic.unknownTrainedModel(name: t.model.name,
                                                                        suggestion: suggestion(for: t.model.name, among: models)),
                             at: t.model.range)
            }
            var seen: [String: SourceRange] = [:]
            for s in t.settings {
                if !trainSettings.contains(s.key.name) {
                    diags.report(TrainSettingDiagnostic.unknownSetting(name: s.key.name,
                                                                       suggestion: suggestion(for: s.key.name, among: trainSettings),
                                                                       known: trainSettings.sorted()),
                                 at: s.key.range)
                }
                if let first = seen[s.key.name] {
                    diags.report(TrainSettingDiagnostic.duplicateSetting(name: s.key.name, first: first), at: s.key.range)
                }
                seen[s.key.name] = s.key.range
            }
        }
    }
}
