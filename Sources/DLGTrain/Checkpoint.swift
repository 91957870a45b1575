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

    public static func load(_ path: String) throws -> (tensors: SafetensorsFile, position: Position?) {
        let f = try Safetensors.read(path)
        guard f.metadata["format"] == format, let e = f.metadata["epoch"].flatMap(Int.init),
              let s = f.metadata["step"].flatMap(Int.init) else {
            return (f, nil)
        }
        return (f, Position(epoch: e, step: s, seed: f.metadata["seed"].flatMap(UInt64.init) ?? 0,
                            best: f.metadata["best"].flatMap(Double.init),
                            sinceBest: f.metadata["since_best"].flatMap(Int.init) ?? 0))
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
