import DLGGraph
import DLGKernels

/// Binds each instruction's kernel to its buffers, once, when an executor
/// is created: every choice was made by the compiler (`Kernel`); this only
/// resolves pointers and makes the call — in a batch-invariant program
/// (`Program.batchInvariant`), GEMMs as row-stable GEMMs and convolutions
/// image by image.
extension Executor {
    typealias Call = () throws(ExecutionError) -> Void

    func bind<T: KernelScalar>(_ ins: Instruction, _: T.Type) throws(ExecutionError) -> Call {
        let out = pointer(ins.output, T.self)
        let pointers = ins.inputs.map { pointer($0, T.self) }
        return try bind(ins.kernel, ins, inputs: pointers, output: out, T.self)
    }

    /// The call of `kernel` reading `inputs` (the instruction's inputs, as T) and writing `out`.
    /// `workspaceLimit`: the bytes at the workspace's start the kernel may use (a fused region's head
    /// whose result waits in scratch after them); the whole workspace otherwise.
    func bind<T: KernelScalar>(_ kernel: Kernel, _ ins: Instruction, inputs x: [UnsafeMutablePointer<T>],
                               output out: UnsafeMutablePointer<T>, _: T.Type,
                               workspaceLimit: Int? = nil) throws(ExecutionError) -> Call {
        let n = ins.output.count
        let threads = self.threads
        let ws = UnsafeMutableBufferPointer<T>(start: workspace.assumingMemoryBound(to: T.self),
                                                count: min(workspaceBytes, workspaceLimit ?? workspaceBytes) / MemoryLayout<T>.stride)
        switch kernel {
        case .unary(let f):
            let a = x[0]
            return { Threads.elementwise(n, threads: threads) { r in unary(f, a + r.lowerBound, out + r.lowerBound, count: r.count) } }
        case .unaryGradient(let f):
            let (a, y, dy) = (x[0], x[1], x[2])
            return {
                Threads.elementwise(n, threads: threads) { r in
                    let o = r.lowerBound
                    unaryBackward(f, x: a + o, y: y + o, dy: dy + o, dx: out + o, count: r.count)
                }
            }
        case .binary(let op):
            let (a, b) = (x[0], x[1])
            return { Threads.elementwise(n, threads: threads) { r in binary(op, a + r.lowerBound, b + r.lowerBound, out + r.lowerBound, count: r.count) } }
        case .broadcastBinary(let op, let plan):
            let (a, b) = (x[0], x[1])
            return { binary(op, plan, a, b, out) }
        case .biasAdd(let shape, let axis):
            let (a, b) = (x[0], x[1])
            return { biasAdd(a, b, out, shape: shape, axis: axis) }
        case .reduce(let op, let plan):
            let a = x[0]
            // The plan's scratch is in the workspace (see `Kernel.workspaceBytes`).
            let scratch = workspace
            return { reduce(op, plan, a, out, threads: threads, scratch: scratch) }
        case .extremumGradient(let minimum, let plan):
            let (a, dy) = (x[0], x[1])
            let scratch = workspace
            if minimum { return { reduceMinBackward(plan, x: a, dy: dy, dx: out, scratch: scratch) } }
            return { reduceMaxBackward(plan, x: a, dy: dy, dx: out, scratch: scratch) }
        case .fill(let v):
            let value = T(v)
            return { out.update(repeating: value, count: n) }
        case .copy:
            let a = x[0]
            return { out.update(from: a, count: n) }
        case .alias:
            return {}
        case .transpose(let plan):
            let a = x[0]
            return { transpose(plan, a, out) }
        case .broadcast(let plan):
            let a = x[0]
            return { broadcastTo(plan, a, out) }
        case .concat(let plan):
            let xs = x.map { UnsafePointer($0) }
            return { concat(plan, xs, out, threads: threads) }
        case .slice(let plan):
            let a = x[0]
            return { slice(plan, a, out, threads: threads) }
        case .sliceGradient(let plan):
            let a = x[0]
            return { sliceBackward(plan, a, out, threads: threads) }
        case .pad(let g):
            let a = x[0]
            return { Pad2D.forward(g, input: a, output: out, threads: threads) }
        case .padGradient(let g):
            let a = x[0]
            return { Pad2D.backward(g, gradOutput: a, gradInput: out, threads: threads) }
        case .oneHot(let classes):
            let labels = pointer(ins.inputs[0], Int32.self)
            let rows = ins.inputs[0].count
            return { () throws(ExecutionError) in
                do throws(LabelError) { try oneHot(labels: labels, count: rows, classes: classes, out) } catch {
                    throw ExecutionError("label \(error.label) in row \(error.row) is out of range for \(classes) classes")
                }
            }
        case .gather(let rows, let width, let source):
            let table = x[0], indices = pointer(ins.inputs[1], Int32.self)
            let count = ins.inputs[1].count
            return { () throws(ExecutionError) in
                do throws(IndexError) { try gatherRows(table: table, rows: rows, width: width, indices: indices, count: count, out, threads: threads) } catch {
                    throw ExecutionError(source.message(error))
                }
            }
        case .gatherGradient(let rows, let width, let source):
            let indices = pointer(ins.inputs[0], Int32.self), dy = x[1]
            let count = ins.inputs[0].count
            return { () throws(ExecutionError) in
                do throws(IndexError) { try scatterAddRows(dy: dy, rows: rows, width: width, indices: indices, count: count, out,
                                                      threads: threads) } catch {
                    throw ExecutionError(source.message(error))
                }
            }
        case .convert:
            switch (ins.inputs[0].dtype, ins.output.dtype) {
            case (.i32, .i32):
                let a = pointer(ins.inputs[0], Int32.self), y = pointer(ins.output, Int32.self)
                return { y.update(from: a, count: n) }
            case (.i32, _):
                let a = pointer(ins.inputs[0], Int32.self)
                return { cast(a, out, count: n) }
            case (_, .i32):
                let a = x[0], y = pointer(ins.output, Int32.self)
                return { cast(a, y, count: n) }
            default:
                let a = x[0]
                return { out.update(from: a, count: n) }
            }
        case .gemm(let plan, let ia, let ib, let acc) where program.batchInvariant:
            let (a, b) = (x[ia], x[ib])
            let copy = acc.map { accumulationCopy($0, x, out, count: n) } ?? {}
            let beta = gemmBeta(acc, x)
            return { copy(); plan.runRowStable(a: a, b: b, c: out, beta: beta(), threads: threads) }
        case .batchedGemm(let plan, let ia, let ib, let acc) where program.batchInvariant:
            let (a, b) = (x[ia], x[ib])
            let copy = acc.map { accumulationCopy($0, x, out, count: n) } ?? {}
            let beta = gemmBeta(acc, x)
            return {
                copy()
                let bv = beta()
                for i in 0 ..< plan.batch {
                    plan.gemm.runRowStable(a: a + plan.offsetA(i), b: b + plan.offsetB(i), c: out + i * plan.strideC, beta: bv,
                                           threads: threads)
                }
            }
        case .gemm(let plan, let ia, let ib, let acc):
            let (a, b) = (x[ia], x[ib])
            // dlg's own AVX-512 products: by a packed parameter, or packing B per call (f32, β 0 or 1).
            if let accumulate = Self.ownGemmAccumulates(acc) {
                let copy = acc.map { accumulationCopy($0, x, out, count: n) } ?? {}
                if let packed = packedWeights(plan, ins, ib, T.self) {
                    let product = packedGemmCall(packed, a: a, b: b, bias: nil, activation: nil, accumulate: accumulate, output: out)
                    return { () throws(ExecutionError) in copy(); try product() }
                }
                if Self.streams(plan, ins, ib, in: program), PackedGemm.runs(plan, T.self),
                   ws.count >= PackedGemm.workspaceCount(plan, threads: threads), let w = ws.baseAddress {
                    streamedProducts += 1
                    let (pa, pb) = (UnsafePointer(a), UnsafePointer(b))
                    return { copy(); PackedGemm.run(plan: plan, a: pa, b: pb, c: out, accumulate: accumulate, threads: threads, workspace: w) }
                }
            }
            let wsOrNil = ws.count >= plan.workspaceCount(threads: threads) ? ws : nil
            guard let acc else { return { plan.run(a: a, b: b, c: out, beta: 0, threads: threads, workspace: wsOrNil) } }
            let copy = accumulationCopy(acc, x, out, count: n)
            switch acc.beta {
            case .immediate(let c):
                let beta = T(c)
                return { copy(); plan.run(a: a, b: b, c: out, beta: beta, threads: threads, workspace: wsOrNil) }
            case .input(let j):
                let beta = UnsafePointer(x[j])
                return { copy(); plan.run(a: a, b: b, c: out, beta: beta.pointee, threads: threads, workspace: wsOrNil) }
            }
        case .batchedGemm(let plan, let ia, let ib, let acc):
            let (a, b) = (x[ia], x[ib])
            guard let acc else { return { plan.run(a: a, b: b, c: out, beta: 0, threads: threads) } }
            let copy = accumulationCopy(acc, x, out, count: n)
            switch acc.beta {
            case .immediate(let c):
                let beta = T(c)
                return { copy(); plan.run(a: a, b: b, c: out, beta: beta, threads: threads) }
            case .input(let j):
                let beta = UnsafePointer(x[j])
                return { copy(); plan.run(a: a, b: b, c: out, beta: beta.pointee, threads: threads) }
            }
        case .convolution(let g, let ix, let iw, let ib, let activation):
            let (a, w) = (x[ix], x[iw])
            let bias = ib.map { UnsafePointer(x[$0]) }
            let imageByImage = program.batchInvariant
            return {
                Conv2D.forward(g, input: a, weight: w, bias: bias, epilogue: activation, output: out, workspace: ws, threads: threads,
                               imageByImage: imageByImage)
            }
        case .convolutionGradInput(let g):
            let (dy, w) = (x[0], x[1])
            return { Conv2D.backwardInput(g, gradOutput: dy, weight: w, gradInput: out, workspace: ws, threads: threads) }
        case .convolutionGradWeight(let g):
            let (a, dy) = (x[0], x[1])
            return { Conv2D.backwardWeight(g, input: a, gradOutput: dy, gradWeight: out, gradBias: nil, workspace: ws, threads: threads) }
        case .pooling(let g, let kind):
            let a = x[0]
            return { Pool2D.forward(g, kind: kind, input: a, output: out, threads: threads) }
        case .poolingGradient(let g, let kind):
            let (a, dy) = (x[0], x[1])
            return { Pool2D.backward(g, kind: kind, input: a, gradOutput: dy, gradInput: out, threads: threads) }
        case .softmax(let r, let log):
            let a = x[0]
            if log { return { logSoftmax(a, out, outer: r.outer, n: r.n, inner: r.inner) } }
            return { softmax(a, out, outer: r.outer, n: r.n, inner: r.inner) }
        case .softmaxGradient(let r, let log):
            let (y, dy) = (x[0], x[1])
            if log { return { logSoftmaxBackward(y: y, dy: dy, dx: out, outer: r.outer, n: r.n, inner: r.inner) } }
            return { softmaxBackward(y: y, dy: dy, dx: out, outer: r.outer, n: r.n, inner: r.inner) }
        case .causalSoftmax(let outer, let queries, let keys):
            let a = x[0]
            return { causalSoftmax(a, out, outer: outer, queries: queries, keys: keys, threads: threads) }
        case .select(let integer):
            let (a, b) = (x[1], x[2])
            if integer {
                let cond = pointer(ins.inputs[0], Int32.self)
                return { selectWhere(cond, a, b, out, count: n) }
            }
            let cond = x[0]
            return { selectWhere(cond, a, b, out, count: n) }
        case .reverseAxis(let r):
            let a = x[0]
            return { reverseAxis(a, out, outer: r.outer, n: r.n, inner: r.inner) }
        case .crossEntropy(let rows, let classes, let sparse):
            let z = x[0]
            guard sparse else {
                let t = x[1]
                return { softmaxCrossEntropy(logits: z, targets: t, loss: out, rows: rows, classes: classes) }
            }
            let labels = pointer(ins.inputs[1], Int32.self)
            return { () throws(ExecutionError) in
                do throws(LabelError) { try softmaxCrossEntropy(logits: z, labels: labels, loss: out, rows: rows, classes: classes, threads: threads) } catch {
                    throw ExecutionError("label \(error.label) in row \(error.row) is out of range for \(classes) classes")
                }
            }
        case .crossEntropyGradient(let rows, let classes, let sparse):
            let (z, dl) = (x[0], x[2])
            guard sparse else {
                let t = x[1]
                return { softmaxCrossEntropyBackward(logits: z, targets: t, dloss: dl, dlogits: out, rows: rows, classes: classes) }
            }
            let labels = pointer(ins.inputs[1], Int32.self)
            return { () throws(ExecutionError) in
                do throws(LabelError) { try softmaxCrossEntropyBackward(logits: z, labels: labels, dloss: dl, dlogits: out, rows: rows, classes: classes,
                                                                          threads: threads) } catch {
                    throw ExecutionError("label \(error.label) in row \(error.row) is out of range for \(classes) classes")
                }
            }
        case .dropoutMask(let rate, let stream):
            let control = self.control
            let s = UInt64(stream)
            // A replica's rows start at row control[2] of the global batch: its mask is that part of the whole batch's.
            let perRow = UInt64(n / max(ins.output.shape.first ?? 1, 1))
            return { () throws(ExecutionError) in
                // A fresh mask per (seed, step, stream), independent of threading.
                let key = splitMix64(control[0] &+ splitMix64(control[1] &* 0x9E37_79B9_7F4A_7C15 &+ s))
                do throws(DropoutError) { try dropoutMask(out, range: 0..<n, rate: rate, seed: key, offset: control[2] &* perRow) } catch {
                    throw ExecutionError(error.description)
                }
            }
        case .lstmScan(let g):
            let (xb, whh) = (UnsafePointer(x[0]), UnsafePointer(x[1]))
            let (h0, c0) = g.initialStates ? (UnsafePointer(x[2]), UnsafePointer(x[3])) : (nil, nil)
            let scratch = workspace.assumingMemoryBound(to: T.self)
            let rowStable = program.batchInvariant
            return {
                LSTMScan.forward(xb: xb, whh: whh, h0: h0, c0: c0, tape: out, batch: g.batch, steps: g.steps, hidden: g.hidden,
                                 reverse: g.reverse, workspace: scratch, threads: threads, rowStable: rowStable)
            }
        case .lstmScanGradient(let g):
            let (tape, whh, dtape) = (UnsafePointer(x[0]), UnsafePointer(x[1]), UnsafePointer(x[2]))
            let (h0, c0) = g.initialStates ? (UnsafePointer(x[3]), UnsafePointer(x[4])) : (nil, nil)
            let scratch = workspace.assumingMemoryBound(to: T.self)
            let rowStable = program.batchInvariant
            return {
                LSTMScan.backward(tape: tape, whh: whh, h0: h0, c0: c0, dtape: dtape, dhOnly: g.dhOnly, dpre: out, batch: g.batch,
                                  steps: g.steps, hidden: g.hidden, reverse: g.reverse, workspace: scratch, threads: threads,
                                  rowStable: rowStable)
            }
        case .collective(let c):
            return try bindCollective(c, ins, inputs: x, output: out)
        case .fused(let f):
            return try bindFused(f, ins, inputs: x, output: out, T.self)
        }
    }

    /// The β a GEMM scales what its output held by: 0 without accumulation, else the immediate or the input read at each run.
    func gemmBeta<T: KernelScalar>(_ acc: GemmAccumulation?, _ x: [UnsafeMutablePointer<T>]) -> () -> T {
        switch acc?.beta {
        case nil: return { 0 }
        case .immediate(let c)?:
            let beta = T(c)
            return { beta }
        case .input(let j)?:
            let p = UnsafePointer(x[j])
            return { p.pointee }
        }
    }

    /// Copies X into the output before a GEMM accumulates into it (nothing when the output is X).
    func accumulationCopy<T>(_ acc: GemmAccumulation, _ x: [UnsafeMutablePointer<T>], _ out: UnsafeMutablePointer<T>,
                             count: Int) -> () -> Void {
        if acc.inPlace { return {} }
        let source = UnsafePointer(x[acc.source])
        return { out.update(from: source, count: count) }
    }

    func bindFused<T: KernelScalar>(_ f: FusedKernel, _ ins: Instruction, inputs x: [UnsafeMutablePointer<T>],
                                    output out: UnsafeMutablePointer<T>, _: T.Type) throws(ExecutionError) -> Call {
        let kernel = f.chain.kernel()
        let threads = self.threads
        if f.chain.reduction != nil {
            let partials = workspaceBytes > 0 ? workspace.assumingMemoryBound(to: T.self) : nil
            let pointers: [UnsafePointer<T>] = x.map { UnsafePointer($0) }
            return { kernel.run(pointers, out, threads: threads, partials: partials) }
        }
        guard let headKernel = f.head else {
            let pointers: [UnsafePointer<T>] = x.map { UnsafePointer($0) } + [UnsafePointer(out)]
            return { kernel.run(pointers, out, threads: threads) }
        }
        // A product by a packed weight matrix applies the bias and the activation itself, as it stores C.
        if !f.headToScratch, case .gemm(let plan, let ia, let ib, nil)? = f.head,
           let (bias, activation) = Self.gemmEpilogue(f.chain, inputs: x.count, m: plan.m, n: plan.n, ldc: plan.ldc),
           ins.inputs[bias].count == plan.n, let packed = packedWeights(plan, ins, ib, T.self) {
            return packedGemmCall(packed, a: x[ia], b: x[ib], bias: x[bias], activation: activation, accumulate: false, output: out)
        }
        // The head writes the output, or scratch after its own workspace when the output overwrites an input.
        var result = out
        var limit: Int? = nil
        // A head that dlg's own product takes (a packed parameter, or B packed per call): it computes the
        // whole product, then the chain runs over it (below); its workspace is the per-call packed B.
        let ownHead = Self.ownHeadWorkspaceBytes(f, ins, in: program, threads: threads)
        if f.headToScratch {
            let own = max(headKernel.workspaceBytes(floatType: program.floatType, threads: threads, output: ins.output), ownHead ?? 0)
            result = (workspace + FusedKernel.scratchOffset(ownWorkspace: own)).assumingMemoryBound(to: T.self)
            // The head gets only its own part: a convolution splits whatever workspace it is given among its
            // workers, and a second worker's columns would land on the result in scratch (ResNet-50's strided
            // projections at two threads, issue 25).
            limit = own
        }
        let pointers: [UnsafePointer<T>] = x.map { UnsafePointer($0) } + [UnsafePointer(result)]
        // A GEMM cut along C's rows: each block of rows goes through the chain right after it is
        // computed, by the thread that computed it, while it is in that core's cache (issue 24:
        // GPT-mini's GEMMs with GELU′ or bias and residual ran at 40–70% of the plain ones when the
        // chain read the whole product back in a second pass). The memory plan lets the output
        // overwrite only an input the GEMM does not read, so a block's chain never writes what a
        // later block's product reads.
        if ownHead == nil, case .gemm(let plan, let ia, let ib, .none) = headKernel, !program.batchInvariant,
           plan.runsInRowBlocks(threads: threads), kernel.count == plan.m * plan.n {
            let (a, b) = (UnsafePointer(x[ia]), UnsafePointer(x[ib]))
            let n = plan.n
            return {
                plan.run(a: a, b: b, c: result, beta: 0, threads: threads) { rows in
                    kernel.run(pointers, out, elements: rows.lowerBound * n ..< rows.upperBound * n)
                }
            }
        }
        let head = try bind(headKernel, ins, inputs: x, output: result, T.self, workspaceLimit: limit)
        return { () throws(ExecutionError) in
            try head()
            kernel.run(pointers, out, threads: threads)
        }
    }

    /// A packed copy of B for a GEMM by a weight matrix: a program not batch-invariant (`dlg run`
    /// and `dlg serve` keep the row-stable product) whose B is a parameter (state), f32 on an
    /// AVX-512 CPU (`PackedGemm`), at least two rows of A, and no instruction before this one
    /// writing B's storage; nil otherwise. The products by the same op(B) (the same parameter,
    /// layout and sizes) share one packed copy. It is packed at the first such product of a run
    /// after the shared state's `version` has moved — every run of a training program moves it
    /// first (`Executor.run`), as does a checkpoint loaded — and read by the later ones of the
    /// run. That copy stays true for the whole run: memory planning (MemoryPlanning.swift,
    /// "In-place state updates") computes an optimizer update into the parameter's own storage
    /// only after the old value's last read, and otherwise the update is copied over it after
    /// the last instruction (`Executor.applyUpdates`); a writer of B's storage before the
    /// product is excluded here. One row (batch 1) stays on `GemmPlan.run`'s gemv, each thread
    /// reading the same half of the weights as stored in every call (its own core's cache). (The
    /// comparison this was decided on, MLP at batch 1: 0.015 ms on gemv against 0.025 packed, ran
    /// the gemv build with the pool's threads spinning 65,536 times, as they do now, and the
    /// packed build with 2048; it was not measured again with both at 65,536, so whether packing
    /// is slower at batch 1 is not established.)
    func packedWeights<T: KernelScalar>(_ plan: GemmPlan, _ ins: Instruction, _ ib: Int, _: T.Type)
        -> (gemm: PackedGemm, packedAt: PackedVersion)? {
        guard let key = Self.packKey(plan, ins, ib, in: program) else { return nil }
        if let (shared, version) = packedCopies[key] {
            return PackedGemm(plan: plan, sharing: shared).map { ($0, version) }
        }
        guard let gemm = PackedGemm(plan: plan, T.self) else { return nil }
        let version = PackedVersion()
        packedCopies[key] = (gemm, version)
        return (gemm, version)
    }

    /// What identifies a packed copy: B's place in the state and op(B)'s layout and sizes.
    struct PackKey: Hashable {
        var offset: Int, transB: Bool, ldb: Int, k: Int, n: Int
    }

    /// The packed copy `packedWeights` would make B of instruction `ins` (operand `ib`) into,
    /// short of the CPU and the element type; nil where it multiplies B as stored.
    static func packKey(_ plan: GemmPlan, _ ins: Instruction, _ ib: Int, in program: Program) -> PackKey? {
        let b = ins.inputs[ib]
        guard program.packsWeights, !program.batchInvariant, plan.m >= 2, case .state(let offset) = b.location
        else { return nil }
        // Panels are 32 columns wide: a narrow B (a [K, 1] weight) would be copied 32 times over,
        // and a product with a short inner dimension (an outer product, k = 1) reads B once per
        // row block anyway, so packing it only copies it. Packed when n ≥ 16 and k ≥ 8, or when
        // the copy stays within 1 MiB anyway.
        guard (plan.n >= 16 && plan.k >= 8) || PackedGemm.byteCount(plan) <= 1 << 20 else { return nil }
        // No instruction before this one (in the run) writes B's storage: all products by it read the same values.
        let here = program.instructions.firstIndex { $0.value == ins.value } ?? 0
        for w in program.instructions[..<here] {
            if case .state(let o) = w.output.location, o < offset + b.bytes, offset < o + w.output.bytes { return nil }
        }
        return PackKey(offset: offset, transB: plan.transB, ldb: plan.ldb, k: plan.k, n: plan.n)
    }

    /// The GEMM of an instruction (its own, or a fused region's head) that dlg's own products
    /// may take, and the index of B.
    static func gemmOf(_ ins: Instruction) -> (GemmPlan, b: Int, GemmAccumulation?)? {
        var kernel: Kernel? = ins.kernel
        if case .fused(let f) = ins.kernel { kernel = f.head }
        guard case .gemm(let plan, _, let ib, let acc)? = kernel else { return nil }
        return (plan, ib, acc)
    }

    /// Bytes of the packed copies the program's products would make, for the executor's memory
    /// budget: one per packed op(B), however many products read it.
    static func packedWeightBytes(_ program: Program) -> Int {
        guard program.floatType == .f32 else { return 0 }
        var keys = Set<PackKey>()
        var bytes = 0
        for ins in program.instructions {
            guard let (plan, ib, _) = gemmOf(ins), let key = packKey(plan, ins, ib, in: program),
                  keys.insert(key).inserted else { continue }
            bytes += PackedGemm.byteCount(plan)
        }
        return bytes
    }

    /// Which of dlg's own products an instruction's GEMM (its own or its fused region's head) runs
    /// as on this CPU, for `dlg dump --stage kernels`: "packed B" (a packed parameter) or "B packed
    /// per call"; nil where it stays on OpenBLAS (or is not a GEMM).
    static func ownProductKind(_ ins: Instruction, in program: Program) -> String? {
        guard program.floatType == .f32, CPUFeatures.useAVX512, let (plan, ib, acc) = gemmOf(ins),
              PackedGemm.runs(plan, Float.self) else { return nil }
        if case .fused(let f) = ins.kernel {
            // A region adding a bias and applying an activation as a packed product stores C.
            if !f.headToScratch, packKey(plan, ins, ib, in: program) != nil,
               let (bias, _) = gemmEpilogue(f.chain, inputs: ins.inputs.count, m: plan.m, n: plan.n, ldc: plan.ldc),
               ins.inputs[bias].count == plan.n {
                return "dlg's packed product: B a packed parameter, bias and activation as C is stored"
            }
            guard let own = ownHeadWorkspaceBytes(f, ins, in: program, threads: program.threads) else { return nil }
            return own == 0 ? "dlg's packed product: B a packed parameter, then the loop" : "dlg's packed product: B packed per call, then the loop"
        }
        guard ownGemmAccumulates(acc) != nil else { return nil }
        if packKey(plan, ins, ib, in: program) != nil { return "dlg's packed product: B a packed parameter" }
        return streams(plan, ins, ib, in: program) ? "dlg's packed product: B packed per call" : nil
    }

    /// Whether dlg's own products take a GEMM with this accumulation, and whether they
    /// accumulate: without one, or with β an immediate 0 or 1 (nil: OpenBLAS keeps it).
    static func ownGemmAccumulates(_ acc: GemmAccumulation?) -> Bool? {
        guard let acc else { return false }
        if case .immediate(let c) = acc.beta, c == 0 || c == 1 { return c == 1 }
        return nil
    }

    /// Whether a product with no packed parameter operand runs as `PackedGemm.run(plan:…)`,
    /// packing op(B) per call, rather than on OpenBLAS (short of the CPU, the element type and
    /// the workspace): in a program that packs weights and is not batch-invariant, with at least
    /// 8 rows and 32 columns of C (below these a tile or a panel is mostly padding) and 64 inner
    /// indices: the MLP's weight gradients at batch 32 (k = 32, the batch) with their optimizer
    /// update fused ran at 123 GFLOP/s this way against 185 on OpenBLAS's row blocks (the update
    /// following each block in cache; here it is a second pass over C), Benchmarks/README.md,
    /// "dlg's own GEMM in training programs".
    static func streams(_ plan: GemmPlan, _ ins: Instruction, _ ib: Int, in program: Program) -> Bool {
        guard program.packsWeights, !program.batchInvariant, program.floatType == .f32,
              packKey(plan, ins, ib, in: program) == nil else { return false }
        return plan.m >= 8 && plan.n >= 32 && plan.k >= 64
    }

    /// Bytes of workspace an instruction's per-call packed product needs (0 where it has none):
    /// a GEMM's, or a fused region's whose head is one — with the head's result in scratch after it.
    static func streamedWorkspaceBytes(_ ins: Instruction, in program: Program, threads: Int) -> Int {
        if case .fused(let f) = ins.kernel {
            guard let own = ownHeadWorkspaceBytes(f, ins, in: program, threads: threads) else { return 0 }
            guard f.headToScratch else { return own }
            return FusedKernel.scratchOffset(ownWorkspace: own) + ins.output.count * MemoryLayout<Float>.stride
        }
        guard case .gemm(let plan, _, let ib, let acc) = ins.kernel, ownGemmAccumulates(acc) != nil,
              streams(plan, ins, ib, in: program), PackedGemm.runs(plan, Float.self) else { return 0 }
        return PackedGemm.workspaceCount(plan, threads: threads) * MemoryLayout<Float>.stride
    }

    /// For a fused region whose head is a GEMM that dlg's own products take (f32, AVX-512): the
    /// workspace bytes its product needs (0 for a packed parameter); nil for any other head.
    static func ownHeadWorkspaceBytes(_ f: FusedKernel, _ ins: Instruction, in program: Program, threads: Int) -> Int? {
        guard f.chain.reduction == nil, case .gemm(let plan, _, let ib, nil)? = f.head, program.floatType == .f32,
              PackedGemm.runs(plan, Float.self) else { return nil }
        if packKey(plan, ins, ib, in: program) != nil { return 0 }
        guard streams(plan, ins, ib, in: program) else { return nil }
        return PackedGemm.workspaceCount(plan, threads: threads) * MemoryLayout<Float>.stride
    }

    /// The call of a packed product: packs B when the state changed since its copy was last
    /// packed (by this product or another sharing the copy), then multiplies.
    func packedGemmCall<T: KernelScalar>(_ packed: (gemm: PackedGemm, packedAt: PackedVersion), a: UnsafeMutablePointer<T>,
                                         b: UnsafeMutablePointer<T>, bias: UnsafeMutablePointer<T>?, activation: UnaryFunction?,
                                         accumulate: Bool, output out: UnsafeMutablePointer<T>) -> Call {
        let threads = self.threads, store = state
        let (gemm, packedAt) = packed
        packedProducts += 1
        let (pa, pb, pbias) = (UnsafePointer(a), UnsafePointer(b), bias.map { UnsafePointer($0) })
        return {
            if packedAt.version != store.version {
                gemm.pack(b: pb, threads: threads)
                packedAt.version = store.version
            }
            gemm.run(a: pa, c: out, bias: pbias, activation: activation, accumulate: accumulate, threads: threads)
        }
    }

    /// The bias input and the activation of a fused region that adds a bias along C's columns to a
    /// GEMM's result and then applies at most one unary function — the loop over [m, n] is
    /// `add(head, bias)` or `add(bias, head)`, the bias read with strides [0, 1], optionally followed
    /// by `f(#0)` — and nil for any other region.
    static func gemmEpilogue(_ chain: FusedChain, inputs: Int, m: Int, n: Int, ldc: Int)
        -> (bias: Int, activation: UnaryFunction?)? {
        guard chain.reduction == nil, chain.shape == [m, n], ldc == n, (1 ... 2).contains(chain.steps.count) else { return nil }
        let add = chain.steps[0]
        guard add.code == .binary(.add), add.operands.count == 2,
              case .view(let v0) = add.operands[0], case .view(let v1) = add.operands[1],
              chain.views.indices.contains(v0), chain.views.indices.contains(v1) else { return nil }
        let (first, second) = (chain.views[v0], chain.views[v1])
        let head = first.input == inputs ? first : second, bias = first.input == inputs ? second : first
        guard head.input == inputs, head.strides == [n, 1], bias.input != inputs, bias.input >= 0, bias.input < inputs,
              bias.strides == [0, 1] else { return nil }
        guard chain.steps.count == 2 else { return (bias.input, nil) }
        guard case .unary(let f) = chain.steps[1].code, chain.steps[1].operands == [.step(0)] else { return nil }
        return (bias.input, f)
    }
}

/// The state version a packed weight matrix was packed at (nil: not yet).
final class PackedVersion: @unchecked Sendable {
    var version: UInt64?
}
