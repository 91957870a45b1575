import ArgumentParser
import DLGCompiler
import DLGGraph
import DLGRuntime
import Foundation

struct GradCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every gradient against central differences in double precision.",
        discussion: """
            Evaluates the model in f64 on random inputs (floats from N(0,1), labels in range) and \
            compares each parameter's and float input's gradient with central differences \
            D(ε) = (J(θ+ε) − J(θ−ε))/2ε, extrapolated as (4·D(ε/2) − D(ε))/3, on up to --samples \
            coordinates per tensor. Reports the relative error ‖g_num − g‖ / (‖g_num‖ + ‖g‖) per tensor; \
            exit 1 when one exceeds the threshold (1e-7). Every piecewise op keeps the branch it takes \
            at θ (relu's side of 0, a pooling window's winner), so a step that crosses a kink still \
            measures the slope at θ. A tensor whose difference exceeds the threshold but not the \
            rounding of J carried through the differences passes, marked so. Dropout keeps one mask \
            for the whole check, and values under stop_gradient stay at their unperturbed values; \
            gradients through hardlim are straight-through and reported as not checkable.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var form: FormOptions

    @Option(help: ArgumentHelp("Seed of the parameters' initializers, the random inputs and dropout.", valueName: "N"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("The finite-difference step ε; must be positive.", valueName: "X"))
    var eps: Double = 1e-5

    @Option(help: ArgumentHelp("Coordinates checked per tensor; 0 checks all of them.", valueName: "N"))
    var samples: Int = 16

    @Option(help: ArgumentHelp("The largest relative error that passes.", valueName: "X"))
    var threshold: Double = 1e-7

    @Option(help: ArgumentHelp("Check only the tensors whose name contains TEXT; repeatable; an error (status 1) when no tensor's name does.",
                               valueName: "TEXT"))
    var only: [String] = []

    @Option(help: ArgumentHelp("Threads for the kernels.", valueName: "N"))
    var threads: Int = 1

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if !(eps > 0) { throw ValidationError("--eps must be positive, got \(eps)") }
        if !(threshold > 0) { throw ValidationError("--threshold must be positive, got \(threshold)") }
        if samples < 0 { throw ValidationError("--samples must not be negative") }
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    @OptionGroup var memory: MemoryOptions

    func run() throws {
        memory.apply()
        let file = try loadSource(options.file)
        var popts = PipelineOptions()
        popts.stage = .shapes
        popts.training = !form.inference
        popts.bindings = try options.bindings()
        if popts.bindings["B"] == nil { popts.bindings["B"] = 2 }
        let (graph, diags, _) = Pipeline.compile(file, model: options.model, options: popts)
        report(diags, in: file)
        guard let g = graph else { throw ExitCode.failure }
        var o = GradientCheck.Options()
        o.seed = seed
        o.eps = eps
        o.samples = samples
        o.threshold = threshold
        o.only = only
        o.threads = threads
        let r: GradientCheck.Report
        do { r = try GradientCheck.run(g, options: o) } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        if !only.isEmpty, r.tensors.isEmpty {
            printError("error: no parameter or float input of \(g.name) has a name containing \(only.map { "'\($0)'" }.joined(separator: " or "))")
            throw ExitCode.failure
        }
        if json {
            print(JSON.object([
                ("model", .string(g.name)), ("loss", .double(r.loss)), ("threshold", .double(r.threshold)),
                ("passed", .bool(r.passed)),
                ("tensors", .array(r.tensors.map { t in
                    var status = "passed"
                    var fields: [(String, JSON)] = [("name", .string(t.name)), ("kind", .string(t.kind)),
                                                    ("shape", .array(t.shape.map { .int($0) })), ("checked", .int(t.checked)),
                                                    ("relative_error", t.relativeError.isNaN ? .null : .double(t.relativeError)),
                                                    ("gradient_norm", t.gradientNorm.isNaN ? .null : .double(t.gradientNorm)),
                                                    ("at_rounding_noise", .bool(t.atNoise))]
                    switch t.status {
                    case .passed: status = "passed"
                    case .failed: status = "failed"
                    case .notCheckable(let why):
                        status = "not_checkable"
                        fields.append(("reason", .string(why)))
                    }
                    return .object(fields + [("status", .string(status))])
                })),
            ]).serialized(pretty: true))
        } else {
            let nameW = max(12, r.tensors.map(\.name.count).max() ?? 0) + 2
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
            print("gradient check of \(g.name) in f64: loss \(r.loss), ε = \(eps), threshold \(threshold)")
            print(pad("tensor", nameW) + pad("shape", 18) + pad("checked", 9) + "rel. error   status")
            for t in r.tensors {
                let err = t.relativeError.isNaN ? "—" : String(format: "%.2e", t.relativeError)
                let status: String
                switch t.status {
                case .passed: status = t.atNoise ? "ok (at rounding noise)" : "ok"
                case .failed: status = "FAILED"
                case .notCheckable: status = "not checkable (straight-through)"
                }
                print(pad(t.name, nameW) + pad(Shape(t.shape).description, 18) + pad(String(t.checked), 9)
                      + pad(err, 13) + status)
            }
            print(r.passed ? "all gradients agree" : "gradient check FAILED")
        }
        if !r.passed { throw ExitCode.failure }
    }
}
