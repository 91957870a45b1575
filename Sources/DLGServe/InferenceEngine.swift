import DLGData
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGTrain
import Foundation
import Synchronization

/// The values of one tensor for some examples, flat in row-major order, in
/// the tensor's element type.
public enum ExampleValues: Sendable, Equatable {
    case f32([Float])
    case f64([Double])
    case i32([Int32])

    public var count: Int {
        switch self {
        case .f32(let v): v.count
        case .f64(let v): v.count
        case .i32(let v): v.count
        }
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .f32(let v): v.withUnsafeBytes(body)
        case .f64(let v): v.withUnsafeBytes(body)
        case .i32(let v): v.withUnsafeBytes(body)
        }
    }

    /// `count` values of `dtype` copied from `p`.
    static func copy(_ p: UnsafeRawPointer, dtype: DType, count: Int) -> ExampleValues {
        switch dtype {
        case .f32: .f32(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: count)))
        case .f64: .f64(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Double.self), count: count)))
        case .i32: .i32(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Int32.self), count: count)))
        }
    }
}

/// Runs a served model's programs on batches gathered from concurrent
/// requests: **dynamic batching**.
///
/// Requests wait in a queue (FIFO). One thread of its own takes them out in
/// batches and runs each batch as one step of the program compiled for the
/// smallest bucket that holds it, the rows past the batch set to zero. A batch
/// starts as soon as the queue holds `maxBatch` examples; with fewer, the
/// thread waits for requests that have already started to arrive (their
/// bodies are being read or decoded), but never longer than `maxDelay` after
/// the oldest waiting request came; when none is on its way, the batch starts
/// at once. A request is never split over two batches.
///
/// Every bucket's executor is made once, at start-up, over one shared state
/// store (the parameters live once); a batch copies its requests' inputs into
/// the executor's arena and each request's rows of the outputs out of it.
/// Nothing is allocated for a batch besides those outputs (each request's
/// response), and the programs are batch-invariant, so a request's answer
/// does not depend on the batch it joined.
public final class InferenceEngine: @unchecked Sendable {
    public let model: ServedModel
    let executors: [Executor]
    let maxDelayNanoseconds: UInt64
    let timeoutNanoseconds: UInt64
    let metrics: ServerMetrics?

    /// A request in the queue.
    final class Job: @unchecked Sendable {
        let rows: Int
        let inputs: [ExampleValues]
        let arrival: UInt64
        var continuation: CheckedContinuation<Result<[ExampleValues], RequestError>, Never>?
        init(rows: Int, inputs: [ExampleValues], arrival: UInt64) {
            self.rows = rows
            self.inputs = inputs
            self.arrival = arrival
        }
    }

    // The queue, a ring of fixed capacity; guarded by `condition`.
    let condition = NSCondition()
    var ring: [Job?]
    var head = 0
    var queued = 0
    var queuedRows = 0
    var stopping = false
    var stopped = false
    var exitWaiters: [CheckedContinuation<Void, Never>] = []
    /// The batch being assembled (capacity reserved once).
    var batch: [Job] = []
    /// Requests whose bodies are being read or decoded: what a batch may wait for.
    let arriving = Atomic<Int>(0)

    /// Makes an executor per bucket, gives the parameters their initializers'
    /// values (`seed`) and then, when `weights` is given, the file's.
    public init(model: ServedModel, weights: SafetensorsFile?, seed: UInt64 = 0, threads: Int,
                maxDelay: Duration, timeout: Duration, maxQueue: Int = 1024, metrics: ServerMetrics? = nil) throws {
        self.model = model
        self.metrics = metrics
        func nanoseconds(_ d: Duration) -> UInt64 {
            let (s, a) = d.components
            return UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, a) / 1_000_000_000)
        }
        maxDelayNanoseconds = nanoseconds(maxDelay)
        timeoutNanoseconds = nanoseconds(timeout)
        let state = StateStore()
        var executors: [Executor] = []
        do {
            for p in model.programs { executors.append(try Executor(p, state: state, threads: threads)) }
        } catch {
            throw ModelLoadError(error.message)
        }
        executors.first?.initializeState(seed: seed)
        if let weights {
            let problems = Checkpoint.restore(state, from: weights)
            if !problems.isEmpty {
                throw ModelLoadError("the weights do not match the model:\n" + problems.map { "  \($0)" }.joined(separator: "\n"))
            }
        }
        self.executors = executors
        ring = Array(repeating: nil, count: max(1, maxQueue))
        batch.reserveCapacity(model.maxBatch)
    }

    /// Starts the batching thread.
    public func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "dlg-batcher"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Stops taking requests, answers every queued one, and returns when the batching thread has finished.
    public func shutdown() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            if stopped {
                condition.unlock()
                c.resume()
                return
            }
            stopping = true
            exitWaiters.append(c)
            condition.signal()
            condition.unlock()
        }
    }

    /// A request has started to arrive: a batch may wait for it (see the type's documentation).
    public func arrivalBegan() { arriving.add(1, ordering: .relaxed) }

    /// A request that began to arrive was queued or refused.
    public func arrivalEnded() {
        if arriving.subtract(1, ordering: .relaxed).newValue == 0 {
            condition.lock()
            condition.signal()
            condition.unlock()
        }
    }

    /// Queues `rows` examples (the values of every input, in the programs'
    /// order) and returns the outputs' values for them, in the outputs' order.
    /// `endingArrival`: the request was announced with `arrivalBegan()`, and
    /// its arrival ends once it is queued (or refused).
    public func predict(rows: Int, inputs: [ExampleValues], endingArrival: Bool = false) async -> Result<[ExampleValues], RequestError> {
        guard rows >= 1, rows <= model.maxBatch else {
            if endingArrival { arrivalEnded() }
            return .failure(RequestError(.tooManyExamples, "a request holds 1 to \(model.maxBatch) examples (the largest batch, --max-batch); this one holds \(rows)"))
        }
        let job = Job(rows: rows, inputs: inputs, arrival: DispatchTime.now().uptimeNanoseconds)
        return await withCheckedContinuation { c in
            job.continuation = c
            condition.lock()
            if endingArrival { arriving.subtract(1, ordering: .relaxed) }
            if stopping || queued == ring.count {
                let full = !stopping
                condition.signal()
                condition.unlock()
                c.resume(returning: .failure(full ? RequestError(.overloaded, "the queue is full: \(ring.count) request\(ring.count == 1 ? " is" : "s are") already waiting (--max-queue); try again later")
                                                  : RequestError(.shuttingDown, "the server is shutting down")))
                return
            }
            ring[(head + queued) % ring.count] = job
            queued += 1
            queuedRows += rows
            metrics?.queueDepth.record(queuedRows)
            condition.signal()
            condition.unlock()
        }
    }

    // MARK: The batching thread

    func loop() {
        // The kernels' threads flush subnormals when `dlg` asked for it; so does this one, which takes part in them.
        Threads.setFlushingDenormalsOnCurrentThread(Threads.flushesDenormals)
        condition.lock()
        while true {
            while queued == 0 && !stopping { condition.wait() }
            if queued == 0 { break }
            expireTimedOut()
            if queued == 0 { continue }
            // Gather: wait for requests on their way, up to the oldest one's deadline.
            let deadline = ring[head]!.arrival &+ maxDelayNanoseconds
            while queuedRows < model.maxBatch && !stopping && arriving.load(ordering: .relaxed) > 0 {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) * 1e-9))
            }
            var rows = 0
            while queued > 0, rows + ring[head]!.rows <= model.maxBatch {
                let job = ring[head]!
                ring[head] = nil
                head = (head + 1) % ring.count
                queued -= 1
                queuedRows -= job.rows
                rows += job.rows
                batch.append(job)
            }
            metrics?.queueDepth.record(queuedRows)
            condition.unlock()
            run(rows: rows)
            batch.removeAll(keepingCapacity: true)
            condition.lock()
        }
        stopped = true
        let waiters = exitWaiters
        exitWaiters = []
        condition.unlock()
        for w in waiters { w.resume() }
    }

    /// Answers the requests at the head of the queue that waited longer than the timeout (lock held).
    func expireTimedOut() {
        let now = DispatchTime.now().uptimeNanoseconds
        while queued > 0, let job = ring[head], now &- job.arrival > timeoutNanoseconds {
            ring[head] = nil
            head = (head + 1) % ring.count
            queued -= 1
            queuedRows -= job.rows
            let seconds = Double(timeoutNanoseconds) / 1e9
            job.continuation?.resume(returning: .failure(RequestError(.timeout, "no batch took the request within \(seconds) s (--timeout)")))
            job.continuation = nil
        }
        metrics?.queueDepth.record(queuedRows)
    }

    /// Answers every request of the gathered batch with `error`.
    func fail(_ error: RequestError) {
        for job in batch {
            job.continuation?.resume(returning: .failure(error))
            job.continuation = nil
        }
    }

    /// Runs the gathered batch and answers its requests.
    func run(rows: Int) {
        let start = DispatchTime.now().uptimeNanoseconds
        guard let b = model.bucket(for: rows) else {
            fail(RequestError(.internalError, "no program holds a batch of \(rows)"))
            return
        }
        let e = executors[b]
        let size = model.buckets[b]
        for (i, spec) in model.inputs.enumerated() {
            let base = e.inputPointer(i)
            let rowBytes = spec.exampleCount * spec.dtype.byteSize
            var offset = 0
            for job in batch {
                job.inputs[i].withBytes { src in
                    if let s = src.baseAddress { (base + offset).copyMemory(from: s, byteCount: src.count) }
                }
                offset += job.rows * rowBytes
            }
            // Rows past the batch: zeros (a bucket's row never changes another's result).
            if rows < size { (base + offset).initializeMemory(as: UInt8.self, repeating: 0, count: (size - rows) * rowBytes) }
        }
        do {
            try e.run()
        } catch {
            fail(RequestError(.internalError, "running the model failed: \(error.message)"))
            return
        }
        var row = 0
        for job in batch {
            var outputs: [ExampleValues] = []
            outputs.reserveCapacity(model.outputs.count)
            for (o, spec) in model.outputs.enumerated() {
                let n = spec.exampleCount
                outputs.append(.copy(e.outputPointer(o) + row * n * spec.dtype.byteSize, dtype: spec.dtype, count: job.rows * n))
            }
            row += job.rows
            job.continuation?.resume(returning: .success(outputs))
            job.continuation = nil
        }
        if let metrics {
            metrics.batchSize.record(rows)
            metrics.batchTime.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        }
    }
}
