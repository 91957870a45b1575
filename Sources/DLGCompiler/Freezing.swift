import DLGGraph

/// Parameters kept fixed during training (transfer learning's frozen layers): the
/// matching parameters are marked not trainable right after elaboration, so autodiff
/// computes no gradient for them and the optimizer keeps no state for them — the
/// backward graph is pruned at compile time, as for batchnorm's running statistics.
public enum Freezing {
    /// Whether a pattern names a parameter. `*` matches any run of characters (dots
    /// included) and `?` one character, as in a shell glob over the whole name; a
    /// pattern without wildcards matches the name itself and every name below it
    /// (`c1` matches `c1.weight` and `c1.bias`, not `c10.weight`).
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        if !pattern.contains("*") && !pattern.contains("?") {
            return name == pattern || name.hasPrefix(pattern + ".")
        }
        return glob(Array(pattern.unicodeScalars), Array(name.unicodeScalars))
    }

    /// Iterative glob matching with backtracking to the last `*`.
    static func glob(_ p: [Unicode.Scalar], _ s: [Unicode.Scalar]) -> Bool {
        var i = 0, j = 0
        var star = -1, mark = 0
        while j < s.count {
            if i < p.count, p[i] == "?" || p[i] == s[j] {
                i += 1
                j += 1
            } else if i < p.count, p[i] == "*" {
                star = i
                mark = j
                i += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count, p[i] == "*" { i += 1 }
        return i == p.count
    }

    /// Marks every trainable parameter that a pattern matches as not trainable.
    /// Returns the names frozen (in graph order) and the patterns that matched no
    /// trainable parameter.
    @discardableResult
    public static func apply(_ patterns: [String], to g: inout Graph) -> (frozen: [String], unmatched: [String]) {
        guard !patterns.isEmpty else { return ([], []) }
        var frozen: [String] = []
        var used = Set<String>()
        for i in g.nodes.indices where g.nodes[i].op == .param && g.nodes[i].attrs.param.trainable {
            guard let name = g.nodes[i].name else { continue }
            let hits = patterns.filter { matches($0, name) }
            guard !hits.isEmpty else { continue }
            used.formUnion(hits)
            var attributes = g.nodes[i].attrs.param
            attributes.trainable = false
            g.nodes[i].attrs = .param(attributes)
            frozen.append(name)
        }
        return (frozen, patterns.filter { !used.contains($0) })
    }
}
