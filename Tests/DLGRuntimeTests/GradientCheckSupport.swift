import DLGCompiler
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// Random sizes for one draw of a gradient-check case (SplitMix64, so a seed
/// always gives the same shapes), and the symbol bindings the draw chose.
struct ShapeDraw {
    private var state: UInt64
    private(set) var bindings: [String: Int] = [:]
    /// Elaborate with the symbols left symbolic (bound only when lowering), so
    /// that shapes like [B, 3] stay symbolic through autodiff: means over B then
    /// divide by `axis_size` at run time. Even seeds do, odd seeds bind while elaborating.
    var symbolic: Bool

    init(seed: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03
        symbolic = seed % 2 == 0
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func bool() -> Bool { next() & 1 == 1 }

    /// Binds the symbol `name` to a size in `range` and returns it.
    @discardableResult
    mutating func bind(_ name: String, _ range: ClosedRange<Int>) -> Int {
        let v = int(range)
        bindings[name] = v
        return v
    }
}

/// One property-style gradient check: a model whose minimized value runs
/// random inputs (N(0, 1), drawn by `GradientCheck`) and parameters through
/// the ops under test into a smooth scalar, rebuilt with fresh random sizes
/// for every seed.
struct GradientCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// Builds the training-form graph for one draw of sizes.
    var build: @Sendable (inout ShapeDraw) throws -> Graph
    var seeds: [UInt64] = [1, 2, 3, 4, 5, 6]
    /// Coordinates checked per tensor (0: all).
    var samples = 16
    /// Run every seed with 2 threads (cases large enough for the kernels to split their loops).
    var parallel = false
    /// Executor threads for the check: seeds divisible by 3 run with 2 threads,
    /// so that kernels that split work over the batch are checked in parallel too.
    func threads(seed: UInt64) -> Int { parallel || seed % 3 == 0 ? 2 : 1 }

    var testDescription: String { name }

    /// A case written as .dlg source; the closure returns the model text for a draw.
    static func dlg(_ name: String, seeds: [UInt64] = [1, 2, 3, 4, 5, 6], samples: Int = 16,
                    _ source: @escaping @Sendable (inout ShapeDraw) -> String) -> GradientCase {
        GradientCase(name: name, build: { d in
            let text = source(&d)
            return try compileForGradients(text, bind: d.bindings, symbolic: d.symbolic)
        }, seeds: seeds, samples: samples)
    }
}

struct CompileFailure: Error, CustomStringConvertible {
    var description: String
}

/// Compiles model source to the shape-checked training-form graph that
/// `GradientCheck.run` takes. With `symbolic`, the symbols stay symbolic in
/// the graph and `bind` only says what they are when it is lowered.
func compileForGradients(_ text: String, bind: [String: Int], symbolic: Bool = false, training: Bool = true) throws -> Graph {
    // With the library modules it uses (`use nn`).
    let file = SourceLoader.load(SourceFile(path: "test.dlg", text: text))
    var o = PipelineOptions()
    o.stage = .shapes
    o.training = training
    o.bindings = symbolic ? [:] : bind
    let (graph, diags, _) = Pipeline.compile(file, options: o)
    guard var graph, !diags.hasErrors else {
        throw CompileFailure(description: DiagnosticsFormatter().format(diags.sorted, in: file) + "\nsource:\n" + text)
    }
    graph.bindings = bind
    return graph
}

/// Runs the gradient check on a case for each of its seeds and asserts, for
/// every checked tensor: the check passed, the relative error is at most 1e-7
/// by itself (not excused as rounding noise), at least one coordinate was
/// compared, and ‖g‖ is at least 1000 times the rounding floor of the finite
/// differences (1e-9·max(1, |J|) per coordinate, above the 3e-14·|J|/ε
/// GradientCheck assumes), so that no check passes because both sides are zero.
func expectGradientsAgree(_ c: GradientCase, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for seed in c.seeds {
        var draw = ShapeDraw(seed: seed)
        let graph = try c.build(&draw)
        var o = GradientCheck.Options()
        o.seed = seed
        o.samples = c.samples
        o.threads = c.threads(seed: seed)
        let report = try GradientCheck.run(graph, options: o)
        let context = "\(c.name), seed \(seed), bindings \(draw.bindings)\(draw.symbolic ? " (symbolic)" : "")"
        #expect(report.passed, "\(context): \(describe(report))", sourceLocation: sourceLocation)
        #expect(!report.tensors.isEmpty, "\(context): nothing was checked", sourceLocation: sourceLocation)
        for t in report.tensors {
            let what = "\(context), tensor \(t.name) \(t.shape)"
            #expect(t.status == .passed, "\(what): \(t.status)", sourceLocation: sourceLocation)
            #expect(t.relativeError <= 1e-7, "\(what): relative error \(t.relativeError)", sourceLocation: sourceLocation)
            #expect(!t.atNoise, "\(what): passed only at rounding noise", sourceLocation: sourceLocation)
            #expect(t.checked > 0, "\(what): no coordinate compared", sourceLocation: sourceLocation)
            let floor = 1e-9 * max(1, abs(report.loss)) * Double(max(t.checked, 1)).squareRoot()
            #expect(t.gradientNorm >= 1000 * floor,
                    "\(what): ‖g‖ = \(t.gradientNorm) is too close to the rounding floor \(floor) for the check to mean anything",
                    sourceLocation: sourceLocation)
        }
    }
}

func describe(_ r: GradientCheck.Report) -> String {
    r.tensors.map { "\($0.name)\($0.shape): rel \($0.relativeError), ‖g‖ \($0.gradientNorm), \($0.status)" }
        .joined(separator: "; ")
}

/// The ops of a forward graph whose gradient rule a check of it exercises:
/// ops on a path to the minimized value that depend on a floating-point input
/// or parameter, and ops on such a path that take no floating-point operand
/// (one_hot, cast of labels: nothing can flow into them).
func differentiatedOps(_ g: Graph) -> Set<Op> {
    guard let loss = g.loss else { return [] }
    var influences = Array(repeating: false, count: g.nodes.count)
    influences[loss] = true
    for i in stride(from: loss, through: 0, by: -1) where influences[i] {
        for x in g[i].inputs { influences[x] = true }
    }
    var depends = Array(repeating: false, count: g.nodes.count)
    for n in g.nodes {
        switch n.op {
        case .input: depends[n.id] = n.type.dtype.isFloat
        case .param: depends[n.id] = n.attrs.param.trainable
        case .constant: break
        default: depends[n.id] = n.inputs.contains { depends[$0] }
        }
    }
    var ops: Set<Op> = []
    for n in g.nodes where influences[n.id] && !n.decl.isSource {
        if depends[n.id] || !n.inputs.contains(where: { g[$0].type.dtype.isFloat }) { ops.insert(n.op) }
    }
    return ops
}
