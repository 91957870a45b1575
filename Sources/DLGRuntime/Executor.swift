import DLGData
import Foundation
import DLGGraph
import DLGKernels

/// Runs a Program: one arena for every activation, state bound by name in a
/// shared `StateStore`, and each instruction turned once — when the executor
/// is created — into a kernel call with its pointers and geometry resolved.
/// A step is then a loop over those calls: no lookups, no allocation.
public final class Executor: @unchecked Sendable {
    public let program: Program
    public let state: StateStore
    public let threads: Int
    let arena: UnsafeMutableRawPointer
    let workspace: UnsafeMutableRawPointer
    let workspaceBytes: Int
    /// [seed, step, first row], read by dropout kernels.
    let control: UnsafeMutablePointer<UInt64>
    var kernels: [BoundKernel] = []
    var stateBase: [Int: UnsafeMutableRawPointer] = [:]

    /// A compiled instruction: the call, and what to name in an error.
    struct BoundKernel {
        var run: () throws(ExecutionError) -> Void
        var instruction: Int
    }

    /// The seed of random ops (dropout); the step counter advances with every `run()`.
    public var seed: UInt64 {
        get { control[0] }
        set { control[0] = newValue }
    }
    public var step: UInt64 {
        get { control[1] }
        set { control[1] = newValue }
    }
    /// In a data-parallel run, the row of the global batch where this replica's rows start
    /// (dropout draws the masks of those rows of the whole batch); 0 otherwise.
    public var firstRow: Int {
        get { Int(control[2]) }
        set { control[2] = UInt64(max(newValue, 0)) }
    }
    /// The replicas the collective kernels combine values over; nil in a single process.
    public let collective: Collective?
    /// Whether the program combines values across replicas (a data-parallel training step).
    public let isReplicated: Bool
    /// Whether the program writes state (updates, or instructions whose output is in the state):
    /// each run then advances `state.version`.
    let writesState: Bool
    /// GEMMs bound to a packed weight matrix (`PackedGemm`).
    var packedProducts = 0
    /// GEMMs bound to `PackedGemm.run(plan:…)`, packing op(B) per call.
    var streamedProducts = 0
    /// The packed weight matrices, one per parameter and layout of op(B), and the state version each was packed at.
    var packedCopies: [PackKey: (gemm: PackedGemm, version: PackedVersion)] = [:]

    public init(_ program: Program, state: StateStore = StateStore(), threads: Int = Threads.count,
                collective: Collective? = nil) throws(ExecutionError) {
        self.program = program
        self.state = state
        self.threads = max(1, threads)
        // Everything this executor allocates, checked before any of it is: the arena, the
        // kernels' workspace, the state entries it adds, and the initializers' values.
        var ws = 0
        // The instructions' scratch at this executor's thread count (the program's is for its own).
        for ins in program.instructions {
            ws = max(ws, ins.kernel.workspaceBytes(floatType: program.floatType, threads: self.threads, output: ins.output),
                     Self.streamedWorkspaceBytes(ins, in: program, threads: self.threads))
        }
        let newState = program.state.filter { state.entry($0.name) == nil }
        let stateBytes = newState.reduce(0) { $0 + $1.buffer.bytes }
        let initBytes = 8 * (program.state.map(\.buffer.count).max() ?? 0)
        let writes = !program.updates.isEmpty || program.instructions.contains {
            if case .state = $0.output.location { true } else { false }
        }
        // The packed copies of the weight matrices the program multiplies by (`PackedGemm`).
        let packedBytes = Self.packedWeightBytes(program)
        do {
            try MemoryBudget.require(program.arenaBytes + ws + stateBytes + initBytes + packedBytes,
                                     for: "model '\(program.name)' (an arena of \(formatBytes(program.arenaBytes)), "
                                        + "\(formatBytes(stateBytes)) of parameters and optimizer state, \(formatBytes(ws)) of workspace"
                                        + (packedBytes > 0 ? ", \(formatBytes(packedBytes)) of packed weights)" : ")"),
                                     file: program.name)
        } catch {
            throw ExecutionError(error.message)
        }
        self.collective = collective
        isReplicated = program.instructions.contains { $0.kernel.isCollective }
        writesState = writes
        arena = UnsafeMutableRawPointer.allocate(byteCount: max(program.arenaBytes, 64), alignment: 64)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(program.arenaBytes, 64))
        control = .allocate(capacity: 3)
        control.initialize(repeating: 0, count: 3)
        // Bind state by name; allocation happens only for new names.
        for slot in program.state {
            guard case .state(let offset) = slot.buffer.location else { continue }
            stateBase[offset] = try state.bind(slot).pointer
        }
        workspaceBytes = ws
        workspace = UnsafeMutableRawPointer.allocate(byteCount: max(ws, 64), alignment: 64)
        // Constants are written once.
        for (b, v) in program.constants {
            writeDoubles(v.values, to: arenaPointer(b), dtype: b.dtype)
        }
        for (i, ins) in program.instructions.enumerated() {
            do {
                let k: () throws(ExecutionError) -> Void
                switch program.floatType {
                case .f64: k = try bind(ins, Double.self)
                default: k = try bind(ins, Float.self)
                }
                kernels.append(BoundKernel(run: k, instruction: i))
            } catch {
                throw ExecutionError("\(describe(ins)): \(error.message)")
            }
        }
    }

    deinit {
        arena.deallocate()
        workspace.deallocate()
        control.deallocate()
    }

    func describe(_ ins: Instruction) -> String {
        var s = "%\(ins.value) = \(ins.op.rawValue)"
        if let l = ins.label { s += " ('\(l)')" }
        if let loc = ins.loc { s += " at \(loc)" }
        return s
    }

    // MARK: Pointers

    func arenaPointer(_ b: Buffer) -> UnsafeMutableRawPointer {
        switch b.location {
        case .arena(let o): return arena + o
        case .state(let o): return stateBase[o]!
        }
    }
    func pointer<T>(_ b: Buffer, _: T.Type) -> UnsafeMutablePointer<T> {
        arenaPointer(b).assumingMemoryBound(to: T.self)
    }

    // MARK: Running

    /// When set, `run()` accumulates each instruction's wall time (seconds) and call count here.
    public var profile: [(seconds: Double, calls: Int)]?

    /// Check each instruction's output for NaN or infinity as soon as it is computed (before a
    /// later instruction reuses its memory); the first offender stops the step before the state
    /// updates and is kept in `nonFinite`.
    public var checkNumerics = false
    public private(set) var nonFinite: Instruction?

    /// Set by `freezeBranches()`: the recorded branch of each piecewise instruction.
    var frozenBranches: [Int: FrozenBranch]?

    /// Runs every instruction, then applies the state updates, and advances the step.
    public func run() throws(ExecutionError) {
        if writesState { state.markChanged() }
        if frozenBranches != nil { return try runFrozen() }
        if checkNumerics { return try runChecked() }
        if profile != nil { return try runProfiled() }
        for k in kernels {
            do { try k.run() } catch {
                throw ExecutionError("\(describe(program.instructions[k.instruction])): \(error.message)")
            }
        }
        applyUpdates()
    }

    func runFrozen() throws(ExecutionError) {
        for k in kernels {
            do { try k.run() } catch {
                throw ExecutionError("\(describe(program.instructions[k.instruction])): \(error.message)")
            }
            applyFrozenBranch(k.instruction)
        }
        applyUpdates()
    }

    func runChecked() throws(ExecutionError) {
        nonFinite = nil
        for k in kernels {
            do { try k.run() } catch {
                throw ExecutionError("\(describe(program.instructions[k.instruction])): \(error.message)")
            }
            let ins = program.instructions[k.instruction]
            // A started sum is being written by the transfer; it is checked once it is waited for.
            if nonFinite != nil || ins.kernel.startsTransfer { continue }
            if ins.output.dtype.isFloat,
               readDoubles(arenaPointer(ins.output), dtype: ins.output.dtype, count: ins.output.count).contains(where: { !$0.isFinite }) {
                nonFinite = ins
                // The replicas of a data-parallel step make every collective call of the step together:
                // the step goes on to its end, and only its updates are skipped.
                if !isReplicated { return }
            }
        }
        if nonFinite == nil { applyUpdates() }
    }

    func runProfiled() throws(ExecutionError) {
        if profile!.count != kernels.count { profile = Array(repeating: (0, 0), count: kernels.count) }
        for (i, k) in kernels.enumerated() {
            let t = DispatchTime.now().uptimeNanoseconds
            do { try k.run() } catch {
                throw ExecutionError("\(describe(program.instructions[k.instruction])): \(error.message)")
            }
            profile![i].seconds += Double(DispatchTime.now().uptimeNanoseconds - t) * 1e-9
            profile![i].calls += 1
        }
        applyUpdates()
    }

    func applyUpdates() {
        for (slot, source) in program.updates {
            let target = program.state[slot].buffer
            // A value planned into the state's own storage is already there.
            if source.location == target.location { continue }
            arenaPointer(target).copyMemory(from: arenaPointer(source), byteCount: target.bytes)
        }
        control[1] &+= 1
    }

    /// Runs the instructions up to and including the one computing `value`, without updates.
    public func run(until value: ValueID) throws(ExecutionError) {
        if writesState { state.markChanged() }
        for k in kernels {
            try k.run()
            if program.instructions[k.instruction].value == value { return }
        }
    }

    /// Checks every instruction's output for NaN or infinity, in order; the first is returned.
    /// Only meaningful for programs without memory reuse (gradient checks); training uses `checkNumerics`.
    public func firstNonFinite() -> Instruction? {
        if checkNumerics { return nonFinite }
        for ins in program.instructions where ins.output.dtype.isFloat {
            let v = readDoubles(arenaPointer(ins.output), dtype: ins.output.dtype, count: ins.output.count)
            if v.contains(where: { !$0.isFinite }) { return ins }
        }
        return nil
    }

    // MARK: Inputs and outputs

    /// Feeds input `i` from an array; element counts must match (size-1 axes may differ).
    public func setInput(_ i: Int, _ a: NDArray) throws(ExecutionError) {
        let slot = program.inputs[i]
        try checkFeed(slot, shape: a.shape, from: "\(a)")
        write(a, to: arenaPointer(slot.buffer), dtype: slot.buffer.dtype, rows: nil)
    }

    /// Feeds input `i` with rows `rows` of an array (a batch), converting the element type.
    public func setInput(_ i: Int, rowsOf a: NDArray, _ rows: ArraySlice<Int>) throws(ExecutionError) {
        let slot = program.inputs[i]
        let shape = [rows.count] + Array(a.shape.dropFirst())
        try checkFeed(slot, shape: shape, from: "\(a.elementType.name)\(Shape(shape))")
        write(a, to: arenaPointer(slot.buffer), dtype: slot.buffer.dtype, rows: rows)
    }

    func checkFeed(_ slot: IOSlot, shape: [Int], from: String) throws(ExecutionError) {
        let expected = slot.buffer.shape
        if shape == expected { return }
        // [N] and [N, 1] hold the same values in the same order.
        if shape.filter({ $0 != 1 }) == expected.filter({ $0 != 1 }) { return }
        throw ExecutionError("input '\(slot.name)' expects \(slot.buffer.dtype.rawValue)\(Shape(expected)), found \(from)")
    }

    /// The memory of input `i` (`program.inputs[i].buffer` gives its element
    /// type and shape), for callers that fill it in place before each `run()`:
    /// the program may reuse it for other values while it runs.
    public func inputPointer(_ i: Int) -> UnsafeMutableRawPointer { arenaPointer(program.inputs[i].buffer) }

    /// The memory of output `i`, valid from the end of a `run()` to the start of the next.
    public func outputPointer(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(arenaPointer(program.outputs[i].buffer)) }

    public func output(_ i: Int) -> NDArray {
        let b = program.outputs[i].buffer
        return makeArray(arenaPointer(b), dtype: b.dtype, shape: b.shape)
    }

    public func values(_ b: Buffer) -> [Double] { readDoubles(arenaPointer(b), dtype: b.dtype, count: b.count) }

    /// One element of a buffer (arena or state), as a Double.
    public func element(_ b: Buffer, _ i: Int) -> Double {
        let p = arenaPointer(b)
        switch b.dtype {
        case .f32: return Double(p.assumingMemoryBound(to: Float.self)[i])
        case .f64: return p.assumingMemoryBound(to: Double.self)[i]
        case .i32: return Double(p.assumingMemoryBound(to: Int32.self)[i])
        }
    }

    public func setElement(_ b: Buffer, _ i: Int, _ v: Double) {
        let p = arenaPointer(b)
        switch b.dtype {
        case .f32: p.assumingMemoryBound(to: Float.self)[i] = Float(v)
        case .f64: p.assumingMemoryBound(to: Double.self)[i] = v
        case .i32: p.assumingMemoryBound(to: Int32.self)[i] = int32Toward0(v)
        }
        if case .state = b.location { state.markChanged() }
    }

    /// Writes values into any buffer of the program (inputs in particular).
    public func setValues(_ b: Buffer, _ v: [Double]) {
        writeDoubles(v, to: arenaPointer(b), dtype: b.dtype)
        if case .state = b.location { state.markChanged() }
    }

    public var loss: Double? {
        program.loss.map { readDoubles(arenaPointer($0), dtype: $0.dtype, count: 1)[0] }
    }

    /// Gives every state slot its initial value (parameters from their initializers).
    public func initializeState(seed: UInt64) {
        for slot in program.state {
            let v = ParameterInit.values(slot.initializer, count: slot.buffer.count, fanIn: slot.fanIn,
                                         fanOut: slot.fanOut, seed: seed, name: slot.name)
            writeDoubles(v, to: arenaPointer(slot.buffer), dtype: slot.buffer.dtype)
        }
        state.markChanged()
    }
}
