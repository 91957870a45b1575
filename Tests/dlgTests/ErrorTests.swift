import DLGData
import Foundation
import Testing

/// Bad input to `dlg run`: a clear message naming the input or tensor with the
/// expected and found shapes, exit status 1, and no output file.
@Suite("dlg run on bad input")
struct RunErrorTests {
    /// XOR's truth table as .npy, and the run's arguments up to the output.
    func setUp() throws -> Scratch {
        let dir = try Scratch()
        try NPY.write(try NDArray([Float(0), 0, 0, 1, 1, 0, 1, 1], shape: [4, 2]), to: dir.file("x.npy"))
        return dir
    }

    func run(_ dir: Scratch, _ extra: [String], model: String = CLI.graph("xor.dlg")) throws -> CLI.Result {
        try CLI.run(["run", model] + extra + ["--output", "out.npy"], in: dir.path)
    }

    @Test func missingInput() throws {
        let dir = try setUp()
        let r = try run(dir, [])
        expectFailure(r, ["input 'x' (f32[B,2]) is missing", "--input x=PATH"])
        #expect(!dir.exists("out.npy"))
        // Only the inputs the forward pass reads are needed: y feeds only the loss.
        expectSuccess(try run(dir, ["--input", "x=x.npy"]))
        #expect(dir.exists("out.npy"))
    }

    @Test func wrongShapedInput() throws {
        let dir = try setUp()
        try NPY.write(try NDArray([Float](repeating: 0, count: 12), shape: [4, 3]), to: dir.file("x3.npy"))
        let r = try run(dir, ["--input", "x=x3.npy"])
        // B is bound from the array's 4 rows; each row needs 2 values, the array has 3.
        expectFailure(r, ["input 'x' needs f32[4,2] (with B = 4)", "x3.npy holds f32[4, 3]"])
        #expect(!dir.exists("out.npy"))
        // A rank mismatch is one too.
        try NPY.write(try NDArray([Float](repeating: 0, count: 8), shape: [8]), to: dir.file("flat.npy"))
        expectFailure(try run(dir, ["--input", "x=flat.npy"]), ["input 'x' needs f32[8,2]", "flat.npy holds f32[8]"])
        #expect(!dir.exists("out.npy"))
    }

    @Test func emptyInput() throws {
        let dir = try setUp()
        try NPY.write(try NDArray([Float](), shape: [0, 2]), to: dir.file("none.npy"))
        expectFailure(try run(dir, ["--input", "x=none.npy"]), ["input 'x': none.npy holds no examples (f32[0, 2])"])
        #expect(!dir.exists("out.npy"))
    }

    @Test func wrongDtype() throws {
        let dir = try setUp()
        try dir.write("idx.dlg", """
            model lookup {
                input  c: i32[B]
                output o = one_hot(c, 4)
            }
            """)
        // Fractions for an integer input would be truncated: an error.
        try NPY.write(NDArray([Float(0.5), 2]), to: dir.file("frac.npy"))
        expectFailure(try run(dir, ["--input", "c=frac.npy"], model: "idx.dlg"),
                      ["input 'c' is i32 (integers)", "frac.npy holds f32[2] with the value 0.5 at element 0"])
        #expect(!dir.exists("out.npy"))
        // Whole numbers stored as floats convert exactly: one_hot([3, 0], 4).
        try NPY.write(NDArray([Float(3), 0]), to: dir.file("whole.npy"))
        expectSuccess(try run(dir, ["--input", "c=whole.npy"], model: "idx.dlg"))
        #expect(try NPY.read(dir.file("out.npy")).toDoubles() == [0, 0, 0, 1, 1, 0, 0, 0])
    }

    @Test func weightsWithAMissingTensor() throws {
        let dir = try setUp()
        let w1 = try NDArray([Float](repeating: 0.1, count: 4), shape: [2, 2])
        try Safetensors.write([NamedArray("W1", w1), NamedArray("b1", NDArray([Float(0), 0])),
                               NamedArray("b2", NDArray([Float(0)]))], to: dir.file("w.safetensors"))
        let r = try run(dir, ["--input", "x=x.npy", "--weights", "w.safetensors"])
        expectFailure(r, ["w.safetensors does not match the model", "'W2' (f32[2,1]) is missing"])
        #expect(!dir.exists("out.npy"))
    }

    @Test func weightsWithAWrongShape() throws {
        let dir = try setUp()
        try Safetensors.write([NamedArray("W1", try NDArray([Float](repeating: 0.1, count: 6), shape: [3, 2])),
                               NamedArray("b1", NDArray([Float(0), 0])),
                               NamedArray("W2", try NDArray([Float(0.2), 0.4], shape: [2, 1])),
                               NamedArray("b2", NDArray([Float(0)]))], to: dir.file("w.safetensors"))
        let r = try run(dir, ["--input", "x=x.npy", "--weights", "w.safetensors"])
        expectFailure(r, ["'W1' has shape [3,2] in the file but the model expects [2,2]"])
        #expect(!dir.exists("out.npy"))
    }

    @Test func unreadableInputAndWeightsFiles() throws {
        let dir = try setUp()
        expectFailure(try run(dir, ["--input", "x=nothing.npy"]), ["nothing.npy", "No such file"])
        try dir.write("junk.safetensors", "not a safetensors file at all")
        expectFailure(try run(dir, ["--input", "x=x.npy", "--weights", "junk.safetensors"]), ["junk.safetensors"])
        expectFailure(try run(dir, ["--input", "x=x.npy", "--output", "nosuchoutput=o.npy"]), ["has no output 'nosuchoutput'"])
        #expect(!dir.exists("out.npy") && !dir.exists("o.npy"))
    }
}

/// Bad input to `dlg train`: a clear message, exit status 1.
@Suite("dlg train on bad input")
struct TrainErrorTests {
    static let classifier = """
        model cls {
            input  x: f32[B, 2]
            input  label: i32[B]
            output logits = dense(x, 3)
            minimize cross_entropy(logits, label)
        }
        train cls {
            data = csv("data.csv", label: "label")
            optimizer = sgd(lr: 0.1)
            batch = 2
            epochs = 2
        }
        """

    func train(_ csv: String, _ extra: [String] = []) throws -> CLI.Result {
        let dir = try Scratch()
        try dir.write("cls.dlg", Self.classifier)
        try dir.write("data.csv", csv)
        return try CLI.run(["train", "cls.dlg"] + extra, in: dir.path)
    }

    @Test func goodDataTrains() throws {
        let r = try train("a,b,label\n0,1,0\n1,0,2\n1,1,1\n0,0,1\n", ["--json"])
        expectSuccess(r)
        #expect(try jsonObject(r)["steps"] as? Int == 4)
    }

    @Test func missingDataFile() throws {
        expectFailure(try train("", ["--data", "csv(\"absent.csv\", label: \"label\")"]),
                      ["absent.csv: cannot open for reading: No such file or directory"])
        expectFailure(try train("", ["--data", "idx(\"absent-images.gz\", \"absent-labels.gz\")"]), ["absent-images.gz"])
    }

    @Test func wrongMagicNumber() throws {
        let dir = try Scratch()
        try dir.write("cls.dlg", Self.classifier)
        try dir.write("bad.idx", "garbage!garbage!")
        let r = try CLI.run(["train", "cls.dlg", "--data", "idx(\"bad.idx\")"], in: dir.path)
        // "ga" = 0x67 0x61 where an IDX file starts with two zero bytes.
        expectFailure(r, ["bad.idx: bad magic number for IDX: expected 0x0000, found 0x6761"])
    }

    @Test func truncatedFile() throws {
        let dir = try Scratch()
        try dir.write("cls.dlg", Self.classifier)
        // An IDX header for u8 [10, 2, 2] (16 bytes) followed by 13 of its 40 data bytes.
        var bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0, 0, 2]
        bytes += [UInt8](repeating: 1, count: 13)
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("short.idx")))
        let r = try CLI.run(["train", "cls.dlg", "--data", "idx(\"short.idx\")"], in: dir.path)
        expectFailure(r, ["short.idx: truncated", "needed 40 bytes at byte offset 16", "ends at byte offset 29"])
    }

    @Test func labelOutOfRange() throws {
        expectFailure(try train("a,b,label\n0,1,0\n1,0,2\n1,1,7\n0,0,1\n"),
                      ["label 7 of training example 2 is out of range for the model's 3 classes (0…2)"])
        expectFailure(try train("a,b,label\n0,1,-1\n1,0,2\n"), ["label -1 of training example 0 is out of range"])
    }

    @Test func dataShapeNotMatchingTheInput() throws {
        expectFailure(try train("a,b,c,label\n0,1,1,0\n1,0,1,2\n"),
                      ["the training data does not fit the model", "input 'x' is f32[B,2]",
                       "(2 values per example, the data has 3)"])
    }

    @Test func emptyDataset() throws {
        expectFailure(try train("a,b,label\n"), ["empty dataset"])
    }

    @Test func batchLargerThanTheDataset() throws {
        expectFailure(try train("a,b,label\n0,1,0\n1,0,2\n1,1,1\n0,0,1\n", ["--batch", "8"]),
                      ["batch 8 is larger than the training data (", ".csv: 4 examples)"])
    }

    /// A linear model on the sine data with a learning rate of 10 diverges: the weights
    /// grow geometrically until the squared error overflows f32.
    static let diverging = """
        model lin {
            input  x: f32[B, 1]
            input  y: f32[B, 1]
            output yhat = dense(x, 1)
            minimize mse(yhat, y)
        }
        train lin {
            data = sine(n: 40)
            optimizer = sgd(lr: 10)
            batch = 10
            epochs = 30
            seed = 1
        }
        """

    /// The step and epoch in "the loss became inf at step S (epoch E, …".
    func failurePoint(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (step: Int, epoch: Int) {
        let m = try #require(text.firstMatch(of: /the loss became (inf|-inf|nan) at step (\d+) \(epoch (\d+), batch \d+ of 4\)/),
                             "no failure message in: \(text)", sourceLocation: sourceLocation)
        return (Int(m.output.2)!, Int(m.output.3)!)
    }

    @Test func nonFiniteLossStopsAndKeepsTheLastCheckpoint() throws {
        let dir = try Scratch()
        try dir.write("lin.dlg", Self.diverging)
        let r = try CLI.run(["train", "lin.dlg", "--checkpoint", "ck.safetensors"], in: dir.path)
        // Without --check-numerics the op is located all the same: the steps since the epoch's
        // start are run again with every op's output checked (see nanLocatedByDefault).
        expectFailure(r, ["the first non-finite value comes from %", "= fused(sub+square+reduce_mean) ('mse') at lin.dlg:5:",
                          "the last checkpoint, ck.safetensors, is from epoch"])
        let (step, epoch) = try failurePoint(r.stderr)
        #expect(epoch >= 2 && epoch < 30)
        // 4 steps per epoch (40 examples, batch 10): the failing step lies in its epoch.
        #expect(step > (epoch - 1) * 4 && step <= epoch * 4)
        #expect(r.stderr.contains("is from epoch \(epoch - 1)"))
        // The checkpoint on disk is that of the last complete epoch, with finite weights.
        let ck = try Safetensors.read(dir.file("ck.safetensors"))
        #expect(ck.metadata["epoch"] == String(epoch - 1))
        #expect(ck.metadata["step"] == String((epoch - 1) * 4))
        for t in ck.tensors { #expect(t.array.toDoubles().allSatisfy { $0.isFinite }, "\(t.name)") }
        #expect(!r.stdout.contains("done"))

        // --check-numerics names the op and its line: the square inside mse (line 5) overflows
        // first, since (ŷ − y)² exceeds f32's 3.4e38 long before ŷ does. It is fused, with the
        // difference it squares, into the mean that reads it, so the kernel is named by its steps.
        let c = try CLI.run(["train", "lin.dlg", "--check-numerics", "--json"], in: dir.path)
        expectFailure(c, ["the first non-finite value comes from", "= fused(sub+square+reduce_mean) ('mse') at lin.dlg:5:"])
        #expect(try failurePoint(c.stderr) == (step, epoch))
        let j = try jsonObject(c)
        #expect((j["error"] as? String)?.contains("at step \(step)") == true)
        #expect(j["epochs"] as? Int == epoch - 1)
    }

    @Test func nonFiniteLossInTheFirstEpochWritesNoCheckpoint() throws {
        let dir = try Scratch()
        try dir.write("lin.dlg", Self.diverging)
        let r = try CLI.run(["train", "lin.dlg", "--lr", "1e30", "--checkpoint", "ck.safetensors"], in: dir.path)
        expectFailure(r, ["no checkpoint was written (no epoch finished)"])
        #expect(try failurePoint(r.stderr).epoch == 1)
        #expect(!dir.exists("ck.safetensors"))
    }

    @Test func modelWithoutOutputsTrainsOnItsLoss() throws {
        let dir = try Scratch()
        try dir.write("noout.dlg", """
            model noout {
                input  x: f32[B, 1]
                input  y: f32[B, 1]
                param  w: f32[1, 1] = [[0.5]]
                minimize mse(x @ w, y)
            }
            train noout {
                data = sine(n: 20)
                optimizer = sgd(lr: 0.1)
                batch = 5
                epochs = 2
                validation = 0.25
            }
            """)
        let r = try CLI.run(["train", "noout.dlg", "--checkpoint", "w.safetensors", "--json"], in: dir.path)
        expectSuccess(r)
        #expect(try jsonObject(r)["val_loss"] is Double)
        expectSuccess(try CLI.run(["eval", "noout.dlg", "--weights", "w.safetensors"], in: dir.path))
        expectFailure(try CLI.run(["predict", "noout.dlg", "--weights", "w.safetensors", "--output", "p.npy"], in: dir.path),
                      ["model 'noout' has no outputs to predict"])
        expectFailure(try CLI.run(["run", "noout.dlg", "--output", "p.npy"], in: dir.path), ["model 'noout' has no outputs to write"])
    }
}
