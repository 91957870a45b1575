import DLGCompiler
import DLGData
import DLGDistributed
import DLGRuntime
import DLGSource
import DLGTrain
import Foundation
import Testing

/// What the threads of `DataParallelTests.onThreads` return, gathered under a lock.
final class ThreadResults<T>: @unchecked Sendable {
    let lock = NSLock()
    var values: [Int: T] = [:]
    var failures: [String] = []
}

/// Data-parallel training with threads as replicas (InProcessGroup): N
/// replicas on 1/N of each global batch end an epoch with the parameters one
/// process reaches on the whole batches, within rounding (the references are
/// single-process runs of the same settings).
@Suite("Data-parallel training, replicas in one process")
struct DataParallelTests {
    /// An MLP classifier; `dtype` f32 or f64.
    static func mlp(_ dtype: String) -> String {
        """
        model net {
            input  x: \(dtype)[B, 2]
            input  label: i32[B]
            h1 = tanh(dense(x, 16))
            h2 = relu(dense(h1, 12))
            output logits = dense(h2, 2)
            minimize cross_entropy(logits, label)
        }
        """
    }

    /// Batchnorm and dropout (CheckpointTests' model): local statistics differ by design;
    /// synchronized ones do not.
    static let regularized = DLGTrainTests.regularized

    /// A loss summed over the batch (not averaged): replicas add their shares without weights.
    static let summed = """
        model reg {
            input  x: f32[B, 1]
            input  y: f32[B, 1]
            h = tanh(dense(x, 8))
            output yhat = dense(h, 1)
            minimize 0.5 * sum(square(yhat - y))
        }
        """

    static func config(batch: Int, optimizer: OptimizerSpec = OptimizerSpec(kind: .adam, lr: 0.01), sync: Bool = false) -> TrainConfig {
        var c = TrainConfig()
        c.optimizer = optimizer
        c.batch = batch
        c.epochs = 1
        c.seed = 5
        c.syncBatchnorm = sync
        return c
    }

    /// 2·perClass spiral points in a random order (labels i32), features in `dtype`.
    static func spirals(_ perClass: Int, dtype: ElementType = .f32) throws -> Dataset {
        let d = try Synthetic.spirals(perClass: perClass, noise: 0.1, seed: 4).shuffled(seed: 9)
        return try Dataset(name: d.name, features: try d.features.converted(to: dtype), labels: d.labels)
    }

    struct Outcome {
        var state: [String: [Double]]
        var history: [EpochRecord]
        var steps: Int
    }

    /// Trains in one process.
    static func single(_ source: String, _ config: TrainConfig, _ train: Dataset, _ validation: Dataset?) throws -> Outcome {
        let s = try makeSession(source, config: config)
        let r = try Trainer(session: s).run(train: train, validation: validation)
        return Outcome(state: Dictionary(uniqueKeysWithValues: s.stateArrays().map { ($0.name, $0.array.toDoubles()) }),
                       history: r.history, steps: r.steps)
    }

    /// Runs `body(rank)` on `replicas` threads at once; the results in rank order.
    static func onThreads<T: Sendable>(_ replicas: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = ThreadResults<T>()
        let done = DispatchGroup()
        for rank in 0..<replicas {
            done.enter()
            let t = Thread {
                defer { done.leave() }
                do {
                    let v = try body(rank)
                    results.lock.withLock { results.values[rank] = v }
                } catch {
                    results.lock.withLock { results.failures.append("rank \(rank): \(error)") }
                }
            }
            t.stackSize = 8 << 20
            t.start()
        }
        done.wait()
        if !results.failures.isEmpty { throw TrainError(results.failures.sorted().joined(separator: "; ")) }
        return (0..<replicas).map { results.values[$0]! }
    }

    /// Trains over `replicas` threads; every replica's outcome, in rank order.
    static func replicated(_ source: String, _ config: TrainConfig, _ train: Dataset, _ validation: Dataset?,
                           replicas: Int, checkEvery: Int? = 1) throws -> [Outcome] {
        let group = InProcessGroup(size: replicas)
        return try onThreads(replicas) { rank in
            let s = try Session(file: SourceFile(path: "test.dlg", text: source), model: nil, config: config,
                                threads: 1, collective: group.member(rank))
            let trainer = try Trainer(session: s)
            trainer.checkReplicasEvery = checkEvery
            let r = try trainer.run(train: train, validation: validation)
            return Outcome(state: Dictionary(uniqueKeysWithValues: s.stateArrays().map { ($0.name, $0.array.toDoubles()) }),
                           history: r.history, steps: r.steps)
        }
    }

    /// The largest difference of a tensor relative to its largest magnitude.
    static func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        let scale = max(b.map(abs).max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    static func expectSameState(_ a: Outcome, _ b: Outcome, tolerance: Double, _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(a.state.keys) == Set(b.state.keys), "\(what): state entries", sourceLocation: sourceLocation)
        for (name, values) in b.state.sorted(by: { $0.key < $1.key }) {
            guard let other = a.state[name] else { continue }
            let d = relativeDifference(other, values)
            #expect(d <= tolerance, "\(what): \(name) differs by \(d) relative", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [2, 3])
    func mlpMatchesOneProcessInF32(replicas: Int) throws {
        // 100 examples in batches of 12: eight full batches and a last one of 4 (shares 2+2, or 2+1+1).
        let data = try Self.spirals(60)
        let (train, validation) = try data.split(last: 20)
        let c = Self.config(batch: 12)
        let one = try Self.single(Self.mlp("f32"), c, train, validation)
        let many = try Self.replicated(Self.mlp("f32"), c, train, validation, replicas: replicas)
        #expect(one.steps == 9 && many.allSatisfy { $0.steps == 9 })
        for (r, o) in many.enumerated() {
            Self.expectSameState(o, one, tolerance: 1e-6, "rank \(r) of \(replicas)")
            // The reduced figures are the whole batches' and the whole held-out set's.
            let (x, y) = (o.history[0], one.history[0])
            #expect(abs(x.loss - y.loss) <= 1e-6 * abs(y.loss))
            #expect(x.accuracy == y.accuracy)
            #expect(abs(x.valLoss! - y.valLoss!) <= 1e-6 * abs(y.valLoss!))
            #expect(x.valAccuracy == y.valAccuracy)
        }
        // Replicas agree with each other bit for bit.
        for o in many.dropFirst() { #expect(o.state == many[0].state) }
    }

    @Test(arguments: [2, 3])
    func mlpMatchesOneProcessInF64(replicas: Int) throws {
        let data = try Self.spirals(60, dtype: .f64)
        let (train, validation) = try data.split(last: 20)
        let c = Self.config(batch: 12, optimizer: OptimizerSpec(kind: .sgd, lr: 0.1))
        let one = try Self.single(Self.mlp("f64"), c, train, validation)
        let many = try Self.replicated(Self.mlp("f64"), c, train, validation, replicas: replicas)
        Self.expectSameState(many[0], one, tolerance: 1e-12, "f64 over \(replicas)")
        // Not trivially equal: training moved the parameters.
        let s0 = try makeSession(Self.mlp("f64"), config: c)
        _ = try s0.trainExecutor(batch: 12)
        let initial = s0.state.values("h1.weight")!
        #expect(Self.relativeDifference(one.state["h1.weight"]!, initial) > 1e-3)
    }

    @Test(arguments: [2, 3])
    func synchronizedBatchnormMatchesOneProcess(replicas: Int) throws {
        // Batchnorm statistics over the whole batch, and dropout masks drawn for the replica's
        // rows of the whole batch: the same step as one process, running statistics included
        // (the running variance's n/(n − 1) counts the global batch, not the replica's rows).
        let data = try Self.spirals(60)
        let (train, validation) = try data.split(last: 20)
        let c = Self.config(batch: 12, sync: true)
        let one = try Self.single(Self.regularized, c, train, validation)
        let many = try Self.replicated(Self.regularized, c, train, validation, replicas: replicas)
        Self.expectSameState(many[0], one, tolerance: 1e-6, "sync_batchnorm over \(replicas)")
        #expect(one.state["h.batchnorm.running_mean"] != nil)
    }

    @Test
    func localBatchnormStatisticsDifferButReplicasAgree() throws {
        let data = try Self.spirals(60)
        let (train, validation) = try data.split(last: 20)
        let c = Self.config(batch: 12)
        let one = try Self.single(Self.regularized, c, train, validation)
        let many = try Self.replicated(Self.regularized, c, train, validation, replicas: 2)
        // Each replica normalizes by its 6 rows' statistics, not the 12 rows': a different step.
        let replicaWeight = try #require(many[0].state["h.weight"])
        let oneWeight = try #require(one.state["h.weight"])
        #expect(Self.relativeDifference(replicaWeight, oneWeight) > 1e-4)
        // The running statistics are rank 0's, sent to the others after the epoch.
        #expect(many[0].state == many[1].state)
    }

    @Test
    func summedLossAddsTheReplicasShares() throws {
        let d = try Synthetic.sine(count: 70, seed: 3)
        let c = Self.config(batch: 8, optimizer: OptimizerSpec(kind: .sgd, lr: 0.002))
        let one = try Self.single(Self.summed, c, d, nil)
        // 70 = 8·8 + 6: the last batch splits 3+3.
        let many = try Self.replicated(Self.summed, c, d, nil, replicas: 2)
        Self.expectSameState(many[0], one, tolerance: 1e-6, "summed loss")
        #expect(abs(many[0].history[0].loss - one.history[0].loss) <= 1e-6 * one.history[0].loss)
    }

    @Test
    func aReplicaWithoutRowsInTheLastBatchAddsNothing() throws {
        // 97 examples in batches of 12: the last batch has one row, so rank 1 has none in it.
        let data = try Self.spirals(60)
        let (train, _) = try data.split(last: 23)
        #expect(train.count == 97)
        let c = Self.config(batch: 12)
        let one = try Self.single(Self.mlp("f32"), c, train, nil)
        let many = try Self.replicated(Self.mlp("f32"), c, train, nil, replicas: 2)
        // f32 sums over other batch shapes: 1.5e-6 apart with OpenBLAS's AVX2 kernels.
        Self.expectSameState(many[0], one, tolerance: 1e-5, "a replica without rows")
        #expect(abs(many[1].history[0].loss - one.history[0].loss) <= 1e-6 * one.history[0].loss)
    }

    @Test
    func synchronizedBatchnormWithAReplicaWithoutRows() throws {
        // 97 examples in batches of 12: the last batch has one row, so rank 1 has none in it
        // (share 0). Rank 0's running statistics are still the one process's.
        let data = try Self.spirals(60)
        let (train, validation) = try data.split(last: 23)
        let c = Self.config(batch: 12, sync: true)
        let one = try Self.single(Self.regularized, c, train, validation)
        let many = try Self.replicated(Self.regularized, c, train, validation, replicas: 2)
        // f32 rounding of the other sum order, through nine Adam steps: up to 1.1e-6 in a moment.
        Self.expectSameState(many[0], one, tolerance: 2e-6, "sync_batchnorm, a replica without rows")
        for name in ["h.batchnorm.running_mean", "h.batchnorm.running_var"] {
            let a = try #require(many[0].state[name]), b = try #require(one.state[name])
            #expect(Self.relativeDifference(a, b) <= 1e-6, "\(name)")
        }
        #expect(many[0].state == many[1].state)
    }

    @Test
    func aBatchThatDoesNotSplitEvenlyIsRefused() throws {
        let data = try Self.spirals(30)
        #expect(throws: TrainError.self) {
            _ = try Self.replicated(Self.mlp("f32"), Self.config(batch: 10), data, nil, replicas: 3)
        }
        do {
            _ = try Self.replicated(Self.mlp("f32"), Self.config(batch: 10), data, nil, replicas: 3)
        } catch {
            #expect("\(error)".contains("the global batch 10 does not split evenly over 3 processes; choose a multiple of 3, such as 9 or 12"))
        }
    }

    @Test
    func checkpointsOfAReplicatedRunResumeInOneProcess() throws {
        // Two epochs over two replicas against one epoch over two replicas, saved, then a second
        // epoch in one process from that checkpoint: the same parameters.
        let dir = try ScratchDirectory()
        let data = try Self.spirals(60)
        let (train, validation) = try data.split(last: 20)
        var c = Self.config(batch: 12)
        c.epochs = 2
        let two = try Self.single(Self.mlp("f32"), c, train, validation)
        let group = InProcessGroup(size: 2)
        let path = dir.file("half.safetensors")
        let config = c
        _ = try Self.onThreads(2) { rank in
            let s = try Session(file: SourceFile(path: "test.dlg", text: Self.mlp("f32")), model: nil, config: config,
                                threads: 1, collective: group.member(rank))
            let t = try Trainer(session: s)
            t.stopAfterEpochs = 1
            if rank == 0 { t.checkpointPath = path }
            return try t.run(train: train, validation: validation).steps
        }
        let file = try Checkpoint.load(path)
        #expect(file.position?.epoch == 1)
        #expect(file.tensors.tensors.allSatisfy { !$0.name.hasPrefix("replica.") })
        let s = try makeSession(Self.mlp("f32"), config: c)
        let t = try Trainer(session: s)
        t.resumePath = path
        _ = try t.run(train: train, validation: validation)
        let resumed = Outcome(state: Dictionary(uniqueKeysWithValues: s.stateArrays().map { ($0.name, $0.array.toDoubles()) }),
                              history: [], steps: 0)
        Self.expectSameState(resumed, two, tolerance: 1e-6, "resumed in one process")
    }

    @Test
    func sharesAreContiguousAndEven() {
        #expect(DataParallel.shard(12, replicas: 3, rank: 0) == 0..<4)
        #expect(DataParallel.shard(12, replicas: 3, rank: 2) == 8..<12)
        // 4 rows over 3: the first rank takes the extra one.
        #expect((0..<3).map { DataParallel.shard(4, replicas: 3, rank: $0) } == [0..<2, 2..<3, 3..<4])
        #expect((0..<3).map { DataParallel.shard(1, replicas: 3, rank: $0) } == [0..<1, 1..<1, 1..<1])
    }

    @Test
    func mpiCallsAreSplitBelowTheirCountLimit() {
        #expect(Launch.pieces(10, limit: 4) == [0..<4, 4..<8, 8..<10])
        #expect(Launch.pieces(8, limit: 4) == [0..<4, 4..<8])
        #expect(Launch.pieces(0, limit: 4).isEmpty)
        #expect(Launch.pieces(5) == [0..<5])
    }

    @Test
    func launchersAreDetectedFromTheirEnvironment() {
        #expect(Launch.detect([:]) == nil)
        #expect(Launch.detect(["OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "3"])! == (1, 3))
        #expect(Launch.detect(["PMI_RANK": "0", "PMI_SIZE": "2"])! == (0, 2))
        #expect(Launch.detect(["OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "3"]) == nil)
    }
}
