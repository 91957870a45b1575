#if canImport(Glibc)
import Glibc
#endif

/// The processors a thread may run on, for callers outside the kernels: `dlg tune` gives
/// each of its parallel trials its own processors (a process started from a thread starts
/// with that thread's affinity, and its pool then pins its threads within it).
public enum ProcessorAffinity {
    /// The processors the calling thread may run on, in increasing order (empty when unknown).
    public static func allowed() -> [Int] { Affinity.allowedProcessors() }

    /// Restricts the calling thread to `processors`; returns false when that is not possible.
    @discardableResult
    public static func restrictCurrentThread(to processors: [Int]) -> Bool {
        #if canImport(Glibc)
        guard !processors.isEmpty, let set = Affinity.function("sched_setaffinity") else { return false }
        var mask = cpu_set_t()
        return withUnsafeMutableBytes(of: &mask) { raw -> Bool in
            let words = raw.bindMemory(to: UInt64.self)
            for p in processors where p >= 0 && p / 64 < words.count { words[p / 64] |= 1 << UInt64(p % 64) }
            return set(0, raw.count, raw.baseAddress!) == 0
        }
        #else
        return false
        #endif
    }
}
