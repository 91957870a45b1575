import DLGCompiler
import DLGData
import DLGRuntime
import DLGTrain
import Foundation
import Testing

/// A small classifier with everything that makes resuming hard: batchnorm
/// (running statistics are state), dropout (a mask from the seed and the
/// step), Adam (moments and a step count), shuffling per epoch, and a last
/// partial batch (100 training examples in batches of 16). DataParallelTests trains it too.
let regularized = """
    model spiral_net {
        input  x: f32[B, 2]
        input  label: i32[B]
        h = dropout(relu(batchnorm(dense(x, 16, bias: false, init: he_normal))), 0.3)
        output logits = dense(h, 2)
        minimize cross_entropy(logits, label)
    }
    """

private func regularizedConfig(epochs: Int = 2) -> TrainConfig {
    var c = TrainConfig()
    c.optimizer = OptimizerSpec(kind: .adam, lr: 0.01)
    c.batch = 16
    c.epochs = epochs
    c.seed = 11
    c.shuffle = true
    return c
}

/// 120 spiral points: the first 100 train, the last 20 are held out.
private func spiralData() throws -> (train: Dataset, validation: Dataset) {
    let all = try Synthetic.spirals(perClass: 60, noise: 0.1, seed: 4).shuffled(seed: 9)
    let (train, validation) = try all.split(last: 20)
    return (train, validation)
}

/// The bit patterns of every state entry, by name.
private func stateBits(_ s: Session) -> [String: [UInt64]] {
    var out: [String: [UInt64]] = [:]
    for e in s.state.entries {
        out[e.name] = s.state.values(e.name)!.map(\.bitPattern)
    }
    return out
}

@Suite("Checkpoints and resuming")
struct CheckpointTests {
    @Test(arguments: [1, 2])
    func resumeIsBitIdenticalToAStraightRun(threads: Int) throws {
        let dir = try ScratchDirectory()
        let (train, validation) = try spiralData()

        // Two epochs straight.
        let straight = try makeSession(regularized, config: regularizedConfig(), threads: threads)
        let a = try Trainer(session: straight)
        a.checkpointPath = dir.file("straight.safetensors")
        let ra = try a.run(train: train, validation: validation)
        #expect(ra.history.count == 2)
        #expect(ra.steps == 14)   // ⌈100/16⌉ = 7 steps per epoch

        // One epoch, stop; a fresh session resumes from the checkpoint for the second.
        let first = try makeSession(regularized, config: regularizedConfig(), threads: threads)
        let b = try Trainer(session: first)
        b.checkpointPath = dir.file("split.safetensors")
        b.stopAfterEpochs = 1
        let rb = try b.run(train: train, validation: validation)
        #expect(rb.history.count == 1 && rb.steps == 7)
        let afterOne = stateBits(first)

        let second = try makeSession(regularized, config: regularizedConfig(), threads: threads)
        let c = try Trainer(session: second)
        c.resumePath = dir.file("split.safetensors")
        c.checkpointPath = dir.file("split.safetensors")
        let recorder = StateRecorder(second, names: [])
        c.progress = recorder
        let rc = try c.run(train: train, validation: validation)
        // The resumed run trained exactly the second epoch, from where the first stopped.
        #expect(rc.history.map(\.epoch) == [1])
        #expect(rc.steps == 14)
        #expect(recorder.messages.contains { $0.contains("resumed") && $0.contains("epoch 1, step 7") })

        let expected = stateBits(straight)
        let actual = stateBits(second)
        #expect(Set(expected.keys) == Set(actual.keys))
        #expect(expected.keys.contains("optimizer.t") && expected.keys.contains { $0.hasSuffix("running_mean") })
        for (name, bits) in expected {
            #expect(actual[name] == bits, "\(name) differs after resuming (\(threads) threads)")
        }
        // The second epoch changed the weights (the comparison is not between two unchanged states).
        #expect(afterOne != expected)
        #expect(rc.history[0].loss.bitPattern == ra.history[1].loss.bitPattern)
        #expect(rc.history[0].valLoss?.bitPattern == ra.history[1].valLoss?.bitPattern)
        // And the two final checkpoints are the same file, byte for byte.
        #expect(try readFileBytes(dir.file("straight.safetensors")) == (try readFileBytes(dir.file("split.safetensors"))))
    }

    @Test func checkpointHoldsEveryStateEntryAndThePosition() throws {
        let dir = try ScratchDirectory()
        let (train, _) = try spiralData()
        let s = try makeSession(regularized, config: regularizedConfig(epochs: 1))
        let t = try Trainer(session: s)
        t.checkpointPath = dir.file("c.safetensors")
        _ = try t.run(train: train, validation: nil)
        let (file, position) = try Checkpoint.load(dir.file("c.safetensors"))
        #expect(position == Checkpoint.Position(epoch: 1, step: 7, seed: 11, best: nil, sinceBest: 0))
        #expect(file.metadata["model"] == "spiral_net")
        #expect(Set(file.tensors.map(\.name)) == Set(s.state.entries.map(\.name)))
        for e in s.state.entries {
            let a = try #require(file[e.name])
            #expect(a.shape == e.shape, "\(e.name)")
            #expect(a.toDoubles() == s.state.values(e.name), "\(e.name)")
        }
        #expect(file["optimizer.lr"]?.toDoubles() == [0.01].map { Double(Float($0)) })
    }

    /// A kill while the checkpoint is written (simulated by cutting the write
    /// off) leaves the previous checkpoint as it was, at every cut.
    @Test func interruptedSaveLeavesThePreviousCheckpoint() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("model.safetensors")
        let old = [NamedArray("w", try NDArray([Float(1), 2, 3], shape: [3]))]
        let position = Checkpoint.Position(epoch: 3, step: 30, seed: 1, best: 0.5, sinceBest: 1)
        try Checkpoint.save(old, model: "m", position: position, to: path)
        let before = try readFileBytes(path)
        let new = [NamedArray("w", try NDArray([Float(7), 8, 9], shape: [3])), NamedArray("b", try NDArray([Float(4)], shape: [1]))]
        let full = try Safetensors.encode(new, metadata: ["format": Checkpoint.format])
        for cut in [0, 1, 8, 40, full.count - 1, full.count + 100] {
            #expect(throws: (any Error).self, "cut after \(cut) bytes") {
                try Checkpoint.save(new, model: "m", position: Checkpoint.Position(epoch: 4, step: 40, seed: 1, best: nil, sinceBest: 0),
                                    to: path, interruptAfterBytes: cut)
            }
            #expect(try readFileBytes(path) == before, "cut after \(cut) bytes")
        }
        let (file, pos) = try Checkpoint.load(path)
        #expect(pos == position)
        #expect(file["w"]?.toDoubles() == [1, 2, 3])
        #expect(file["b"] == nil)
        // Nothing else is left in the directory.
        #expect(dir.entries() == ["model.safetensors"])
    }

    /// The trainer's checkpoint after epoch 2 is cut off: the run fails, the file
    /// still holds epoch 1, and resuming from it ends where a straight run ends.
    @Test func trainerKilledWhileCheckpointingKeepsThePreviousEpoch() throws {
        let dir = try ScratchDirectory()
        let (train, validation) = try spiralData()
        let path = dir.file("run.safetensors")

        let s1 = try makeSession(regularized, config: regularizedConfig(epochs: 3))
        let t1 = try Trainer(session: s1)
        t1.checkpointPath = path
        t1.interruptCheckpoint = (epoch: 2, bytes: 300)
        #expect(throws: TrainError.self) { try t1.run(train: train, validation: validation) }
        let (_, kept) = try Checkpoint.load(path)
        #expect(kept?.epoch == 1 && kept?.step == 7)
        #expect(dir.entries() == ["run.safetensors"])

        let s2 = try makeSession(regularized, config: regularizedConfig(epochs: 3))
        let t2 = try Trainer(session: s2)
        t2.resumePath = path
        t2.checkpointPath = path
        let r2 = try t2.run(train: train, validation: validation)
        #expect(r2.history.map(\.epoch) == [1, 2])

        let s3 = try makeSession(regularized, config: regularizedConfig(epochs: 3))
        _ = try Trainer(session: s3).run(train: train, validation: validation)
        #expect(stateBits(s2) == stateBits(s3))
    }

    /// With a checkpoint every 2 epochs of 5, the file holds epochs 2, 4, then 5 (the last of the run).
    @Test func checkpointInterval() throws {
        let dir = try ScratchDirectory()
        let (train, _) = try spiralData()
        let s = try makeSession(regularized, config: regularizedConfig(epochs: 5))
        let t = try Trainer(session: s)
        let path = dir.file("every2.safetensors")
        t.checkpointPath = path
        t.checkpointEvery = 2
        final class FileWatcher: ProgressReporter {
            let path: String
            var seen: [Int?] = []
            init(_ path: String) { self.path = path }
            func begin(model: String, epochs: Int, examples: Int, batch: Int, validation: Int) {}
            func batch(epoch: Int, done: Int, total: Int, loss: Double, accuracy: Double?, samplesPerSecond: Double) {}
            // Called as each epoch ends, before that epoch's checkpoint is written.
            func epoch(_ r: EpochRecord, epochs: Int) { seen.append((try? Checkpoint.load(path))?.position?.epoch) }
            func message(_ s: String) {}
        }
        let watcher = FileWatcher(path)
        t.progress = watcher
        _ = try t.run(train: train, validation: nil)
        #expect(watcher.seen == [nil, nil, 2, 2, 4])
        #expect(try Checkpoint.load(path).position?.epoch == 5)
    }

    @Test func resumeRejectsACheckpointOfAnotherModel() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("other.safetensors")
        try Checkpoint.save([NamedArray("W", try NDArray([Float(0)], shape: [1]))], model: "other",
                            position: Checkpoint.Position(epoch: 1, step: 1, seed: 0, best: nil, sinceBest: 0), to: path)
        let s = try makeSession(regularized, config: regularizedConfig())
        let t = try Trainer(session: s)
        t.resumePath = path
        let (train, _) = try spiralData()
        let error = try #require(throws: TrainError.self) { try t.run(train: train, validation: nil) }
        // The model's name in the metadata is checked before any tensor is read.
        #expect(error.message.contains("bad header field '__metadata__.model': the checkpoint is of model 'other', not 'spiral_net'"))
        // Without dlg's metadata (a safetensors file from elsewhere), the stray tensor is named.
        try Safetensors.write([NamedArray("W", try NDArray([Float(0)], shape: [1]))], metadata: ["format": "pt"], to: path)
        let stray = try #require(throws: TrainError.self) { try t.run(train: train, validation: nil) }
        #expect(stray.message.contains("'W' is not part of this model"))
    }

    /// Python's `safetensors` reads a dlg checkpoint: the same names, shapes, dtypes,
    /// values (exactly) and metadata. Runs only where Python has the package.
    @Test(.enabled(if: PythonSafetensors.available,
                   "Python with the 'safetensors' and 'numpy' packages is not available (set DLG_PYTHON to an interpreter that has them)"))
    func pythonReadsACheckpoint() throws {
        let dir = try ScratchDirectory()
        let (train, _) = try spiralData()
        let s = try makeSession(regularized, config: regularizedConfig(epochs: 1))
        let t = try Trainer(session: s)
        let path = dir.file("for python.safetensors")
        t.checkpointPath = path
        _ = try t.run(train: train, validation: nil)

        let script = """
            import json, sys
            from safetensors import safe_open
            out = {}
            with safe_open(sys.argv[1], framework="numpy") as f:
                meta = f.metadata()
                for k in f.keys():
                    a = f.get_tensor(k)
                    out[k] = {"dtype": str(a.dtype), "shape": list(a.shape), "values": [float(x).hex() for x in a.reshape(-1)]}
            print(json.dumps({"metadata": meta, "tensors": out}))
            """
        let (status, stdout, stderr) = try PythonSafetensors.run(script, arguments: [path])
        try #require(status == 0, "python failed: \(stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        let meta = try #require(root["metadata"] as? [String: String])
        #expect(meta["format"] == Checkpoint.format && meta["epoch"] == "1" && meta["step"] == "7" && meta["model"] == "spiral_net")
        let tensors = try #require(root["tensors"] as? [String: [String: Any]])
        #expect(Set(tensors.keys) == Set(s.state.entries.map(\.name)))
        for e in s.state.entries {
            let t = try #require(tensors[e.name], "\(e.name) missing in Python")
            #expect(t["dtype"] as? String == "float32", "\(e.name)")
            #expect((t["shape"] as? [Int]) == e.shape, "\(e.name)")
            // Exact values as hexadecimal floats (decimal JSON numbers may be read with rounding).
            let values = try #require(t["values"] as? [String]).map { try #require(Double($0), "\($0)") }
            #expect(values == s.state.values(e.name), "\(e.name): values differ")
        }
    }
}

/// A Python interpreter with `safetensors` and `numpy`: $DLG_PYTHON, else python3 on the PATH.
enum PythonSafetensors {
    static var interpreter: String { ProcessInfo.processInfo.environment["DLG_PYTHON"] ?? "python3" }

    static let available: Bool = {
        guard let r = try? run("import safetensors.numpy, numpy", arguments: []) else { return false }
        return r.status == 0
    }()

    static func run(_ script: String, arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [interpreter, "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

@Suite("Early stopping")
struct EarlyStoppingTests {
    /// L = w² from w = 1 with one example per epoch: SGD with rate α maps w to (1 − 2α)w,
    /// so the epoch losses are (1 − 2α)^(2e). With α = 1.5 they grow 1, 4, 16, … and with
    /// α = 0.25 they shrink 1, 1/4, 1/16, ….
    static let source = """
        model square {
            input x: f64[B, 1]
            param w: f64[1] = [1.0]
            output y = w * x
            minimize sum(square(y))
        }
        """

    func run(lr: Double, patience: Int?, metric: String = "loss", epochs: Int = 6,
             validation: Bool = false) throws -> TrainResult {
        var c = TrainConfig()
        c.optimizer = OptimizerSpec(kind: .sgd, lr: lr)
        c.batch = 1
        c.epochs = epochs
        c.patience = patience
        c.metric = metric
        let trainer = try Trainer(session: try makeSession(Self.source, config: c))
        let data = try Dataset(name: "one", features: NDArray([1.0], shape: [1, 1]))
        return try trainer.run(train: data, validation: validation ? data : nil)
    }

    @Test func stopsWhenTheMetricStopsImproving() throws {
        let r = try run(lr: 1.5, patience: 2)
        // Epoch 1 sets the best (1); epochs 2 and 3 (4, 16) do not improve: stop after 3.
        #expect(r.stoppedEarly && r.history.count == 3 && r.bestEpoch == 0)
        #expect(r.history.map(\.loss) == [1, 4, 16])
    }

    @Test func runsOnWhileTheMetricImproves() throws {
        let r = try run(lr: 0.25, patience: 1)
        #expect(!r.stoppedEarly && r.history.count == 6 && r.bestEpoch == 5)
        #expect(r.history.map(\.loss) == [1, 0.25, 0.0625, 0.015625, 0.00390625, 0.0009765625])
    }

    @Test func aMetricTheRunDoesNotHaveIsAnError() throws {
        let noValidation = try #require(throws: TrainError.self) { try run(lr: 0.25, patience: 1, metric: "val_loss") }
        #expect(noValidation.message.contains("needs held-out data"))
        let noAccuracy = try #require(throws: TrainError.self) {
            try run(lr: 0.25, patience: 1, metric: "val_accuracy", validation: true)
        }
        #expect(noAccuracy.message.contains("scored as a regression"))
        // With held-out data, val_loss works: the held-out loss is that after the epoch's step.
        let r = try run(lr: 1.5, patience: 1, metric: "val_loss", validation: true)
        #expect(r.history.compactMap(\.valLoss) == [4, 16])
        #expect(r.stoppedEarly)
    }
}
