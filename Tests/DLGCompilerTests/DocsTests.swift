@testable import DLGCompiler
import DLGGraph
import DLGSource
import Foundation
import Testing

/// Keeps Docs/ in step with the code: every primitive op has an entry in
/// Docs/ir.md, every built-in function and initializer an entry in
/// Docs/language.md whose signature shows the defaults the code uses, and
/// every `dlg` example in Docs/language.md compiles.
@Suite struct DocsTests {
    /// The names that headings of a Markdown text document: the first
    /// `code span` of each heading line, up to a parenthesis.
    static func headingNames(_ markdown: String) -> Set<String> {
        var names = Set<String>()
        var inFence = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inFence.toggle(); continue }
            guard !inFence, line.hasPrefix("#") else { continue }
            let parts = line.split(separator: "`", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            names.insert(String(parts[1].prefix { $0 != "(" }))
        }
        return names
    }

    /// How a default value is written in a signature.
    static func render(_ a: Arg) -> String {
        switch a {
        case .int(let i): return i == Int.max ? "∞" : String(i)
        case .float(let f): return renderNumber(f)
        case .bool(let b): return b ? "true" : "false"
        case .ints(let v): return Set(v).count == 1 ? String(v[0]) : "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .padding(.same): return "same"
        case .padding(.valid): return "valid"
        case .padding(.explicit(let v)): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .word(let w): return w
        case .initializer(let i): return i.description
        case .dtype(let d): return d.rawValue
        case .tensor, .shape, .value: return "?"
        }
    }

    /// 1e-05 → "1e-5", 0.01 → "0.01", 1 → "1".
    static func renderNumber(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return String(v).replacingOccurrences(of: "e-0", with: "e-")
    }

    /// `name(x, units, bias: true, …)`: required positional parameters bare,
    /// required named-only ones as `p:`, optional positional ones as `p = d`,
    /// optional named-only ones as `p: d`, with `—` for "no default".
    static func signature(_ b: Builtin) -> String {
        let params = b.params.map { p -> String in
            let d = p.defaultValue.map(render) ?? "—"
            switch (p.required, p.positional) {
            case (true, true): return p.name
            case (true, false): return "\(p.name):"
            case (false, true): return "\(p.name) = \(d)"
            case (false, false): return "\(p.name): \(d)"
            }
        }
        return "\(b.name)(\(params.joined(separator: ", ")))"
    }

    // MARK: The checks

    static func document(_ name: String) throws -> String { try RepositoryFiles.text("Docs/\(name)") }

    @Test func everyOpHasAnEntryInIRDoc() throws {
        let headings = Self.headingNames(try Self.document("ir.md"))
        for op in Op.allCases {
            #expect(headings.contains(op.rawValue), "Docs/ir.md has no heading for op '\(op.rawValue)'")
        }
    }

    @Test func everyBuiltinHasAnEntryInLanguageDoc() throws {
        let headings = Self.headingNames(try Self.document("language.md"))
        for name in Builtins.table.keys.sorted() {
            #expect(headings.contains(name), "Docs/language.md has no heading for built-in '\(name)'")
        }
        for name in Elaborator.initializerWords.keys.sorted() + ["constant", "uniform", "normal"] {
            #expect(headings.contains(name), "Docs/language.md has no heading for initializer '\(name)'")
        }
    }

    /// The signature shown for each built-in lists exactly the parameters
    /// and defaults of its table entry.
    @Test func everyBuiltinSignatureMatchesTheCode() throws {
        let text = try Self.document("language.md")
        for name in Builtins.table.keys.sorted() {
            let sig = Self.signature(Builtins.table[name]!)
            let documented = text.contains("`\(sig)`")
            #expect(documented, "Docs/language.md lacks the signature `\(sig)`")
        }
    }

    @Test func signatureNotation() {
        // Required positional, optional positional with a default, optional named with a default.
        #expect(Self.signature(Builtins.table["leaky_relu"]!) == "leaky_relu(x, alpha = 0.01)")
        #expect(Self.signature(Builtins.table["softmax"]!) == "softmax(x, axis: -1, mask: —, causal: false)")
        // Required named-only, and an end that runs to the end.
        #expect(Self.signature(Builtins.table["slice"]!) == "slice(x, axis:, start: 0, end: ∞, step: 1)")
        #expect(Self.renderNumber(1e-5) == "1e-5")
        #expect(Self.renderNumber(0.25) == "0.25")
        #expect(Self.headingNames("# Title\n### `relu`\n#### `conv2d(x, …)` layer\n```\n# `fenced`\n```\ntext `x`")
                == ["relu", "conv2d"])
    }

    /// The inputs every fragment example in Docs/language.md may use.
    static let fragmentPrelude = """
        model doc_example {
            input image: f32[B, 3, 32, 32]
            input x: f32[B, 16]
            input y: f32[B, 16]
            input labels: i32[B]

        """

    /// The ```dlg code blocks of a Markdown text, with the line each starts on.
    static func dlgExamples(_ markdown: String) -> [(line: Int, code: String)] {
        var out: [(Int, String)] = []
        var current: [Substring]? = nil
        var start = 0
        for (i, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if current == nil, line == "```dlg" {
                current = []
                start = i + 2
            } else if current != nil, line == "```" {
                out.append((start, current!.joined(separator: "\n")))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return out
    }

    /// Every `dlg` example in Docs/language.md compiles: a complete file (one with a model,
    /// block or train declaration) without any diagnostic; a fragment of
    /// statements, placed in a model with the inputs of `fragmentPrelude`,
    /// without errors and with no warning but "no output".
    @Test func languageExamplesCompile() throws {
        let document = "language.md"
        let examples = Self.dlgExamples(try Self.document(document))
        #expect(examples.count > 80)
        for (line, code) in examples {
            let complete = code.split(separator: "\n").contains {
                $0.hasPrefix("model ") || $0.hasPrefix("block ") || $0.hasPrefix("train ") || $0.hasPrefix("use ")
            }
            let source = complete ? code : Self.fragmentPrelude + code + "\n}\n"
            // An example may use the bundled library (`use nn`).
            let file = SourceLoader.load(SourceFile(path: "Docs/\(document):\(line)", text: source))
            let diags = Frontend.check(file)
            let clean = diags.all.allSatisfy { !complete && $0.id == "no-output" }
            #expect(clean,
                    "the example at Docs/\(document):\(line) does not compile cleanly:\n\(DiagnosticsFormatter().format(diags.sorted, in: file))")
        }
    }

    /// The naming examples of Docs/language.md, "Naming of layers and parameters".
    @Test func namingExamplesHold() throws {
        let source = """
            block inner(x, units) {
                return relu(dense(x, units))
            }
            block outer(x, width) {
                for i in 0..<2 { x = inner(x, width) }
                return x
            }
            model naming {
                input image: f32[B, 3, 32, 32]
                input v: f32[B, 8]
                h = dense(dense(v, 10), 5)
                n = relu(batchnorm(image))
                m = tanh(batchnorm(dense(v, 64)))
                p = prelu(conv2d(image, filters: 8, kernel: 3))
                a = relu(batchnorm(conv2d(image, filters: 64, kernel: 1, bias: false)))
                x = relu(conv2d(image, filters: 8, kernel: 3, pad: same))
                x = relu(conv2d(x, filters: 8, kernel: 3, pad: same))
                y = dense(flatten(x), 10, name: "head")
                o = outer(v, 8)
                output z = dense(o, 2, name: "head")
                minimize mean(z)
            }
            """
        let result = Frontend.compile(SourceFile(path: "naming.dlg", text: source))
        #expect(!result.hasErrors)
        let g = try #require(result.graph)
        var rows: [String] = []
        func walk(_ records: [LayerRecord]) {
            for r in records {
                rows.append(r.name)
                walk(r.children)
            }
        }
        walk(g.layers)
        #expect(rows == [
            "h.dense", "h.dense_1",
            "n.batchnorm", "n.relu",
            "m", "m.batchnorm", "m.tanh",
            "p", "p.prelu",
            "a", "a.batchnorm", "a.relu",
            "x", "x.relu", "x_1", "x_1.relu",
            "y.flatten", "head",
            "outer.0", "outer.0.inner.0", "outer.0.inner.0.dense", "outer.0.inner.0.relu",
            "outer.0.inner.1", "outer.0.inner.1.dense", "outer.0.inner.1.relu",
            "head_1",
        ])
        let params = g.params.compactMap(\.name)
        for expected in ["h.dense.weight", "h.dense_1.bias", "n.batchnorm.gamma", "m.weight", "m.batchnorm.gamma",
                         "p.weight", "p.prelu.alpha", "a.weight", "a.batchnorm.running_var", "x_1.weight",
                         "head.weight", "outer.0.inner.1.dense.weight", "head_1.bias"] {
            #expect(params.contains(expected), "no parameter \(expected) in \(params)")
        }
        #expect(params.count == Set(params).count, "a name used twice: \(params)")
    }

    /// A batchnorm's parameters are `h.batchnorm.…` whatever surrounds it in `h = …`, and a
    /// statement's only weight layer is `h` (these gave `h.gamma` and `h.batchnorm.gamma`, and
    /// `h.weight` or `h.dense.weight`, depending on the rest of the expression).
    @Test func parameterNamesDoNotShiftWithTheExpression() throws {
        let cases: [(String, [String])] = [
            ("batchnorm(x)", ["h.batchnorm.gamma", "h.batchnorm.beta"]),
            ("relu(batchnorm(x))", ["h.batchnorm.gamma", "h.batchnorm.beta"]),
            ("tanh(batchnorm(dense(v, 8)))", ["h.weight", "h.bias", "h.batchnorm.gamma", "h.batchnorm.beta"]),
            ("dropout(relu(batchnorm(dense(v, 8, bias: false))), 0.5)", ["h.weight", "h.batchnorm.gamma", "h.batchnorm.beta"]),
            ("tanh(dense(v, 8))", ["h.weight", "h.bias"]),
            ("relu(batchnorm(conv2d(image, filters: 4, kernel: 1)))",
             ["h.weight", "h.bias", "h.batchnorm.gamma", "h.batchnorm.beta"]),
            ("prelu(batchnorm(image))", ["h.batchnorm.gamma", "h.batchnorm.beta", "h.prelu.alpha"]),
            // An explicit name equal to the statement's binding is kept, also after a parameterless
            // call reserved the binding (this gave h_1.weight; dlg import writes such statements).
            ("dense(flatten(image), 2, name: \"h\")", ["h.weight", "h.bias"]),
            ("dense(v, 2, name: \"h\")", ["h.weight", "h.bias"]),
        ]
        for (expression, expected) in cases {
            let source = """
                model m {
                    input image: f32[B, 3, 8, 8]
                    input v: f32[B, 8]
                    x = image
                    h = \(expression)
                    output y = h
                }
                """
            let result = Frontend.compile(SourceFile(path: "m.dlg", text: source))
            #expect(!result.hasErrors, "\(expression)")
            let g = try #require(result.graph)
            let trainable = g.params.filter { $0.attrs.param.trainable }.compactMap(\.name)
            #expect(trainable == expected, "h = \(expression)")
        }
    }
}
