import DLGGraph
import DLGSyntax

/// The stages `dlg dump --stage` can show, in pipeline order.
public enum Stage: String, CaseIterable, Sendable {
    case parsed, elaborated, shapes, grad
}

/// The pipeline: one ordered list of passes. Each stage after `elaborated`
/// is the graph after the passes up to and including it.
public enum Pipeline {
    public static let passes: [(stage: Stage, pass: any GraphPass)] = [
        (.shapes, ShapeInference()),
        (.grad, Autodiff()),
    ]

    /// Runs the passes up to `stage`, verifying after each when asked.
    public static func run(_ graph: inout Graph, upTo stage: Stage, context: inout PassContext) -> [PassReport] {
        var reports: [PassReport] = []
        guard let target = Stage.allCases.firstIndex(of: stage) else { return reports }
        for (s, pass) in passes {
            guard let si = Stage.allCases.firstIndex(of: s), si <= target else { break }
            let start = ContinuousClock.now
            let changed = pass.run(&graph, &context)
            let elapsed = ContinuousClock.now - start
            reports.append(PassReport(name: pass.name, changed: changed, duration: elapsed))
            if context.diagnostics.hasErrors { break }
            if context.verify {
                let failures = Verifier.verify(graph)
                if !failures.isEmpty {
                    context.diagnostics.error("verifier", "after pass \(pass.name): " + failures.map(\.message).joined(separator: "; "),
                                              at: .point(0))
                    break
                }
            }
        }
        return reports
    }
}

public struct PassReport: Sendable {
    public var name: String
    public var changed: Bool
    public var duration: Duration
}
