import ArgumentParser
import DLGData
import DLGONNX
import Foundation

extension ImportLoss: ExpressibleByArgument {}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate an ONNX model into a .dlg model and its weights.",
        discussion: """
            Writes DIR/NAME.dlg — layer calls where the pattern is clear (Conv + BatchNormalization + Relu \
            becomes relu(batchnorm(conv2d(…))), Gemm becomes dense), primitive ops otherwise, names kept \
            from the ONNX graph — and DIR/NAME.safetensors with the weights under the model's parameter \
            names, so that `dlg run DIR/NAME.dlg --weights DIR/NAME.safetensors` runs it. ONNX ops dlg \
            cannot express are listed all at once, each with its node, op type and opset. \
            Docs/onnx.md lists the mapping.
            """)

    @Argument(help: "The .onnx file.")
    var file: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The directory to write NAME.dlg and NAME.safetensors into (created if missing).",
                                                    valueName: "DIR"))
    var output: String

    @Option(help: ArgumentHelp("The model's name, an identifier (default: from the file name).", valueName: "NAME"))
    var name: String?

    @Option(help: ArgumentHelp("Add a loss on the first output, with a label (cross_entropy) or target input, so the model trains: \(ImportLoss.allCases.map(\.rawValue).joined(separator: ", ")) (default: none).",
                               valueName: "LOSS"))
    var loss: ImportLoss?

    func validate() throws {
        if let name, !Self.isIdentifier(name) { throw ValidationError("--name must be an identifier (letters, digits, _), not '\(name)'") }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || (f.properties.isAlphabetic && f.isASCII) else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    func run() throws {
        let base = (file as NSString).lastPathComponent
        let stem = base.hasSuffix(".onnx") ? String(base.dropLast(5)) : base
        var modelName = name ?? stem.map { ($0.isLetter || $0.isNumber) && $0.isASCII ? String($0) : "_" }.joined()
        if let f = modelName.first, f.isNumber { modelName = "m_" + modelName }
        if modelName.isEmpty { modelName = "imported" }
        let result: ONNXImport
        do {
            let model = try ONNXReader.read(file)
            result = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: modelName, loss: loss))
        } catch let e as ONNXError {
            printError(e.description.split(separator: "\n").map { "error: " + $0 }.joined(separator: "\n"))
            throw ExitCode.failure
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            printError("error: cannot create the directory \(output): \(error.localizedDescription)")
            throw ExitCode.failure
        }
        let dlgPath = output + "/" + modelName + ".dlg", weightsPath = output + "/" + modelName + ".safetensors"
        do {
            try Safetensors.write(result.weights, metadata: result.origins, to: weightsPath)
            try AtomicFile.write(result.source, to: dlgPath)
        } catch let e as DataError {
            printError("error: \(e.description)")
            throw ExitCode.failure
        } catch {
            printError("error: \(dlgPath): \(error)")
            throw ExitCode.failure
        }
        let count = result.weights.reduce(0) { $0 + $1.array.count }
        printError("\(modelName): \(result.weights.count) parameter tensors (\(count) values) → \(dlgPath), \(weightsPath)")
    }
}
