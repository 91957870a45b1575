/// One kind of message the compiler reports. Each phase keeps its messages in
/// one catalog — an enum whose cases carry the data a message shows — and only
/// the catalog builds a message's text, its own notes, its severity and its
/// stable ID (after swift-syntax's `ParserDiagnosticMessages`). Code that finds
/// a problem picks a case and a place: `diagnostics.report(.unknownName(name), at: range)`.
public protocol DiagnosticMessage: Sendable {
    /// The stable identifier of the kind of problem, e.g. `unknown-name`
    /// (`dlg check --json` shows it; Docs/diagnostics.md lists them all).
    var id: String { get }
    var severity: Severity { get }
    /// The one-line message.
    var message: String { get }
    /// The notes that come with the message itself: a hint, the place of an
    /// earlier definition. The reporter may add more (the chain of block calls).
    var notes: [DiagnosticNote] { get }
}

extension DiagnosticMessage {
    public var severity: Severity { .error }
    public var notes: [DiagnosticNote] { [] }
}

/// The catalog of one phase: one case per kind of message, each with an ID
/// from `Kind`, and an example of every kind for the reference and the tests.
public protocol DiagnosticCatalog: DiagnosticMessage {
    associatedtype Kind: RawRepresentable, CaseIterable, Sendable where Kind.RawValue == String
    /// The kind of message; its raw value is the ID.
    var kind: Kind { get }
    /// The phase that reports these messages, as the reference names it.
    static var phase: String { get }
    /// At least one value of every kind, with placeholders such as `‹name›` for
    /// the data a message shows; Docs/diagnostics.md shows their texts as the
    /// messages' patterns.
    static var examples: [Self] { get }
}

extension DiagnosticCatalog {
    public var id: String { kind.rawValue }
}

/// One line of the diagnostics reference: an example message of some catalog.
public struct DiagnosticReferenceEntry: Sendable, Hashable {
    public var phase: String
    public var id: String
    public var severity: Severity
    /// The message of the example, placeholders included.
    public var pattern: String
    /// The texts of the example's own notes.
    public var notes: [String]

    public init(phase: String, id: String, severity: Severity, pattern: String, notes: [String]) {
        self.phase = phase
        self.id = id
        self.severity = severity
        self.pattern = pattern
        self.notes = notes
    }
}

extension DiagnosticCatalog {
    /// The catalog's examples, kind by kind in declaration order. A kind may
    /// have several (variants of one problem); a kind without an example is
    /// missing from the reference, and a test requires one for every kind.
    public static var referenceEntries: [DiagnosticReferenceEntry] {
        Kind.allCases.flatMap { kind in
            examples.filter { $0.kind.rawValue == kind.rawValue }.map {
                DiagnosticReferenceEntry(phase: phase, id: kind.rawValue, severity: $0.severity, pattern: $0.message,
                                         notes: $0.notes.map(\.message))
            }
        }
    }
}
