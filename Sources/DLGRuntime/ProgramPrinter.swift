import DLGGraph
import DLGKernels
import Foundation

/// The text form of a kernel program (`dlg dump --stage kernels`): per
/// instruction, the value it computes and where it writes, the kernel with
/// its resolved geometry, what it reads, its scratch and its in-place
/// decision; then the program's totals. The JSON form is the program's
/// Codable form, as `dlg compile -o` writes it.
public enum ProgramPrinter {
    /// With the graph it was lowered from, the kernels of an unrolled loop's like steps print
    /// once, as the graph dump's `repeat t in a..<b { … }` regions (Docs/ir.md): the kernels of
    /// the run's first step, with its buffers and geometry; `unrolled` prints every kernel.
    public static func text(_ p: Program, graph: Graph? = nil, unrolled: Bool = false) -> String {
        var lines = ["# kernels \(p.name) — \(p.training ? "training" : "inference"), \(p.floatType.rawValue), workspaces for \(p.threads) thread\(p.threads == 1 ? "" : "s")"]
        let folding = unrolled || graph == nil || graph!.loops.isEmpty ? nil : RepeatFolding(graph!)
        let names = graph.map { RepeatNames($0, folding: folding) }
        /// The run of each folded kernel, and for each run its kernels of the first step.
        var runOf: [Int: Int] = [:], shown: [Int: [Int]] = [:]
        if let folding, let graph {
            for (k, ins) in p.instructions.enumerated() where ins.value >= 0 && ins.value < graph.nodes.count {
                guard let place = folding.place[ins.value] else { continue }
                runOf[k] = place.run
                if graph[ins.value].step?.t == folding.runs[place.run].steps[0] { shown[place.run, default: []].append(k) }
            }
        }
        func instruction(_ k: Int, at t0: Int?, indent: String) {
            let ins = p.instructions[k]
            let value = names?.ref(ins.value, at: t0) ?? "%\(ins.value)"
            var head = "\(indent)  k\(k)  \(value) = \(ins.op == .fused ? "fused(\(ins.steps))" : ins.steps) → \(ins.output)"
            var notes: [String] = []
            if let loc = ins.loc { notes.append(loc) }
            if let l = ins.label { notes.append(l) }
            if !notes.isEmpty { head += "   # " + notes.joined(separator: "  ") }
            lines.append(head)
            var kernel = describe(ins.kernel, inputs: ins.inputs.count)
            // Where this CPU runs the GEMM on dlg's own kernel instead of OpenBLAS (chosen as executors bind it).
            if let own = Executor.ownProductKind(ins, in: p) { kernel += " [\(own)]" }
            lines.append(indent + "      " + kernel)
            var tail = indent + "      reads " + (ins.inputs.isEmpty ? "nothing" : ins.inputs.enumerated().map { "\($0.offset): \($0.element)" }.joined(separator: ", "))
            tail += "; workspace \(byteString(ins.workspace))"
            if let ip = ins.inPlace { tail += "; in place: \(ip)" }
            lines.append(tail)
        }
        var printed = Set<Int>()
        for k in p.instructions.indices {
            guard let r = runOf[k], let folding, let graph else {
                instruction(k, at: nil, indent: "")
                continue
            }
            // A run's region stands where its first kernel is.
            guard printed.insert(r).inserted else { continue }
            let run = folding.runs[r]
            let loop = graph.loops[run.loop]
            let kernels = shown[r] ?? []
            lines.append("  repeat t in \(run.range) {   # L\(run.loop): \(loop.name), \(run.steps.count) of \(loop.count) steps × \(kernels.count) kernels; buffers of t = \(run.steps[0])")
            for j in kernels { instruction(j, at: run.steps[0], indent: "  ") }
            lines.append("  }")
        }
        let workspace = p.instructions.map(\.workspace).max() ?? 0
        lines.append("# \(p.instructions.count) kernels; arena \(byteString(p.arenaBytes)), state \(byteString(p.stateBytes)), workspace \(byteString(workspace))")
        return lines.joined(separator: "\n") + "\n"
    }

    public static func json(_ p: Program) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(p), as: UTF8.self)
    }

    /// One line naming the kernel and its geometry.
    static func describe(_ k: Kernel, inputs: Int) -> String {
        func shape(_ s: [Int]) -> String { Shape(s).description }
        switch k {
        case .unary(let f): return "unary \(f)"
        case .unaryGradient(let f): return "unary gradient \(f) from (x, y, dy)"
        case .binary(let op): return "binary \(op.rawValue), same shapes"
        case .broadcastBinary(let op, let p): return "binary \(op.rawValue), \(shape(p.lhsShape)) with \(shape(p.rhsShape)) broadcast to \(shape(p.outputShape))"
        case .biasAdd(let s, let axis): return "bias add along axis \(axis) of \(shape(s))"
        case .reduce(let op, let p): return "reduce \(op) of \(shape(p.inputShape)) over axes \(p.axes) → \(shape(p.outputShape))"
        case .extremumGradient(let minimum, let p): return "\(minimum ? "min" : "max") gradient of \(shape(p.inputShape)) over axes \(p.axes)"
        case .fill(let v): return "fill \(formatNumber(v))"
        case .copy: return "copy"
        case .alias: return "none: the output is the input's storage"
        case .transpose(let p): return "transpose \(shape(p.inputShape)) by \(p.perm) → \(shape(p.outputShape))"
        case .broadcast(let p): return "broadcast \(shape(p.inputShape)) → \(shape(p.outputShape))"
        case .concat(let p): return "concat \(p.inputShapes.map(shape).joined(separator: ", ")) along axis \(p.axis) → \(shape(p.outputShape))"
        case .slice(let p): return "slice \(shape(p.inputShape)) from \(p.start) to \(p.end) by \(p.step) → \(shape(p.outputShape))"
        case .sliceGradient(let p): return "scatter into \(shape(p.inputShape)) from \(p.start) to \(p.end) by \(p.step)"
        case .pad(let g): return "\(g)"
        case .padGradient(let g): return "gradient of \(g)"
        case .oneHot(let c): return "one-hot, \(c) classes"
        case .convert: return "convert element type"
        case .gather(let r, let w, let i): return "gather rows of [\(r), \(w)] by \(i.name) \(shape(i.shape))"
        case .gatherGradient(let r, let w, let i): return "scatter-add into [\(r), \(w)] by \(i.name) \(shape(i.shape))"
        case .gemm(let p, let a, let b, let acc): return "\(p), A = input \(a), B = input \(b)" + accumulation(acc)
        case .batchedGemm(let p, let a, let b, let acc): return "batched \(p), A = input \(a), B = input \(b)" + accumulation(acc)
        case .convolution(let g, let x, let w, let bias, let activation):
            var s = "\(g), x = input \(x), w = input \(w)"
            if let bias { s += ", bias = input \(bias)" }
            if let activation { s += ", then \(activation)" }
            return s
        case .convolutionGradInput(let g): return "input gradient of \(g)"
        case .convolutionGradWeight(let g): return "weight gradient of \(g)"
        case .pooling(let g, let kind): return "\(kind) \(g)"
        case .poolingGradient(let g, let kind): return "gradient of \(kind) \(g)"
        case .softmax(let r, let log): return "\(log ? "log-softmax" : "softmax") of \(r.n) per row, \(r.outer)×\(r.inner) rows"
        case .softmaxGradient(let r, let log): return "\(log ? "log-softmax" : "softmax") gradient of \(r.n) per row, \(r.outer)×\(r.inner) rows"
        case .causalSoftmax(let outer, let q, let k): return "causal softmax of \(outer)×\(q) rows of \(k), keys j ≤ row i"
        case .lstmScan(let g): return "LSTM recurrence, \(scan(g))"
        case .lstmScanGradient(let g): return "LSTM recurrence backward, \(scan(g))" + (g.dhOnly ? ", from h's gradient alone" : "")
        case .select(let integer): return "select a or b by \(integer ? "an i32" : "a") condition"
        case .reverseAxis(let r): return "reverse \(r.n) along the middle of \(r.outer)×\(r.n)×\(r.inner)"
        case .crossEntropy(let rows, let classes, let sparse): return "\(sparse ? "sparse " : "")softmax cross-entropy, \(rows) rows of \(classes)"
        case .crossEntropyGradient(let rows, let classes, let sparse):
            return "\(sparse ? "sparse " : "")softmax cross-entropy gradient, \(rows) rows of \(classes)"
        case .dropoutMask(let rate, let stream): return "dropout mask, rate \(formatNumber(rate)), stream \(stream)"
        case .collective(.sum): return "sum over the replicas"
        case .collective(.start): return "bucket of \(inputs) operands, its sum over the replicas started"
        case .collective(.wait): return "wait for the bucket's sum over the replicas"
        case .fused(let f):
            var parts: [String] = []
            if let h = f.head { parts.append(describe(h, inputs: inputs) + (f.headToScratch ? " into scratch" : "")) }
            let steps = f.chain.steps.map { step -> String in
                let ops = step.operands.map { o -> String in
                    switch o {
                    case .view(let v): return f.chain.views[v].input == inputs ? "head" : "input \(f.chain.views[v].input)"
                    case .step(let j): return "#\(j)"
                    case .immediate(let x): return formatNumber(x)
                    }
                }.joined(separator: ", ")
                switch step.code {
                case .unary(let u): return "\(u)(\(ops))"
                case .unaryGrad(let u): return "\(u)′(\(ops))"
                case .binary(let op): return "\(op.rawValue)(\(ops))"
                case .copy: return "copy(\(ops))"
                }
            }
            var loop = "loop over \(Shape(f.chain.shape)): " + steps.joined(separator: ", ")
            if let r = f.chain.reduction { loop += ", folded by \(r.op) over axes \(r.axes)" }
            parts.append(loop)
            return parts.joined(separator: "; then ")
        }
    }

    /// An LSTM recurrence's sizes, as the printed program shows them.
    static func scan(_ g: LSTMScanGeometry) -> String {
        "B = \(g.batch), T = \(g.steps), H = \(g.hidden)" + (g.reverse ? ", reversed" : "") + (g.initialStates ? ", from h0 and c0" : "")
    }

    static func accumulation(_ acc: GemmAccumulation?) -> String {
        guard let acc else { return "" }
        let beta: String
        switch acc.beta {
        case .immediate(let v): beta = formatNumber(v)
        case .input(let j): beta = "input \(j)"
        }
        return ", C ← A·B + \(beta)·input \(acc.source)" + (acc.inPlace ? " (in place)" : "")
    }
}
