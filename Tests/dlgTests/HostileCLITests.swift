import DLGData
import Foundation
import Testing

/// Issue 22's reproducers through the built `dlg`: each trapped, crashed,
/// aborted or succeeded wrongly before; each must now end with an error that
/// names the file and status 1 (64 for a bad command line), or the right result.
@Suite("Hostile input through the CLI")
struct HostileCLITests {
    /// The status of a run that ended on a signal is above 128 (or the signal number); never that.
    func expectNoCrash(_ r: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 0 || r.status == 1 || r.status == 64, "status \(r.status); stderr: \(r.stderr)",
                sourceLocation: sourceLocation)
    }

    // MARK: compiled programs

    /// One edited value of a compiled file gave a SIGSEGV, an abort, a trap or
    /// heap corruption; now the file is compiled again from the source it
    /// holds and any difference is an error naming the file and the field.
    @Test func editedCompiledProgramsRefused() throws {
        let dir = try Scratch()
        try NPY.write(try NDArray([Float(0), 0, 0, 1, 1, 0, 1, 1], shape: [4, 2]), to: dir.file("x.npy"))
        expectSuccess(try CLI.run(["compile", CLI.graph("xor.dlg"), "--bind", "B=4", "-o", "xor.dlgc"], in: dir.path))
        let run = ["run", "xor.dlgc", "--input", "x=x.npy", "--output", "o.npy"]
        expectSuccess(try CLI.run(run, in: dir.path))
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("xor.dlgc"))))
        var root = try #require(original as? [String: Any])
        let forward = try #require(root["forward"] as? [String: Any])
        let instructions = try #require(forward["instructions"] as? [[String: Any]])
        let last = instructions.count - 1

        /// The file with one value of the forward program changed.
        func edited(_ change: (inout [String: Any]) throws -> Void) throws -> String {
            var f = forward
            try change(&f)
            root["forward"] = f
            let path = dir.file("edited.dlgc")
            try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
            return path
        }
        func setLocation(_ f: inout [String: Any], instruction k: Int, _ offset: Int) throws {
            var ins = try #require(f["instructions"] as? [[String: Any]])
            var out = try #require(ins[k]["output"] as? [String: Any])
            out["location"] = ["arena": ["_0": offset]]
            ins[k]["output"] = out
            f["instructions"] = ins
        }
        let cases: [(String, (inout [String: Any]) throws -> Void)] = [
            ("an output offset of 2^40", { try setLocation(&$0, instruction: last, 1 << 40) }),
            ("an output offset of -8", { try setLocation(&$0, instruction: last, -8) }),
            ("arenaBytes 2^60", { $0["arenaBytes"] = 1 << 60 }),
            ("a state offset moved", { f in
                var state = try #require(f["state"] as? [[String: Any]])
                var b = try #require(state[0]["buffer"] as? [String: Any])
                b["location"] = ["state": ["_0": 64]]
                state[0]["buffer"] = b
                f["state"] = state
            }),
            ("an input shape of -2^31", { f in
                var inputs = try #require(f["inputs"] as? [[String: Any]])
                var b = try #require(inputs[0]["buffer"] as? [String: Any])
                b["shape"] = [-2147483648, 2]
                inputs[0]["buffer"] = b
                f["inputs"] = inputs
            }),
            ("an output shape enlarged", { f in
                var ins = try #require(f["instructions"] as? [[String: Any]])
                var out = try #require(ins[last]["output"] as? [String: Any])
                out["shape"] = [4000, 1]
                ins[last]["output"] = out
                f["instructions"] = ins
            }),
        ]
        for (k, (what, change)) in cases.enumerated() {
            let path = try edited(change)
            let r = try CLI.run(["run", path, "--input", "x=x.npy", "--output", "o\(k).npy"], in: dir.path)
            expectFailure(r, [path, "do not match their source compiled again", "forward."])
            #expect(!dir.exists("o\(k).npy"), "\(what): an output was written")
        }
        // The difference names the instruction it is in.
        let r = try CLI.run(["run", try edited { try setLocation(&$0, instruction: last, 1 << 40) }, "--input", "x=x.npy",
                             "--output", "o2.npy"], in: dir.path)
        expectFailure(r, ["forward.instructions[\(last)].output.location.arena._0 (instruction %", "is 1099511627776 in the file"])
        #expect(!dir.exists("o2.npy"))
    }

    /// A compiled file holds nothing that depends on the threads of the process that wrote
    /// it (the kernels' workspace figures are for one thread): read by a process with other
    /// threads, it is the program compiled again there, and gives the same outputs.
    @Test func compiledFileReadWithOtherThreadCounts() throws {
        let dir = try Scratch()
        let pixels = (0 ..< 2 * 784).map { Float(($0 * 37) % 101) / 100 }
        try NPY.write(try NDArray(pixels, shape: [2, 1, 28, 28]), to: dir.file("x.npy"))
        // Compiled with all cores; read with one thread and with three (one of them differs on any machine).
        expectSuccess(try CLI.run(["compile", CLI.graph("lenet5.dlg"), "--bind", "B=2", "-o", "l.dlgc"], in: dir.path))
        for t in ["1", "3"] {
            expectSuccess(try CLI.run(["run", "l.dlgc", "--threads", t, "--input", "image=x.npy", "--output", "o\(t).npy"],
                                      in: dir.path))
        }
        guard case .f32(let one) = try NPY.read(dir.file("o1.npy")).storage,
              case .f32(let three) = try NPY.read(dir.file("o3.npy")).storage else {
            Issue.record("the outputs are not f32")
            return
        }
        #expect(one.count == 20 && three.count == 20)
        for (a, b) in zip(one, three) { #expect(abs(a - b) <= 1e-5 * max(1, abs(a)), "\(a) with one thread, \(b) with three") }
    }

    /// A training step whose input shape was edited to −2³¹ spun forever; a
    /// file that is not JSON, or of another format, is refused plainly.
    @Test func editedCompiledTrainingStepRefused() throws {
        let dir = try Scratch()
        expectSuccess(try CLI.run(["compile", CLI.graph("xor.dlg"), "--training-step", "--bind", "B=4", "-o", "t.dlgc"], in: dir.path))
        let text = try String(contentsOfFile: dir.file("t.dlgc"), encoding: .utf8)
        // The training step's batch: every "shape":[4,…] of an input → −2³¹.
        let edited = text.replacingOccurrences(of: "\"shape\":[4,2]", with: "\"shape\":[-2147483648,2]")
        #expect(edited != text)
        try dir.write("e.dlgc", edited)
        let r = try CLI.run(["train", "e.dlgc", "--epochs", "1"], in: dir.path)
        // Refused as it is read: the kernels' plans are made again from the file, and a plan's
        // shapes are checked (before the programs would be compared with the source compiled again).
        expectFailure(r, ["e.dlgc: not a valid dlg-compiled/2 file: shape [-2147483648, 2] has a negative dimension"])
        try dir.write("junk.dlgc", "{\"format\": \"dlg-compiled/2\", \"model\": 3")
        expectFailure(try CLI.run(["train", "junk.dlgc"], in: dir.path), ["junk.dlgc: "])
        try dir.write("old.dlgc", "{\"format\": \"dlg-compiled/1\"}")
        expectFailure(try CLI.run(["run", "old.dlgc", "--output", "o.npy"], in: dir.path),
                      ["old.dlgc: not a dlg-compiled/2 file (format 'dlg-compiled/1'); compile the model again"])
        // Valid files given to the other command name the file (the campaign's findings).
        expectFailure(try CLI.run(["run", "t.dlgc", "--output", "o.npy"], in: dir.path), ["t.dlgc: input '"])
        expectSuccess(try CLI.run(["compile", CLI.graph("xor.dlg"), "--bind", "B=4", "-o", "f.dlgc"], in: dir.path))
        expectFailure(try CLI.run(["train", "f.dlgc"], in: dir.path), ["f.dlgc: this compiled file (of ", "holds no training step"])
        // The untouched file trains, from the source it carries (no .dlg needed beside it).
        expectSuccess(try CLI.run(["train", "t.dlgc", "--epochs", "2"], in: dir.path))
    }

    // MARK: readers

    /// 10,000 nested parentheses in a .npy header: a stack overflow in run and train.
    @Test func deeplyNestedNpyHeader() throws {
        let dir = try Scratch()
        var header = Array(("{'descr': '<f4', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 10_000)).utf8)
        header.append(0x0A)
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
        withUnsafeBytes(of: UInt32(header.count).littleEndian) { bytes += $0 }
        try Data(bytes + header).write(to: URL(fileURLWithPath: dir.file("deep.npy")))
        expectFailure(try CLI.run(["run", CLI.graph("xor.dlg"), "--input", "x=deep.npy", "--output", "o.npy"], in: dir.path),
                      ["deep.npy: bad header field 'header length'"])
        expectFailure(try CLI.run(["train", CLI.graph("xor.dlg"), "--data", "npy(\"deep.npy\")"], in: dir.path), ["deep.npy"])
    }

    /// A safetensors header length one byte short was accepted: run printed
    /// inf and eval reported `loss -nan` with status 0.
    @Test func safetensorsOneByteShort() throws {
        let dir = try Scratch()
        expectSuccess(try CLI.run(["train", CLI.graph("xor.dlg"), "--epochs", "3", "--checkpoint", "w.safetensors"], in: dir.path))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("w.safetensors"))))
        var n = 0
        for k in 0..<8 { n |= Int(bytes[k]) << (8 * k) }
        for k in 0..<8 { bytes[k] = UInt8(truncatingIfNeeded: (n - 1) >> (8 * k)) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("short.safetensors")))
        try NPY.write(try NDArray([Float(0), 0, 0, 1, 1, 0, 1, 1], shape: [4, 2]), to: dir.file("x.npy"))
        expectFailure(try CLI.run(["run", CLI.graph("xor.dlg"), "--weights", "short.safetensors", "--input", "x=x.npy",
                                   "--output", "o.npy"], in: dir.path), ["short.safetensors: "])
        #expect(!dir.exists("o.npy"))
        expectFailure(try CLI.run(["eval", CLI.graph("xor.dlg"), "--weights", "short.safetensors"], in: dir.path),
                      ["short.safetensors: "])
        expectFailure(try CLI.run(["train", CLI.graph("xor.dlg"), "--resume", "short.safetensors"], in: dir.path),
                      ["short.safetensors: "])
    }

    /// A float label of inf or ≥ 2⁶³ trapped while the out-of-range message
    /// was built; now the message names the labels' file.
    @Test func hugeAndInfiniteLabels() throws {
        let dir = try Scratch()
        try dir.write("m.dlg", """
            model m {
                input  x: f32[B, 2]
                input  label: i32[B]
                output logits = dense(x, 2)
                minimize cross_entropy(logits, label)
            }
            """)
        try dir.write("big.csv", "a,b,y\n0,0,0\n0,1,1e30\n1,0,1\n1,1,0\n")
        expectFailure(try CLI.run(["train", "m.dlg", "--data", "csv(\"big.csv\", label: \"y\")", "--batch", "2"], in: dir.path),
                      ["big.csv: label 1.0000000150474662e+30 of training example 1 is out of range for the model's 2 classes"])
        try dir.write("huge.csv", "a,b,y\n0,0,0\n0,1,9.3e18\n")
        expectFailure(try CLI.run(["train", "m.dlg", "--data", "csv(\"huge.csv\", label: \"y\")", "--batch", "2"], in: dir.path),
                      ["huge.csv: label 9.3", "e+18 of training example 1 is out of range"])
        try NPY.write(try NDArray([Float](repeating: 0.5, count: 8), shape: [4, 2]), to: dir.file("x.npy"))
        try NPY.write(NDArray([Float(0), .infinity, 1, 0]), to: dir.file("y.npy"))
        expectFailure(try CLI.run(["train", "m.dlg", "--data", "npy(\"x.npy\", \"y.npy\")", "--batch", "2"], in: dir.path),
                      ["y.npy: label element [1] (example 1) is inf"])
        // With allow_nonfinite the value reaches the range check, which names it without trapping.
        expectFailure(try CLI.run(["train", "m.dlg", "--data", "npy(\"x.npy\", \"y.npy\")", "--batch", "2", "--allow-nonfinite"],
                                  in: dir.path), ["y.npy: label inf of training example 1 is out of range"])
    }

    /// Errors about labels name the labels' file: a short labels IDX was
    /// blamed on the features file, and a NaN label was "f32[64]: element 3".
    @Test func labelErrorsNameTheLabelsFile() throws {
        let dir = try Scratch()
        try IDX.write(try NDArray([Float](repeating: 0.25, count: 8), shape: [4, 2]), to: dir.file("x.idx"))
        try IDX.write(NDArray([Int32(0), 1, 1]), to: dir.file("short.idx"))
        expectFailure(try CLI.run(["train", CLI.graph("xor.dlg"), "--data", "idx(\"x.idx\", \"short.idx\")"], in: dir.path),
                      ["short.idx: holds 3 labels (i32[3]) but x.idx holds 4 examples"])
        try IDX.write(NDArray([Float(0), 1, .nan, 0]), to: dir.file("nan.idx"))
        expectFailure(try CLI.run(["train", CLI.graph("xor.dlg"), "--data", "idx(\"x.idx\", \"nan.idx\")"], in: dir.path),
                      ["nan.idx: element 2 = nan is not an integer"])
    }

    /// NaN in the features surfaced only as "the loss became nan"; now the
    /// load names the file and the element, unless allow_nonfinite.
    @Test func nonFiniteFeaturesAtLoad() throws {
        let dir = try Scratch()
        try NPY.write(try NDArray([Float(0), 0, 0, 1, 1, .nan, 1, 1], shape: [4, 2]), to: dir.file("x.npy"))
        try NPY.write(try NDArray([Float(0), 1, 1, 0], shape: [4, 1]), to: dir.file("y.npy"))
        let data = "npy(\"x.npy\", \"y.npy\")"
        expectFailure(try CLI.run(["train", CLI.graph("xor.dlg"), "--data", data], in: dir.path),
                      ["x.npy: feature element [2, 1] (example 2) is nan", "allow_nonfinite"])
        expectFailure(try CLI.run(["run", CLI.graph("xor.dlg"), "--input", "x=x.npy", "--output", "o.npy"], in: dir.path),
                      ["x.npy: element [2, 1] is nan"])
        // Allowed, it reaches the model, and the op it first poisons is named.
        let r = try CLI.run(["train", CLI.graph("xor.dlg"), "--data", data, "--allow-nonfinite", "--no-shuffle"], in: dir.path)
        expectFailure(r, ["nan at step 1 (epoch 1", "the first non-finite value comes from %", "at "])
    }

    // MARK: checkpoints

    /// Checkpoint metadata was trusted: `step: "-5"` trapped, `epoch: "-1"`
    /// was accepted, an unparseable epoch restarted at 0, another model's
    /// checkpoint was taken.
    @Test func checkpointMetadataRefused() throws {
        let dir = try Scratch()
        expectSuccess(try CLI.run(["train", CLI.graph("xor.dlg"), "--epochs", "3", "--checkpoint", "ck.safetensors"], in: dir.path))
        let file = try Safetensors.read(dir.file("ck.safetensors"))
        for (key, value, fragment) in [("step", "-5", "'-5' is not a non-negative integer"),
                                       ("epoch", "-1", "'-1' is not a non-negative integer"),
                                       ("epoch", "three", "'three' is not a non-negative integer"),
                                       ("model", "lenet5", "the checkpoint is of model 'lenet5', not 'xor'")] {
            var meta = file.metadata
            meta[key] = value
            try Safetensors.write(file.tensors, metadata: meta, to: dir.file("bad.safetensors"))
            let r = try CLI.run(["train", CLI.graph("xor.dlg"), "--epochs", "5", "--resume", "bad.safetensors"], in: dir.path)
            expectFailure(r, ["bad.safetensors: bad header field '__metadata__.\(key)'", fragment])
        }
    }

    /// Temporary files of a checkpoint write killed before its rename are
    /// removed when the next run starts (only dlg's, by their name pattern).
    @Test func staleCheckpointTemporariesRemoved() throws {
        let dir = try Scratch()
        try dir.write(".ck.safetensors.tmp-999999-c0ffee", "partial")
        try dir.write(".ck.safetensors.keep", "not ours")
        let r = try CLI.run(["train", CLI.graph("xor.dlg"), "--epochs", "2", "--checkpoint", "ck.safetensors"], in: dir.path)
        expectSuccess(r)
        #expect(r.stderr.contains("removed .ck.safetensors.tmp-999999-c0ffee, left by an interrupted run"), "\(r.stderr)")
        #expect(!dir.exists(".ck.safetensors.tmp-999999-c0ffee"))
        #expect(dir.exists(".ck.safetensors.keep"))
    }

    // MARK: numerics

    /// `eval` exited 0 on a NaN loss; now it names the op and exits 1.
    @Test func evalNonFiniteLoss() throws {
        let dir = try Scratch()
        let w = try NDArray([Float(0.1), .nan, 0.3, 0.4], shape: [2, 2])
        try Safetensors.write([NamedArray("W1", w), NamedArray("b1", NDArray([Float(0), 0])),
                               NamedArray("W2", try NDArray([Float(0.2), 0.4], shape: [2, 1])),
                               NamedArray("b2", NDArray([Float(0)]))], to: dir.file("nan.safetensors"))
        let r = try CLI.run(["eval", CLI.graph("xor.dlg"), "--weights", "nan.safetensors"], in: dir.path)
        expectFailure(r, ["the loss is nan", "non-finite value first in %", "xor.dlg:"])
    }

    /// A NaN produced in the middle of a model is named with its op and
    /// file:line:col without --check-numerics.
    @Test func nanLocatedByDefault() throws {
        let dir = try Scratch()
        try dir.write("neg.dlg", """
            model neg {
                input  x: f32[B, 1]
                input  y: f32[B, 1]
                param  w: f32[1, 1] = [[1.0]]
                z = log(x @ w - 0.5)
                output p = z
                minimize mse(p, y)
            }
            train neg {
                data = sine(n: 40)
                batch = 8
                epochs = 3
            }
            """)
        let r = try CLI.run(["train", "neg.dlg"], in: dir.path)
        expectFailure(r, ["nan at step 1 (epoch 1, batch 1 of 5)", "the first non-finite value comes from %",
                          "log", "at neg.dlg:5:"])
        #expect(!r.stderr.contains("--check-numerics"))
    }

    // MARK: memory

    @Test func maxMemoryParsing() throws {
        for bad in ["nanG", "infK", "99999999999999999999G", "-1M", "abc", "1e400", ""] {
            let r = try CLI.run(["train", CLI.graph("xor.dlg"), "--max-memory", bad, "--epochs", "1"])
            #expect(r.status == 64, "--max-memory \(bad): status \(r.status), \(r.stderr)")
            #expect(r.stderr.contains("--max-memory"), "\(r.stderr)")
        }
        for command in [["run", CLI.graph("xor.dlg"), "--output", "o.npy"], ["eval", CLI.graph("xor.dlg"), "--weights", "w"],
                        ["compile", CLI.graph("xor.dlg")], ["bench", CLI.graph("xor.dlg")], ["gradcheck", CLI.graph("xor.dlg")],
                        ["predict", CLI.graph("xor.dlg"), "--weights", "w", "--output", "p.npy"]] {
            let r = try CLI.run(command + ["--max-memory", "nanG"])
            #expect(r.status == 64, "\(command[0]): status \(r.status), \(r.stderr)")
        }
    }

    /// A 1.6 GB model passed a 1 GB limit (which only compile had) and then
    /// aborted; --max-memory now counts parameters and optimizer state.
    @Test func maxMemoryCountsParameters() throws {
        let dir = try Scratch()
        try dir.write("big.dlg", """
            model big {
                input  x: f32[B, 1]
                input  y: f32[B, 1]
                param  W: f32[1, 100000000] = uniform(-1, 1)
                param  V: f32[100000000, 1] = uniform(-1, 1)
                output p = (x @ W) @ V
                minimize mse(p, y)
            }
            train big {
                data  = sine()
                batch = 4
            }
            """)
        let r = try CLI.run(["train", "big.dlg", "--max-memory", "1G", "--optimizer", "sgd(lr: 0.1, momentum: 0.9)"], in: dir.path)
        expectFailure(r, ["model 'big' (an arena of", "1.5 GiB of parameters and optimizer state", "more than the",
                          "--max-memory 1 GiB less the", "nothing was allocated"])
        let c = try CLI.run(["compile", "big.dlg", "--training-step", "--bind", "B=1", "--max-memory", "1G"], in: dir.path)
        expectFailure(c, ["of parameters and state, above --max-memory 1 GiB"])
    }

    /// Under `ulimit -v 4000000`: a batch, a dataset and a model larger than
    /// memory, a gzip bomb, an npz bomb and /dev/zero as data each end with
    /// a clear error and status 1 (they aborted with 134 before).
    @Test func largerThanMemoryUnderUlimit() throws {
        let dir = try Scratch()
        func limited(_ args: [String]) throws -> CLI.Result {
            try CLI.run(["-c", "ulimit -v 4000000; exec \"$0\" \"$@\"", CLI.binary] + args, in: dir.path, executable: "/bin/bash")
        }
        // A batch: the MLP's activations for 3,000,000 examples.
        expectFailure(try limited(["bench", CLI.graph("mnist_mlp.dlg"), "--batch", "1000000", "--steps", "1", "--warmup", "0"]),
                      ["model 'mnist_mlp'", "needs", "ulimit -v", "nothing was allocated"])
        // A dataset: an 8 GB .npy (a sparse file).
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 2), }".utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        var npy: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        npy += header
        _ = FileManager.default.createFile(atPath: dir.file("big.npy"), contents: Data(npy))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("big.npy")))
        try h.truncate(atOffset: UInt64(npy.count) + 8_000_000_000)
        try h.close()
        expectFailure(try limited(["train", CLI.graph("xor.dlg"), "--data", "npy(\"big.npy\")"]),
                      ["big.npy: reading the file needs 7.5 GiB", "nothing was allocated"])
        // A model: 6.4 GB of parameters.
        try dir.write("big.dlg", """
            model big {
                input  x: f32[B, 40000]
                param  W: f32[40000, 40000] = zeros
                output p = x @ W
            }
            """)
        try NPY.write(try NDArray([Float](repeating: 1, count: 40000), shape: [1, 40000]), to: dir.file("x.npy"))
        expectFailure(try limited(["run", "big.dlg", "--input", "x=x.npy", "--output", "o.npy"]),
                      ["model 'big'", "6 GiB of parameters and optimizer state", "nothing was allocated"])
        // A gzip bomb: an IDX header for 10,000 images, then 6 GiB of zeros (27 MB compressed).
        var bomb = try Gzip.compress([0, 0, 0x08, 3, 0, 0, 0x27, 0x10, 0, 0, 0, 28, 0, 0, 0, 28])
        let zeros = try Gzip.compress([UInt8](repeating: 0, count: 64 << 20))
        for _ in 0..<96 { bomb += zeros }
        try Data(bomb).write(to: URL(fileURLWithPath: dir.file("bomb.gz")))
        expectFailure(try limited(["run", CLI.graph("lenet5.dlg"), "--input", "image=bomb.gz", "--output", "o.npy"]),
                      ["bomb.gz: corrupt gzip data: the data decompresses to more than 7840016 bytes"])
        // An npz bomb: one entry of 3.9 GB of zeros (25 MB deflated).
        try Data(ZeroBomb.npz(entryBytes: 3_900_000_000)).write(to: URL(fileURLWithPath: dir.file("bomb.npz")))
        expectFailure(try limited(["train", CLI.graph("xor.dlg"), "--data", "npz(\"bomb.npz\", features: \"x\")"]),
                      ["bomb.npz (entry 'x.npy'): the decompressed entry", "nothing was allocated"])
        // /dev/zero as data.
        expectFailure(try limited(["run", CLI.graph("xor.dlg"), "--input", "x=/dev/zero", "--output", "o.npy"]),
                      ["/dev/zero: cannot read: it is a character device"])
        expectFailure(try limited(["train", CLI.graph("xor.dlg"), "--data", "npy(\"/dev/zero\")"]),
                      ["/dev/zero: cannot read: it is a character device"])
    }
}

/// A deflate stream of many zeros, written directly: fixed-Huffman matches of
/// length 258 at distance 1 (13 bits each), whose bytes repeat every 8 matches.
enum ZeroBomb {
    struct Bits {
        var bytes: [UInt8] = []
        var acc: UInt64 = 0
        var count = 0
        /// `n` bits of `v`, least significant first.
        mutating func put(_ v: UInt64, _ n: Int) {
            acc |= v << UInt64(count)
            count += n
            while count >= 8 {
                bytes.append(UInt8(acc & 0xFF))
                acc >>= 8
                count -= 8
            }
        }
        /// A Huffman code of `n` bits, most significant first.
        mutating func code(_ c: UInt64, _ n: Int) {
            for k in stride(from: n - 1, through: 0, by: -1) { put((c >> UInt64(k)) & 1, 1) }
        }
        mutating func literal(_ b: UInt8) {
            if b < 144 { code(0x30 + UInt64(b), 8) } else { code(0x190 + UInt64(b) - 144, 9) }
        }
        mutating func match258() {
            code(0b1100_0101, 8)   // length code 285: 258
            code(0, 5)             // distance code 0: 1
        }
    }

    /// Raw deflate of `prefix` followed by zeros, `prefix.count + 1 + 2064 · groups` bytes in all.
    static func deflate(prefix: [UInt8], groups: Int) -> [UInt8] {
        var b = Bits()
        b.put(1, 1)   // final block
        b.put(1, 2)   // fixed Huffman
        for p in prefix { b.literal(p) }
        b.literal(0)
        for _ in 0..<8 { b.match258() }
        let head = b.bytes
        let (acc, count) = (b.acc, b.count)
        b.bytes = []
        for _ in 0..<8 { b.match258() }
        let period = b.bytes
        var end = Bits(bytes: [], acc: acc, count: count)
        end.code(0, 7)   // end of block
        if end.count > 0 { end.bytes.append(UInt8(end.acc & 0xFF)) }
        var out = head
        out.reserveCapacity(head.count + period.count * groups + 2)
        for _ in 1..<max(groups, 1) { out += period }
        return out + end.bytes
    }

    /// An .npz whose entry `x.npy` is a .npy header for f32 zeros and then
    /// the zeros, about `entryBytes` bytes, deflated.
    static func npz(entryBytes: Int) -> [UInt8] {
        let groups = entryBytes / 2064
        let total0 = 1 + 2064 * groups
        // The .npy header of f32 zeros (the bytes after it, rounded down to whole elements).
        var padded = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (\(total0 / 4),), }".utf8)
        while (10 + padded.count + 1) % 64 != 0 { padded.append(0x20) }
        padded.append(0x0A)
        let header = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(padded.count & 0xFF), UInt8(padded.count >> 8)] + padded
        let content = header.count + total0
        let data = deflate(prefix: header, groups: groups)
        let name = Array("x.npy".utf8)
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        var out: [UInt8] = le(UInt32(0x0403_4B50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(8)) + le(UInt32(0))
        out += le(UInt32(0)) + le(UInt32(data.count)) + le(UInt32(content)) + le(UInt16(name.count)) + le(UInt16(0)) + name
        out += data
        let directoryOffset = out.count
        var dir: [UInt8] = le(UInt32(0x0201_4B50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(8))
        dir += le(UInt32(0)) + le(UInt32(0)) + le(UInt32(data.count)) + le(UInt32(content)) + le(UInt16(name.count))
        dir += le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0)) + le(UInt32(0)) + name
        out += dir
        out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(1)) + le(UInt16(1))
        out += le(UInt32(dir.count)) + le(UInt32(directoryOffset)) + le(UInt16(0))
        return out
    }
}
