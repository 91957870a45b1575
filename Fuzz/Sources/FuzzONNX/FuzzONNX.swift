import DLGONNX

/// One fuzz input: arbitrary bytes as an `.onnx` file, through what
/// `dlg import` does with it — the protobuf decoder, the reader's checks
/// (opset, operands, cycles, initializer sizes against their shapes) and,
/// for a model that passes them, the translation to `.dlg` text, which
/// compiles the text it writes. Any trap, crash, hang or memory exhaustion
/// is a finding; errors are the expected outcome for most inputs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    // External data is looked up beside the model: a directory that does not exist keeps the fuzzer off the disk.
    guard let model = try? ONNXReader.decode(bytes, path: "/nonexistent-dlg-fuzz/fuzz.onnx") else { return 0 }
    _ = try? ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "fuzz"))
    _ = try? ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "fuzz", loss: .cross_entropy))
    return 0
}
