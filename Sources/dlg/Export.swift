import ArgumentParser
import DLGCompiler
import DLGData
import DLGGraph
import DLGONNX
import DLGRuntime

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model's inference form as an ONNX file.",
        discussion: """
            Dropout is removed and batchnorm uses its running statistics. Parameters become \
            initializers under their dlg names, symbolic sizes such as B stay dynamic dimensions, \
            inputs and outputs keep their names, and each node's doc_string is its .dlg source location. \
            Only what the outputs need is written: the loss and the label input are left out. \
            Docs/onnx.md lists how each op is written.
            """)

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: ArgumentHelp(
        "The parameters, from a safetensors file (a dlg train checkpoint, or any file with the same tensor names) (default: the initializers, with --seed).",
        valueName: "PATH"))
    var weights: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The ONNX file to write.", valueName: "PATH"))
    var output: String

    @Option(help: ArgumentHelp("The opset of the default domain, \(ONNXOpsets.oldest) to \(ONNXOpsets.newest) (default: \(ONNXOpsets.exportDefault)).",
                               valueName: "N"))
    var opset: Int = ONNXOpsets.exportDefault

    @Option(help: ArgumentHelp("Seed of the initializers when there is no --weights.", valueName: "N"))
    var seed: UInt64 = 0

    func validate() throws {
        guard ONNXOpsets.range.contains(opset) else {
            throw ValidationError("--opset must be in \(ONNXOpsets.oldest)...\(ONNXOpsets.newest), not \(opset)")
        }
    }

    func run() throws {
        let file = try loadSource(options.file)
        var popts = PipelineOptions()
        popts.stage = .shapes
        popts.training = false
        popts.keepLoss = false
        // ONNX has no fused LSTM recurrence of dlg's: the LSTM is written unrolled (MatMul, Slice, Sigmoid, …).
        popts.unrollRecurrence = true
        popts.bindings = try options.bindings()
        // The file keeps the model's structure: an embedding stays a Gather of its table, which
        // ONNX importers (dlg's among them) read as an embedding, not a Gather of a product.
        popts.disabled = [GatherProjectionFolding().name]
        let (graphOpt, diags, _) = Pipeline.compile(file, model: options.model, options: popts)
        report(diags, in: file)
        guard let graph = graphOpt else { throw ExitCode.failure }
        if graph.outputs.isEmpty {
            printError("error: model '\(graph.name)' has no outputs to export; mark one with 'output NAME = …'")
            throw ExitCode.failure
        }
        let values = try parameterValues(graph)
        var eopts = ONNXExportOptions()
        eopts.opset = opset
        eopts.producerVersion = DLG.configuration.version
        let bytes: [UInt8]
        do {
            bytes = try ONNXExporter.export(graph, weights: values, options: eopts)
        } catch let e as ONNXExportError {
            printError(e.description)
            throw ExitCode.failure
        } catch {
            printError("error: \(output): \(error)")
            throw ExitCode.failure
        }
        do { try AtomicFile.write(bytes, to: output) } catch {
            printError("error: \(output): \(error)")
            throw ExitCode.failure
        }
        printError("\(graph.name): \(graph.params.count) parameter tensors, opset \(opset) → \(output) (\(bytes.count) bytes)")
    }

    /// Each parameter's values: from --weights (every parameter there, with its shape), else its initializer.
    func parameterValues(_ graph: Graph) throws -> [String: NDArray] {
        var file: SafetensorsFile?
        if let weights {
            do { file = try Safetensors.read(weights) } catch let e as DataError {
                printError("error: \(e.description)")
                throw ExitCode.failure
            }
        }
        var out: [String: NDArray] = [:]
        var problems: [String] = []
        for p in graph.params {
            let name = p.name ?? "?"
            guard let shape = p.type.shape.knownDims else {
                problems.append("'\(name)' has the symbolic shape \(p.type.shape); bind it with --bind")
                continue
            }
            if let file {
                guard let a = file[name] else {
                    problems.append("'\(name)' (\(p.type)) is missing")
                    continue
                }
                guard a.shape == shape else {
                    problems.append("'\(name)' has shape \(Shape(a.shape)) in the file but the model expects \(p.type.shape)")
                    continue
                }
                let want: ElementType = p.type.dtype == .f64 ? .f64 : p.type.dtype == .i32 ? .i32 : .f32
                do { out[name] = a.elementType == want ? a : try a.converted(to: want) } catch {
                    problems.append("'\(name)': \(error)")
                }
            } else {
                let a = p.attrs.param
                let v = ParameterInit.values(a.initializer, count: shape.reduce(1, *), fanIn: a.fanIn, fanOut: a.fanOut,
                                             seed: seed, name: name)
                switch p.type.dtype {
                case .f32: out[name] = try? NDArray(v.map { Float($0) }, shape: shape)
                case .f64: out[name] = try? NDArray(v, shape: shape)
                // conversion: finite, rounded toward zero and clamped to Int32's range first
                case .i32: out[name] = try? NDArray(v.map { $0.isFinite ? Int32(min(max($0.rounded(.towardZero), -2_147_483_648), 2_147_483_647)) : 0 }, shape: shape)
                }
            }
        }
        if !problems.isEmpty {
            printError("error: \(weights ?? "the weights") does not match the model:\n" + problems.map { "  \($0)" }.joined(separator: "\n"))
            throw ExitCode.failure
        }
        return out
    }
}
