import ArgumentParser
import DLGDistributed
import DLGRuntime
import Foundation

/// `mpirun -np N dlg-benchmarks allreduce`: the time of one MPI_Allreduce (sum, in place,
/// through dlg's MPI wrapper) of the gradients of LeNet-5, ResNet-20 and ResNet-50 in f32,
/// and of one float (the latency), between the processes of the job. Rank 0 prints the
/// median over the runs, and the bus bandwidth, 2(N − 1)/N · bytes / time: what each
/// process sends (and receives) in a ring allreduce, per second (Docs/distributed.md).
struct AllreduceBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "MPI_Allreduce of gradient-sized vectors between the processes of an mpirun job.")

    @Option(help: "Timed runs per size (after 3 warm-up runs).") var runs = 20
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard Launch.detect() != nil else {
            throw ValidationError("start it with mpirun, e.g. mpirun -np 2 dlg-benchmarks allreduce")
        }
        let group = try Launch.joinMPI()
        defer { group.finish() }
        let sizes: [(String, Int)] = [("1 float (latency)", 1), ("LeNet-5 (61,706)", 61_706),
                                      ("ResNet-20 (272,474)", 272_474), ("ResNet-50 (25,557,032)", 25_557_032)]
        var rows: [(String, Int, Double, Double)] = []
        for (name, count) in sizes {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { buffer.deallocate() }
            buffer.initialize(repeating: 1, count: count)
            // Fewer runs of the largest: each moves hundreds of megabytes.
            let n = count > 10_000_000 ? max(3, runs / 4) : runs
            var samples: [Double] = []
            for i in 0..<(n + 3) {
                // The processes start each sum together (an exchange of one word first).
                _ = try group.allgather([UInt64(i)])
                let t0 = DispatchTime.now().uptimeNanoseconds
                try group.allreduceSum(UnsafeMutableRawPointer(buffer), count: count, dtype: .f32)
                let t = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                if i >= 3 { samples.append(t) }
                // Keep the values small: a sum of ones grows N-fold each run.
                buffer.update(repeating: 1, count: count)
            }
            let m = Measurement(name: name, samples: samples)
            rows.append((name, count, m.median, m.min))
        }
        guard group.rank == 0 else { return }
        let n = Double(group.size)
        if json {
            let items = rows.map { r in
                "{\"name\":\"\(r.0)\",\"floats\":\(r.1),\"seconds\":\(r.2),\"min_seconds\":\(r.3),\"bus_gb_per_s\":\(2 * (n - 1) / n * Double(r.1 * 4) / r.2 / 1e9)}"
            }
            print("{\"processes\":\(group.size),\"sizes\":[\(items.joined(separator: ","))]}")
            return
        }
        print("MPI_Allreduce (sum, f32, in place) over \(group.size) processes, median and minimum of \(runs) runs:")
        print("size".padding(toLength: 26, withPad: " ", startingAt: 0) + "bytes".leftPad(12) + "median".leftPad(14)
              + "bus GB/s".leftPad(10) + "minimum".leftPad(14) + "bus GB/s".leftPad(10))
        for (name, count, t, fastest) in rows {
            let bytes = count * 4
            func bus(_ s: Double) -> String { String(format: "%.2f", 2 * (n - 1) / n * Double(bytes) / s / 1e9) }
            print(name.padding(toLength: 26, withPad: " ", startingAt: 0) + String(bytes).leftPad(12)
                  + ms(t).leftPad(14) + bus(t).leftPad(10) + ms(fastest).leftPad(14) + bus(fastest).leftPad(10))
        }
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
