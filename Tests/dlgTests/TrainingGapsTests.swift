import DLGData
import Foundation
import Testing

/// The smaller gaps of the training workflow (issue 23, "Why"): each case runs the built
/// `dlg` and checks a figure worked out by hand in the test.
@Suite("Training gaps")
struct TrainingGapsTests {
    /// The parsed lines of a JSON-lines log.
    func logLines(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], sourceLocation: sourceLocation)
        }
    }

    /// `test = 0.2` holds out the last 20 of 100 rows, `validation = 0.1` the 10 before them;
    /// the test part is evaluated once, at the end, with the final weights: its loss is what
    /// `eval` gives on those 20 rows.
    @Test func testSplitIsHeldOutAndEvaluatedAtTheEnd() throws {
        let dir = try Scratch()
        var rows = "x,y\n"
        for i in 0..<100 { rows += "\(Double(i) / 100),\(sin(Double(i) * 0.37))\n" }
        try dir.write("d.csv", rows)
        try dir.write("test.csv", "x,y\n" + rows.split(separator: "\n").dropFirst(81).joined(separator: "\n") + "\n")
        try dir.write("m.dlg", """
            model m {
                input x: f32[B, 1]
                input y: f32[B, 1]
                output yhat = dense(tanh(dense(x, 8)), 1)
                minimize mse(yhat, y)
            }
            train m {
                data = csv("d.csv", label: "y")
                validation = 0.1
                test = 0.2
                batch = 10
                epochs = 3
            }
            """)
        let r = try CLI.run(["train", "m.dlg", "--checkpoint", "m.safetensors"], in: dir.path)
        expectSuccess(r)
        #expect(r.stderr.contains("training m: 70 examples, 10 held out, 20 for testing, batch 10, 3 epochs"), "\(r.stderr)")
        #expect(r.stdout.contains("test: loss "), "\(r.stdout)")
        let j = try jsonObject(try CLI.run(["train", "m.dlg", "--checkpoint", "m.safetensors", "--json"], in: dir.path))
        let testLoss = try #require(j["test_loss"] as? Double, "\(j)")
        #expect(j["val_loss"] is Double)
        let e = try jsonObject(try CLI.run(["eval", "m.dlg", "--weights", "m.safetensors", "--data", "csv(\"test.csv\", label: \"y\")",
                                            "--json"], in: dir.path))
        #expect(e["examples"] as? Int == 20)
        let evalLoss = try #require(e["loss"] as? Double)
        #expect(abs(evalLoss - testLoss) <= 1e-6 * max(1, evalLoss), "test_loss \(testLoss), eval \(evalLoss)")
        // The flag overrides the block: 50 rows for testing leave 40 to train.
        let flag = try CLI.run(["train", "m.dlg", "--test", "0.5", "--epochs", "1"], in: dir.path)
        expectSuccess(flag)
        #expect(flag.stderr.contains("training m: 40 examples, 10 held out, 50 for testing"), "\(flag.stderr)")
    }

    /// W = [0.5, −1], b = 0.25 on and(): predictions 0.25, −0.75, 0.75, −0.25 against 0, 0, 0, 1,
    /// mse = (0.0625 + 0.5625 + 0.5625 + 1.5625)/4 = 0.6875. One full batch measures the loss
    /// before its update, so the epoch's loss is that plus the penalty:
    /// l2 = 0.1 → 0.1/2 · (0.25 + 1 + 0.0625) = 0.065625; l1 = 0.2 → 0.2 · (0.5 + 1 + 0.25) = 0.35.
    @Test func reportedLossIncludesThePenalty() throws {
        let dir = try Scratch()
        try dir.write("p.dlg", """
            model p {
                input x: f32[B, 2]
                input y: f32[B, 1]
                param W: f32[2, 1] = [[0.5], [-1.0]]
                param b: f32[1] = [0.25]
                output yhat = x @ W + b
                minimize mse(yhat, y)
            }
            train p { data = and(); batch = full; epochs = 1; optimizer = sgd(lr: 0.001); shuffle = false }
            """)
        for (flags, penalty) in [(["--l2", "0.1"], 0.065625), (["--l2", "0.1", "--l1", "0.2"], 0.065625 + 0.35)] {
            let r = try CLI.run(["train", "p.dlg", "--log", "log.jsonl"] + flags, in: dir.path)
            expectSuccess(r)
            let line = try #require(try logLines(dir.file("log.jsonl")).first)
            let loss = try #require(line["loss"] as? Double), p = try #require(line["penalty"] as? Double, "\(line)")
            #expect(abs(p - penalty) < 1e-6, "\(flags): penalty \(p)")
            #expect(abs(loss - (0.6875 + penalty)) < 1e-6, "\(flags): loss \(loss)")
            #expect(r.stderr.contains("penalty"), "\(r.stderr)")
        }
        // Without a penalty the log has no penalty field and the loss is the model's.
        expectSuccess(try CLI.run(["train", "p.dlg", "--log", "log.jsonl"], in: dir.path))
        let plain = try #require(try logLines(dir.file("log.jsonl")).first)
        #expect(plain["penalty"] == nil)
        #expect(abs((plain["loss"] as? Double ?? 0) - 0.6875) < 1e-6)
    }

    /// `normalize = unit` scales each feature by its own range: a = [10, 20, 60] → [0, 0.2, 1],
    /// b = [0, 5, 10] → [0, 0.5, 1] (one range over both would give a = [0.167, 0.333, 1]).
    @Test func unitNormalizationIsPerFeature() throws {
        let dir = try Scratch()
        try dir.write("d.csv", "a,b,y\n10,0,1\n20,5,0\n60,10,1\n")
        try dir.write("n.dlg", """
            model n {
                input x: f32[B, 2]
                input y: f32[B, 1]
                output seen = x + 0.0
                minimize mse(dense(x, 1), y)
            }
            train n { data = csv("d.csv", label: "y"); normalize = unit; batch = 3; epochs = 1 }
            """)
        expectSuccess(try CLI.run(["train", "n.dlg", "--checkpoint", "n.safetensors"], in: dir.path))
        expectSuccess(try CLI.run(["predict", "n.dlg", "--weights", "n.safetensors", "--output", "seen.npy"], in: dir.path))
        let seen = try NPY.read(dir.file("seen.npy")).toDoubles()
        let expected = [0, 0, 0.2, 0.5, 1, 1]
        #expect(seen.count == 6 && zip(seen, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(seen)")
    }

    /// A model fed features only (an autoencoder) reports its loss and nothing else, even when
    /// the data has labels.
    @Test func labelFreeModelsReportLossOnly() throws {
        let dir = try Scratch()
        try dir.write("d.csv", "a,b,c,k\n0,1,0,0\n1,0,1,1\n0,0,1,2\n1,1,0,1\n")
        try dir.write("ae.dlg", """
            model ae {
                input x: f32[B, 3]
                output r = dense(relu(dense(x, 2)), 3)
                minimize mse(r, x)
            }
            train ae { data = csv("d.csv", label: "k"); inputs = [x]; batch = 2; epochs = 2; validation = 1 }
            """)
        let r = try CLI.run(["train", "ae.dlg"], in: dir.path)
        expectSuccess(r)
        #expect(!r.stderr.contains("acc") && !r.stdout.contains("accuracy"), "\(r.stderr)\(r.stdout)")
        let j = try jsonObject(try CLI.run(["train", "ae.dlg", "--json"], in: dir.path))
        #expect(j["accuracy"] == nil && j["val_accuracy"] == nil && j["loss"] is Double)
    }

    /// A scalar output (here the sum of the predictions) is one CSV row of one value.
    @Test func scalarOutputsWriteToCSV() throws {
        let dir = try Scratch()
        try dir.write("s.dlg", """
            model s {
                input x: f32[B, 2]
                param W: f32[2, 1] = [[1.0], [2.0]]
                output total = sum(x @ W)
            }
            """)
        try dir.write("x.csv", "a,b\n1,2\n3,4\n")
        let r = try CLI.run(["run", "s.dlg", "--input", "x=x.csv", "--output", "total.csv"], in: dir.path)
        expectSuccess(r)
        // 1 + 4 + 3 + 8 = 16
        #expect(try String(contentsOfFile: dir.file("total.csv"), encoding: .utf8) == "total\n16.0\n")
    }

    /// After one step on the full batch, running_var = 0.9 · 1 + 0.1 · the unbiased batch variance,
    /// as PyTorch keeps it: column [1, 2, 3, 6] has mean 3, squared deviations 14, unbiased
    /// variance 14/3; column [0, 0, 1, 1] has 1/3. running_mean = 0.1 · mean.
    @Test func batchnormRunningVarianceIsUnbiased() throws {
        let dir = try Scratch()
        try dir.write("d.csv", "a,b,y\n1,0,0\n2,0,1\n3,1,0\n6,1,1\n")
        try dir.write("bn.dlg", """
            model bn {
                input x: f32[B, 2]
                input y: f32[B, 1]
                output o = dense(batchnorm(x), 1)
                minimize mse(o, y)
            }
            train bn { data = csv("d.csv", label: "y"); batch = full; epochs = 1; shuffle = false }
            """)
        expectSuccess(try CLI.run(["train", "bn.dlg", "--checkpoint", "bn.safetensors"], in: dir.path))
        let f = try Safetensors.read(dir.file("bn.safetensors"))
        let v = try #require(f["o.batchnorm.running_var"]).toDoubles()
        let m = try #require(f["o.batchnorm.running_mean"]).toDoubles()
        let expectedVar = [0.9 + 0.1 * 14 / 3, 0.9 + 0.1 / 3], expectedMean = [0.3, 0.05]
        #expect(zip(v, expectedVar).allSatisfy { abs($0 - $1) < 1e-6 }, "running_var \(v), expected \(expectedVar)")
        #expect(zip(m, expectedMean).allSatisfy { abs($0 - $1) < 1e-6 }, "running_mean \(m)")
    }

    /// With min_delta larger than any change, no epoch counts as an improvement: patience 2
    /// stops the run after its third epoch.
    @Test func earlyStoppingTakesMinDelta() throws {
        let dir = try Scratch()
        try dir.write("m.dlg", """
            model m {
                input x: f32[B, 1]
                input y: f32[B, 1]
                output yhat = dense(x, 1)
                minimize mse(yhat, y)
            }
            train m { data = sine(n: 40); epochs = 10; patience = 2; metric = loss; min_delta = 100 }
            """)
        let j = try jsonObject(try CLI.run(["train", "m.dlg", "--json"], in: dir.path))
        #expect(j["epochs"] as? Int == 3 && j["stopped_early"] as? Bool == true, "\(j)")
        // The flag overrides the block: a min_delta of 0 lets the falling loss improve every epoch.
        let flag = try jsonObject(try CLI.run(["train", "m.dlg", "--json", "--min-delta", "0", "--lr", "0.1"], in: dir.path))
        #expect(flag["epochs"] as? Int == 10, "\(flag)")
    }

    /// Sigmoid outputs trained with bce on several 0/1 labels per example are scored per label
    /// (Keras's binary accuracy): the share of (output ≥ 0.5) = label over every example and label.
    /// With bce_logits the outputs are logits and the threshold is 0.
    @Test(arguments: [("p = sigmoid(dense(x, 3))", "bce(p, y)", 0.5), ("p = dense(x, 3)", "bce_logits(p, y)", 0.0)])
    func multiLabelAccuracy(_ output: String, _ loss: String, _ threshold: Double) throws {
        let dir = try Scratch()
        let x: [Float] = [0, 0, 0, 1, 1, 0, 1, 1, 0.5, 0.5, 0.2, 0.9]
        let y: [Float] = [0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0]
        try NPY.write(try NDArray(x, shape: [6, 2]), to: dir.file("x.npy"))
        try NPY.write(try NDArray(y, shape: [6, 3]), to: dir.file("y.npy"))
        try dir.write("ml.dlg", """
            model ml {
                input x: f32[B, 2]
                input y: f32[B, 3]
                output \(output)
                minimize \(loss)
            }
            train ml { data = npy("x.npy", "y.npy"); batch = 3; epochs = 2; optimizer = sgd(lr: 0.5) }
            """)
        let t = try CLI.run(["train", "ml.dlg", "--checkpoint", "ml.safetensors"], in: dir.path)
        expectSuccess(t)
        #expect(t.stderr.contains("acc "), "\(t.stderr)")
        let e = try jsonObject(try CLI.run(["eval", "ml.dlg", "--weights", "ml.safetensors", "--json"], in: dir.path))
        let accuracy = try #require(e["accuracy"] as? Double, "\(e)")
        expectSuccess(try CLI.run(["predict", "ml.dlg", "--weights", "ml.safetensors", "--output", "p.npy"], in: dir.path))
        let p = try NPY.read(dir.file("p.npy")).toDoubles()
        #expect(p.count == 18)
        let right = zip(p, y).filter { ($0 >= threshold) == ($1 > 0.5) }.count
        #expect(abs(accuracy - Double(right) / 18) < 1e-12, "eval \(accuracy), by hand \(right)/18")
    }
}
