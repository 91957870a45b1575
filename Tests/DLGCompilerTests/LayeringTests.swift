import Foundation
import Testing

/// The modules' dependencies point one way (Package.swift): source files and
/// diagnostics (DLGSource) under everything, the parser (DLGSyntax) read only
/// by the compiler and the `dlg` executable. Checked on the import statements
/// of every source file and on the targets declared in Package.swift.
@Suite struct LayeringTests {
    /// Modules a module must not import, directly.
    static let forbidden: [String: Set<String>] = [
        "DLGOps": ["DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGData", "DLGKernels",
                   "DLGKernelsAVX512", "DLGServe"],
        "DLGKernelsAVX512": ["DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGData", "DLGKernels",
                             "DLGServe"],
        "DLGSource": ["DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGData", "DLGKernels", "DLGServe"],
        "DLGSyntax": ["DLGGraph", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGData", "DLGKernels", "DLGServe"],
        "DLGGraph": ["DLGSyntax", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGData", "DLGKernels", "DLGServe"],
        "DLGKernels": ["DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGData", "DLGServe"],
        "DLGData": ["DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGTrain", "DLGServe"],
        "DLGRuntime": ["DLGSyntax", "DLGTrain", "DLGDistributed", "DLGServe"],
        "DLGTrain": ["DLGSyntax", "DLGDistributed", "DLGServe"],
        // Open MPI behind the runtime's Collective: beside the trainer, below the `dlg` executable.
        "DLGDistributed": ["DLGSource", "DLGSyntax", "DLGCompiler", "DLGTrain", "DLGData", "DLGKernels", "DLGServe"],
        // The inference server sits beside the trainer: above the runtime, under the `dlg` executable only.
        "DLGServe": ["DLGSyntax", "DLGDistributed"],
    ]

    /// The modules named by `import` lines (`import X`, `@testable import X`, `import struct X.Y`).
    static func imports(in text: String) -> Set<String> {
        var out = Set<String>()
        for line in text.split(separator: "\n") {
            var words = line.split(separator: " ").map(String.init)
            while let w = words.first, w.hasPrefix("@") || w == "public" || w == "internal" || w == "private" { words.removeFirst() }
            guard words.first == "import", words.count >= 2 else { continue }
            let name = words.count >= 3 ? words[2] : words[1]
            out.insert(String(name.prefix { $0 != "." }))
        }
        return out
    }

    @Test func importParsing() {
        #expect(Self.imports(in: "import Foundation\n@testable import DLGGraph\nimport struct DLGSource.SourceRange\n// import X\nlet imported = 1")
                == ["Foundation", "DLGGraph", "DLGSource"])
    }

    @Test func noModuleImportsAModuleAboveIt() throws {
        let sources = RepositoryFiles.root.appendingPathComponent("Sources")
        for (module, banned) in Self.forbidden.sorted(by: { $0.key < $1.key }) {
            let dir = sources.appendingPathComponent(module)
            let files = try #require(FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String])
            #expect(files.contains { $0.hasSuffix(".swift") }, "Sources/\(module) has no Swift files")
            for file in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                for bad in Self.imports(in: text).intersection(banned).sorted() {
                    Issue.record("Sources/\(module)/\(file) imports \(bad)")
                }
            }
        }
    }

    /// The dependencies Package.swift declares for a target: the quoted names in its `dependencies: [...]`.
    static func declaredDependencies(_ manifest: String, target: String) -> Set<String>? {
        guard let start = manifest.range(of: ".target(name: \"\(target)\"") else { return nil }
        let rest = manifest[start.upperBound...]
        let end = rest.range(of: ")")?.lowerBound ?? rest.endIndex
        let decl = rest[..<end]
        guard let deps = decl.range(of: "dependencies: [") else { return [] }
        let list = decl[deps.upperBound...].prefix { $0 != "]" }
        return Set(list.split(separator: ",").compactMap { item -> String? in
            let t = item.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.hasPrefix("\"") ? String(t.dropFirst().prefix { $0 != "\"" }) : nil
        })
    }

    @Test func packageDeclaresNoDependencyOnTheParserBelowTheCompiler() throws {
        let manifest = try RepositoryFiles.text("Package.swift")
        for module in ["DLGSource", "DLGGraph", "DLGRuntime", "DLGTrain", "DLGData", "DLGKernels", "DLGDistributed"] {
            let deps = try #require(Self.declaredDependencies(manifest, target: module), "Package.swift declares no target \(module)")
            #expect(!deps.contains("DLGSyntax"), "\(module) depends on DLGSyntax in Package.swift")
        }
        #expect(Self.declaredDependencies(manifest, target: "DLGSyntax") == ["DLGSource"])
        #expect(Self.declaredDependencies(manifest, target: "DLGSource") == [])
        // The ops' definitions sit under everything; their one dependency is a C header of vector builtins.
        #expect(Self.declaredDependencies(manifest, target: "DLGOps") == ["CVectorMath"])
    }
}
