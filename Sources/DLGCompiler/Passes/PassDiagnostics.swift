import DLGSource

/// Every message of the compiler's passes after elaboration (shape rules aside,
/// which report as they are; see `ShapeDiagnostic`): a model autodiff cannot
/// differentiate, and the internal failures a pass or the verifier detects.
public enum PassDiagnostic: DiagnosticCatalog {
    public enum Kind: String, CaseIterable, Sendable {
        case nothingToMinimize = "nothing-to-minimize"
        case gradientOfNonScalar = "gradient-of-non-scalar"
        case noTrainableParameters = "no-trainable-parameters"
        case noGradientRule = "no-gradient-rule"
        case gradientRule = "gradient-rule"
        case optimizer = "optimizer"
        case fusion = "fusion"
        case scheduling = "scheduling"
        case verifier = "verifier"
        case replicaLoss = "replica-loss"
        case gradientAllreduce = "gradient-allreduce"
    }

    case nothingToMinimize(model: String)
    case gradientOfNonScalar(type: String)
    case noTrainableParameters
    case noGradientRule(op: String)
    /// A gradient rule whose ops fail their own shape rules (a bug in the rule).
    case gradientRule(op: String, reason: String)
    case optimizer(kind: String, reason: String)
    case fusion(value: String, reason: String)
    case cycle(unordered: Int)
    case verifier(pass: String, failures: [String])
    /// Data-parallel training: a loss that is neither a mean nor a sum over the batch (a warning).
    case lossNotShareable
    /// Data-parallel training: the loss or the gradient buckets could not be built (a bug).
    case replicaLoss(reason: String)
    case gradientAllreduce(reason: String)

    public static let phase = "passes"

    public var kind: Kind {
        switch self {
        case .nothingToMinimize: .nothingToMinimize
        case .gradientOfNonScalar: .gradientOfNonScalar
        case .noTrainableParameters: .noTrainableParameters
        case .noGradientRule: .noGradientRule
        case .gradientRule: .gradientRule
        case .optimizer: .optimizer
        case .fusion: .fusion
        case .cycle: .scheduling
        case .verifier: .verifier
        case .lossNotShareable, .replicaLoss: .replicaLoss
        case .gradientAllreduce: .gradientAllreduce
        }
    }

    public var severity: Severity {
        if case .lossNotShareable = self { return .warning }
        return .error
    }

    public var message: String {
        switch self {
        case .nothingToMinimize(let model): "model '\(model)' has nothing to minimize, so there is no gradient"
        case .gradientOfNonScalar(let type): "gradients need a floating-point scalar to minimize, but this is \(type)"
        case .noTrainableParameters: "no trainable parameter influences the minimized value, so there is nothing to train"
        case .noGradientRule(let op): "\(op) has no gradient rule"
        case .gradientRule(let op, let reason): "gradient of \(op): \(reason)"
        case .optimizer(let kind, let reason): "building the \(kind) update: \(reason)"
        case .fusion(let value, let reason): "fusing \(value): \(reason)"
        case .cycle(let n): "the graph has a cycle; \(n) ops could not be ordered"
        case .verifier(let pass, let failures): "after pass \(pass): " + failures.joined(separator: "; ")
        case .lossNotShareable:
            "the minimized value is neither a mean nor a sum over the batch, so replicas cannot share it exactly; each replica's gradient is weighted by its share of the batch, as for a mean"
        case .replicaLoss(let reason): "scaling the loss to this replica's share: \(reason)"
        case .gradientAllreduce(let reason): "summing the gradients over replicas: \(reason)"
        }
    }

    public var notes: [DiagnosticNote] {
        switch self {
        case .nothingToMinimize: [DiagnosticNote("add 'minimize <loss>' to the model")]
        case .noTrainableParameters:
            [DiagnosticNote("parameters come from 'param' declarations and layers such as dense(…) or conv2d(…)")]
        default: []
        }
    }

    public static let examples: [PassDiagnostic] = [
        .nothingToMinimize(model: "‹name›"),
        .gradientOfNonScalar(type: "‹type›"),
        .noTrainableParameters,
        .noGradientRule(op: "‹op›"),
        .gradientRule(op: "‹op›", reason: "‹shape rule message›"),
        .optimizer(kind: "‹optimizer›", reason: "‹shape rule message›"),
        .fusion(value: "‹value›", reason: "‹shape rule message›"),
        .cycle(unordered: 2),
        .verifier(pass: "‹pass›", failures: ["‹failure›", "‹failure›"]),
        .lossNotShareable,
        .replicaLoss(reason: "‹shape rule message›"),
        .gradientAllreduce(reason: "‹shape rule message›"),
    ]
}
