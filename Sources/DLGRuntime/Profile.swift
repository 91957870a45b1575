import DLGGraph
import Foundation

/// A per-kernel table after profiled runs, like the per-kernel lines of tinygrad's DEBUG=2:
/// name, the ops fused inside, calls, total ms, % of the step, and GFLOP/s (or GB/s for data movement).
public enum ProfileReport {
    public struct Row: Sendable {
        public var kernel: String
        public var ops: String
        public var calls: Int
        public var seconds: Double
        public var flops: Int
        public var bytes: Int
    }

    public static func rows(_ e: Executor, graph: Graph? = nil) -> [Row] {
        guard let profile = e.profile else { return [] }
        var rows: [Row] = []
        for (i, ins) in e.program.instructions.enumerated() where i < profile.count {
            let ops = ins.steps
            let flops = ins.flops
            let bytes = ins.inputs.reduce(ins.output.bytes) { $0 + $1.bytes }
            let name = "%\(ins.value)" + (ins.label.map { " \($0)" } ?? "")
            rows.append(Row(kernel: name, ops: ops, calls: profile[i].calls, seconds: profile[i].seconds, flops: flops * profile[i].calls,
                            bytes: bytes * profile[i].calls))
        }
        return rows
    }

    /// `noun` names what a row is, in the last lines ("kernels", or "kinds" for `byOps`).
    public static func text(_ rows: [Row], top: Int = 25, noun: String = "kernels") -> String {
        let total = rows.reduce(0) { $0 + $1.seconds }
        let sorted = rows.sorted { $0.seconds > $1.seconds }
        var out = "kernel                              ops                                     calls   total ms   % step   rate\n"
        func pad(_ s: String, _ n: Int) -> String {
            s.count >= n ? String(s.prefix(n - 1)) + " " : s + String(repeating: " ", count: n - s.count)
        }
        for r in sorted.prefix(top) {
            let rate = r.flops > 0 ? String(format: "%7.1f GFLOP/s", Double(r.flops) / r.seconds / 1e9)
                                   : String(format: "%7.1f GB/s", Double(r.bytes) / r.seconds / 1e9)
            out += pad(r.kernel, 36) + pad(r.ops, 40) + String(format: "%5d %10.3f %7.1f%%  ", r.calls, r.seconds * 1e3,
                                                                  100 * r.seconds / max(total, 1e-12)) + rate + "\n"
        }
        if sorted.count > top {
            let rest = sorted.dropFirst(top).reduce(0) { $0 + $1.seconds }
            out += "… \(sorted.count - top) more \(noun): " + String(format: "%.3f ms (%.1f%%)\n", rest * 1e3, 100 * rest / max(total, 1e-12))
        }
        out += String(format: "total %.3f ms in %d ", total * 1e3, rows.count) + noun + "\n"
        return out
    }

    /// The per-kernel table, then the same time summed by what runs inside the kernels.
    public static func report(_ rows: [Row]) -> String {
        text(rows) + "\nsummed by what runs inside:\n" + text(byOps(rows), top: 15, noun: "kinds")
    }

    /// The rows summed by what runs inside them (the `ops` column), largest first: where the step's time goes
    /// by kind of kernel rather than by instruction, like a profiler's per-operator averages. The kernel column
    /// says how many instructions each sum covers.
    public static func byOps(_ rows: [Row]) -> [Row] {
        var sums: [String: Row] = [:]
        var counts: [String: Int] = [:]
        for r in rows {
            var s = sums[r.ops] ?? Row(kernel: "", ops: r.ops, calls: 0, seconds: 0, flops: 0, bytes: 0)
            s.calls += r.calls
            s.seconds += r.seconds
            s.flops += r.flops
            s.bytes += r.bytes
            sums[r.ops] = s
            counts[r.ops, default: 0] += 1
        }
        return sums.values.map { r in
            var r = r
            let n = counts[r.ops] ?? 0
            r.kernel = "\(n) kernel\(n == 1 ? "" : "s")"
            return r
        }
    }
}
