import DLGGraph

/// The replicas of a data-parallel run, as the runtime sees them: `size`
/// processes, each running the same programs on its own shard of every batch,
/// this one being `rank`. The collective kernels (`allreduce`,
/// `allreduce_start`, `allreduce_wait`) and the trainer call it; DLGDistributed
/// implements it over MPI, and with threads as replicas in one process.
///
/// Every replica must make the same calls in the same order (as MPI's
/// collectives require): the programs guarantee it, since every rank compiles
/// the same graph into the same instruction order.
public protocol Collective: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `count` elements at `buffer` by their sum over all replicas, the same on every one.
    func allreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError)
    /// Starts that sum and returns before it is done; `finishAllreduce` with the same
    /// buffer waits for it. Nothing may read or write the buffer in between.
    func startAllreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError)
    func finishAllreduce(_ buffer: UnsafeMutableRawPointer) throws(CollectiveError)
    /// Every replica's `values` (the same count on each), in rank order.
    func allgather(_ values: [UInt64]) throws(CollectiveError) -> [[UInt64]]
    /// Gives every replica rank `root`'s `bytes` bytes at `buffer`.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws(CollectiveError)
    /// Seconds spent in collectives so far, as the calling thread saw it: the blocking
    /// calls' whole time, and for a started sum the time `finishAllreduce` waited.
    var waitSeconds: Double { get }
}

public struct CollectiveError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Collective {
    /// Sums small vectors of Doubles over the replicas (tallies, flags).
    public func allreduceSum(_ values: [Double]) throws(CollectiveError) -> [Double] {
        var v = values
        if v.isEmpty { return v }
        let count = v.count
        var failure: CollectiveError?
        v.withUnsafeMutableBytes { b in
            do throws(CollectiveError) { try allreduceSum(b.baseAddress!, count: count, dtype: .f64) } catch { failure = error }
        }
        if let failure { throw failure }
        return v
    }
}
