import ArgumentParser
import DLGData
import DLGKernels
import DLGRuntime
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample text from a trained sequence model, one token at a time.",
        discussion: """
            The model is compiled in step mode (one token per call, recurrent states carried from call \
            to call, Docs/sequence.md), so each token costs the same whatever came before it. The \
            vocabulary is the one the checkpoint records (a run on text or on a synthetic sequence task \
            stores it). The prompt is printed, then every drawn token as soon as it is drawn, then a line \
            break unless the text ends with one. Without --prompt the sequence starts with the \
            vocabulary's first symbol (id 0).
            """)

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp(
        "The checkpoint (safetensors) with the parameters and the vocabulary (the metadata a dlg train run on sequence data writes).",
        valueName: "PATH"))
    var weights: String

    @Option(help: ArgumentHelp("The text the sequence starts with; every character must be in the vocabulary (default: the vocabulary's first symbol).",
                               valueName: "TEXT"))
    var prompt: String?

    @Option(help: ArgumentHelp("Tokens to draw after the prompt, N ≥ 0.", valueName: "N"))
    var tokens: Int = 200

    @Option(help: ArgumentHelp("Divide the logits by T ≥ 0 before the softmax; 0 picks the most likely token every time (greedy decoding).",
                               valueName: "T"))
    var temperature: Double = 1

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Draw only among the K ≥ 1 most likely tokens (default: all).", valueName: "K"))
    var topK: Int?

    @Option(help: ArgumentHelp("Seed of the draws: the same seed gives the same text.", valueName: "N"))
    var seed: UInt64 = 0

    @Option(name: .customLong("threads"), help: ArgumentHelp("Threads for kernels and BLAS, N ≥ 1 (default: 1; one token at a time is too small a task to share).",
                                                             valueName: "N"))
    var threads: Int = 1

    @Flag(help: "Print to standard error how long the prompt and the generation took, and the time per generated token (with --threads 1 also the CPU time per token, which other processes' load does not inflate).")
    var stats = false

    func validate() throws {
        if tokens < 0 { throw ValidationError("--tokens must be at least 0") }
        if !(temperature >= 0) || !temperature.isFinite { throw ValidationError("--temperature must be a finite number ≥ 0") }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        Threads.configure(threads)
        let vocabulary = try generationVocabulary()
        let ids = try promptIDs(vocabulary)
        let file = try loadSource(options.file)
        let (graph, diagnostics) = StepModel.compile(file, model: options.model, bindings: try options.bindings())
        report(diagnostics, in: file)
        guard let graph else { throw ExitCode.failure }
        let model: StepModel
        do { model = try StepModel(graph, threads: threads) } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        try restore(model.state, from: weights)
        let outputName = model.program.outputs[model.outputSlot].name
        if vocabulary.size > model.width {
            printError("error: the vocabulary of \(weights) has \(vocabulary.size) symbols, but the model's output '\(outputName)' "
                       + "gives \(model.width) logits per token")
            throw ExitCode.failure
        }
        let out = FileHandle.standardOutput
        var last: UInt8 = 0
        func write(_ bytes: [UInt8]) {
            guard let b = bytes.last else { return }
            last = b
            out.write(Data(bytes))
        }
        write(Array(vocabulary.decodeBytes(ids.map(Int.init))))
        var sampler = Sampler(temperature: temperature, topK: topK, limit: vocabulary.size, seed: seed)
        let timing: Generation.Timing
        do {
            timing = try Generation.run(model, prompt: ids, count: tokens, sampler: &sampler) { token in
                // conversion: Int32 to Int widens
                write(vocabulary.decodeBytes([Int(token)]))
            }
        } catch {
            if last != 0x0A { out.write(Data([0x0A])) }
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        if last != 0x0A { out.write(Data([0x0A])) }
        if stats {
            func ms(_ d: Duration) -> Double {
                let c = d.components
                // conversion: seconds and attoseconds of a measured duration, as milliseconds
                return Double(c.seconds) * 1e3 + Double(c.attoseconds) * 1e-15
            }
            let per = tokens > 0 ? ms(timing.generation) / Double(tokens) : 0
            let perCPU = tokens > 0 ? ms(timing.generationCPU) / Double(tokens) : 0
            printError("prompt: \(ids.count) tokens in " + String(format: "%.3f", ms(timing.prompt)) + " ms; generated: \(tokens) tokens in "
                       + String(format: "%.3f", ms(timing.generation)) + " ms, " + String(format: "%.4f", per) + " ms per token"
                       + (threads == 1 ? "; CPU time " + String(format: "%.4f", perCPU) + " ms per token" : ""))
        }
    }

    /// The checkpoint's vocabulary; a checkpoint without one is an error.
    func generationVocabulary() throws -> Vocabulary {
        let file: SafetensorsFile
        do { file = try Safetensors.read(weights) } catch let e as DataError {
            printError("error: \(e.description)")
            throw ExitCode.failure
        }
        do {
            guard let v = try Vocabulary(metadata: file.metadata, file: weights) else {
                printError("error: \(weights) records no vocabulary (metadata vocabulary_level); dlg generate reads the one "
                           + "a dlg train run on text(…) or a synthetic sequence task writes into its checkpoints")
                throw ExitCode.failure
            }
            return v
        } catch let e as DataError {
            printError("error: \(e.description)")
            throw ExitCode.failure
        }
    }

    /// The prompt as token ids; a character outside the vocabulary is an error naming it and its position.
    func promptIDs(_ vocabulary: Vocabulary) throws -> [Int32] {
        guard let prompt, !prompt.isEmpty else { return [0] }
        switch vocabulary.level {
        case .byte:
            // conversion: a byte is an id of the byte-level vocabulary
            return prompt.utf8.map { Int32($0) }
        case .char:
            var ids: [Int32] = []
            for (k, s) in prompt.unicodeScalars.enumerated() {
                guard let id = vocabulary.id(of: s) else {
                    printError("error: --prompt: character \(TextCorpus.describe(s)) at position \(k) (counting from 0) is not in the "
                               + "vocabulary of \(vocabulary.size) symbols of \(weights)")
                    throw ExitCode.failure
                }
                ids.append(id)
            }
            return ids
        }
    }
}

extension Vocabulary {
    /// Token ids as the bytes of their text: a character's UTF-8, or the byte itself.
    func decodeBytes(_ tokens: [Int]) -> [UInt8] {
        switch level {
        // conversion: byte-level ids are 0…255 (the model's logits are limited to the vocabulary's size)
        case .byte: return tokens.map { UInt8(clamping: $0) }
        case .char: return Array(decode(tokens).utf8)
        }
    }
}
