import DLGData
import DLGGraph
import DLGRuntime
import Foundation

/// Checkpoints are safetensors files: one tensor per state entry, named by
/// the hierarchical parameter names (`c1.weight`, `optimizer.c1.weight.velocity`,
/// `optimizer.lr`), with the run's position in the metadata. Written
/// atomically (temporary file, fsync, rename), so an interrupted write leaves
/// the previous checkpoint as it was.
public enum Checkpoint {
    public static let format = "dlg-checkpoint/1"

    public struct Position: Sendable, Equatable {
        /// Epochs completed.
        public var epoch: Int
        /// Optimizer steps taken.
        public var step: Int
        public var seed: UInt64
        /// Early-stopping state: the best metric so far and epochs since it improved.
        public var best: Double?
        public var sinceBest: Int
        public init(epoch: Int, step: Int, seed: UInt64, best: Double?, sinceBest: Int) {
            self.epoch = epoch
            self.step = step
            self.seed = seed
            self.best = best
            self.sinceBest = sinceBest
        }
    }

    /// Writes the tensors; `interruptAfterBytes` simulates a process killed mid-write (tests).
    public static func save(_ tensors: [NamedArray], model: String, position: Position, to path: String,
                            interruptAfterBytes: Int? = nil) throws {
        var meta: [String: String] = [
            "format": format, "model": model, "epoch": String(position.epoch), "step": String(position.step),
            "seed": String(position.seed), "since_best": String(position.sinceBest),
        ]
        if let b = position.best { meta["best"] = String(b) }
        guard let limit = interruptAfterBytes else {
            try Safetensors.write(tensors, metadata: meta, to: path)
            return
        }
        let bytes = try Safetensors.encode(tensors, metadata: meta)
        try AtomicFile.write(to: path) { w in
            try w.write(Array(bytes.prefix(limit)))
            throw TrainError("simulated interruption after \(limit) of \(bytes.count) bytes")
        }
    }

    /// Reads a checkpoint and its position (see `position(_:file:model:)`).
    public static func load(_ path: String, model: String? = nil) throws -> (tensors: SafetensorsFile, position: Position?) {
        let f = try Safetensors.read(path)
        return (f, try position(f.metadata, file: path, model: model))
    }

    /// The run's position recorded in a checkpoint's metadata. A file
    /// without dlg's metadata (a safetensors file from elsewhere, which may
    /// have a `format` such as `pt`, but not `epoch`, `step`, `since_best` or
    /// `best`) has none: nil. With it, every field is checked — the format, the model's name
    /// (when `model` is given), non-negative integers for the epoch, step,
    /// seed and epochs since the best, at least one step per epoch, a finite
    /// best metric — and a bad one is an error naming the file, the field
    /// and its value, never a silent restart at epoch 0.
    public static func position(_ meta: [String: String], file: String, model: String?) throws -> Position? {
        // dlg's own keys; "format" and "model" alone are not dlg's (PyTorch writes format "pt").
        let keys: Set<String> = ["epoch", "step", "since_best", "best"]
        guard meta.keys.contains(where: keys.contains) || meta["format"]?.hasPrefix("dlg-checkpoint") == true else { return nil }
        func fail(_ key: String, _ why: String) -> DataError {
            DataError(file: file, .badHeader(field: "__metadata__.\(key)", message: why))
        }
        guard let f = meta["format"] else { throw fail("format", "missing; a dlg checkpoint records \(format)") }
        guard f == format else { throw fail("format", "'\(f)' is not \(format)") }
        guard let m = meta["model"] else { throw fail("model", "missing") }
        if let model, m != model {
            throw fail("model", "the checkpoint is of model '\(m)', not '\(model)'")
        }
        func count(_ key: String, required: Bool = true) throws -> Int? {
            guard let text = meta[key] else {
                if required { throw fail(key, "missing") }
                return nil
            }
            // conversion: parses text (failable)
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = Int(text) else {
                throw fail(key, "'\(text)' is not a non-negative integer")
            }
            // Counts go up from here: far below Int.max, so that they cannot overflow.
            guard v <= 1 << 53 else { throw fail(key, "\(v) is more than 2^53") }
            return v
        }
        let epoch = try count("epoch")!
        let step = try count("step")!
        guard step >= epoch else {
            throw fail("step", "\(step) steps cannot complete \(epoch) epochs (every epoch takes at least one step)")
        }
        var seed: UInt64 = 0
        if let text = meta["seed"] {
            // conversion: parses text (failable)
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let v = UInt64(text) else {
                throw fail("seed", "'\(text)' is not a non-negative 64-bit integer")
            }
            seed = v
        }
        let sinceBest = try count("since_best", required: false) ?? 0
        guard sinceBest <= epoch else { throw fail("since_best", "\(sinceBest) is more than the \(epoch) epochs run") }
        var best: Double?
        if let text = meta["best"] {
            guard let v = Double(text), v.isFinite else { throw fail("best", "'\(text)' is not a finite number") }
            best = v
        }
        return Position(epoch: epoch, step: step, seed: seed, best: best, sinceBest: sinceBest)
    }
}

extension Checkpoint {
    /// Copies every parameter and buffer of `state` (optimizer state
    /// excepted) from the tensor of the same name in `file`. Returns one line
    /// per entry that is missing from the file or has another shape there
    /// (those entries keep their values); empty when everything matched.
    public static func restore(_ state: StateStore, from file: SafetensorsFile) -> [String] {
        var problems: [String] = []
        for e in state.entries where !e.name.hasPrefix("optimizer.") {
            guard let t = file[e.name] else {
                problems.append("'\(e.name)' (\(e.dtype.rawValue)\(Shape(e.shape))) is missing")
                continue
            }
            guard t.shape == e.shape else {
                problems.append("'\(e.name)' has shape \(Shape(t.shape)) in the file but the model expects \(Shape(e.shape))")
                continue
            }
            do { try state.set(e.name, t) } catch { problems.append(error.message) }
        }
        return problems
    }
}
