import DLGCompiler
import DLGGraph
import DLGKernels
import DLGSource

/// A model compiled in step mode (Docs/sequence.md, "Step mode") and driven one token at a
/// time: each `step` feeds one token id (and its position, when a layer reads it), runs the
/// program once, and keeps the carried states' new values for the next call, so a sequence
/// of n tokens costs n calls of the same size, whatever came before.
public final class StepModel {
    public let program: Program
    public let executor: Executor
    public let interface: StepInterface
    /// The model's first output (the logits of the next token).
    public let outputSlot: Int
    /// Its element count: logits per position.
    public let width: Int
    /// The position of the next token in the sequence (tokens fed since `reset`).
    public private(set) var position = 0

    /// The rows of the tables the token indexes directly (an embedding): a larger id is refused
    /// before the call, naming its position in the sequence; nil when no table reads it directly.
    public let tokenRows: Int?
    let tokenSlot: Int
    let positionSlot: Int?
    let carried: [(input: Int, output: Int, bytes: Int)]
    /// The carried states between calls (the program may reuse an input's memory while it runs).
    let saved: [UnsafeMutableRawPointer]

    /// Parses and compiles a model in step mode, with the token input's batch size bound to 1.
    public static func compile(_ file: SourceFile, model: String? = nil, bindings: [String: Int] = [:],
                               tokenInput: String? = nil) -> (graph: Graph?, diagnostics: Diagnostics) {
        let mode = StepMode(input: tokenInput)
        // Elaborated once to learn the token input's sizes: its symbols (the batch) are bound to 1.
        let first = Frontend.compile(file, model: model, options: ElaborationOptions(training: false, bindings: bindings, step: mode))
        guard let g = first.graph, !first.hasErrors, let step = g.step,
              let token = g.inputs.first(where: { $0.name == step.tokenInput }) else { return (nil, first.diagnostics) }
        var o = PipelineOptions()
        o.training = false
        o.keepLoss = false
        o.step = mode
        o.bindings = bindings
        for s in token.type.shape.symbols where o.bindings[s] == nil { o.bindings[s] = 1 }
        let (graph, diagnostics, _) = Pipeline.compile(file, model: model, options: o)
        return (graph, diagnostics)
    }

    /// Lowers a step-mode graph (from `compile`) and binds it to `state` (the parameters, by name).
    public init(_ graph: Graph, state: StateStore = StateStore(), threads: Int = Threads.count) throws(ExecutionError) {
        guard let interface = graph.step else { throw ExecutionError("model '\(graph.name)' was not compiled in step mode") }
        self.interface = interface
        let program: Program
        do { program = try Lowering.lower(graph, threads: threads) } catch { throw ExecutionError(error.message) }
        self.program = program
        guard let t = program.inputIndex(named: interface.tokenInput) else {
            throw ExecutionError("model '\(graph.name)': its output does not depend on input '\(interface.tokenInput)'")
        }
        let tokenBuffer = program.inputs[t].buffer
        guard tokenBuffer.dtype == .i32, tokenBuffer.count == 1 else {
            throw ExecutionError("model '\(graph.name)': input '\(interface.tokenInput)' takes \(tokenBuffer.dtype.rawValue)"
                                 + "\(Shape(tokenBuffer.shape)) per step; token ids are one i32 per step")
        }
        tokenSlot = t
        let tokenNode = graph.inputs.first { $0.name == interface.tokenInput }?.id
        tokenRows = graph.nodes.compactMap { n -> Int? in
            guard let ix = n.decl.properties.indexes, let table = ix.table, n.inputs[ix.indices] == tokenNode else { return nil }
            return graph[n.inputs[table]].type.shape.knownDims?.first
        }.min()
        positionSlot = interface.position.flatMap { program.inputIndex(named: $0) }
        let carriedOutputs = Set(interface.states.map(\.output))
        guard let out = program.outputs.firstIndex(where: { !carriedOutputs.contains($0.name) }) else {
            throw ExecutionError("model '\(graph.name)' has no output to read the next token's logits from")
        }
        outputSlot = out
        width = program.outputs[out].buffer.count
        var carried: [(input: Int, output: Int, bytes: Int)] = []
        for s in interface.states {
            guard let i = program.inputIndex(named: s.input), let o = program.outputs.firstIndex(where: { $0.name == s.output }) else {
                continue  // a state nothing reads (left out by dead-code elimination) needs no carrying
            }
            carried.append((i, o, program.inputs[i].buffer.bytes))
        }
        self.carried = carried
        let fed = Set([t] + carried.map(\.input) + (positionSlot.map { [$0] } ?? []))
        if let other = program.inputs.indices.first(where: { !fed.contains($0) }) {
            throw ExecutionError("model '\(graph.name)' reads input '\(program.inputs[other].name)' besides its tokens; "
                                 + "a step feeds only '\(interface.tokenInput)'")
        }
        executor = try Executor(program, state: state, threads: threads)
        saved = carried.map { c in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(c.bytes, 1), alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: max(c.bytes, 1))
            return p
        }
    }

    deinit {
        for p in saved { p.deallocate() }
    }

    /// The parameters (load weights into it by name).
    public var state: StateStore { executor.state }

    /// Starts a new sequence: states zero, position 0.
    public func reset() {
        for (k, c) in carried.enumerated() { saved[k].initializeMemory(as: UInt8.self, repeating: 0, count: c.bytes) }
        position = 0
    }

    /// Feeds the next token of the sequence and returns the logits the model gives after it.
    public func step(_ token: Int32) throws(ExecutionError) -> [Double] {
        if let limit = interface.positionLimit, position >= limit {
            throw ExecutionError("the model takes at most \(limit) positions in a sequence")
        }
        if token < 0 || tokenRows.map({ Int(token) >= $0 }) == true {
            let rows = tokenRows.map { "for a table of \($0) rows (0..<\($0))" } ?? "(ids are ≥ 0)"
            throw ExecutionError("index \(token) at position \(position) of the sequence (input '\(interface.tokenInput)') is out of range \(rows)")
        }
        executor.inputPointer(tokenSlot).storeBytes(of: token, as: Int32.self)
        if let p = positionSlot {
            // conversion: positions are below positionLimit or the number of calls made, far below Int32.max in practice;
            // larger ones are clamped rather than trapping
            executor.inputPointer(p).storeBytes(of: Int32(clamping: position), as: Int32.self)
        }
        for (k, c) in carried.enumerated() { executor.inputPointer(c.input).copyMemory(from: saved[k], byteCount: c.bytes) }
        do { try executor.run() } catch {
            throw ExecutionError("token \(position) of the sequence (id \(token)): \(error.message)")
        }
        for (k, c) in carried.enumerated() { saved[k].copyMemory(from: executor.outputPointer(c.output), byteCount: c.bytes) }
        position += 1
        return executor.values(program.outputs[outputSlot].buffer)
    }
}
