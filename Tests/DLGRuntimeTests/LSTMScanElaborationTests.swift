import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// An LSTM elaborated as one `lstm_scan` per layer and direction against the same LSTM unrolled
/// over its steps into ordinary ops (`PipelineOptions.unrollRecurrence`, what ONNX export uses):
/// the same parameters, the same forward outputs and the same gradient of every parameter — the
/// initial states h0, c0 included, made parameters here — in f64; and f32 runs against f64.
/// (The unrolled form is checked against the gate equations in SequenceLayerTests, the scan's
/// gradients against finite differences in GradientCases+Sequence.)
@Suite struct LSTMScanElaborationTests {
    struct Form: CustomStringConvertible, Sendable {
        var layers = 1
        var bidirectional = false
        var sequences = true
        var initial = false
        var description: String {
            "layers \(layers)\(bidirectional ? " bidirectional" : "")\(sequences ? " sequences" : " final")"
                + (initial ? " initial state" : "")
        }
    }

    static let forms: [Form] = [
        Form(), Form(sequences: false), Form(bidirectional: true), Form(layers: 2), Form(initial: true),
        Form(layers: 2, bidirectional: true, sequences: false, initial: true), Form(layers: 3, sequences: false),
    ]

    static let (batch, steps, inputs, units) = (3, 5, 4, 6)

    /// The model: y = lstm(x) and a loss Σ y·w, so that every output element gets its own gradient.
    static func source(_ f: Form, dtype: String) -> String {
        let dirs = f.bidirectional ? 2 : 1
        let y = f.sequences ? "[\(batch), \(steps), \(dirs * units)]" : "[\(batch), \(dirs * units)]"
        let states = f.initial ? ["h0", "c0"] : []
        return """
            model m {
                input x: \(dtype)[\(batch), \(steps), \(inputs)]
                \(states.map { "param \($0): \(dtype)[\(f.layers * dirs), \(batch), \(units)] = normal(0, 1)" }.joined(separator: "\n    "))
                param w: \(dtype)\(y) = normal(0, 1)
                y = lstm(x, units: \(units), layers: \(f.layers), bidirectional: \(f.bidirectional), return_sequences: \(f.sequences)\(states.map { ", \($0): \($0)" }.joined()))
                output out = y
                minimize sum(y * w)
            }
            """
    }

    /// The program's output and every parameter's gradient by name, all parameters set to values
    /// drawn from their names' order (the same in both forms).
    static func run(_ f: Form, unrolled: Bool, dtype: String = "f64", threads: Int = 2) throws
        -> (program: Program, output: [Double], gradients: [String: [Double]]) {
        var o = PipelineOptions()
        o.stage = .planned
        o.differentiate = true
        o.unrollRecurrence = unrolled
        o.verify = true
        let file = SourceFile(path: "lstm.dlg", text: source(f, dtype: dtype))
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        let p = try Lowering.lower(g, threads: threads)
        let e = try Executor(p, threads: threads)
        e.initializeState(seed: 1)
        for (k, name) in p.state.map(\.name).sorted().enumerated() {
            let slot = try #require(p.stateIndex(named: name))
            e.setValues(p.state[slot].buffer, SequenceLayerTests.values(p.state[slot].buffer.count, scale: 0.7, seed: 50 + UInt64(k)))
        }
        let x = SequenceLayerTests.values(batch * steps * inputs, scale: 1.5, seed: 7)
        try e.setInput(try #require(p.inputIndex(named: "x")), try NDArray(x, shape: [batch, steps, inputs]))
        try e.run()
        let out = e.output(try #require(p.outputs.firstIndex { $0.name == "out" })).toDoubles()
        var grads: [String: [Double]] = [:]
        for (slot, buffer) in p.gradients { grads[p.state[slot].name] = e.values(buffer) }
        return (p, out, grads)
    }

    @Test(arguments: forms)
    func scanEqualsUnrolled(_ f: Form) throws {
        let scan = try Self.run(f, unrolled: false), unrolled = try Self.run(f, unrolled: true)
        let dirs = f.bidirectional ? 2 : 1
        // One scan per layer and direction, and no per-step ops; the unrolled form has no scan.
        #expect(scan.program.instructions.filter { $0.op == .lstm_scan }.count == f.layers * dirs)
        #expect(scan.program.instructions.filter { $0.op == .lstm_scan_grad }.count == f.layers * dirs)
        #expect(!scan.program.instructions.contains { $0.op == .sigmoid })
        #expect(!unrolled.program.instructions.contains { $0.op == .lstm_scan || $0.op == .lstm_scan_grad })
        #expect(scan.program.state.map(\.name).sorted() == unrolled.program.state.map(\.name).sorted())
        #expect(scan.output.count == Self.batch * (f.sequences ? Self.steps : 1) * dirs * Self.units)
        expectClose(scan.output, unrolled.output, tolerance: 1e-10)
        #expect(Set(scan.gradients.keys) == Set(unrolled.gradients.keys))
        // Every LSTM weight and bias, and h0/c0 when they are parameters.
        #expect(scan.gradients.count == 4 * f.layers * dirs + 1 + (f.initial ? 2 : 0))
        for (name, want) in unrolled.gradients {
            let got = try #require(scan.gradients[name], "no gradient of \(name)")
            #expect(want.contains { $0 != 0 }, "\(name): a zero gradient checks nothing")
            expectClose(got, want, tolerance: 1e-10)
        }
    }

    /// The f32 kernels (whichever path the CPU takes) agree with f64 to ~1e-5.
    @Test(arguments: [Form(layers: 2, bidirectional: true, sequences: true, initial: true), Form(sequences: false)])
    func f32AgreesWithF64(_ f: Form) throws {
        let single = try Self.run(f, unrolled: false, dtype: "f32"), double = try Self.run(f, unrolled: false)
        #expect(single.program.instructions.contains { $0.op == .lstm_scan })
        expectClose(single.output, double.output, tolerance: 2e-5)
        for (name, want) in double.gradients {
            expectClose(try #require(single.gradients[name]), want, tolerance: 2e-5)
        }
    }

    /// One thread and two give the same results (the kernels split the batch or the units).
    @Test func threadCountDoesNotChangeResults() throws {
        let f = Form(layers: 2, bidirectional: true, initial: true)
        let one = try Self.run(f, unrolled: false, threads: 1), two = try Self.run(f, unrolled: false, threads: 2)
        expectClose(one.output, two.output, tolerance: 1e-12)
        for (name, want) in two.gradients { expectClose(try #require(one.gradients[name]), want, tolerance: 1e-12) }
    }

    /// A symbolic batch size keeps W_hh's gradient per batch element and sums it (no [B·T, ·] reshape).
    @Test func symbolicBatchCompiles() throws {
        var o = PipelineOptions()
        o.stage = .canonical
        o.differentiate = true
        o.verify = true
        let file = SourceFile(path: "lstm.dlg", text: """
            model m {
                input x: f32[B, 7, 3]
                input y: f32[B, 8]
                minimize mse(lstm(x, units: 4, bidirectional: true), y)
            }
            """)
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        #expect(g.nodes.filter { $0.op == .lstm_scan }.count == 2)
        #expect(g.nodes.filter { $0.op == .lstm_scan_grad }.count == 2)
    }

    /// Operands of the wrong shape are located shape errors, not crashes.
    @Test func badOperandsAreShapeErrors() throws {
        func type(_ dims: [Int]) -> TensorType { TensorType(.f32, Shape(dims)) }
        var g = Graph(name: "g", source: nil, training: false)
        func input(_ dims: [Int]) -> ValueID { g.addInput("x\(g.nodes.count)", type(dims), loc: nil) }
        let xb = input([2, 3, 16]), w = input([16, 4]), h0 = input([2, 4]), bad = input([3, 4])
        #expect(g[try g.add(.lstm_scan, [xb, w])].type == type([2, 3, 24]))
        #expect(g[try g.add(.lstm_scan, [xb, w, h0, h0])].type == type([2, 3, 24]))
        for operands in [[xb, input([12, 4])], [input([2, 3, 12]), w], [xb, w, h0], [xb, w, h0, bad], [input([2, 16]), w]] {
            #expect(throws: ShapeError.self) { try g.add(.lstm_scan, operands) }
        }
        let tape = input([2, 3, 24])
        #expect(g[try g.add(.lstm_scan_grad, [tape, w, tape])].type == type([2, 3, 16]))
        #expect(g[try g.add(.lstm_scan_grad, [tape, w, tape, h0, h0])].type == type([2, 4, 16]))
        #expect(throws: ShapeError.self) { try g.add(.lstm_scan_grad, [tape, w, input([2, 3, 16])]) }
        // The gradient of h alone, [B, T, H]: accepted; any other width is not.
        #expect(g[try g.add(.lstm_scan_grad, [tape, w, input([2, 3, 4])])].type == type([2, 3, 16]))
        #expect(throws: ShapeError.self) { try g.add(.lstm_scan_grad, [tape, w, input([2, 3, 8])]) }
        #expect(throws: ShapeError.self) { try g.add(.lstm_scan_grad, [tape, w, input([3, 3, 4])]) }
    }

    /// When the layer's only output is its h sequence, the tape's gradient is slice_grad(dh):
    /// algebraic simplification has lstm_scan_grad read dh [B, T, H] itself, and the zero-filled
    /// [B, T, 6H] is gone. A final-state layer slices one step, and keeps the slice_grad.
    /// (scanEqualsUnrolled checks the values of both.)
    @Test(arguments: [true, false])
    func gradientReadsDhWhenHIsTheOutput(sequences: Bool) throws {
        let (p, _, _) = try Self.run(Form(sequences: sequences), unrolled: false)
        let scans = p.instructions.filter { $0.op == .lstm_scan_grad }
        try #require(scans.count == 1)
        let width = sequences ? Self.units : 6 * Self.units
        #expect(scans[0].inputs[2].shape == [Self.batch, Self.steps, width])
        #expect(p.instructions.contains { $0.op == .slice_grad } == !sequences)
        guard case .lstmScanGradient(let geometry) = scans[0].kernel else {
            Issue.record("lstm_scan_grad lowered to \(scans[0].kernel)")
            return
        }
        #expect(geometry.dhOnly == sequences)
    }
}
