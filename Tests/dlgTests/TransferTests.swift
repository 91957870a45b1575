import DLGData
import Foundation
import Testing

/// Transfer learning through the CLI: `--init-from` with `--init-map` and `--strict`,
/// `freeze` patterns that prune the backward graph, and the MNIST 0–4 → 5–9 example.
@Suite("Transfer learning")
struct TransferTests {
    /// Model `a` is trained first; `b` has the same hidden layers and a three-class head
    /// under the same name; `c` names its hidden layers e1, e2.
    static let models = """
        model a {
            input p: f32[B, 2]
            input label: i32[B]
            h1 = tanh(dense(p, 16))
            h2 = tanh(dense(h1, 16))
            output logits = dense(h2, 2)
            minimize cross_entropy(logits, label)
        }
        train a { data = spirals(n: 60); optimizer = adam(lr: 0.01); epochs = 5; batch = 20 }
        model b {
            input p: f32[B, 2]
            input label: i32[B]
            h1 = tanh(dense(p, 16))
            h2 = tanh(dense(h1, 16))
            output logits = dense(h2, 3)
            minimize cross_entropy(logits, label)
        }
        train b { data = spirals(n: 60); optimizer = sgd(lr: 0.1, momentum: 0.9); epochs = 3; batch = 20; freeze = ["h1.*"] }
        model c {
            input p: f32[B, 2]
            input label: i32[B]
            e1 = tanh(dense(p, 16))
            e2 = tanh(dense(e1, 16))
            output logits = dense(e2, 2)
            minimize cross_entropy(logits, label)
        }
        train c { data = spirals(n: 60); epochs = 1; batch = 20 }
        """

    /// The raw bytes of every tensor of a safetensors file, by name.
    static func tensors(_ path: String) throws -> [String: NDArray] {
        var out: [String: NDArray] = [:]
        for t in try Safetensors.read(path).tensors { out[t.name] = t.array }
        return out
    }

    @Test func initFromLoadsMatchingLayersAndFrozenOnesStayBitIdentical() throws {
        let dir = try Scratch()
        try dir.write("m.dlg", Self.models)
        expectSuccess(try CLI.run(["train", "m.dlg", "--model", "a", "--checkpoint", "a.safetensors"], in: dir.path))
        let r = try CLI.run(["train", "m.dlg", "--model", "b", "--init-from", "a.safetensors", "--checkpoint", "b.safetensors"],
                            in: dir.path)
        expectSuccess(r)
        #expect(r.stderr.contains("init-from a.safetensors: loaded 4 tensors: h1.weight, h1.bias, h2.weight, h2.bias"), "\(r.stderr)")
        #expect(r.stderr.contains("shape mismatch, left at their initial values: logits.weight (file [16,2], model [16,3]), logits.bias (file [2], model [3])"))
        #expect(r.stderr.contains("ignored: 14 optimizer entries"))
        let a = try Self.tensors(dir.file("a.safetensors")), b = try Self.tensors(dir.file("b.safetensors"))
        // Frozen: the values of a, bit for bit, after three epochs of SGD with momentum.
        #expect(b["h1.weight"] == a["h1.weight"] && b["h1.bias"] == a["h1.bias"])
        // Loaded, then trained.
        #expect(b["h2.weight"] != nil && b["h2.weight"] != a["h2.weight"])
        // No optimizer state for the frozen parameters, state for the others.
        #expect(b.keys.filter { $0.hasPrefix("optimizer.h1.") }.isEmpty, "\(b.keys.sorted())")
        #expect(b["optimizer.h2.weight.velocity"] != nil)

        // --init-map renames: a's h1, h2 become c's e1, e2.
        let c = try CLI.run(["train", "m.dlg", "--model", "c", "--init-from", "a.safetensors", "--init-map", "h1=e1",
                             "--init-map", "h2.=e2.", "--epochs", "1", "--freeze", "e1", "--freeze", "e2", "--checkpoint", "c.safetensors"],
                            in: dir.path)
        expectSuccess(c)
        #expect(c.stderr.contains("loaded 6 tensors: e1.weight, e1.bias, e2.weight, e2.bias, logits.weight, logits.bias"), "\(c.stderr)")
        let ct = try Self.tensors(dir.file("c.safetensors"))
        #expect(ct["e1.weight"] == a["h1.weight"] && ct["e2.bias"] == a["h2.bias"])

        // --strict turns every skip into an error, and nothing is written.
        let strict = try CLI.run(["train", "m.dlg", "--model", "b", "--init-from", "a.safetensors", "--strict",
                                  "--checkpoint", "s.safetensors"], in: dir.path)
        expectFailure(strict, ["--init-from a.safetensors with --strict", "'logits.weight' is [16,2] in the file but [16,3] in the model"])
        #expect(!dir.exists("s.safetensors"))
    }

    @Test func frozenParametersHaveNoGradientAndCountAsNonTrainable() throws {
        let dir = try Scratch()
        try dir.write("m.dlg", Self.models)
        // The block's freeze = ["h1.*"]: no gradient line and no update for h1.
        let grad = try CLI.run(["dump", "m.dlg", "--model", "b", "--stage", "optimizer"], in: dir.path)
        expectSuccess(grad)
        #expect(!grad.stdout.contains("gradient %h1.") && !grad.stdout.contains("update %h1."), "\(grad.stdout)")
        #expect(grad.stdout.contains("update %h2.weight"))
        let all = try CLI.run(["dump", "m.dlg", "--model", "b", "--stage", "optimizer", "--freeze", "none"], in: dir.path)
        #expect(all.stdout.contains("update %h1.weight"))
        // The backward graph is smaller: h1's weight gradient (a matmul) and h1's input-side work are gone.
        func ops(_ s: String) -> Int { s.split(separator: "\n").filter { $0.hasPrefix("  %") }.count }
        #expect(ops(grad.stdout) < ops(all.stdout))

        // summary: h1 holds 2·16 + 16 = 48 parameters, now non-trainable.
        let s = try jsonObject(try CLI.run(["summary", "m.dlg", "--model", "b", "--json"], in: dir.path))
        let p = try #require(s["parameters"] as? [String: Any])
        #expect(p["non_trainable"] as? Int == 48 && p["trainable"] as? Int == 16 * 16 + 16 + 16 * 3 + 3, "\(p)")
        let text = try CLI.run(["summary", "m.dlg", "--model", "b"], in: dir.path)
        #expect(text.stdout.contains("of which frozen:     48 in 2 tensors (h1.*)"), "\(text.stdout)")
        let unfrozen = try jsonObject(try CLI.run(["summary", "m.dlg", "--model", "b", "--json", "--freeze", "none"], in: dir.path))
        #expect((unfrozen["parameters"] as? [String: Any])?["non_trainable"] as? Int == 0)
    }

    @Test func badTransferInputIsAClearError() throws {
        let dir = try Scratch()
        try dir.write("m.dlg", Self.models)
        try dir.write("not.safetensors", "model a { }\n")
        let notST = try CLI.run(["train", "m.dlg", "--model", "b", "--init-from", "not.safetensors", "--checkpoint", "x.safetensors",
                                 "--log", "x.jsonl"], in: dir.path)
        expectFailure(notST, ["--init-from not.safetensors is not a safetensors file this run can read: "])
        #expect(!dir.exists("x.safetensors"))
        let missing = try CLI.run(["train", "m.dlg", "--model", "b", "--init-from", "nowhere.safetensors"], in: dir.path)
        expectFailure(missing, ["error: --init-from: nowhere.safetensors: cannot open for reading: No such file or directory"])
        #expect(!missing.stderr.contains("is not a safetensors file"))
        let pattern = try CLI.run(["train", "m.dlg", "--model", "b", "--freeze", "h9.*"], in: dir.path)
        expectFailure(pattern, ["freeze pattern 'h9.*' matches no trainable parameter of b", "h1.weight"])
        let both = try CLI.run(["train", "m.dlg", "--model", "b", "--init-from", "a.safetensors", "--resume", "a.safetensors"], in: dir.path)
        #expect(both.status == 64 && both.stderr.contains("give one of them"), "\(both.stderr)")
        let map = try CLI.run(["train", "m.dlg", "--model", "b", "--init-from", "a.safetensors", "--init-map", "h1"], in: dir.path)
        #expect(map.status == 64 && map.stderr.contains("--init-map takes SRC=DST"), "\(map.stderr)")
    }

    static var mnistEnabled: Bool { CLI.releaseBinary != nil && CLI.mnistDirectory != nil }

    /// Graphs/mnist_transfer.dlg, as Docs/training.md shows it: LeNet-5's convolutional layers
    /// trained on digits 0–4 (4,111 images) and transferred, frozen, to digits 5–9 with 486
    /// training images, against the same model trained from scratch; 4,375 held out.
    @Test(.enabled(if: mnistEnabled, "needs DLG_BIN (a release dlg, as `make test` builds) and the MNIST sample (DLG_MNIST_DIR)"))
    func mnistDigitsZeroToFourTransferToFiveToNine() throws {
        let dir = try Scratch()
        let graph = CLI.graph("mnist_transfer.dlg")
        let source = try CLI.run(["train", graph, "--model", "digits04", "--checkpoint", "digits04.safetensors", "--json"], in: dir.path)
        expectSuccess(source)
        #expect(source.stderr.contains("training digits04: 4111 examples, 1028 held out"), "\(source.stderr)")
        let sourceAccuracy = try #require(try jsonObject(source)["val_accuracy"] as? Double)
        let transfer = try CLI.run(["train", graph, "--model", "digits59", "--init-from", "digits04.safetensors",
                                    "--checkpoint", "digits59.safetensors", "--json"], in: dir.path)
        expectSuccess(transfer)
        #expect(transfer.stderr.contains("training digits59: 486 examples, 4375 held out"), "\(transfer.stderr)")
        #expect(transfer.stderr.contains("loaded 4 tensors: features.0.c1.weight, features.0.c1.bias, features.0.c3.weight, features.0.c3.bias"))
        let scratch = try CLI.run(["train", graph, "--model", "digits59", "--freeze", "none", "--json"], in: dir.path)
        expectSuccess(scratch)
        let withTransfer = try #require(try jsonObject(transfer)["val_accuracy"] as? Double)
        let fromScratch = try #require(try jsonObject(scratch)["val_accuracy"] as? Double)
        print("MNIST transfer: digits 0–4 held-out accuracy \(sourceAccuracy); digits 5–9 from 486 images: "
              + "with transfer \(withTransfer), from scratch \(fromScratch)")
        #expect(sourceAccuracy > 0.95)
        #expect(withTransfer > fromScratch + 0.02, "with transfer \(withTransfer), from scratch \(fromScratch)")
        let s = try Self.tensors(dir.file("digits04.safetensors")), t = try Self.tensors(dir.file("digits59.safetensors"))
        for name in ["features.0.c1.weight", "features.0.c1.bias", "features.0.c3.weight", "features.0.c3.bias"] {
            #expect(t[name] != nil && t[name] == s[name], "\(name) changed")
        }
    }
}
