import DLGGraph
import DLGRuntime
import Foundation

/// Replicas that are threads of one process: `member(r)` is rank r's view,
/// to be used by one thread each. The sums are computed in rank order, the
/// same on every member, so a run over them is deterministic. Meant for tests
/// and for trying data-parallel training without an MPI launcher; a started
/// sum is computed at once (there is nothing to overlap with).
public final class InProcessGroup: @unchecked Sendable {
    public let size: Int
    let lock = NSCondition()
    var arrived = 0
    var generation = 0
    /// Each member's buffer and element count for the operation under way.
    var slots: [(pointer: UnsafeMutableRawPointer?, count: Int)]
    var words: [[UInt64]]

    public init(size: Int) {
        precondition(size >= 1)
        self.size = size
        slots = Array(repeating: (nil, 0), count: size)
        words = Array(repeating: [], count: size)
    }

    /// Rank `rank`'s view of the group.
    public func member(_ rank: Int) -> Collective { Member(group: self, rank: rank) }

    func deposit(_ rank: Int, _ pointer: UnsafeMutableRawPointer, _ count: Int) {
        lock.lock()
        slots[rank] = (pointer, count)
        lock.unlock()
    }

    /// Waits until every member has arrived (a reusable barrier).
    func barrier() {
        lock.lock()
        let g = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            lock.broadcast()
        } else {
            while generation == g { lock.wait() }
        }
        lock.unlock()
    }

    final class Member: Collective, @unchecked Sendable {
        let group: InProcessGroup
        let rank: Int
        var size: Int { group.size }
        var waitSeconds = 0.0

        init(group: InProcessGroup, rank: Int) {
            self.group = group
            self.rank = rank
        }

        func timed<R>(_ body: () throws(CollectiveError) -> R) throws(CollectiveError) -> R {
            let t = DispatchTime.now().uptimeNanoseconds
            defer { waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - t) * 1e-9 }
            return try body()
        }

        func allreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError) {
            try timed { () throws(CollectiveError) in
                group.deposit(rank, buffer, count)
                group.barrier()
                guard group.slots.allSatisfy({ $0.count == count }) else {
                    group.barrier()
                    throw CollectiveError("the replicas sum different counts: \(group.slots.map(\.count))")
                }
                // Every member adds the buffers up in rank order into its own scratch, then
                // (once no one reads them any more) writes the result over its buffer.
                switch dtype {
                case .f32: sum(Float.self, buffer, count)
                case .f64: sum(Double.self, buffer, count)
                case .i32: sum(Int32.self, buffer, count)
                }
            }
        }

        func sum<T: AdditiveArithmetic>(_: T.Type, _ buffer: UnsafeMutableRawPointer, _ count: Int) {
            var total = [T](repeating: .zero, count: count)
            for r in 0..<group.size {
                let p = group.slots[r].pointer!.assumingMemoryBound(to: T.self)
                for i in 0..<count { total[i] += p[i] }
            }
            group.barrier()
            let out = buffer.assumingMemoryBound(to: T.self)
            for i in 0..<count { out[i] = total[i] }
        }

        func startAllreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError) {
            try allreduceSum(buffer, count: count, dtype: dtype)
        }

        func finishAllreduce(_ buffer: UnsafeMutableRawPointer) throws(CollectiveError) {}

        func allgather(_ values: [UInt64]) throws(CollectiveError) -> [[UInt64]] {
            try timed { () throws(CollectiveError) in
                group.lock.lock()
                group.words[rank] = values
                group.lock.unlock()
                group.barrier()
                let all = group.words
                group.barrier()
                return all
            }
        }

        func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws(CollectiveError) {
            try timed { () throws(CollectiveError) in
                group.deposit(rank, buffer, bytes)
                group.barrier()
                if rank != root, let source = group.slots[root].pointer {
                    buffer.copyMemory(from: source, byteCount: min(bytes, group.slots[root].count))
                }
                group.barrier()
            }
        }
    }
}
