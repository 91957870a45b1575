import DLGData
import Foundation
import Testing

/// The commands' ordinary use, through the built binary.
@Suite("dlg commands")
struct BasicsTests {
    @Test func checkAcceptsEveryExampleAndReportsErrorsAtTheirPlace() throws {
        let graphs = try FileManager.default.contentsOfDirectory(atPath: CLI.graphs).filter { $0.hasSuffix(".dlg") }
        #expect(graphs.count >= 10)
        expectSuccess(try CLI.run(["check"] + graphs.map(CLI.graph)))

        let dir = try Scratch()
        try dir.write("bad.dlg", "model m {\n    input x: f32[B, 2]\n    output y = relu(xx)\n}\n")
        let r = try CLI.run(["check", "bad.dlg"], in: dir.path)
        // 'xx' starts at column 21 of line 3: four spaces and "output y = relu(" before it.
        expectFailure(r, ["bad.dlg:3:21: error: unknown name 'xx'", "did you mean 'x'?"])
        expectFailure(try CLI.run(["check", "no-such-file.dlg"], in: dir.path), ["no-such-file.dlg does not exist"])
    }

    /// `bench --profile`: every kernel once per timed step, then the same kernels summed by their ops.
    @Test func benchProfileSumsKernelsByTheirOps() throws {
        let r = try CLI.run(["bench", CLI.graph("xor.dlg"), "--batch", "4", "--steps", "3", "--profile"])
        expectSuccess(r)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let kernels = try #require(lines.lazy.compactMap { $0.firstMatch(of: /^  (\d+) kernels, arena/) }.first.map { Int($0.output.1)! })
        #expect(lines.contains { $0.hasPrefix("total ") && $0.hasSuffix(" in \(kernels) kernels") })
        let split = try #require(lines.firstIndex(of: "summed by what runs inside:"))
        // Rows: "%13 h  matmul+add+sigmoid  3  …" before the split, "2 kernels  matmul+add+sigmoid  6  …" after.
        let perKernel = lines[..<split].compactMap { $0.firstMatch(of: /^%\d+ .*?\s(\S+)\s+(\d+)\s+[\d.]+\s+[\d.]+%/) }
        #expect(perKernel.count == kernels)
        #expect(perKernel.allSatisfy { $0.output.2 == "3" })
        let sums = lines[split...].compactMap { $0.firstMatch(of: /^(\d+) kernels?\s+(\S+)\s+(\d+)\s/) }
        #expect(Set(sums.map { String($0.output.2) }) == Set(perKernel.map { String($0.output.1) }))
        #expect(sums.reduce(0) { $0 + Int($1.output.1)! } == kernels)
        for s in sums {
            let n = perKernel.filter { $0.output.1 == s.output.2 }.count
            #expect(Int(s.output.1)! == n && Int(s.output.3)! == 3 * n, "\(s.output.0)")
        }
    }

    @Test func summaryCountsLeNetParameters() throws {
        // conv 6·(1·5·5) + 6 = 156; conv 16·(6·5·5) + 16 = 2,416; dense 400·120 + 120 = 48,120;
        // dense 120·84 + 84 = 10,164; dense 84·10 + 10 = 850: 61,706 in all.
        let r = try CLI.run(["summary", CLI.graph("lenet5.dlg")])
        expectSuccess(r)
        #expect(r.stdout.contains("61,706"))
        let j = try jsonObject(try CLI.run(["summary", CLI.graph("lenet5.dlg"), "--json"]))
        let p = try #require(j["parameters"] as? [String: Any])
        #expect(p["total"] as? Int == 61706 && p["trainable"] as? Int == 61706)
        #expect(p["bytes"] as? Int == 61706 * 4)
    }

    @Test func dumpInEveryFormat() throws {
        let text = try CLI.run(["dump", CLI.graph("xor.dlg")])
        expectSuccess(text)
        // x @ W1, + b1, sigmoid, @ W2, + b2, sigmoid, and mse's sub, square, mean: 9 ops.
        #expect(text.stdout.contains("# 9 ops, 4 parameter tensors, 2 inputs"))
        #expect(text.stdout.contains("# parameters: 9 (trainable 9, non-trainable 0)"))
        let json = try jsonObject(try CLI.run(["dump", CLI.graph("xor.dlg"), "--format", "json"]))
        #expect(!json.isEmpty)
        let dot = try CLI.run(["dump", CLI.graph("xor.dlg"), "--format", "dot"])
        #expect(dot.stdout.hasPrefix("digraph \"xor\""))
        let grad = try CLI.run(["dump", CLI.graph("xor.dlg"), "--stage", "optimizer"])
        expectSuccess(grad)
        #expect(grad.stdout.contains("optimizer.lr"))
        #expect(try CLI.run(["dump", CLI.graph("xor.dlg"), "--stage", "nonsense"]).status == 64)
    }

    /// softsign's input at exactly 0 (zero-initialized weights) passes: its kink, where the second
    /// derivative jumps, is stepped over as relu's and abs's are.
    @Test func gradcheckPassesWithSoftsignAtZero() throws {
        let dir = try Scratch()
        try dir.write("soft.dlg", """
            model soft {
                input  x: f32[B, 3]
                input  y: f32[B, 2]
                output z = softsign(dense(x, 2, init: zeros, bias_init: zeros))
                minimize mse(z, y)
            }
            """)
        let r = try CLI.run(["gradcheck", "soft.dlg", "--samples", "0"], in: dir.path)
        expectSuccess(r)
        #expect(r.stdout.contains("all gradients agree"), "\(r.stdout)")
    }

    @Test func gradcheckPassesOnXOR() throws {
        let r = try CLI.run(["gradcheck", CLI.graph("xor.dlg")])
        expectSuccess(r)
        #expect(r.stdout.contains("all gradients agree"))
        let j = try jsonObject(try CLI.run(["gradcheck", CLI.graph("xor.dlg"), "--json"]))
        #expect(j["passed"] as? Bool == true)
        #expect((j["tensors"] as? [Any])?.count == 6)   // W1, b1, W2, b2 and the inputs x, y
        // --only keeps the tensors whose name contains the text: W1 and W2.
        let only = try jsonObject(try CLI.run(["gradcheck", CLI.graph("xor.dlg"), "--only", "W", "--json"]))
        #expect((only["tensors"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["W1", "W2"])
        let none = try CLI.run(["gradcheck", CLI.graph("xor.dlg"), "--only", "nosuch"])
        #expect(none.status == 1)
        #expect(none.stderr.contains("no parameter or float input of xor has a name containing 'nosuch'"))
    }

    /// The perceptron's starting weights give a = hardlim(p·[1, −0.8] + 0):
    /// (0,0) → hardlim(0) = 1, (0,1) → hardlim(−0.8) = 0, (1,0) → 1, (1,1) → hardlim(0.2) = 1.
    @Test func runComputesTheForwardPass() throws {
        let dir = try Scratch()
        try dir.write("p.csv", "p1,p2\n0,0\n0,1\n1,0\n1,1\n")
        let r = try CLI.run(["run", CLI.graph("perceptron_and.dlg"), "--input", "p=p.csv", "--output", "a.npy"], in: dir.path)
        expectSuccess(r)
        let a = try NPY.read(dir.file("a.npy"))
        #expect(a.shape == [4, 1])
        #expect(a.toDoubles() == [1, 0, 1, 1])
        let csv = try CLI.run(["run", CLI.graph("perceptron_and.dlg"), "--input", "p=p.csv", "--output", "a.csv"], in: dir.path)
        expectSuccess(csv)
        let lines = try String(contentsOfFile: dir.file("a.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "a")
        #expect(lines.dropFirst().map { Double($0) } == [1, 0, 1, 1])
    }

    /// train → checkpoint → eval and predict agree with each other and with run.
    @Test func trainEvalPredictAndRunAgree() throws {
        let dir = try Scratch()
        let t = try CLI.run(["train", CLI.graph("xor.dlg"), "--checkpoint", "xor.safetensors", "--json"], in: dir.path)
        expectSuccess(t)
        let summary = try jsonObject(t)
        #expect(summary["model"] as? String == "xor")
        #expect(summary["epochs"] as? Int == 5000 && summary["steps"] as? Int == 5000)
        #expect(try #require(summary["loss"] as? Double) < 0.01)
        #expect(summary["accuracy"] as? Double == 1)

        let e = try jsonObject(try CLI.run(["eval", CLI.graph("xor.dlg"), "--weights", "xor.safetensors", "--json"], in: dir.path))
        #expect(e["examples"] as? Int == 4 && e["accuracy"] as? Double == 1)
        let evalLoss = try #require(e["loss"] as? Double)

        expectSuccess(try CLI.run(["predict", CLI.graph("xor.dlg"), "--weights", "xor.safetensors", "--output", "p.npy"], in: dir.path))
        let p = try NPY.read(dir.file("p.npy")).toDoubles()
        #expect(p.count == 4)
        // The mean squared error of the predictions against XOR's truth table is eval's loss.
        let truth: [Double] = [0, 1, 1, 0]
        let mse = zip(p, truth).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 4
        #expect(abs(mse - evalLoss) < 1e-6)
        #expect(p.map { $0 >= 0.5 ? 1.0 : 0.0 } == truth)

        try dir.write("x.csv", "a,b\n0,0\n0,1\n1,0\n1,1\n")
        expectSuccess(try CLI.run(["run", CLI.graph("xor.dlg"), "--input", "x=x.csv", "--weights", "xor.safetensors",
                                   "--output", "r.npy"], in: dir.path))
        #expect(try NPY.read(dir.file("r.npy")).toDoubles() == p)

        // Unlabelled data: predict needs only the features.
        try NPY.write(try NDArray([Float(0), 0, 0, 1, 1, 0, 1, 1], shape: [4, 2]), to: dir.file("x.npy"))
        expectSuccess(try CLI.run(["predict", CLI.graph("xor.dlg"), "--weights", "xor.safetensors", "--data", "npy(\"x.npy\")",
                                   "--output", "u.npy"], in: dir.path))
        #expect(try NPY.read(dir.file("u.npy")).toDoubles() == p)
    }

    /// The log has one line per epoch; the first epoch of the AND perceptron, worked by hand:
    /// from W = [1, −0.8], b = 0, the patterns in order give errors on (0,0), (1,0) and (1,1)
    /// (a = 1, 1, 0 against t = 0, 0, 1), each ½ in sse: loss 1.5/4 = 0.375, accuracy 1/4.
    @Test func logPlotAndResume() throws {
        let dir = try Scratch()
        let straight = try CLI.run(["train", CLI.graph("perceptron_and.dlg"), "--log", "log.jsonl", "--plot", "curves.svg",
                                    "--checkpoint", "straight.safetensors"], in: dir.path)
        expectSuccess(straight)
        let lines = try String(contentsOfFile: dir.file("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 20)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["epoch"] as? Int == 1 && first["loss"] as? Double == 0.375 && first["accuracy"] as? Double == 0.25)
        #expect(first["lr"] as? Double == 1)
        #expect(try String(contentsOfFile: dir.file("curves.svg"), encoding: .utf8).hasPrefix("<svg"))
        #expect(straight.stderr.contains("training perceptron_and: 4 examples, batch 1, 20 epochs"))

        // 7 epochs, then the remaining 13 from the checkpoint: the same final file, and one log of 20 epochs.
        expectSuccess(try CLI.run(["train", CLI.graph("perceptron_and.dlg"), "--stop-after", "7",
                                   "--checkpoint", "split.safetensors", "--log", "split.jsonl"], in: dir.path))
        let resumed = try CLI.run(["train", CLI.graph("perceptron_and.dlg"), "--resume", "split.safetensors",
                                   "--checkpoint", "split.safetensors", "--log", "split.jsonl"], in: dir.path)
        expectSuccess(resumed)
        #expect(resumed.stderr.contains("resumed from split.safetensors after epoch 7, step 28"))
        #expect(try readFileBytes(dir.file("split.safetensors")) == (try readFileBytes(dir.file("straight.safetensors"))))
        let split = try String(contentsOfFile: dir.file("split.jsonl"), encoding: .utf8).split(separator: "\n")
        let epochs = try split.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["epoch"] as? Int }
        #expect(epochs == Array(1...20))
        // Resuming a finished run trains nothing, and says so.
        let done = try CLI.run(["train", CLI.graph("perceptron_and.dlg"), "--resume", "straight.safetensors"], in: dir.path)
        expectSuccess(done)
        #expect(done.stderr.contains("the checkpoint already holds 20 of 20 epochs; nothing to train"))
    }

    /// eval defaults to the train block's held-out examples and evaluates data given with
    /// --data whole. Weights W = [1, 1], b = −1.5 make the AND gate: on and() every pattern
    /// is right; on or() (0,1) and (1,0) come out 0 instead of 1: sse ½ each, loss 1/4, accuracy 1/2.
    @Test func evalDefaultsToTheHeldOutPartAndTakesWholeData() throws {
        let dir = try Scratch()
        try dir.write("gate.dlg", """
            model gate {
                input p: f32[B, 2]
                input t: f32[B, 1]
                param W: f32[2, 1] = [[0.0], [0.0]]
                param b: f32[1] = [0.0]
                output a = hardlim(p @ W + b)
                minimize sse(a, t)
            }
            train gate {
                data = and()
                validation = 1
            }
            """)
        try Safetensors.write([NamedArray("W", try NDArray([Float(1), 1], shape: [2, 1])),
                               NamedArray("b", NDArray([Float(-1.5)]))], to: dir.file("and.safetensors"))
        let held = try jsonObject(try CLI.run(["eval", "gate.dlg", "--weights", "and.safetensors", "--json"], in: dir.path))
        #expect(held["examples"] as? Int == 1 && held["accuracy"] as? Double == 1)
        let and = try jsonObject(try CLI.run(["eval", "gate.dlg", "--weights", "and.safetensors", "--data", "and()", "--json"],
                                             in: dir.path))
        #expect(and["examples"] as? Int == 4 && and["accuracy"] as? Double == 1 && and["loss"] as? Double == 0)
        let or = try jsonObject(try CLI.run(["eval", "gate.dlg", "--weights", "and.safetensors", "--data", "or()", "--json"],
                                            in: dir.path))
        #expect(or["examples"] as? Int == 4 && or["accuracy"] as? Double == 0.5 && or["loss"] as? Double == 0.25)
        let text = try CLI.run(["eval", "gate.dlg", "--weights", "and.safetensors", "--data", "or()"], in: dir.path)
        expectSuccess(text)
        #expect(text.stdout.contains("4 examples (or): loss 0.2500, accuracy 50.00%"))
    }

    /// z = x·W with one weight, in `dtype`, and a train block of `settings` (one per line).
    static func scaleModel(_ dtype: String, settings: String) -> String {
        """
        model scale {
            input  x: \(dtype)[B, 1]
            input  y: \(dtype)[B, 1]
            param  W: \(dtype)[1, 1] = [[0.0]]
            output z = x @ W
            minimize mse(z, y)
        }
        train scale {
        \(settings)
        }
        """
    }

    /// predict on the train block's data normalizes it as training did: statistics of the
    /// training part. x = 0, 2, 4 train (mean 2, population deviation √(8/3)), 10 is held out;
    /// with W = 1 the predictions are the standardized inputs (x − 2)/√(8/3).
    @Test func predictNormalizesWithTheTrainingStatistics() throws {
        let dir = try Scratch()
        try dir.write("scale.dlg", Self.scaleModel("f32", settings: """
            data = csv("d.csv", label: "y")
            normalize = standardize
            validation = 1
            """))
        try dir.write("d.csv", "x,y\n0,0\n2,1\n4,2\n10,3\n")
        try Safetensors.write([NamedArray("W", try NDArray([Float(1)], shape: [1, 1]))], to: dir.file("w.safetensors"))
        expectSuccess(try CLI.run(["predict", "scale.dlg", "--weights", "w.safetensors", "--output", "z.npy"], in: dir.path))
        let sd = (8.0 / 3).squareRoot()
        let expected = [0.0, 2, 4, 10].map { ($0 - 2) / sd }
        let z = try NPY.read(dir.file("z.npy")).toDoubles()
        #expect(z.count == 4)
        for (a, e) in zip(z, expected) { #expect(abs(a - e) < 1e-6, "\(z) vs \(expected)") }
    }

    /// Normalization keeps f64 data in f64: the predictions of an f64 model with W = 1 are the
    /// standardized inputs to double precision (rounded to f32 on the way they were off by
    /// about 1e-8 relatively).
    @Test func normalizeKeepsDoublePrecisionData() throws {
        let dir = try Scratch()
        let x = [0.1, 0.2, 0.7, 1000 + 1.0 / 3]
        try NPY.write(try NDArray(x, shape: [4, 1]), to: dir.file("x.npy"))
        try NPY.write(try NDArray([0.0, 1, 2, 3], shape: [4, 1]), to: dir.file("y.npy"))
        try Safetensors.write([NamedArray("W", try NDArray([1.0], shape: [1, 1]))], to: dir.file("w.safetensors"))
        for normalize in ["standardize", "unit"] {
            try dir.write("scale.dlg", Self.scaleModel("f64", settings: "data = npy(\"x.npy\", \"y.npy\")\nnormalize = \(normalize)"))
            expectSuccess(try CLI.run(["predict", "scale.dlg", "--weights", "w.safetensors", "--output", "z.npy"],
                                      in: dir.path))
            let mean = x.reduce(0, +) / 4
            let sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4).squareRoot()
            let expected = normalize == "unit" ? x.map { ($0 - 0.1) / (1000 + 1.0 / 3 - 0.1) } : x.map { ($0 - mean) / sd }
            let z = try NPY.read(dir.file("z.npy"))
            #expect(z.elementType == .f64)
            let values = z.toDoubles()
            #expect(values.count == 4)
            for (a, e) in zip(values, expected) {
                #expect(abs(a - e) <= 1e-14 * max(1, abs(e)), "\(normalize): \(values) vs \(expected)")
            }
        }
    }

    /// A model of both float types is an error at the value's place in `check` and `compile`
    /// (compile used to say only "the graph mixes f32 and f64 values", and check nothing).
    @Test func mixedFloatTypesAreReportedAtTheirPlace() throws {
        let dir = try Scratch()
        try dir.write("mixed.dlg", """
            model m {
                input x: f64[B, 3]
                input label: i32[B]
                output p = dense(x, 3)
                output q = one_hot(label, 3, dtype: f32)
            }
            """)
        for command in [["check", "mixed.dlg"], ["compile", "mixed.dlg", "--bind", "B=2", "-o", "m.dlgc"]] {
            let r = try CLI.run(command, in: dir.path)
            // check keeps B symbolic; compile binds it.
            let type = command[0] == "check" ? "f32[B,3]" : "f32[2,3]"
            expectFailure(r, ["mixed.dlg:5:16: error: the model mixes f32 and f64 values: this is \(type), but the model computes in f64",
                              "        output q = one_hot(label, 3, dtype: f32)\n                   ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
                              "mixed.dlg:2:11: note: the model's first floating-point value"])
            #expect(!dir.exists("m.dlgc"))
        }
    }

    @Test func usageErrorsExit64() throws {
        let r = try CLI.run(["run", CLI.graph("xor.dlg"), "--input", "x"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--input takes NAME=PATH"))
        #expect(try CLI.run(["eval", CLI.graph("xor.dlg"), "--weights", "w", "--batch", "0"]).status == 64)
        #expect(try CLI.run(["train", CLI.graph("xor.dlg"), "--frobnicate"]).status == 64)
    }
}
