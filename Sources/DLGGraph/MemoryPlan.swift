/// Where each value lives while a program runs, decided by memory planning.
public struct MemoryPlan: Sendable, Hashable {
    public enum Location: Sendable, Hashable {
        /// Byte offset in the arena.
        case arena(Int)
        /// The value is written straight into a parameter's (or optimizer state's) own storage:
        /// a state update done in place, after the old value's last read.
        case state(ValueID)
        /// Inputs' and parameters' own storage; constants at their fixed place.
        case own
    }

    public struct Placement: Sendable, Hashable {
        public var location: Location
        public var bytes: Int
        /// Positions in the schedule (index among non-source nodes) where the value is defined and last needed.
        public var first: Int
        public var last: Int
        /// Shares its buffer with this earlier value (in-place reuse or a reshape alias).
        public var sharesWith: ValueID?
        public init(location: Location, bytes: Int, first: Int, last: Int, sharesWith: ValueID?) {
            self.location = location
            self.bytes = bytes
            self.first = first
            self.last = last
            self.sharesWith = sharesWith
        }
    }

    public var placements: [ValueID: Placement]
    /// max(offset + size) over the arena.
    public var arenaBytes: Int
    /// Σ of every arena value's size: the arena if nothing were reused.
    public var noReuseBytes: Int
    /// max over time of the bytes live at once: no placement of this schedule can use less.
    public var maxLiveBytes: Int

    public init(placements: [ValueID: Placement], arenaBytes: Int, noReuseBytes: Int, maxLiveBytes: Int) {
        self.placements = placements
        self.arenaBytes = arenaBytes
        self.noReuseBytes = noReuseBytes
        self.maxLiveBytes = maxLiveBytes
    }

    /// Lower bound ÷ arena: 1 means no placement could do better for this schedule.
    public var efficiency: Double { arenaBytes == 0 ? 1 : Double(maxLiveBytes) / Double(arenaBytes) }
    /// Bytes of the arena not explained by the lower bound: holes between live buffers.
    public var fragmentationBytes: Int { max(0, arenaBytes - maxLiveBytes) }
}
