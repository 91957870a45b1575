import DLGData
import Foundation
import Testing

/// `dlg generate` through the built `dlg`: greedy decoding equals the argmax of `dlg run`'s
/// logits on the growing prefix, a seed reproduces a sample, top-k 1 is greedy, and bad input
/// is an error that says what is wrong (never a trap).
@Suite("dlg generate (CLI)")
struct GenerateCLITests {
    /// A character LSTM over V ids; the corpus has 5 distinct characters ("\n", " ", a, b, c).
    static func model(embeddingRows: String = "V", layer: String = "lstm(e, units: 16, return_sequences: true)") -> String {
        """
        model lm(T = 8, V = 6) {
            input x: i32[B, T]
            input y: i32[B, T]
            e = embedding(x, vocab: \(embeddingRows), dim: 8)
            h = \(layer)
            output logits = dense(h, V)
            minimize cross_entropy(logits, y)
        }
        train lm {
            data = text("corpus.txt", seq: 8, stride: 2)
            optimizer = adam(lr: 0.03)
            batch = 4
            epochs = 15
            seed = 1
        }
        """
    }
    static let corpus = "abc abc cab\nbca abc bac\ncab cba abc\n"

    /// A scratch directory with the model trained on the corpus (m.dlg, m.safetensors).
    func trained() throws -> Scratch {
        let dir = try Scratch()
        try dir.write("corpus.txt", Self.corpus)
        try dir.write("m.dlg", Self.model())
        expectSuccess(try CLI.run(["train", "m.dlg", "--checkpoint", "m.safetensors"], in: dir.path))
        return dir
    }

    @Test func greedyGenerationIsTheArgmaxOfRunOnTheGrowingPrefix() throws {
        let dir = try trained()
        let r = try CLI.run(["generate", "m.dlg", "--weights", "m.safetensors", "--prompt", "ab", "--tokens", "6",
                             "--temperature", "0"], in: dir.path)
        expectSuccess(r)
        // The reference: dlg run on the prefix so far (padded to T = 8 with id 0; the LSTM is
        // causal), the most likely of the vocabulary's 5 ids at the prefix's last position.
        let symbols = Array("\n abc")
        var ids = "ab".map { symbols.firstIndex(of: $0)! }
        while ids.count < 8 {
            let padded = ids.map(Int32.init) + Array(repeating: 0, count: 8 - ids.count)
            try NPY.write(try NDArray(padded, shape: [1, 8]), to: dir.file("prefix.npy"))
            expectSuccess(try CLI.run(["run", "m.dlg", "--weights", "m.safetensors", "--input", "x=prefix.npy",
                                       "--output", "logits.npy"], in: dir.path))
            let logits = try NPY.read(dir.file("logits.npy"))
            #expect(logits.shape == [1, 8, 6])
            let row = Array(logits.toDoubles()[(ids.count - 1) * 6..<(ids.count - 1) * 6 + 5])
            ids.append(row.indices.max { row[$0] != row[$1] ? row[$0] < row[$1] : $0 > $1 }!)
        }
        let text = String(ids.map { symbols[$0] })
        #expect(r.stdout == text + (text.hasSuffix("\n") ? "" : "\n"))
        // Top-k 1 leaves only the most likely token: the same text at any temperature.
        let top1 = try CLI.run(["generate", "m.dlg", "--weights", "m.safetensors", "--prompt", "ab", "--tokens", "6",
                                "--top-k", "1", "--temperature", "1.5", "--seed", "9"], in: dir.path)
        expectSuccess(top1)
        #expect(top1.stdout == r.stdout)
    }

    @Test func aSeedReproducesASample() throws {
        let dir = try trained()
        func sample(_ seed: String) throws -> String {
            let r = try CLI.run(["generate", "m.dlg", "--weights", "m.safetensors", "--prompt", "c", "--tokens", "100",
                                 "--temperature", "2", "--seed", seed], in: dir.path)
            expectSuccess(r)
            return r.stdout
        }
        let a = try sample("5")
        #expect(a.hasPrefix("c"))
        // The prompt, 100 tokens, and a line break unless the last token is one.
        #expect(a.count == 101 && a.hasSuffix("\n") || a.count == 102 && a.hasSuffix("\n"))
        #expect(Set(a).isSubset(of: Set("\n abc")))
        #expect(try sample("5") == a)
        #expect(try sample("6") != a)
        // Without a prompt the sequence starts with id 0, the vocabulary's first symbol ("\n").
        let r = try CLI.run(["generate", "m.dlg", "--weights", "m.safetensors", "--tokens", "5", "--stats"], in: dir.path)
        expectSuccess(r)
        #expect(r.stdout.hasPrefix("\n"))
        #expect(r.stderr.hasPrefix("prompt: 1 tokens in "))
        #expect(r.stderr.contains("; generated: 5 tokens in "))
        // One thread (the default): the generating thread's CPU time per token too.
        #expect(r.stderr.contains(" ms per token; CPU time ") && r.stderr.hasSuffix(" ms per token\n"))
    }

    @Test func badInputIsAnErrorNotATrap() throws {
        let dir = try trained()
        expectFailure(try CLI.run(["generate", "m.dlg", "--weights", "m.safetensors", "--prompt", "abz"], in: dir.path),
                      ["error: --prompt: character 'z' (U+007A) at position 2 (counting from 0) is not in the vocabulary of 5 symbols of m.safetensors"])
        // Bad options: usage errors (exit status 64).
        for (option, message) in [("--temperature=-1", "--temperature must be a finite number ≥ 0"),
                                  ("--temperature=nan", "--temperature must be a finite number ≥ 0"),
                                  ("--top-k=0", "--top-k must be at least 1"), ("--tokens=-2", "--tokens must be at least 0")] {
            let r = try CLI.run(["generate", "m.dlg", "--weights", "m.safetensors", option], in: dir.path)
            #expect(r.status == 64, "\(option): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(option): \(r.stderr)")
        }
        expectFailure(try CLI.run(["generate", "m.dlg", "--weights", "none.safetensors"], in: dir.path), ["error: ", "none.safetensors"])
        // A checkpoint without a vocabulary (here the same tensors, without metadata).
        let tensors = try Safetensors.read(dir.file("m.safetensors")).tensors
        try Safetensors.write(tensors, to: dir.file("plain.safetensors"))
        expectFailure(try CLI.run(["generate", "m.dlg", "--weights", "plain.safetensors"], in: dir.path),
                      ["error: plain.safetensors records no vocabulary"])
        // A bidirectional layer cannot be stepped: an error at its place.
        try dir.write("bi.dlg", Self.model(layer: "lstm(e, units: 16, bidirectional: true, return_sequences: true)"))
        expectFailure(try CLI.run(["generate", "bi.dlg", "--weights", "m.safetensors"], in: dir.path),
                      ["bi.dlg:5:43: error: lstm 'h' cannot run one token at a time (step mode, as dlg generate runs it): its backward direction reads the sequence from its end"])
        // A vocabulary larger than the model's logits.
        try Safetensors.write(tensors, metadata: ["vocabulary_level": "char", "vocabulary": "\n abcdefg"], to: dir.file("big.safetensors"))
        expectFailure(try CLI.run(["generate", "m.dlg", "--weights", "big.safetensors"], in: dir.path),
                      ["error: the vocabulary of big.safetensors has 9 symbols, but the model's output 'logits' gives 6 logits per token"])
    }

    /// An id beyond the embedding's rows (a vocabulary of 5 symbols, a table of 3): a data error
    /// naming the input, the position in the sequence and the value, before any call with it.
    @Test func anIdOutsideTheEmbeddingIsADataError() throws {
        let dir = try Scratch()
        try dir.write("corpus.txt", "ab\nba\nab\nab\nba\n")
        try dir.write("small.dlg", Self.model(embeddingRows: "3"))
        expectSuccess(try CLI.run(["train", "small.dlg", "--checkpoint", "s.safetensors", "--epochs", "1"], in: dir.path))
        let tensors = try Safetensors.read(dir.file("s.safetensors")).tensors
        try Safetensors.write(tensors, metadata: ["vocabulary_level": "char", "vocabulary": "\nabcd"], to: dir.file("s5.safetensors"))
        let r = try CLI.run(["generate", "small.dlg", "--weights", "s5.safetensors", "--prompt", "abd", "--tokens", "3"], in: dir.path)
        expectFailure(r, ["error: index 4 at position 2 of the sequence (input 'x') is out of range for a table of 3 rows (0..<3)"])
        #expect(r.stdout == "abd\n")
    }
}
