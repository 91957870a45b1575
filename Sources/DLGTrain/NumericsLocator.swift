import DLGData
import DLGGraph
import DLGRuntime

/// A copy of every state entry (parameters, buffers, optimizer state) taken
/// at the start of an epoch, from which a failed step can be re-run.
///
/// Why a copy at an epoch's start and not before every step: the training
/// step updates the parameters in place (the planner writes an update
/// straight into the parameter's storage), so the state before a step is
/// gone once it ran, and keeping it would cost a copy of the whole state per
/// step. A copy at the start of an epoch — taken only once at least
/// `interval` steps have run since the last one — costs at most one copy per
/// `interval` steps, a small fraction of the state traffic of those steps
/// (each step reads the parameters for the forward pass and the update and
/// writes them). Steps are deterministic for a given seed and thread count
/// (the order of an epoch, its learning rate and dropout's masks are
/// functions of the seed, the epoch and the step), so restoring the copy and
/// running the same steps again reproduces the failure; they are then run
/// with per-op checks, and the first op giving a non-finite value is named.
/// The copy's memory is asked of `MemoryBudget`; when it is refused, no copy
/// is kept and a failure is reported without the op.
final class StateSnapshot {
    /// The steps that must have run since the last copy before a new one is taken.
    static let interval = 16
    let bytes: Int
    let storage: UnsafeMutableRawPointer
    /// The position the copy was taken at: epochs and steps completed.
    var epoch = 0
    var step = 0
    var taken = false
    var entryCount = 0

    init?(_ state: StateStore) {
        bytes = state.entries.reduce(0) { $0 + $1.bytes }
        do { try MemoryBudget.require(bytes, for: "a copy of the model's state to locate non-finite values", file: "state") } catch {
            return nil
        }
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
    }

    deinit { storage.deallocate() }

    /// Copies the state; false (and no copy kept) when it has grown past the storage.
    @discardableResult
    func take(_ state: StateStore, epoch: Int, step: Int) -> Bool {
        guard state.entries.reduce(0, { $0 + $1.bytes }) <= bytes else {
            taken = false
            return false
        }
        var o = 0
        for e in state.entries {
            (storage + o).copyMemory(from: e.pointer, byteCount: e.bytes)
            o += e.bytes
        }
        self.epoch = epoch
        self.step = step
        entryCount = state.entries.count
        taken = true
        return true
    }

    func restore(_ state: StateStore) {
        var o = 0
        for e in state.entries.prefix(entryCount) {
            e.pointer.copyMemory(from: storage + o, byteCount: e.bytes)
            o += e.bytes
        }
        state.markChanged()
    }
}

extension StateStore {
    /// The first state entry holding a NaN or an infinity, with the element's index.
    func firstNonFinite() -> (name: String, index: Int, value: Double)? {
        for e in entries where e.dtype.isFloat {
            let k: Int?
            switch e.dtype {
            case .f32: k = firstNonFiniteIndex(UnsafeBufferPointer(start: e.pointer.assumingMemoryBound(to: Float.self), count: e.count))
            default: k = firstNonFiniteIndex(UnsafeBufferPointer(start: e.pointer.assumingMemoryBound(to: Double.self), count: e.count))
            }
            if let k { return (e.name, k, values(e.name)?[k] ?? .nan) }
        }
        return nil
    }
}

/// How an executor names an instruction that produced a non-finite value.
func describeNonFinite(_ bad: Instruction) -> String {
    // A fused kernel is named by its steps: the op that overflowed is among them.
    let what = bad.op == .fused ? "fused(\(bad.steps))" : bad.op.rawValue
    return "%\(bad.value) = \(what)" + (bad.label.map { " ('\($0)')" } ?? "") + (bad.loc.map { " at \($0)" } ?? "")
}

/// The per-epoch records kept in memory, bounded: once `capacity` records
/// are held, every other one is dropped (the first and the newest always
/// stay) and only every second, fourth, … epoch is kept from then on, so
/// that a run of millions of tiny epochs keeps at most `capacity` records,
/// spread over the whole run, for the curves. The log file (`--log`) keeps
/// every epoch.
public struct History: Sendable {
    public static let capacity = 4096
    public private(set) var records: [EpochRecord] = []
    /// Only every `stride`-th record is kept (counted from the first).
    private var stride = 1
    private var seen = 0
    private var pending: EpochRecord?

    public init() {}

    public mutating func append(_ r: EpochRecord) {
        defer { seen += 1 }
        if seen % stride != 0 {
            // Kept aside so that the newest record is always there.
            pending = r
            return
        }
        pending = nil
        records.append(r)
        if records.count >= Self.capacity {
            records = records.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            stride *= 2
        }
    }

    /// The records, with the newest one last even when it fell between kept ones.
    public var all: [EpochRecord] { pending.map { records + [$0] } ?? records }
    public var last: EpochRecord? { pending ?? records.last }
}
