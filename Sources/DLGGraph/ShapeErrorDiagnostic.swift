import DLGSource

/// A shape rule's failure as a diagnostic message: the rule's ID, text and
/// notes as they are, reported at the place of the value the rule was checking
/// (the elaborator and the shape-inference pass choose the place). The rules
/// themselves and their texts live with the op declarations (Ops/).
public struct ShapeDiagnostic: DiagnosticMessage {
    public var error: ShapeError
    public init(_ error: ShapeError) { self.error = error }

    public var id: String { error.id }
    public var severity: Severity { .error }
    public var message: String { error.message }
    public var notes: [DiagnosticNote] { error.notes.map { DiagnosticNote($0) } }

    /// The phase the reference lists these messages under.
    public static let phase = ShapeMessage.phase
}
