import DLGCompiler
import DLGData
import DLGRuntime
import DLGSource
import DLGSyntax
import DLGTrain
import Foundation
import Testing

/// Files of the repository, found from this source file's path
/// (Tests/DLGTrainTests/Support.swift → the package root).
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // DLGTrainTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // package root

    /// A model file of Graphs/ as a SourceFile.
    static func graph(_ name: String) throws -> SourceFile {
        let url = root.appendingPathComponent("Graphs").appendingPathComponent(name)
        return SourceFile(path: url.path, text: try String(contentsOf: url, encoding: .utf8))
    }
}

/// A fresh directory under /tmp, removed with its files when released.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "dlgtrain-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the directory, sorted.
    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A session for a model given as text; compile errors become a recorded issue.
func makeSession(_ source: String, config: TrainConfig, threads: Int = 1,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> Session {
    try makeSession(SourceFile(path: "test.dlg", text: source), config: config, threads: threads,
                    sourceLocation: sourceLocation)
}

func makeSession(_ file: SourceFile, config: TrainConfig, threads: Int = 1,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> Session {
    do {
        return try Session(file: file, model: nil, config: config, threads: threads)
    } catch let f as CompileFailure {
        Issue.record("compile failed:\n\(DiagnosticsFormatter().format(f.diagnostics.sorted, in: f.file))",
                     sourceLocation: sourceLocation)
        throw f
    }
}

/// The train block of a model file read into a configuration; errors are recorded.
func trainConfig(_ file: SourceFile, sourceLocation: SourceLocation = #_sourceLocation) throws -> TrainConfig {
    let (unit, parseDiagnostics) = Parser.parse(file)
    #expect(!parseDiagnostics.hasErrors, sourceLocation: sourceLocation)
    var diagnostics = Diagnostics()
    let config = TrainConfig.from(unit.trains.first.map(TrainBlock.init), diagnostics: &diagnostics)
    if diagnostics.hasErrors {
        Issue.record("train block: \(DiagnosticsFormatter().format(diagnostics.sorted, in: file))", sourceLocation: sourceLocation)
    }
    return config
}

/// Compares two vectors elementwise with a tolerance relative to max(1, |expected|).
func expectClose(_ actual: [Double], _ expected: [Double], tolerance: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(a - e) <= tolerance * max(1, abs(e))) {
        Issue.record("\(what)[\(i)] = \(a), expected \(e) (difference \(a - e))", sourceLocation: sourceLocation)
        return
    }
}

/// Records every epoch's state values of the named entries, as the trainer reports epochs.
final class StateRecorder: ProgressReporter {
    let session: Session
    let names: [String]
    var records: [EpochRecord] = []
    var values: [[String: [Double]]] = []
    var messages: [String] = []

    init(_ session: Session, names: [String]) {
        self.session = session
        self.names = names
    }

    func begin(model: String, epochs: Int, examples: Int, batch: Int, validation: Int) {}
    func batch(epoch: Int, done: Int, total: Int, loss: Double, accuracy: Double?, samplesPerSecond: Double) {}
    func epoch(_ r: EpochRecord, epochs: Int) {
        records.append(r)
        var v: [String: [Double]] = [:]
        for n in names { v[n] = session.state.values(n) }
        values.append(v)
    }
    func message(_ s: String) { messages.append(s) }
}
