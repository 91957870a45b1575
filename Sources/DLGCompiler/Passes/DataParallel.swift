import DLGGraph
import DLGSource

/// How the minimized value depends on the batch, which decides how the
/// replicas of a data-parallel run share it.
public enum BatchReduction: String, Sendable {
    /// A mean over the batch (every built-in loss): the global loss is Σ_r (n_r / n)·L_r.
    case mean
    /// A sum over the batch: the global loss is Σ_r L_r.
    case sum
    /// Neither (a loss such as sqrt(mse(…))): it does not split over replicas exactly.
    case unknown

    /// Follows the minimized value back through the ops that keep such a sum or mean one —
    /// add, sub, neg, reshape, and mul or div by values that do not depend on the data — to the
    /// reductions over axis 0 (the batch) of the data. Terms that do not depend on the data (a
    /// penalty on the weights) fit a mean, which every replica then adds in full, but not a sum.
    public static func classify(_ g: Graph, loss: ValueID) -> BatchReduction {
        var fromData = Array(repeating: false, count: g.nodes.count)
        for n in g.nodes {
            fromData[n.id] = n.op == .input || n.inputs.contains { fromData[$0] }
        }
        // nil: independent of the data.
        func walk(_ v: ValueID) -> BatchReduction?? {
            guard fromData[v] else { return .some(nil) }
            let n = g[v]
            func combine(_ a: BatchReduction??, _ b: BatchReduction??) -> BatchReduction?? {
                guard case .some(let x) = a, case .some(let y) = b else { return .none }
                switch (x, y) {
                case (nil, nil): return .some(nil)
                case (let k?, nil), (nil, let k?): return k == .mean ? .some(.mean) : .none
                case (let k?, let l?): return k == l ? .some(k) : .none
                }
            }
            // The pattern of a batch sum or mean, op by op (like a peephole rewrite's).
            let op = n.op
            if op == .add || op == .sub { return combine(walk(n.inputs[0]), walk(n.inputs[1])) }
            if op == .neg || op == .reshape { return walk(n.inputs[0]) }
            if op == .mul {
                if !fromData[n.inputs[1]] { return walk(n.inputs[0]) }
                if !fromData[n.inputs[0]] { return walk(n.inputs[1]) }
                return .none
            }
            if op == .div { return fromData[n.inputs[1]] ? .none : walk(n.inputs[0]) }
            if op == .reduce_mean || op == .reduce_sum {
                let x = g[n.inputs[0]].type
                guard let rank = x.rank, rank >= 1 else { return .none }
                let axes = n.attrs.reduce.axes.map { $0 < 0 ? $0 + rank : $0 }
                guard axes.isEmpty || axes.contains(0) else { return .none }
                return .some(op == .reduce_mean ? .mean : .sum)
            }
            return .none
        }
        switch walk(loss) {
        case .some(.some(let k)): return k
        default: return .unknown
        }
    }
}

/// The first half of data-parallel training (Docs/distributed.md), before
/// autodiff: every replica minimizes its share of the global batch's loss,
/// so that the sum of the replicas' gradients is the gradient one process
/// would compute over the whole batch. For a mean over the batch the share is
/// the loss times `replica.fraction` (n_r / n, this replica's examples over the
/// global batch's); for a sum it is the loss times `replica.active` (1, or 0
/// for a replica without examples in a short last batch). Both are scalar
/// state the trainer sets before each step. The step's loss is then the share,
/// and the global loss is their sum over replicas.
public struct ReplicaLossScaling: GraphPass {
    public var name: String { "replica-loss" }
    public var summary: String { "data-parallel: scale the loss to this replica's share of the global batch" }
    public var details: String {
        """
        Only in the training step of a data-parallel run over several processes
        ([distributed.md](distributed.md); `--replicas N` in `dump`). Each process
        minimizes its share of the global batch's loss, so that the sum of the
        processes' gradients is the gradient of the whole batch: the loss times the
        state scalar `replica.fraction` (n_r / n, the process's examples over the
        batch's, set by the trainer before each step) when the minimized value is a
        mean over the batch — every built-in loss —, or times `replica.active` (1,
        or 0 for a process without examples in a short last batch) when it is a sum.
        Which of the two it is, is read from the graph: the loss must reach the data
        through `reduce_mean` or `reduce_sum` over axis 0, joined by add, sub, neg,
        reshape and products with values that do not depend on the data (a weight
        penalty fits a mean, not a sum). Any other loss (`sqrt(mse(…))`) cannot be
        shared exactly: a warning, and the mean's rule.
        """
    }
    public init() {}

    public static let fraction = "replica.fraction"
    public static let active = "replica.active"

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        guard let loss = g.loss else { return false }
        let kind = BatchReduction.classify(g, loss: loss)
        if kind == .unknown {
            ctx.diagnostics.report(PassDiagnostic.lossNotShareable, at: g.lossLoc ?? .point(0))
        }
        let scale = g.replicaScalar(kind == .sum ? Self.active : Self.fraction, dtype: g[loss].type.dtype)
        do {
            g.loss = try g.add(.mul, [loss, scale], loc: g.lossLoc, label: "replica share")
        } catch {
            ctx.diagnostics.report(PassDiagnostic.replicaLoss(reason: error.message), at: g.lossLoc ?? .point(0))
        }
        return true
    }
}

/// The second half, after autodiff and before the optimizer: the gradients of
/// the trainable parameters are summed over the replicas in buckets of about
/// `bucketBytes`, in the order the backward pass finishes them (the last
/// layers' first). Each bucket is one `allreduce_start` (copying its gradients
/// into one vector and starting the sum) and one `allreduce_wait`; slices of
/// the summed vector replace the gradients the optimizer reads. The scheduler
/// runs a start as soon as its gradients are final and a wait only when
/// nothing else can run, so the transfers overlap the rest of the backward pass.
public struct GradientAllreduce: GraphPass {
    public var name: String { "gradient-allreduce" }
    public var summary: String { "data-parallel: sum the gradients over the replicas, in buckets, before the optimizer" }
    public var details: String {
        """
        Only in a data-parallel training step. The gradients of the trainable
        parameters are summed over the processes before the optimizer reads them,
        in buckets filled in the order the backward pass finishes the gradients (the
        last layers' first), each of a quarter of all the gradients' bytes, at least
        256 KiB and at most 25 MiB (`dlg train --bucket-mb`). A bucket is one
        `allreduce_start` — it copies the bucket's gradients into one vector and
        starts the sum on MPI's worker thread — and one `allreduce_wait`; `slice`s
        of the sum (and `reshape`s) replace the gradients. So there are a few large
        transfers, not one per tensor, and the scheduler overlaps them with the rest
        of the backward pass.
        """
    }
    /// The size a bucket grows to before the next one starts; nil: `defaultBucketBytes`.
    public var bucketBytes: Int?
    public init(bucketBytes: Int? = nil) { self.bucketBytes = bucketBytes }

    /// About four buckets, each at least 256 KiB (below that a transfer costs more in latency
    /// than it gains in overlap) and at most 25 MiB (PyTorch DDP's bucket).
    public static func defaultBucketBytes(totalBytes: Int) -> Int {
        min(max(totalBytes / 4, 256 << 10), 25 << 20)
    }

    /// Gradients (parameter, gradient) in buckets, in the order the backward pass finishes them.
    public static func buckets(_ g: Graph, bucketBytes: Int?) -> [[(param: ValueID, gradient: ValueID)]] {
        let entries = g.gradients.filter { g[$0.key].op == .param }.map { (param: $0.key, gradient: $0.value) }
            .sorted { ($0.gradient, $0.param) < ($1.gradient, $1.param) }
        func bytes(_ v: ValueID) -> Int { g.boundType(v).byteCount ?? 0 }
        let limit = max(1, bucketBytes ?? defaultBucketBytes(totalBytes: entries.reduce(0) { $0 + bytes($1.gradient) }))
        var out: [[(param: ValueID, gradient: ValueID)]] = []
        var current: [(param: ValueID, gradient: ValueID)] = []
        var size = 0
        for e in entries {
            current.append(e)
            size += bytes(e.gradient)
            if size >= limit {
                out.append(current)
                current = []
                size = 0
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        let buckets = Self.buckets(g, bucketBytes: bucketBytes)
        guard !buckets.isEmpty else { return false }
        do {
            for (i, bucket) in buckets.enumerated() {
                let attrs = Attributes.bucket(i)
                let start = try g.add(.allreduce_start, bucket.map(\.gradient), attrs, loc: g.lossLoc, label: "allreduce")
                let sum = try g.add(.allreduce_wait, [start], attrs, loc: g.lossLoc, label: "allreduce")
                var offset = 0
                for (p, d) in bucket {
                    let type = g.boundType(d)
                    let count = type.shape.elementCount ?? 0
                    let label = "\(g[p].name ?? "p").allreduce"
                    var v = try g.add(.slice, [sum], .slice(SliceAttributes(starts: [offset], ends: [offset + count], steps: [1])),
                                      loc: g[p].loc, label: label)
                    if type.shape != Shape([count]) {
                        v = try g.add(.reshape, [v], .shape(type.shape), loc: g[p].loc, label: label)
                    }
                    g.gradients[p] = v
                    offset += count
                }
            }
        } catch {
            ctx.diagnostics.report(PassDiagnostic.gradientAllreduce(reason: error.message), at: g.lossLoc ?? .point(0))
        }
        return true
    }
}

extension Graph {
    /// The scalar state `name` (a non-trainable f32/f64 parameter that the trainer sets
    /// before each step), found, or added with the value 1.
    public mutating func replicaScalar(_ name: String, dtype: DType) -> ValueID {
        if let p = nodes.first(where: { $0.op == .param && $0.name == name }) { return p.id }
        return addParam(name, TensorType(dtype, Shape([Int]())), initializer: .constant(1), trainable: false,
                        fanIn: 1, fanOut: 1, loc: nil)
    }
}
