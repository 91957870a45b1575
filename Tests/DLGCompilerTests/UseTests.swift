@testable import DLGCompiler
import DLGSource
import DLGSyntax
import Foundation
import Testing

/// `use "file.dlg"` and `use nn`: files put together, blocks shared, and the
/// problems of reading them located at the `use` line with stable IDs.
@Suite struct UseTests {
    /// Files in memory, by the path the loader asks for; records what it asked.
    final class Files: @unchecked Sendable {
        var texts: [String: String]
        var asked: [String] = []
        init(_ texts: [String: String]) { self.texts = texts }
        var reader: SourceLoader.Reader {
            { [self] path in
                asked.append(path)
                return texts[path].map { ($0, "") } ?? (nil, "no such file")
            }
        }
    }

    /// A diagnostic as a person reads it: place, ID, the text the range covers, and the notes.
    struct Seen: Equatable, CustomStringConvertible {
        var at: String, id: String, covers: String, message: String, notes: [String]
        var description: String { "\(at) [\(id)] '\(covers)' \(message) \(notes)" }
    }

    func seen(_ file: SourceFile, _ diagnostics: Diagnostics) -> [Seen] {
        diagnostics.all.map { d in
            Seen(at: file.location(d.range.start), id: d.id, covers: file.text(in: d.range), message: d.message,
                 notes: d.notes.map { n in (n.range.map { file.location($0.start) + " '" + file.text(in: $0) + "': " } ?? "") + n.message })
        }
    }

    let model = """
        model m {
            input x: f32[B, 4]
            output y = twice(x, 3)
        }
        """
    let blocks = """
        # shared blocks
        block twice(x, n) {
            return dense(relu(dense(x, n)), n)
        }
        """

    @Test func usedBlocksCompileAndPathsAreRelativeToTheUser() throws {
        let files = Files(["dir/lib/blocks.dlg": blocks])
        let file = SourceLoader.load(SourceFile(path: "dir/main.dlg", text: "use \"lib/blocks.dlg\"\n" + model), reader: files.reader)
        #expect(files.asked == ["dir/lib/blocks.dlg"])
        #expect(file.segments.map(\.path) == ["dir/main.dlg", "dir/lib/blocks.dlg"])
        let result = Frontend.compile(file)
        #expect(!result.hasErrors, "\(seen(file, result.diagnostics))")
        #expect(result.unit.blocks.map(\.name.name) == ["twice"])
        // Places in the used file are counted in that file.
        let block = try #require(result.unit.blocks.first)
        #expect(file.location(block.name.range.start) == "dir/lib/blocks.dlg:2:7")
        #expect(file.lineText(containing: block.name.range.start) == "block twice(x, n) {")
        #expect(Frontend.check(file).all.isEmpty)
    }

    @Test func aMissingFileIsAnErrorAtItsUse() {
        let file = SourceLoader.load(SourceFile(path: "main.dlg", text: "use \"gone.dlg\"\n" + model), reader: Files([:]).reader)
        let d = seen(file, Frontend.check(file))
        #expect(d.first == Seen(at: "main.dlg:1:5", id: "use-missing-file", covers: "\"gone.dlg\"",
                                message: "cannot use 'gone.dlg': no such file",
                                notes: ["a quoted path is relative to the file that uses it; a bare name is a module of the bundled library"]))
        // The block it would have given is then unknown, where it is called.
        #expect(d.dropFirst().map(\.id) == ["unknown-function"])
        let nested = SourceLoader.load(SourceFile(path: "src/main.dlg", text: "use \"gone.dlg\"\n" + model), reader: Files([:]).reader)
        #expect(seen(nested, Frontend.check(nested)).first?.message == "cannot use 'gone.dlg' (src/gone.dlg): no such file")
    }

    @Test func aCycleIsAnErrorWithTheChain() {
        let files = Files([
            "a.dlg": "use \"b.dlg\"\n" + model,
            "b.dlg": "# b\nuse \"c.dlg\"\n" + blocks,
            "c.dlg": "use \"a.dlg\"\n",
        ])
        let file = SourceLoader.load(SourceFile(path: "a.dlg", text: files.texts["a.dlg"]!), reader: files.reader)
        #expect(file.segments.map(\.path) == ["a.dlg", "b.dlg", "c.dlg"])
        // a.dlg itself is not read again: it is the file being compiled.
        #expect(files.asked == ["b.dlg", "c.dlg"])
        let d = seen(file, Frontend.check(file))
        #expect(d == [Seen(at: "c.dlg:1:5", id: "use-cycle", covers: "\"a.dlg\"",
                           message: "'a.dlg' uses itself: a.dlg → b.dlg → c.dlg → a.dlg",
                           notes: ["a.dlg:1:5 '\"b.dlg\"': 'a.dlg' uses 'b.dlg' here",
                                   "b.dlg:2:5 '\"c.dlg\"': 'b.dlg' uses 'c.dlg' here"])])
        // A file that uses itself.
        let me = Files(["self.dlg": "use \"self.dlg\"\n" + blocks + "\n" + model])
        let selfFile = SourceLoader.load(SourceFile(path: "self.dlg", text: me.texts["self.dlg"]!), reader: me.reader)
        #expect(seen(selfFile, Frontend.check(selfFile)) == [Seen(at: "self.dlg:1:5", id: "use-cycle", covers: "\"self.dlg\"",
                                                                  message: "'self.dlg' uses itself: self.dlg → self.dlg", notes: [])])
    }

    @Test func aFileUsedTwiceIsReadOnce() {
        let files = Files([
            "m.dlg": "use \"b.dlg\"\nuse \"c.dlg\"\n" + model,
            "b.dlg": "use \"d.dlg\"\nblock b1(x) {\n    return twice(x, 2)\n}\n",
            "c.dlg": "use \"d.dlg\"\n",
            "d.dlg": blocks,
        ])
        let file = SourceLoader.load(SourceFile(path: "m.dlg", text: files.texts["m.dlg"]!), reader: files.reader)
        #expect(file.segments.map(\.path) == ["m.dlg", "b.dlg", "d.dlg", "c.dlg"])
        #expect(files.asked == ["b.dlg", "d.dlg", "c.dlg"])
        #expect(Frontend.check(file).all.isEmpty)
    }

    @Test func errorsInAUsedFileAreLocatedThere() {
        let files = Files(["lib.dlg": "block twice(x, n) {\n    return dense(x, n) +\n}\n"])
        let file = SourceLoader.load(SourceFile(path: "m.dlg", text: "use \"lib.dlg\"\n" + model), reader: files.reader)
        let d = seen(file, Frontend.check(file))
        #expect(d.contains { $0.at == "lib.dlg:2:25" && $0.id == "syntax-expected-expression" }, "\(d)")
        // An unclosed body at the end of the main file stays in the main file.
        let open = SourceLoader.load(SourceFile(path: "m.dlg", text: "use \"lib.dlg\"\nmodel m {\n    input x: f32[B, 4]\n"),
                                     reader: Files(["lib.dlg": blocks]).reader)
        let o = seen(open, Frontend.check(open))
        #expect(o.first?.id == "syntax-unclosed-body")
        #expect(o.first?.at.hasPrefix("m.dlg:") == true, "\(o)")
    }

    @Test func onlyBlocksComeFromAUsedFile() {
        let files = Files(["other.dlg": blocks + "\nmodel other {\n    input z: f32[B, 2]\n    output w = z\n}\ntrain other {\n    epochs = 3\n}\n"])
        let file = SourceLoader.load(SourceFile(path: "m.dlg", text: "use \"other.dlg\"\n" + model), reader: files.reader)
        let (unit, diagnostics) = Parser.parse(file)
        #expect(!diagnostics.hasErrors)
        #expect(unit.models.map(\.name.name) == ["m"])
        #expect(unit.trains.isEmpty)
        #expect(unit.blocks.map(\.name.name) == ["twice"])
    }

    @Test func theBundledLibraryIsUsedByName() throws {
        let source = """
            use nn
            model m {
                input x: f32[B, 4]
                input image: f32[B, 3, 8, 8]
                a = mlp_block(x, 16, 4)
                b = residual_block(a, 8)
                c = conv_residual_block(image, 6, 2)
                output y = mlp_block(b, 5, 3)
                output z = c
            }
            """
        let files = Files([:])
        let file = SourceLoader.load(SourceFile(path: "m.dlg", text: source), reader: files.reader)
        #expect(files.asked.isEmpty)
        #expect(file.segments.map(\.path) == ["m.dlg", "<library>/nn.dlg"])
        let result = Frontend.compile(file)
        #expect(!result.hasErrors, "\(seen(file, result.diagnostics))")
        let graph = try #require(result.graph)
        // mlp_block(x, 16, 4): 4·16 + 16 + 16·4 + 4 = 148; residual_block(a, 8): 4·8 + 8 + 8·4 + 4 = 76;
        // mlp_block(b, 5, 3): 4·5 + 5 + 5·3 + 3 = 43; conv_residual_block(image, 6, 2):
        // 3·3·3·6 + 3·3·6·6 + 1·1·3·6 = 162 + 324 + 18 = 504 weights and 3 batchnorms of 2·6.
        let dense = 148 + 76 + 43
        let conv = 504 + 3 * 2 * 6
        #expect(graph.parameterCounts.trainable == dense + conv)
        // Unused library blocks are not warned about; an unused block of the model file is.
        let unused = SourceLoader.load(SourceFile(path: "m.dlg", text: "use nn\nblock mine(x) {\n    return x\n}\n" + model.replacingOccurrences(of: "twice(x, 3)", with: "mlp_block(x, 3, 3)")),
                                       reader: files.reader)
        #expect(Frontend.check(unused).all.map(\.id) == ["unused-block"])
        let unknown = SourceLoader.load(SourceFile(path: "m.dlg", text: "use tensorflow\n" + model), reader: files.reader)
        let d = seen(unknown, Frontend.check(unknown))
        #expect(d.first == Seen(at: "m.dlg:1:5", id: "use-unknown-module", covers: "tensorflow",
                                message: "no library module 'tensorflow'; the bundled library has nn", notes: []))
    }

    @Test func aUseNeedsATarget() {
        let file = SourceLoader.load(SourceFile(path: "m.dlg", text: "use 3\n" + model), reader: Files([:]).reader)
        let d = seen(file, Frontend.check(file))
        #expect(d.first == Seen(at: "m.dlg:1:5", id: "syntax-use-target", covers: "3",
                                message: "expected a file path in quotes or a library module name after 'use', found integer 3", notes: []))
        // `use` stays an ordinary name inside a model.
        let named = SourceFile(path: "m.dlg", text: "model m {\n    input use: f32[B, 2]\n    output y = use\n}\n")
        #expect(Frontend.check(named).all.isEmpty)
    }
}
