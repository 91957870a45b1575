import DLGGraph
import DLGSource

/// A graph-to-graph transformation with a name. `run` reports whether it changed the graph.
public protocol GraphPass: Sendable {
    var name: String { get }
    /// One line: what the pass does (Docs/passes.md's table).
    var summary: String { get }
    /// What the pass does in full, in Markdown: Docs/passes.md's paragraph for it.
    var details: String { get }
    func run(_ graph: inout Graph, _ context: inout PassContext) -> Bool
}

/// What passes share while a pipeline runs.
public struct PassContext: Sendable {
    public var diagnostics = Diagnostics()
    /// Run the verifier after every pass.
    public var verify: Bool
    public init(verify: Bool = false) { self.verify = verify }
}
