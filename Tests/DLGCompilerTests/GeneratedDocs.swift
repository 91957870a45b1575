import DLGCompiler
import Foundation
import Testing

/// Documents generated from the code. A test compares the committed file with
/// what the code generates now and fails when they differ; `make docs` (which
/// runs these tests with DLG_RECORD=1) writes them instead.
enum GeneratedDocs {
    static var recording: Bool { ProcessInfo.processInfo.environment["DLG_RECORD"] == "1" }

    static func expectFile(_ relativePath: String, _ generated: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = RepositoryFiles.root.appendingPathComponent(relativePath).path
        report(relativePath, try GeneratedDocument.check(file: path, generated, write: recording), sourceLocation)
    }

    static func expectSection(_ relativePath: String, _ name: String, _ generated: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = RepositoryFiles.root.appendingPathComponent(relativePath).path
        report("\(relativePath), section \(name),", try GeneratedDocument.check(section: name, of: path, generated, write: recording),
               sourceLocation)
    }

    static func report(_ what: String, _ outcome: GeneratedDocument.Outcome, _ sourceLocation: SourceLocation) {
        switch outcome {
        case .current, .written: break
        case .stale(let at): Issue.record("\(what) is stale: \(at); run `make docs`", sourceLocation: sourceLocation)
        case .missingSection(let name):
            Issue.record("\(what) lacks the markers <!-- generated: \(name) --> and <!-- end: \(name) -->", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct GeneratedDocumentTests {
    @Test func sectionReplacement() {
        let text = "a\n<!-- generated: t -->\nold\nrows\n<!-- end: t -->\nb\n"
        #expect(GeneratedDocument.replacingSection(text, "t", "new\n") == "a\n<!-- generated: t -->\nnew\n<!-- end: t -->\nb\n")
        #expect(GeneratedDocument.replacingSection(text, "t", "new") == "a\n<!-- generated: t -->\nnew\n<!-- end: t -->\nb\n")
        #expect(GeneratedDocument.replacingSection(text, "u", "new\n") == nil)
        #expect(GeneratedDocument.firstDifference("x\ny\n", "x\nz\n") == "line 2: committed 'y', generated 'z'")
        #expect(GeneratedDocument.firstDifference("x\n", "x\ny\n") == "line 2: committed '', generated 'y'")
    }

    @Test func checkingAndWritingAFile() throws {
        let path = NSTemporaryDirectory() + "dlg-generated-\(UUID().uuidString).md"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "one\n<!-- generated: s -->\nold\n<!-- end: s -->\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try GeneratedDocument.check(section: "s", of: path, "new\n", write: false)
                == .stale("line 3: committed 'old', generated 'new'"))
        #expect(try GeneratedDocument.check(section: "s", of: path, "new\n", write: true) == .written)
        #expect(try GeneratedDocument.check(section: "s", of: path, "new\n", write: false) == .current)
        #expect(try GeneratedDocument.check(section: "x", of: path, "new\n", write: false) == .missingSection("x"))
        #expect(try GeneratedDocument.check(file: path, "whole\n", write: true) == .written)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "whole\n")
    }
}
