import DLGGraph
import Foundation

/// What `dlg compile -o` writes: the lowered programs of a model (JSON,
/// format `dlg-compiled/1`), which `dlg run` and `dlg train` accept in place
/// of a .dlg file.
public struct CompiledModel: Codable, Sendable {
    public static let format = "dlg-compiled/1"
    public var format: String = CompiledModel.format
    public var model: String
    /// The .dlg file it was compiled from, and its directory (data paths in the train block are relative to it).
    public var source: String
    public var batch: Int?
    /// The forward pass (inference form, no loss).
    public var forward: Program?
    /// The whole training step, and the evaluation program (inference form with the loss).
    public var train: Program?
    public var eval: Program?
    /// The train block's settings as written (`key = value` text), for `dlg train`.
    public var trainSettings: [String: String]

    public init(model: String, source: String, batch: Int?, forward: Program?, train: Program?, eval: Program?,
                trainSettings: [String: String]) {
        self.model = model
        self.source = source
        self.batch = batch
        self.forward = forward
        self.train = train
        self.eval = eval
        self.trainSettings = trainSettings
    }

    /// A compiled file is JSON: it starts with '{', which no .dlg file can.
    public static func isCompiled(_ path: String) -> Bool {
        if path.hasSuffix(".dlgc") { return true }
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 64)) ?? Data()
        return head.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D } == UInt8(ascii: "{")
    }

    public func encoded() throws -> Data {
        try JSONEncoder().encode(self)
    }

    public static func load(_ path: String) throws -> CompiledModel {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let m = try JSONDecoder().decode(CompiledModel.self, from: data)
        guard m.format == format else { throw ExecutionError("\(path): not a \(format) file (format '\(m.format)')") }
        return m
    }
}
