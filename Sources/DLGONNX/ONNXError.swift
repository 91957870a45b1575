/// What is wrong with an ONNX file, or what of it dlg cannot express: one or
/// more problems, each naming the node concerned when there is one. Reading
/// stops at the first problem of the file itself (truncated, corrupt, a
/// cycle, a bad initializer); importing collects every node it cannot
/// translate, so that one run lists them all.
public struct ONNXError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Problem: Sendable, Equatable {
        /// `node 'conv1' (Conv, opset 13)`, `initializer 'fc.weight'`, or nil for the file as a whole.
        public var subject: String?
        public var message: String
        public init(subject: String?, _ message: String) {
            self.subject = subject
            self.message = message
        }
    }

    /// The path of the ONNX file (or of the file it refers to).
    public var file: String
    public var problems: [Problem]

    public init(file: String, _ problems: [Problem]) {
        self.file = file
        self.problems = problems
    }

    public init(file: String, subject: String? = nil, _ message: String) {
        self.init(file: file, [Problem(subject: subject, message)])
    }

    /// One line per problem: `FILE: SUBJECT: MESSAGE`.
    public var description: String {
        problems.map { p in
            "\(file): " + (p.subject.map { "\($0): " } ?? "") + p.message
        }.joined(separator: "\n")
    }
}

/// How messages name a node: `node 'conv1' (Conv, opset 13)`; a node without a
/// name is named by its position, `node #4 (Conv, opset 13)`.
func describeNode(name: String, index: Int, opType: String, domain: String, opset: Int?) -> String {
    let who = name.isEmpty ? "node #\(index)" : "node '\(name)'"
    let dom = domain.isEmpty || domain == "ai.onnx" ? "" : "\(domain)."
    let version = opset.map { ", opset \($0)" } ?? ""
    return "\(who) (\(dom)\(opType)\(version))"
}
