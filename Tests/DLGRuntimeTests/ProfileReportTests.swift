@testable import DLGRuntime
import Testing

/// The profile's second table sums the per-kernel rows by what runs inside them.
@Suite struct ProfileReportTests {
    static let rows = [
        ProfileReport.Row(kernel: "%1 a", ops: "conv2d", calls: 10, seconds: 0.030, flops: 3_000, bytes: 0),
        ProfileReport.Row(kernel: "%2 b", ops: "mul+reduce_sum", calls: 10, seconds: 0.002, flops: 40, bytes: 400),
        ProfileReport.Row(kernel: "%3 c", ops: "conv2d", calls: 10, seconds: 0.010, flops: 1_000, bytes: 0),
    ]

    @Test func sumsRowsWithTheSameOps() {
        let sums = ProfileReport.byOps(Self.rows).sorted { $0.seconds > $1.seconds }
        #expect(sums.map(\.ops) == ["conv2d", "mul+reduce_sum"])
        #expect(sums.map(\.kernel) == ["2 kernels", "1 kernel"])
        #expect(sums.map(\.calls) == [20, 10])
        #expect(abs(sums[0].seconds - 0.040) < 1e-12)
        #expect(sums.map(\.flops) == [4_000, 40])
    }

    @Test func reportShowsBothTables() {
        let text = ProfileReport.report(Self.rows)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("total 42.000 ms in 3 kernels"))
        #expect(lines.contains("summed by what runs inside:"))
        #expect(lines.contains("total 42.000 ms in 2 kinds"))
        // conv2d: 4,000 FLOPs in 40 ms = 0.0001 GFLOP/s, 95.2% of the time.
        #expect(lines.contains { $0.hasPrefix("2 kernels") && $0.contains("95.2%") })
    }
}
