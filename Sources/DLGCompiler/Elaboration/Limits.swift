import DLGGraph
import DLGSource

private typealias E = ElaborationDiagnostic

/// Bounds that keep elaboration finite and every size representable. A
/// program beyond one of them gets an error that names the bound; the
/// compiler never hangs, exhausts the stack or overflows an integer on it.
public enum ElaborationLimits {
    /// Iterations of one `for` loop.
    public static let maxLoopIterations = 100_000
    /// Statements executed, expressions evaluated and graph values created,
    /// over the whole model. (ResNet-50 takes about 2,000.)
    public static let maxSteps = 200_000
    /// Block calls inside block calls.
    public static let maxCallDepth = 64
    /// Nested expression evaluations, block bodies included.
    public static let maxEvaluationDepth = 300
}

extension Elaborator {
    /// Counts one step of elaboration. When the budget is spent, reports it
    /// once and stops the elaboration (every later step returns false).
    func step(at range: SourceRange) -> Bool {
        if aborted { return false }
        steps += 1
        if steps > ElaborationLimits.maxSteps {
            aborted = true
            diagnostics.report(E.tooManySteps(limit: ElaborationLimits.maxSteps), at: range, notes: callStackNotes())
            return false
        }
        return true
    }

    /// The product of the known dimensions: exact ("125,000,000,000,000"), or
    /// "about 1e+22" when it does not fit in 64 bits.
    func describeElementCount(_ shape: Shape) -> String {
        var n = 1
        for case .known(let v) in shape.dims ?? [] {
            let (p, overflow) = n.multipliedReportingOverflow(by: v)
            if overflow { return "about " + formatNumber(shape.approximateKnownElementCount) }
            n = p
        }
        return groupDigits(n)
    }

    /// Checks that a tensor of this shape stays within `Shape.maxElements`.
    /// `what` names it ("input 'x'", "the weight of dense 'h'").
    func checkElementCount(_ type: TensorType, _ what: String, at range: SourceRange) -> Bool {
        if type.shape.knownElementCountWithinLimit != nil { return true }
        diagnostics.report(E.tensorTooLarge(what: what, type: type, elements: describeElementCount(type.shape), limit: Shape.maxElements),
                           at: range, notes: callStackNotes())
        return false
    }

    /// Checks a size given as an argument (kernel, stride, padding, units, …).
    func checkSizeArgument(_ v: Int, _ what: String, at range: SourceRange) -> Bool {
        if v <= Shape.maxDimension { return true }
        diagnostics.report(E.sizeTooLarge(what: what, size: v, limit: Shape.maxDimension), at: range)
        return false
    }
}
