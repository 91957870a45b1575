import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Foundation
import Testing

/// Step mode and generation: a model compiled for one token per call, its recurrent states
/// carried, gives at every position the logits the full-sequence model gives (run as `dlg run`
/// runs it) for the same prefix; greedy generation equals argmax decoding on the growing
/// prefix; sampling follows softmax(logits / T) over the top k, reproducibly from a seed.
@Suite struct GenerationTests {
    static let steps = 6

    /// A language model over 7 token ids with a recurrent layer `layer` (its arguments given).
    static func languageModel(_ layer: String) -> String {
        """
        model lm(T = \(steps)) {
            input tokens: i32[B, T]
            input next: i32[B, T]
            e = embedding(tokens, vocab: 7, dim: 5)
            h = \(layer)
            output logits = dense(h, 7)
            minimize cross_entropy(logits, next)
        }
        """
    }

    /// The full-sequence model, compiled as `dlg run` compiles it (inference form, no loss).
    final class FullModel {
        let program: Program
        let executor: Executor
        init(_ source: String, state: StateStore) throws {
            var o = PipelineOptions()
            o.training = false
            o.keepLoss = false
            o.bindings = ["B": 1]
            let file = SourceFile(path: "lm.dlg", text: source)
            let (graph, diagnostics, _) = Pipeline.compile(file, options: o)
            guard let graph else { throw ExecutionError(DiagnosticsFormatter().format(diagnostics.sorted, in: file)) }
            program = try Lowering.lower(graph)
            executor = try Executor(program, state: state, threads: 1)
        }

        /// The logits at position `k` of `tokens` padded with zeros to T: a causal model's
        /// logits there depend on tokens 0…k only.
        func logits(_ tokens: [Int32], at k: Int) throws -> [Double] {
            var padded = tokens
            padded += Array(repeating: 0, count: GenerationTests.steps - padded.count)
            let i = try #require(program.inputIndex(named: "tokens"))
            try executor.setInput(i, try NDArray(padded, shape: [1, GenerationTests.steps]))
            try executor.run()
            let all = executor.values(program.outputs[0].buffer)
            let v = all.count / GenerationTests.steps
            return Array(all[(k * v)..<((k + 1) * v)])
        }
    }

    /// Compiles `source` in step mode and the full model beside it, on one set of parameters.
    func models(_ source: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (StepModel, FullModel) {
        let file = SourceFile(path: "lm.dlg", text: source)
        let (graph, diagnostics) = StepModel.compile(file)
        guard let graph else {
            Issue.record("step compile failed:\n\(DiagnosticsFormatter().format(diagnostics.sorted, in: file))", sourceLocation: sourceLocation)
            throw ExecutionError("compile failed")
        }
        let store = StateStore()
        let full = try FullModel(source, state: store)
        full.executor.initializeState(seed: 11)
        return (try StepModel(graph, state: store, threads: 1), full)
    }

    static let layers = [
        "lstm(e, units: 4, return_sequences: true)",
        "lstm(e, units: 4, layers: 2, return_sequences: true)",
        "gru(e, units: 4, layers: 2, return_sequences: true)",
        "rnn(e, units: 3, return_sequences: true)",
        // Attention carries its keys and values; position embeddings read the token's position.
        "multi_head_attention(position_embedding(e), 5, causal: true)",
        "attention(position_embedding(e, kind: sinusoidal), e, e, causal: true)",
        "dense(multi_head_attention(layer_norm(position_embedding(e)), 1, causal: true) + e, 6)",
    ]

    @Test(arguments: layers) func everyStepGivesTheFullModelsLogits(_ layer: String) throws {
        let (step, full) = try models(Self.languageModel(layer))
        let tokens: [Int32] = [3, 1, 4, 1, 5, 2]
        for k in tokens.indices {
            let got = try step.step(tokens[k])
            let expected = try full.logits(tokens, at: k)
            expectClose(got, expected, tolerance: 2e-6)
        }
        #expect(step.position == tokens.count)
        // A new sequence starts from zero states again.
        step.reset()
        expectClose(try step.step(4), try full.logits([4], at: 0), tolerance: 2e-6)
    }

    @Test(arguments: layers) func greedyGenerationIsArgmaxOnTheGrowingPrefix(_ layer: String) throws {
        let (step, full) = try models(Self.languageModel(layer))
        let prompt: [Int32] = [2, 6]
        var sampler = Sampler(temperature: 0)
        var generated: [Int32] = []
        _ = try Generation.run(step, prompt: prompt, count: Self.steps - prompt.count, sampler: &sampler) { generated.append($0) }
        // The reference: the full model on the prefix so far, the most likely token at its end.
        var sequence = prompt
        while sequence.count < Self.steps {
            let logits = try full.logits(sequence, at: sequence.count - 1)
            let best = logits.indices.max { logits[$0] != logits[$1] ? logits[$0] < logits[$1] : $0 > $1 }!
            sequence.append(Int32(best))
        }
        #expect(generated == Array(sequence.dropFirst(prompt.count)))
    }

    @Test func theStepInterfaceNamesTheCarriedStates() throws {
        let (step, _) = try models(Self.languageModel("lstm(e, units: 4, layers: 2, return_sequences: true)"))
        let i = step.interface
        #expect(i.tokenInput == "tokens")
        #expect(i.length == Self.steps)
        #expect(i.position == nil)
        #expect(i.positionLimit == nil)
        #expect(i.states.map(\.input) == ["h.h0", "h.c0"])
        #expect(i.states.map(\.output) == ["h.h_n", "h.c_n"])
        #expect(i.states.map(\.type) == Array(repeating: TensorType(.f32, Shape([2, 1, 4])), count: 2))
        // The model's output first ([1, 1, 7]: one token's logits), then the states, [layers, 1, H].
        #expect(step.program.outputs.map(\.name) == ["logits", "h.h_n", "h.c_n"])
        #expect(step.program.outputs.map(\.buffer.shape) == [[1, 1, 7], [2, 1, 4], [2, 1, 4]])
        #expect(step.width == 7)
        #expect(Set(step.program.inputs.map(\.name)) == ["tokens", "h.h0", "h.c0"])
    }

    /// A time axis written as a number: the labels with the same number are stepped too, and a
    /// model parameter used in the body (T in the reshape) is 1 in step mode.
    @Test func aLiteralOrNamedTimeAxisIsBoundToOne() throws {
        let literal = """
            model lm {
                input tokens: i32[B, 5]
                input next: i32[B, 5]
                h = gru(embedding(tokens, vocab: 4, dim: 3), units: 2, return_sequences: true)
                output logits = dense(h, 4)
                acc = mean(one_hot(next, 4) * logits)
                minimize cross_entropy(logits, next)
            }
            """
        let named = """
            model lm(T = 5) {
                input tokens: i32[B, T]
                input next: i32[B, T]
                h = gru(embedding(tokens, vocab: 4, dim: 3), units: 2, return_sequences: true)
                logits = dense(h, 4)
                output flat = reshape(logits, [B, T * 4])
                minimize cross_entropy(logits, next)
            }
            """
        for source in [literal, named] {
            let file = SourceFile(path: "lm.dlg", text: source)
            let (graph, diagnostics) = StepModel.compile(file)
            #expect(!diagnostics.hasErrors, "\(DiagnosticsFormatter().format(diagnostics.sorted, in: file))")
            let g = try #require(graph)
            #expect(g.step?.length == 5)
            #expect(["logits", "flat"].contains(g.outputs.first?.name))
            #expect(g[g.outputs[0].value].type.shape.knownDims?.reduce(1, *) == 4)
        }
    }

    @Test func layersThatCannotBeSteppedAreLocatedErrors() throws {
        let cases: [(String, String)] = [
            ("lstm(e, units: 4, bidirectional: true, return_sequences: true)",
             "lm.dlg:6:42: error: lstm 'h' cannot run one token at a time (step mode, as dlg generate runs it): its backward direction reads the sequence from its end"),
            ("gru(e, units: 4, h0: state, return_sequences: true)",
             "lm.dlg:6:30: error: gru 'h' cannot run one token at a time (step mode, as dlg generate runs it): its initial state h0 is given by the model; step mode carries the state itself"),
        ]
        for (layer, message) in cases {
            let source = Self.languageModel(layer).replacingOccurrences(
                of: "    e = embedding", with: "    input state: f32[1, B, 4]\n    e = embedding")
            let file = SourceFile(path: "lm.dlg", text: source)
            // The model itself compiles.
            #expect(!Frontend.compile(file, options: ElaborationOptions(bindings: ["B": 1])).hasErrors)
            let (graph, diagnostics) = StepModel.compile(file)
            #expect(graph == nil)
            let text = DiagnosticsFormatter().format(diagnostics.sorted, in: file)
            #expect(text.contains(message), "\(text)")
            #expect(diagnostics.all.first?.id == "step-mode")
        }
    }

    /// The language models of Graphs/ compile in step mode: one token in, its logits out,
    /// every layer's h and c carried.
    @Test(arguments: [("char_lstm.dlg", 96, 1), ("adder_lstm.dlg", 12, 2)])
    func theGraphsLanguageModelsStep(_ name: String, _ vocabulary: Int, _ layers: Int) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Graphs").appendingPathComponent(name)
        let file = SourceFile(path: name, text: try String(contentsOf: url, encoding: .utf8))
        let (graph, diagnostics) = StepModel.compile(file)
        #expect(!diagnostics.hasErrors, "\(DiagnosticsFormatter().format(diagnostics.sorted, in: file))")
        let step = try StepModel(try #require(graph), threads: 1)
        #expect(step.width == vocabulary)
        #expect(step.tokenRows == vocabulary)
        #expect(step.interface.states.map(\.output) == ["h.h_n", "h.c_n"])
        #expect(step.program.outputs[1].buffer.shape.first == layers)
    }

    // MARK: Sampling

    static let logits: [Double] = [0.5, 2.0, -1.0, 1.5, 0.0, 3.0, 1.0, -0.5]

    @Test func greedyPicksTheMostLikelyTokenAndTheLowestIdOnTies() {
        var s = Sampler(temperature: 0)
        #expect(s.next(Self.logits) == 5)
        #expect(s.next([1, 4, 2, 4]) == 1)
        // Ids at and above the limit (a vocabulary smaller than the logits) are never drawn.
        var limited = Sampler(temperature: 0, limit: 5)
        #expect(limited.next(Self.logits) == 1)
    }

    @Test func theProbabilitiesAreTheSoftmaxOverTheTopK() {
        let t = 0.7
        let all = Sampler(temperature: t).probabilities(Self.logits)
        let z = Self.logits.map { exp($0 / t) }.reduce(0, +)
        expectClose(all, Self.logits.map { exp($0 / t) / z }, tolerance: 1e-14)
        // The three largest logits are ids 5 (3.0), 1 (2.0) and 3 (1.5).
        let top = Sampler(temperature: t, topK: 3).probabilities(Self.logits)
        let z3 = [3.0, 2.0, 1.5].map { exp($0 / t) }.reduce(0, +)
        var expected = [Double](repeating: 0, count: 8)
        for (i, l) in [(5, 3.0), (1, 2.0), (3, 1.5)] { expected[i] = exp(l / t) / z3 }
        expectClose(top, expected, tolerance: 1e-14)
    }

    @Test func topKDrawsOnlyTheKMostLikelyInTheirProportions() {
        var s = Sampler(temperature: 1, topK: 3, seed: 42)
        var counts = [Int](repeating: 0, count: 8)
        let n = 20_000
        for _ in 0..<n { counts[s.next(Self.logits)] += 1 }
        #expect(Set(counts.indices.filter { counts[$0] > 0 }) == [1, 3, 5])
        // Frequencies within 5 standard deviations of e^l / (e^3 + e^2 + e^1.5).
        let z = exp(3.0) + exp(2.0) + exp(1.5)
        for (i, l) in [(5, 3.0), (1, 2.0), (3, 1.5)] {
            let p = exp(l) / z
            let sigma = (p * (1 - p) / Double(n)).squareRoot()
            #expect(abs(Double(counts[i]) / Double(n) - p) < 5 * sigma, "id \(i): \(counts[i]) of \(n), p = \(p)")
        }
    }

    @Test func aSeedGivesTheSameDraws() {
        func draws(_ seed: UInt64) -> [Int] {
            var s = Sampler(temperature: 1.5, seed: seed)
            return (0..<200).map { _ in s.next(Self.logits) }
        }
        #expect(draws(7) == draws(7))
        #expect(draws(7) != draws(8))
    }

    @Test func seededGenerationIsReproducible() throws {
        let (step, _) = try models(Self.languageModel("lstm(e, units: 4, return_sequences: true)"))
        func generate(_ seed: UInt64) throws -> [Int32] {
            var sampler = Sampler(temperature: 1.2, seed: seed)
            var out: [Int32] = []
            _ = try Generation.run(step, prompt: [1], count: 40, sampler: &sampler) { out.append($0) }
            return out
        }
        let a = try generate(3)
        #expect(a.count == 40)
        #expect(try generate(3) == a)
        #expect(try generate(4) != a)
    }

    @Test func anIdOutsideTheEmbeddingIsAnErrorNamingItsPosition() throws {
        let (step, _) = try models(Self.languageModel("lstm(e, units: 4, return_sequences: true)"))
        var sampler = Sampler(temperature: 0)
        #expect(throws: ExecutionError.self) {
            _ = try Generation.run(step, prompt: [1, 2, 9], count: 1, sampler: &sampler) { _ in }
        }
        do {
            _ = try Generation.run(step, prompt: [1, 2, 9], count: 1, sampler: &sampler) { _ in }
        } catch {
            #expect(error.message == "index 9 at position 2 of the sequence (input 'tokens') is out of range for a table of 7 rows (0..<7)")
        }
    }
}
