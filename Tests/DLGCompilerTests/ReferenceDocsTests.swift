@testable import DLGCompiler
import DLGGraph
import Foundation
import Testing

/// Docs/ops.md and the pass list of Docs/passes.md are generated from the code;
/// these tests fail when the committed files are stale (`make docs` rewrites them).
@Suite struct ReferenceDocsTests {
    @Test func opsReferenceIsCurrent() throws {
        try GeneratedDocs.expectFile("Docs/ops.md", OpReference.markdown())
    }

    @Test func opsReferenceHasEveryOpOnce() {
        let text = OpReference.markdown()
        for op in Op.allCases {
            let n = text.components(separatedBy: "\n### `\(op.rawValue)`\n").count - 1
            #expect(n == 1, "Docs/ops.md has \(n) entries for \(op.rawValue)")
        }
        // A declaration's facts: conv2d reads its attributes and has a rule; relu's derivative jumps.
        #expect(text.contains("operands: 2 · attributes: `stride`, `pad`, `dilation`, `groups`, `round` · fusion: outputFusable · gradient rule: yes"))
        #expect(OpReference.facts(Op.relu.decl).hasSuffix(
            "piecewise (its derivative, or for softsign its curvature, jumps between branches; gradient checks step around the kinks)"))
        #expect(OpReference.facts(Op.input.decl) == "operands: none · attributes: `dtype`, `shape` · fusion: opaque")
    }

    @Test func libraryReferenceIsCurrent() throws {
        try GeneratedDocs.expectSection("Docs/library.md", "library", LibraryReference.markdown())
    }

    /// Every block of the library has an entry with its comment and body.
    @Test func libraryReferenceHasEveryBlock() {
        let text = LibraryReference.markdown()
        for name in ["mlp_block", "residual_block", "conv_residual_block", "transformer_mlp", "encoder_block", "encoder_block_post",
                     "decoder_block"] {
            #expect(text.components(separatedBy: "\n### `\(name)(").count - 1 == 1, "no single entry for \(name)")
        }
        #expect(text.contains("### `decoder_block(x, heads, hidden)`\n\nA GPT decoder block"))
        #expect(text.contains("    return encoder_block(x, heads, hidden, causal: true)\n}\n```"))
    }

    @Test func passListIsCurrent() throws {
        try GeneratedDocs.expectSection("Docs/passes.md", "passes", PassReference.markdown())
    }

    @Test func passListFollowsThePipeline() {
        let text = PassReference.markdown()
        var last = text.startIndex
        for name in Pipeline.passNames {
            guard let r = text.range(of: "\n**\(name).** ", range: last..<text.endIndex) else {
                Issue.record("no paragraph for pass \(name) after the previous one")
                continue
            }
            last = r.upperBound
        }
        #expect(text.contains("| `fusion` | `fused` | "))
    }

    /// Docs/cli.md names every pass `--disable-pass` accepts, in pipeline order.
    @Test func cliDocNamesEveryPass() throws {
        let cli = try RepositoryFiles.text("Docs/cli.md")
        #expect(cli.contains("The names are `" + Pipeline.passNames.joined(separator: ", ") + "`"),
                "Docs/cli.md's --disable-pass row does not list \(Pipeline.passNames)")
    }
}
