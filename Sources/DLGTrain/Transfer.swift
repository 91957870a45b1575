import DLGData
import DLGGraph
import DLGRuntime
import Foundation

/// Transfer learning's starting point: parameters (and buffers such as batchnorm's running
/// statistics) read by name from a safetensors file — a checkpoint of another model, or any
/// file with matching names — before training starts. Names are rewritten first by
/// `map` rules; what matches this model with the same shape is loaded, the rest reported.
public struct InitFrom: Sendable {
    public var path: String
    /// `(from, to)` prefix rewrites of the file's names, tried in order; the first that
    /// applies wins.
    public var map: [(from: String, to: String)]
    /// Turn every skip (a tensor this model does not have, a shape mismatch, a parameter the
    /// file does not have) into an error, as PyTorch's `load_state_dict(strict=True)`.
    public var strict: Bool

    public init(path: String, map: [(from: String, to: String)] = [], strict: Bool = false) {
        self.path = path
        self.map = map
        self.strict = strict
    }

    /// Reads a `--init-map` rule, `SRC=DST` (either side may be empty: `=enc.` adds a prefix,
    /// `backbone.=` removes one).
    public static func rule(_ text: String) -> (from: String, to: String)? {
        guard let eq = text.firstIndex(of: "="), text.filter({ $0 == "=" }).count == 1 else { return nil }
        let from = String(text[..<eq]), to = String(text[text.index(after: eq)...])
        guard !(from.isEmpty && to.isEmpty) else { return nil }
        return (from, to)
    }

    /// The name a file tensor takes in the model: the first rule whose `from` is a prefix of
    /// the name ending at a dot (or the whole name, or empty) replaces that prefix.
    public func rename(_ name: String) -> String {
        for (from, to) in map {
            if from.isEmpty { return to + name }
            guard name.hasPrefix(from) else { continue }
            let rest = name.dropFirst(from.count)
            if rest.isEmpty || from.hasSuffix(".") || rest.hasPrefix(".") { return to + rest }
        }
        return name
    }
}

/// What `--init-from` did, for the report it prints.
public struct TransferReport: Sendable, Equatable {
    /// Model names loaded (after renaming), in the model's order.
    public var loaded: [String] = []
    /// Tensors matched by name but not by shape: the model's name, the file's shape, the model's.
    public var mismatched: [(name: String, file: [Int], model: [Int])] = []
    /// File tensors (their names in the file) that name nothing in this model.
    public var skipped: [String] = []
    /// `optimizer.*` entries of the file, which a new run does not take.
    public var optimizerEntries = 0
    /// Model parameters and buffers the file does not provide (they keep their initial values).
    public var missing: [String] = []

    public static func == (a: TransferReport, b: TransferReport) -> Bool {
        a.loaded == b.loaded && a.skipped == b.skipped && a.missing == b.missing && a.optimizerEntries == b.optimizerEntries
            && a.mismatched.map(\.name) == b.mismatched.map(\.name)
    }

    /// Lines for standard error: a summary, then one line per kind of skip.
    public func lines(path: String) -> [String] {
        func list(_ names: [String]) -> String {
            names.count <= 8 ? names.joined(separator: ", ") : names.prefix(8).joined(separator: ", ") + ", … (\(names.count) in all)"
        }
        var out = ["init-from \(path): loaded \(loaded.count) tensor\(loaded.count == 1 ? "" : "s")"
                   + (loaded.isEmpty ? "" : ": " + list(loaded))]
        if !mismatched.isEmpty {
            out.append("  shape mismatch, left at their initial values: "
                       + mismatched.map { "\($0.name) (file \(Shape($0.file)), model \(Shape($0.model)))" }.joined(separator: ", "))
        }
        if !skipped.isEmpty { out.append("  skipped, not in this model: " + list(skipped)) }
        if optimizerEntries > 0 { out.append("  ignored: \(optimizerEntries) optimizer entr\(optimizerEntries == 1 ? "y" : "ies")") }
        if !missing.isEmpty { out.append("  not in the file, initialized as declared: " + list(missing)) }
        return out
    }
}

extension Trainer {
    /// Loads the parameters of `source` into the session's state (after its initialization,
    /// before training), matched by name after renaming, and reports what happened.
    public func initialize(from source: InitFrom) throws -> TransferReport {
        let file: SafetensorsFile
        do { file = try Safetensors.read(source.path) } catch let e as DataError {
            // A file that is not there (or not readable) is not a file of the wrong kind.
            guard FileManager.default.isReadableFile(atPath: source.path) else { throw TrainError("--init-from: \(e.description)") }
            throw TrainError("--init-from \(source.path) is not a safetensors file this run can read: \(e.description)")
        }
        var report = TransferReport()
        let wanted = session.state.entries.filter { !$0.name.hasPrefix("optimizer.") }
        var taken: [String: NamedArray] = [:]
        var fileNameOf: [String: String] = [:]
        for t in file.tensors {
            if t.name.hasPrefix("optimizer.") {
                report.optimizerEntries += 1
                continue
            }
            let target = source.rename(t.name)
            guard let entry = wanted.first(where: { $0.name == target }) else {
                report.skipped.append(t.name)
                continue
            }
            if let earlier = fileNameOf[target] {
                throw TrainError("--init-from \(source.path): '\(earlier)' and '\(t.name)' both become '\(target)'; make the --init-map rules tell them apart")
            }
            fileNameOf[target] = t.name
            guard t.array.shape == entry.shape else {
                report.mismatched.append((target, t.array.shape, entry.shape))
                continue
            }
            taken[target] = t
        }
        for e in wanted {
            if let t = taken[e.name] {
                do { try session.state.set(e.name, t.array) } catch { throw TrainError("--init-from \(source.path): \(error.message)") }
                report.loaded.append(e.name)
            } else if fileNameOf[e.name] == nil {
                report.missing.append(e.name)
            }
        }
        if source.strict {
            var problems: [String] = []
            problems += report.skipped.map { "'\($0)' is not in the model" + (source.rename($0) != $0 ? " (as '\(source.rename($0))')" : "") }
            problems += report.mismatched.map { "'\($0.name)' is \(Shape($0.file)) in the file but \(Shape($0.model)) in the model" }
            problems += report.missing.map { "'\($0)' is not in the file" }
            if !problems.isEmpty {
                throw TrainError("--init-from \(source.path) with --strict: " + problems.joined(separator: "; "))
            }
        }
        return report
    }
}
