import DLGData
import Foundation

/// An epoch's augmented training batches, produced on a worker thread ahead of the steps
/// that take them: while step k runs, batch k + 1 (and k + 2) are being made. Each batch is
/// the features of its rows, every example transformed by `ImageAugmenter` with its own
/// stream, so the batches do not depend on the thread that makes them.
public final class AugmentedBatches: @unchecked Sendable {
    let source: [Float]
    let augmenter: ImageAugmenter
    let order: [Int]
    let batch: Int
    let epoch: Int
    let shape: [Int]
    let lock = NSCondition()
    var ready: [Int: [Float]] = [:]
    var cancelled = false
    var finished = false
    /// Batches made ahead of the one being consumed.
    let depth = 2
    var consumed = 0
    /// Seconds the producer spent making batches, and the steps spent waiting for them.
    public private(set) var producingSeconds = 0.0
    public private(set) var waitingSeconds = 0.0
    var thread: Thread?

    /// `source` holds the features of every example, `augmenter.geometry.count` values each;
    /// `shape` is the shape of one example as the model's input takes it.
    public init(source: [Float], augmenter: ImageAugmenter, order: [Int], batch: Int, epoch: Int, shape: [Int]) {
        self.source = source
        self.augmenter = augmenter
        self.order = order
        self.batch = batch
        self.epoch = epoch
        self.shape = shape
        let t = Thread { self.produce() }
        t.name = "dlg-augment"
        thread = t
        t.start()
    }

    var batchCount: Int { (order.count + batch - 1) / batch }

    /// Makes batch `k` of the epoch (also used directly, without the thread, by `dlg augment`).
    public func make(_ k: Int) -> [Float] {
        let rows = order[(k * batch)..<min((k + 1) * batch, order.count)]
        let per = augmenter.geometry.count
        var out = [Float](repeating: 0, count: rows.count * per)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (i, r) in rows.enumerated() {
                    augmenter.augment(epoch: epoch, example: r, src.baseAddress! + r * per, dst.baseAddress! + i * per)
                }
            }
        }
        return out
    }

    func produce() {
        for k in 0..<batchCount {
            lock.lock()
            while !cancelled && k >= consumed + depth { lock.wait() }
            if cancelled { lock.unlock(); break }
            lock.unlock()
            let start = DispatchTime.now().uptimeNanoseconds
            let b = make(k)
            let spent = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            lock.lock()
            producingSeconds += spent
            ready[k] = b
            lock.broadcast()
            lock.unlock()
        }
        lock.lock()
        finished = true
        lock.broadcast()
        lock.unlock()
    }

    /// The features of batch `k` (the batches are taken in order), as the model's input.
    public func take(_ k: Int) throws -> NDArray {
        let start = DispatchTime.now().uptimeNanoseconds
        lock.lock()
        while ready[k] == nil && !finished { lock.wait() }
        let b = ready.removeValue(forKey: k)
        consumed = k + 1
        waitingSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        lock.broadcast()
        lock.unlock()
        guard let b else { throw TrainError("augmented batch \(k) was not made") }
        return try NDArray(b, shape: [b.count / augmenter.geometry.count] + shape)
    }

    /// Stops the producer (at the end of an epoch, or when it ends early) and waits for it.
    public func finish() {
        lock.lock()
        cancelled = true
        lock.broadcast()
        while !finished { lock.wait() }
        lock.unlock()
    }
}
