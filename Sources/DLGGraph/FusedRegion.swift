/// The body of a `fused` op: a short straight-line program whose steps are
/// primitive ops. Operands name the fused node's inputs, earlier steps, or
/// scalar immediates; the last step is the result. In an epilogue region the
/// first step is a library kernel (matmul or conv2d) and the rest work on its
/// output element by element.
public struct FusedRegion: Hashable, Sendable, Codable {
    public enum Operand: Hashable, Sendable, Codable {
        case input(Int)
        case step(Int)
        case scalar(Double)
    }

    public struct Step: Hashable, Sendable, Codable {
        public var op: Op
        public var operands: [Operand]
        public var attrs: Attributes
        public var type: TensorType
        /// The value this step computed before fusion (its label and location stay readable).
        public var original: ValueID
        public var label: String?
        public init(op: Op, operands: [Operand], attrs: Attributes, type: TensorType, original: ValueID, label: String?) {
            self.op = op
            self.operands = operands
            self.attrs = attrs
            self.type = type
            self.original = original
            self.label = label
        }
    }

    public var steps: [Step]
    public init(steps: [Step]) { self.steps = steps }

    /// The library kernel the region starts with, if any.
    public var anchor: Step? {
        guard let s = steps.first, s.op.decl.fusion == .outputFusable else { return nil }
        return s
    }
}

extension FusedRegion: CustomStringConvertible {
    public var description: String { "\(steps.count) steps" }
}
