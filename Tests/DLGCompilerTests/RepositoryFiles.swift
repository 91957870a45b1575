import DLGCompiler
import DLGGraph
import DLGSource
import Foundation
import Testing

/// Files of the repository, found from this source file's path
/// (Tests/DLGCompilerTests/RepositoryFiles.swift → the package root).
enum RepositoryFiles {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // DLGCompilerTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // package root

    static var graphsDirectory: URL { root.appendingPathComponent("Graphs") }

    /// Every `.dlg` file in Graphs/, sorted by name.
    static func graphNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: graphsDirectory.path)
            .filter { $0.hasSuffix(".dlg") }
            .sorted()
    }

    /// The text of a repository file given by its path relative to the root.
    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// A graph file as a SourceFile whose path is relative ("Graphs/lenet5.dlg"),
    /// so that locations in dumps do not depend on where the checkout lives, with the
    /// library modules it uses (`use nn`).
    static func graphSource(_ name: String) throws -> SourceFile {
        SourceLoader.load(SourceFile(path: "Graphs/\(name)", text: try text("Graphs/\(name)")))
    }
}

/// Compiles a model from Graphs/ and requires it to have no errors.
func compileGraph(_ name: String, training: Bool = true, bindings: [String: Int] = [:],
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
    let file = try RepositoryFiles.graphSource(name)
    let result = Frontend.compile(file, options: ElaborationOptions(training: training, bindings: bindings))
    if result.hasErrors {
        let text = DiagnosticsFormatter().format(result.diagnostics.sorted, in: file)
        Issue.record("Graphs/\(name) does not compile:\n\(text)", sourceLocation: sourceLocation)
    }
    return try #require(result.graph, sourceLocation: sourceLocation)
}
