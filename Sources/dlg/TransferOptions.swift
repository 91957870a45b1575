import ArgumentParser
import DLGTrain

/// `--init-from`, `--init-map`, `--strict`: start training from another model's parameters.
struct TransferOptions: ParsableArguments {
    @Option(name: .customLong("init-from"), help: ArgumentHelp(
        "Start from the parameters and buffers of this safetensors file, matched by name (transfer learning); prints what was loaded, skipped and shape-mismatched; not with --resume.",
        valueName: "FILE"))
    var initFrom: String?
    @Option(name: .customLong("init-map"), help: ArgumentHelp(
        "With --init-from: the file's names that start with the prefix SRC start with DST instead, e.g. 'encoder.=features.'; repeatable, the first rule that applies wins.",
        valueName: "SRC=DST"))
    var initMap: [String] = []
    @Flag(help: "With --init-from: a file tensor the model lacks, a shape mismatch or a model parameter the file lacks is an error.")
    var strict = false

    func validate() throws {
        for r in initMap where InitFrom.rule(r) == nil {
            throw ValidationError("--init-map takes SRC=DST, a prefix of the file's names and what it becomes (e.g. 'encoder.=features.'); got '\(r)'")
        }
        if initFrom == nil, !initMap.isEmpty || strict {
            throw ValidationError("--init-map and --strict go with --init-from FILE")
        }
    }

    var source: InitFrom? {
        initFrom.map { InitFrom(path: $0, map: initMap.compactMap(InitFrom.rule), strict: strict) }
    }

    /// The flags as given, for a run started by another command (`dlg tune`).
    var arguments: [String] {
        guard let initFrom else { return [] }
        return ["--init-from", initFrom] + initMap.flatMap { ["--init-map", $0] } + (strict ? ["--strict"] : [])
    }
}
