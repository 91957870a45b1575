import DLGCompiler
import DLGData
import DLGRuntime
import DLGSource
import DLGSyntax
import DLGTrain
import Foundation
import Testing

/// Checkpoint metadata, the bounded history and located numerics (issue 22).
@Suite("Hostile checkpoints and numerics")
struct HostileTrainTests {
    let good: [String: String] = ["format": Checkpoint.format, "model": "xor", "epoch": "3", "step": "12",
                                  "seed": "7", "since_best": "1", "best": "0.25"]

    func refusal(_ meta: [String: String], sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try Checkpoint.position(meta, file: "ck.safetensors", model: "xor")
            Issue.record("accepted \(meta)", sourceLocation: sourceLocation)
            return ""
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("ck.safetensors: "), "\(text)", sourceLocation: sourceLocation)
            return text
        }
    }

    /// `step: "-5"` trapped on resume, `epoch: "-1"` was accepted, an
    /// unparseable epoch silently restarted at 0, another model's name was
    /// not checked.
    @Test func checkpointMetadataChecked() throws {
        let p = try #require(try Checkpoint.position(good, file: "ck.safetensors", model: "xor"))
        #expect(p == Checkpoint.Position(epoch: 3, step: 12, seed: 7, best: 0.25, sinceBest: 1))
        // One field edited at a time, and what the refusal must say.
        let edits: [(field: String, value: String, says: String)] = [
            ("step", "-5", "'-5' is not a non-negative integer"),
            ("epoch", "-1", "__metadata__.epoch"),
            ("epoch", "three", "'three' is not a non-negative integer"),
            ("model", "lenet5", "the checkpoint is of model 'lenet5', not 'xor'"),
            ("step", "2", "2 steps cannot complete 3 epochs"),
            // The campaign's crash: a step of Int.max overflowed when the run counted on from it.
            ("step", "9223372036854775807", "9223372036854775807 is more than 2^53"),
            ("best", "nan", "not a finite number"),
            ("seed", "99999999999999999999", "seed"),
            ("format", "dlg-checkpoint/0", "'dlg-checkpoint/0' is not dlg-checkpoint/1"),
        ]
        for e in edits {
            var m = good
            m[e.field] = e.value
            #expect(refusal(m).contains(e.says), "\(e.field) = \(e.value)")
        }
        var m = good
        m.removeValue(forKey: "epoch")
        #expect(refusal(m).contains("__metadata__.epoch': missing"))
        // A safetensors file from elsewhere has no position: its tensors start a run.
        #expect(try Checkpoint.position(["format": "pt"], file: "w.safetensors", model: "xor") == nil)
        #expect(try Checkpoint.position(["format": "pt", "model": "resnet"], file: "w.safetensors", model: "xor") == nil)
    }

    /// The per-epoch history stays bounded over a long run, keeps the first
    /// and the newest epochs and spreads the rest over the run.
    @Test func historyBounded() {
        var h = History()
        let n = 3 * History.capacity + 17
        for e in 0..<n {
            h.append(EpochRecord(epoch: e, loss: Double(e), accuracy: nil, valLoss: nil, valAccuracy: nil,
                                 learningRate: 0.1, seconds: 0, samplesPerSecond: 0))
        }
        #expect(h.all.count <= History.capacity + 1)
        #expect(h.all.count > History.capacity / 4)
        #expect(h.all.first?.epoch == 0)
        #expect(h.last?.epoch == n - 1)
        #expect(h.all.map(\.epoch) == h.all.map(\.epoch).sorted())
        // Evenly spread: every gap between kept epochs is the same power of two, except the last.
        let gaps = Set(zip(h.records, h.records.dropFirst()).map { $1.epoch - $0.epoch })
        #expect(gaps.count == 1)
    }

    /// A NaN produced in the middle of a model — the log of a negative
    /// intermediate — is named with its op and place without --check-numerics:
    /// the step is re-run from the state copied at the epoch's start.
    @Test func nonFiniteLossLocatedWithoutCheckNumerics() throws {
        let file = SourceFile(path: "neg.dlg", text: """
            model neg {
                input  x: f32[B, 1]
                input  y: f32[B, 1]
                param  w: f32[1, 1] = [[1.0]]
                h = x @ w
                z = log(h - 3)
                output p = z
                minimize mse(p, y)
            }
            """)
        var c = TrainConfig()
        c.batch = 2
        c.epochs = 1
        c.shuffle = false
        let session = try Session(file: file, model: nil, config: c, threads: 1)
        let trainer = try Trainer(session: session)
        // Rows 0-3 are above 3 (log defined); rows 4-5 make h − 3 negative.
        let x = try NDArray([Float(5), 6, 7, 8, 1, 2], shape: [6, 1])
        let y = try NDArray([Float](repeating: 0, count: 6), shape: [6, 1])
        let r = try trainer.run(train: try Dataset(name: "d", features: x, labels: y), validation: nil)
        let failure = try #require(r.failure)
        // log of a negative number is NaN (printed -nan or nan, by its sign bit).
        #expect(failure.contains("nan at step 3 (epoch 1, batch 3 of 3)"), "\(failure)")
        #expect(failure.contains("the first non-finite value comes from"), "\(failure)")
        #expect(failure.contains("log") && failure.contains("at neg.dlg:6:"), "\(failure)")
        #expect(!failure.contains("--check-numerics"), "\(failure)")
    }
}
