@testable import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax
import Foundation
import Testing

/// The catalogs are complete and are the only place messages are written;
/// Docs/diagnostics.md is generated from them.
@Suite struct DiagnosticCatalogTests {
    /// Every kind of a catalog has an example, every example's ID is its kind's.
    func checkCatalog<C: DiagnosticCatalog>(_ catalog: C.Type, sourceLocation: SourceLocation = #_sourceLocation) {
        let exampled = Set(C.examples.map(\.id))
        for kind in C.Kind.allCases where !exampled.contains(kind.rawValue) {
            Issue.record("\(C.self): kind \(kind.rawValue) has no example", sourceLocation: sourceLocation)
        }
        #expect(Set(C.Kind.allCases.map(\.rawValue)).count == C.Kind.allCases.count, sourceLocation: sourceLocation)
        for e in C.examples {
            #expect(!e.message.isEmpty, sourceLocation: sourceLocation)
            #expect(e.message.first?.isUppercase == false, "messages start in lower case: \(e.message)", sourceLocation: sourceLocation)
            #expect(!e.message.hasSuffix("."), "messages end without a period: \(e.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func everyKindHasAnExample() {
        checkCatalog(SyntaxDiagnostic.self)
        checkCatalog(ElaborationDiagnostic.self)
        checkCatalog(TrainSettingDiagnostic.self)
        checkCatalog(PassDiagnostic.self)
        checkCatalog(ShapeMessage.self)
    }

    /// Shape rules report only catalog messages: no `ShapeError` is made from a string in Sources/DLGGraph,
    /// and a shape error carries its message's ID and notes.
    @Test func shapeRulesReportCatalogMessages() throws {
        let dir = RepositoryFiles.root.appendingPathComponent("Sources/DLGGraph")
        let files = try #require(FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String])
        for file in files where file.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            for needle in ["ShapeError(\"", "fail(\""] where text.contains(needle) {
                Issue.record("Sources/DLGGraph/\(file) makes a shape error from a string (\(needle))")
            }
        }
        let e = ShapeError(.matmulMismatch(TensorType(.f32, [2, 3]), TensorType(.f32, [4, 5]), inner: .known(3), rows: .known(4)),
                           what: "'@'")
        #expect(e.id == "matmul-mismatch")
        #expect(e.message == "'@': inner dimensions differ: f32[2,3] @ f32[4,5] needs 3 = 4")
        #expect(e.notes == ["in a @ b the last dimension of a must equal the first of b"])
    }

    /// Messages are written in the catalogs only: no other source file makes a
    /// note or a message type of its own (catalog files end in `Diagnostics.swift`,
    /// plus the shape rules' `ShapeErrorDiagnostic.swift` and DLGSource itself).
    @Test func messagesAreWrittenOnlyInCatalogs() throws {
        let sources = RepositoryFiles.root.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(atPath: sources.path)?.allObjects as? [String])
        var checked = 0
        for file in files where file.hasSuffix(".swift") && !file.hasSuffix("Diagnostics.swift")
            && !file.hasSuffix("ShapeErrorDiagnostic.swift") && !file.hasPrefix("DLGSource/") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            checked += 1
            for needle in ["DiagnosticNote(", ": DiagnosticMessage", ": DiagnosticCatalog"] where text.contains(needle) {
                Issue.record("Sources/\(file) writes a message outside a catalog (\(needle))")
            }
        }
        #expect(checked > 50)
    }

    @Test func referenceListsEveryCatalogKindOnce() {
        let entries = DiagnosticReference.entries
        for (phase, kinds) in [(SyntaxDiagnostic.phase, SyntaxDiagnostic.Kind.allCases.map(\.rawValue)),
                               (ElaborationDiagnostic.phase, ElaborationDiagnostic.Kind.allCases.map(\.rawValue)),
                               (TrainSettingDiagnostic.phase, TrainSettingDiagnostic.Kind.allCases.map(\.rawValue)),
                               (PassDiagnostic.phase, PassDiagnostic.Kind.allCases.map(\.rawValue)),
                               (ShapeMessage.phase, ShapeMessage.Kind.allCases.map(\.rawValue))] {
            let listed = entries.filter { $0.phase == phase }.map(\.id)
            #expect(Set(listed) == Set(kinds), "\(phase)")
        }
    }

    @Test func diagnosticsReferenceIsCurrent() throws {
        try GeneratedDocs.expectFile("Docs/diagnostics.md", DiagnosticReference.markdown())
    }

    /// A catalog message carries its ID, severity, text and notes into the diagnostic, followed by the reporter's notes.
    @Test func diagnosticFromCatalogMessage() {
        let d = Diagnostic(ElaborationDiagnostic.redefinition(name: "x", previous: SourceRange(3, 4)), at: SourceRange(10, 11),
                           notes: [ElaborationDiagnostic.calledFrom(block: "b", at: SourceRange(20, 21))])
        #expect(d.id == "redefinition")
        #expect(d.severity == .error)
        #expect(d.message == "'x' is already defined")
        #expect(d.notes == [DiagnosticNote("previous definition here", at: SourceRange(3, 4)),
                            DiagnosticNote("in block 'b' called here", at: SourceRange(20, 21))])
        #expect(Diagnostic(ElaborationDiagnostic.unusedBlock(name: "b"), at: .point(0)).severity == .warning)
        #expect(Diagnostic(TrainSettingDiagnostic.inSetting(key: "batch", .expected(.batch, got: "-1")), at: .point(0)).id
                == "bad-setting")
    }
}
