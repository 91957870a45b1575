import DLGGraph
import DLGSource

struct Binding {
    var value: Value
    var loc: SourceRange
}

/// The names visible in a model body or in one block call, and the naming
/// state of the layers created there.
final class Scope {
    var bindings: [String: Binding] = [:]
    /// Prefix of every parameter created in this scope ("" at model level, "bottleneck.3").
    let path: String
    let blockName: String?
    var usedNames: Set<String> = []
    /// The next suffix to try for a base name, so that naming the n-th layer
    /// of a kind stays O(1).
    var nextSuffix: [String: Int] = [:]
    var blockCounters: [String: Int] = [:]
    var layers: [LayerRecord] = []
    var returned: Value?

    init(path: String, blockName: String?) {
        self.path = path
        self.blockName = blockName
    }

    var isBlock: Bool { blockName != nil }

    /// `base`, or `base_1`, `base_2`, … if already taken in this scope.
    func unique(_ base: String) -> String {
        var name = base
        var k = nextSuffix[base] ?? 1
        while usedNames.contains(name) {
            name = "\(base)_\(k)"
            k += 1
        }
        nextSuffix[base] = k
        usedNames.insert(name)
        return name
    }

    func qualified(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
}

/// Naming state for the statement being elaborated: layers in `c1 = relu(conv2d(…))`
/// are named after `c1`.
struct StatementNaming {
    var binding: String?
    /// The binding made unique in the scope (`x`, then `x_1` for the next statement binding `x`),
    /// chosen when the statement names its first layer: the prefix of all its layers' names.
    var prefix: String?
    /// Calls in the statement that make a summary row (layers, activations, losses, blocks).
    var rowCalls = 0
    /// Calls in the statement to weight layers (dense, the convolutions).
    var weightCalls = 0
    /// Whether a layer of the statement is named the prefix itself (at most one may be).
    var prefixTaken = false
}

/// Edit distance for "did you mean" suggestions: insertions, deletions,
/// substitutions and transpositions of two adjacent characters ('imgae' is
/// one edit from 'image'), each costing 1 (the optimal-string-alignment form
/// of the Damerau–Levenshtein distance).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var before = Array(repeating: 0, count: b.count + 1)
    var prev = Array(0...b.count)
    var cur = Array(repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                cur[j] = min(cur[j], before[j - 2] + 1)
            }
        }
        (before, prev, cur) = (prev, cur, before)
    }
    return prev[b.count]
}

/// The closest candidate within a small edit distance.
func suggestion(for name: String, among candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    for c in candidates where c != name {
        let d = editDistance(name.lowercased(), c.lowercased())
        // One-letter names are all one edit apart: suggesting among them is noise.
        let limit = name.count < 2 ? 0 : max(1, min(3, name.count / 3))
        if d <= limit, best == nil || d < best!.1 || (d == best!.1 && c < best!.0) { best = (c, d) }
    }
    return best?.0
}
