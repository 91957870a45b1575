import ArgumentParser
import DLGCompiler
import DLGData
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGSource
import DLGSyntax
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model's forward pass (inference form) on input arrays and write its outputs.",
        discussion: """
            Inputs are read from .npy, .csv (every column a feature) or IDX files (plain or gzip); \
            u8 data (IDX images) is scaled to [0, 1] as the training data sources do. A symbolic batch \
            size is bound from the inputs' first dimension. Without --weights, parameters come from \
            their initializers with --seed. Outputs are written as .npy, or CSV with --format csv.
            """)

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: ArgumentHelp(
        "Load the parameters from a safetensors file (a dlg train checkpoint, or any file with the same tensor names); every parameter and buffer must be there with its shape, optimizer.* entries are not needed and extra tensors are ignored (default: the initializers, with --seed).",
        valueName: "PATH"))
    var weights: String?

    @Option(name: .customLong("input"), help: ArgumentHelp(
        "An input array; repeatable. .npy files are read as stored, .csv files (with a header row) give every column as a feature, [rows, columns] f32, any other name is read as IDX (plain or gzip); u8 data is scaled to [0, 1].",
        valueName: "NAME=PATH"))
    var inputs: [String] = []

    @Option(name: .customLong("output"), help: ArgumentHelp(
        "Where to write an output: a bare PATH is the model's first output, NAME=PATH the output called NAME; repeatable, at least one.",
        valueName: "[NAME=]PATH"))
    var outputs: [String] = []

    @Option(help: ArgumentHelp("The form of every written file: npy or csv (default: from each path's extension, .csv is CSV, anything else .npy).",
                               valueName: "FORMAT"))
    var format: String?

    @Option(help: ArgumentHelp("Use only the first N rows of every input, N ≥ 1 (default: all rows).", valueName: "N"))
    var limit: Int?

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var memory: MemoryOptions

    @Flag(name: .customLong("allow-nonfinite"), help: "Read NaN and infinity in the inputs instead of refusing them.")
    var allowNonFinite = false

    func validate() throws {
        if let format, !["npy", "csv"].contains(format) { throw ValidationError("--format is npy or csv, not '\(format)'") }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
        for i in inputs where !i.contains("=") { throw ValidationError("--input takes NAME=PATH, got '\(i)'") }
        if outputs.isEmpty { throw ValidationError("give at least one --output PATH") }
    }

    func run() throws {
        runtime.configureThreads()
        memory.apply()
        if CompiledModel.isCompiled(options.file) { return try runCompiled() }
        let file = try loadSource(options.file)
        // Read the inputs first: their first dimension binds the batch size.
        var arrays: [String: NDArray] = [:]
        var paths: [String: String] = [:]
        for spec in inputs {
            let (name, path) = splitAssignment(spec)
            paths[name] = path
            do {
                var a = try readArray(path, allowNonFinite: allowNonFinite)
                if a.rank > 0, a.shape[0] == 0 {
                    printError("error: input '\(name)': \(path) holds no examples (\(a)); there is nothing to run")
                    throw ExitCode.failure
                }
                if let limit, a.rank > 0, a.shape[0] > limit { a = try a.rows(0..<limit) }
                arrays[name] = a
            } catch let e as DataError {
                printError("error: \(e.description)")
                throw ExitCode.failure
            }
        }
        var popts = PipelineOptions()
        // A forward pass is inference: dropout off, batchnorm on running statistics.
        popts.training = false
        popts.bindings = try options.bindings()
        popts.keepLoss = false
        // Bind symbolic leading sizes from the arrays.
        let (unit, _) = Parser.parse(file)
        if let model = (options.model.flatMap { n in unit.models.first { $0.name.name == n } }) ?? unit.models.first {
            for s in model.body {
                if case .input(let name, let type) = s.kind, let a = arrays[name.name], let d0 = type.dims?.first,
                   case .name(let sym) = d0.kind, popts.bindings[sym] == nil, a.rank > 0 {
                    popts.bindings[sym] = a.shape[0]
                }
            }
        }
        let (graphOpt, diags, _) = Pipeline.compile(file, model: options.model, options: popts)
        report(diags, in: file)
        guard let graph = graphOpt else { throw ExitCode.failure }
        // Every input the forward pass reads must be given (before lowering, which needs their sizes).
        let missing = graph.inputs.filter { arrays[$0.name ?? ""] == nil }
        if !missing.isEmpty {
            for n in missing {
                let name = n.name ?? "?"
                printError("error: input '\(name)' (\(n.type)) is missing; give it with --input \(name)=PATH")
            }
            throw ExitCode.failure
        }
        if graph.outputs.isEmpty {
            printError("error: model '\(graph.name)' has no outputs to write; mark one with 'output NAME = …'")
            throw ExitCode.failure
        }
        let program: Program
        do { program = try Lowering.lower(graph) } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        try execute(program, arrays: arrays, paths: paths, bindings: popts.bindings)
    }

    /// A program from `dlg compile -o`: its shapes are fixed, the inputs must match them.
    func runCompiled() throws {
        let compiled: CompiledModel
        do { compiled = try CompiledModel.load(options.file) } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        guard let program = compiled.forward ?? compiled.eval else {
            printError("error: \(options.file) holds no forward program")
            throw ExitCode.failure
        }
        var arrays: [String: NDArray] = [:]
        var paths: [String: String] = [:]
        for spec in inputs {
            let (name, path) = splitAssignment(spec)
            paths[name] = path
            do {
                var a = try readArray(path, allowNonFinite: allowNonFinite)
                if let limit, a.rank > 0, a.shape[0] > limit { a = try a.rows(0..<limit) }
                arrays[name] = a
            } catch let e as DataError {
                printError("error: \(e.description)")
                throw ExitCode.failure
            }
        }
        try execute(program, arrays: arrays, paths: paths, bindings: [:])
    }

    func execute(_ lowered: Program, arrays: [String: NDArray], paths: [String: String], bindings: [String: Int]) throws {
        // An example's outputs do not depend on the others given with it (nor on --limit), and
        // equal what `dlg serve` answers for it in any batch.
        var program = lowered
        program.batchInvariant = true
        let executor: Executor
        do { executor = try Executor(program, threads: runtime.threads) } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        executor.initializeState(seed: runtime.seed)
        if let weights { try loadWeights(weights, into: executor) }
        for (i, slot) in program.inputs.enumerated() {
            guard let a = arrays[slot.name] else {
                printError("error: \(options.file): input '\(slot.name)' (\(slot.buffer.dtype.rawValue)\(Shape(slot.buffer.shape))) is missing; give it with --input \(slot.name)=PATH")
                throw ExitCode.failure
            }
            let path = paths[slot.name] ?? slot.name
            // Integer inputs (labels, indices) take integer values only; floats would be truncated.
            if slot.buffer.dtype == .i32, a.elementType.isFloatingPoint {
                let v = a.toDoubles()
                if let k = v.firstIndex(where: { $0 != $0.rounded() || abs($0) > Double(Int32.max) }) {
                    printError("error: input '\(slot.name)' is \(slot.buffer.dtype.rawValue) (integers), but \(path) holds \(a) with the value \(v[k]) at element \(k)")
                    throw ExitCode.failure
                }
            }
            do { try executor.setInput(i, a) } catch {
                let bound = bindings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ")
                printError("error: input '\(slot.name)' needs \(slot.buffer.dtype.rawValue)\(Shape(slot.buffer.shape))"
                           + (bound.isEmpty ? "" : " (with \(bound))") + ", but \(path) holds \(a)")
                throw ExitCode.failure
            }
        }
        for name in arrays.keys where program.inputIndex(named: name) == nil {
            printError("warning: the model does not use input '\(name)'")
        }
        do { try executor.run() } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        // Outputs: PATH for the first, NAME=PATH for named ones.
        var writes: [(Int, String)] = []
        for spec in outputs {
            if spec.contains("=") {
                let (name, path) = splitAssignment(spec)
                guard let i = program.outputs.firstIndex(where: { $0.name == name }) else {
                    printError("error: the model has no output '\(name)'; it has " + program.outputs.map(\.name).joined(separator: ", "))
                    throw ExitCode.failure
                }
                writes.append((i, path))
            } else {
                writes.append((0, spec))
            }
        }
        for (i, path) in writes {
            let a = executor.output(i)
            let csv = format == "csv" || (format == nil && path.hasSuffix(".csv"))
            do {
                if csv {
                    try CSV.write(columns: [NamedArray(program.outputs[i].name, a)], to: path)
                } else {
                    try NPY.write(a, to: path)
                }
            } catch let e as DataError {
                printError("error: \(e.description)")
                throw ExitCode.failure
            }
            printError("\(program.outputs[i].name): \(a) → \(path)")
        }
    }
}

/// Options of every command that executes a program.
struct RuntimeOptions: ParsableArguments {
    @Option(name: .customLong("threads"), help: ArgumentHelp("Threads for kernels and BLAS, N ≥ 1 (default: all cores).", valueName: "N"))
    var threadCount: Int?
    var threads: Int { threadCount ?? Threads.coreCount }

    @Option(help: ArgumentHelp("Seed of the initializers when there is no --weights.", valueName: "N"))
    var seed: UInt64 = 0

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func configureThreads() { Threads.configure(threads) }
}

func splitAssignment(_ s: String) -> (String, String) {
    let parts = s.split(separator: "=", maxSplits: 1).map(String.init)
    return (parts[0], parts.count > 1 ? parts[1] : "")
}

/// An array from .npy, .csv or IDX; u8 data scaled to [0, 1].
func readArray(_ path: String, allowNonFinite: Bool = false) throws -> NDArray {
    var a: NDArray
    if path.hasSuffix(".npy") {
        a = try NPY.read(path)
    } else if path.hasSuffix(".csv") {
        a = try CSV.read(path, allowNonFinite: allowNonFinite).features
    } else {
        a = try IDX.read(path)
    }
    if !allowNonFinite, let k = a.firstNonFinite() {
        throw DataError(file: path, .invalid(
            "element \(a.indexText(k)) is \(a.doubleValue(at: k)); inputs must be finite (--allow-nonfinite reads NaN and infinity)"))
    }
    if a.elementType == .u8 { a = try Normalization.unitRange(fittedOn: a).apply(a, as: .f32) }
    return a
}

/// Loads parameters by name from a safetensors file; every parameter must be there with its shape.
func loadWeights(_ path: String, into e: Executor) throws {
    try restore(e.state, from: path)
}
