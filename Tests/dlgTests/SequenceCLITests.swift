import DLGData
import Foundation
import Testing

/// Sequence data through the built `dlg`: text windows and their vocabulary in the
/// checkpoint, the metrics of eval against values worked out by hand, bad input
/// reported (never a trap), and `use` errors at their place.
@Suite("Sequence data (CLI)")
struct SequenceCLITests {
    /// A bigram language model over V characters.
    func bigram(_ v: Int, data: String, extra: String = "") -> String {
        """
        model bigram(T = 4, V = \(v)) {
            input x: i32[B, T]
            input y: i32[B, T]
            param E: f32[V, V] = xavier_uniform
            logits = one_hot(x, V) @ E
            output next = logits
            minimize -mean(sum(one_hot(y, V) * log_softmax(logits), axis: -1))
        }
        train bigram {
            data = \(data)
            optimizer = adam(lr: 0.1)
            batch = 2
            epochs = 5
        \(extra)}
        """
    }

    @Test func theCheckpointKeepsTheVocabularyAndEvalUsesIt() throws {
        let dir = try Scratch()
        // Distinct characters, by code point: '\n' ' ' a b c → ids 0…4.
        try dir.write("corpus.txt", "abc abc cab\n")
        try dir.write("m.dlg", bigram(5, data: #"text("corpus.txt", seq: 4)"#))
        let train = try CLI.run(["train", "m.dlg", "--checkpoint", "m.safetensors", "--json"], in: dir.path)
        expectSuccess(train)
        let summary = try jsonObject(train)
        let loss = try #require(summary["loss"] as? Double)
        let perplexity = try #require(summary["perplexity"] as? Double)
        #expect(abs(perplexity - exp(loss)) < 1e-12 * perplexity)
        let meta = try Safetensors.read(dir.file("m.safetensors")).metadata
        #expect(meta["vocabulary_level"] == "char")
        #expect(meta["vocabulary"] == "\n abc")
        // Another text with the same characters in another order: encoded with the
        // checkpoint's ids; 11 characters, windows of 5 every 4: ⌊(11 − 5) / 4⌋ + 1 = 2.
        try dir.write("other.txt", "cccc\nbbbb a")
        let eval = try CLI.run(["eval", "m.dlg", "--weights", "m.safetensors", "--data", #"text("other.txt", seq: 4)"#, "--json"],
                               in: dir.path)
        expectSuccess(eval)
        let e = try jsonObject(eval)
        #expect(e["examples"] as? Int == 2)
        let evalLoss = try #require(e["loss"] as? Double)
        #expect(abs(try #require(e["perplexity"] as? Double) - exp(evalLoss)) < 1e-12 * exp(evalLoss))
        #expect(e["accuracy"] != nil)
        // A character the vocabulary lacks, and text that is not UTF-8.
        try dir.write("new.txt", "abcd abcd")
        expectFailure(try CLI.run(["eval", "m.dlg", "--weights", "m.safetensors", "--data", #"text("new.txt", seq: 4)"#], in: dir.path),
                      ["error: new.txt: character 'd' (U+0064) at byte offset 3 is not in the vocabulary of 5 symbols"])
        FileManager.default.createFile(atPath: dir.file("bad.txt"), contents: Data([0x61, 0x62, 0x0A, 0x63, 0xFF, 0x61, 0x62, 0x63]))
        expectFailure(try CLI.run(["eval", "m.dlg", "--weights", "m.safetensors", "--data", #"text("bad.txt", seq: 4)"#], in: dir.path),
                      ["error: bad.txt: invalid UTF-8 at byte offset 4 (line 2): 0xFF"])
    }

    @Test func badTextInputIsAnErrorNotATrap() throws {
        let dir = try Scratch()
        try dir.write("empty.txt", "")
        try dir.write("short.txt", "abc")
        try dir.write("m.dlg", bigram(5, data: #"text("short.txt", seq: 4)"#))
        expectFailure(try CLI.run(["train", "m.dlg"], in: dir.path),
                      ["error: ", "short.txt: the text has 3 characters; seq: 4 needs at least 5"])
        expectFailure(try CLI.run(["train", "m.dlg", "--data", #"text("empty.txt", seq: 4)"#], in: dir.path),
                      ["error: empty.txt: empty dataset: the text file is empty"])
        expectFailure(try CLI.run(["train", "m.dlg", "--data", #"text("nothere.txt", seq: 4)"#], in: dir.path),
                      ["nothere.txt", "cannot open for reading"])
        // A bad setting in the train block is an error at its place.
        try dir.write("s.dlg", bigram(5, data: #"text("short.txt", seq: 0)"#))
        expectFailure(try CLI.run(["train", "s.dlg"], in: dir.path),
                      ["s.dlg:10:12: error: train setting 'data': text(seq:) needs the window length T"])
        try dir.write("w.dlg", bigram(5, data: #"text("short.txt", seq: 2, level: words)"#))
        expectFailure(try CLI.run(["train", "w.dlg"], in: dir.path), ["w.dlg:10:12: error: train setting 'data': text(level:) is char or byte"])
        // Token ids beyond the model's classes are found before training.
        try dir.write("big.txt", "abcdefgh abcdefgh\n")
        expectFailure(try CLI.run(["train", "m.dlg", "--data", #"text("big.txt", seq: 4)"#], in: dir.path),
                      ["big.txt: label ", "out of range for the model's 5 classes"])
    }

    /// With every logit 0 the most likely token is id 0 everywhere, the loss is ln V per
    /// token and the perplexity V: the adder's exact match is the share of problems whose
    /// sum is "00" (only 0+0 of the 100 one-digit problems).
    @Test func exactMatchAndPerplexityOfAUniformModel() throws {
        let dir = try Scratch()
        try dir.write("add.dlg", """
            model add(T = 5, V = 12) {
                input x: i32[B, T]
                input y: i32[B, T]
                param E: f32[V, V] = xavier_uniform
                logits = one_hot(x, V) @ E
                output next = logits
                minimize -mean(sum(one_hot(y, V) * log_softmax(logits), axis: -1))
            }
            train add {
                data = adder(digits: 1)
            }
            """)
        try Safetensors.write([NamedArray("E", try NDArray([Float](repeating: 0, count: 144), shape: [12, 12]))],
                              to: dir.file("zero.safetensors"))
        let r = try CLI.run(["eval", "add.dlg", "--weights", "zero.safetensors", "--json"], in: dir.path)
        expectSuccess(r)
        let e = try jsonObject(r)
        #expect(e["examples"] as? Int == 100)
        #expect(e["exact_match"] as? Double == 0.01)
        #expect(e["accuracy"] as? Double == 0.01)
        #expect(abs(try #require(e["loss"] as? Double) - log(12)) < 1e-6)
        let text = try CLI.run(["eval", "add.dlg", "--weights", "zero.safetensors"], in: dir.path)
        #expect(text.stdout.contains("100 examples (adder): loss 2.4849, exact match 1.00%"), "\(text.stdout)")
    }

    /// A zero forecast: the MSE is the mean of the squared targets, here rows 3, 4, 5 of y.
    @Test func forecastMSEOfAZeroModel() throws {
        let dir = try Scratch()
        try dir.write("s.csv", "t,y\n0,0\n1,0.5\n2,1\n3,1.5\n4,2\n5,2.5\n")
        try dir.write("f.dlg", """
            model f {
                input window: f32[B, 3, 2]
                input next: f32[B, 1]
                param W: f32[6, 1] = xavier_uniform
                output yhat = flatten(window) @ W
                minimize mse(yhat, next)
            }
            train f {
                data = csv("s.csv", label: "y", window: 3, horizon: 1)
            }
            """)
        try Safetensors.write([NamedArray("W", try NDArray([Float](repeating: 0, count: 6), shape: [6, 1]))],
                              to: dir.file("zero.safetensors"))
        let r = try CLI.run(["eval", "f.dlg", "--weights", "zero.safetensors", "--json"], in: dir.path)
        expectSuccess(r)
        let e = try jsonObject(r)
        #expect(e["examples"] as? Int == 3)
        let expected = (1.5 * 1.5 + 2 * 2 + 2.5 * 2.5) / 3
        #expect(abs(try #require(e["mse"] as? Double) - expected) < 1e-12)
        #expect(e["accuracy"] == nil)
        expectFailure(try CLI.run(["train", "f.dlg", "--data", #"csv("s.csv", label: "y", window: 5, horizon: 2)"#], in: dir.path),
                      ["error: ", "s.csv: 6 rows (time steps) are fewer than window 5 + horizon 2 = 7; no window fits"])
    }

    @Test func useErrorsAreLocated() throws {
        let dir = try Scratch()
        try dir.write("m.dlg", "use \"lib/gone.dlg\"\nuse nn\nmodel m {\n    input x: f32[B, 4]\n    output y = mlp_block(x, 8, 2)\n}\n")
        let r = try CLI.run(["check", "m.dlg"], in: dir.path)
        expectFailure(r, ["m.dlg:1:5: error: cannot use 'lib/gone.dlg': no such file\n    use \"lib/gone.dlg\"\n        ^~~~~~~~~~~~~~"])
        let json = try CLI.run(["check", "m.dlg", "--json"], in: dir.path)
        #expect(json.stdout.contains("\"id\": \"use-missing-file\""), "\(json.stdout)")
        try FileManager.default.createDirectory(atPath: dir.file("lib"), withIntermediateDirectories: true)
        try dir.write("lib/gone.dlg", "block unused_here(x) {\n    return x\n}\n")
        expectSuccess(try CLI.run(["check", "m.dlg"], in: dir.path))
        expectSuccess(try CLI.run(["summary", "m.dlg"], in: dir.path))
        // A compiled file keeps the model file's own text; the used files are read again.
        let compiled = try CLI.run(["compile", "m.dlg", "-o", "m.dlgc"], in: dir.path)
        expectSuccess(compiled)
        let written = try String(contentsOfFile: dir.file("m.dlgc"), encoding: .utf8)
        #expect(written.contains(#"use nn\nmodel m"#) && !written.contains("block conv_residual_block"))
    }
}
