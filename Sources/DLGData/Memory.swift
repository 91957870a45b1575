#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory a new allocation may take, checked before allocating.
///
/// Every allocation whose size comes from input — a file's contents, a
/// decompressed stream, an array a header describes, a dataset, a program's
/// arena, parameters and optimizer state — asks `require` first. The
/// allowance is the smallest of:
/// - the memory the system has available (`MemAvailable` in `/proc/meminfo`),
/// - the address-space limit (`ulimit -v`, `RLIMIT_AS`) minus the process's
///   current address space,
/// - the control group's limit (`memory.max` minus `memory.current`), when
///   one is set,
/// - `limit` (the `--max-memory` option) minus what the process holds now
///   (its resident set),
///
/// less a margin for everything else the process allocates. A request above
/// the allowance is refused with a `DataError` naming what needed the
/// memory, the figures and which bound refused it — never an abort by the
/// allocator.
public enum MemoryBudget {
    /// `--max-memory`, in bytes; nil when not given.
    nonisolated(unsafe) public static var limit: Int?

    /// Requests below this many bytes are not checked (reading /proc costs
    /// more than they could matter).
    public static let threshold = 1 << 20
    /// Left free for the allocations nobody asks about (the runtime, stacks,
    /// small buffers) when comparing with the system's bounds.
    static let margin = 64 << 20

    /// The bytes a new allocation may take now, and which bound sets it.
    public static func allowance() -> (bytes: Int, bound: String) {
        var best = (bytes: Int.max, bound: "no limit")
        func consider(_ bytes: Int, _ bound: String) {
            if bytes < best.bytes { best = (max(0, bytes), bound) }
        }
        let statm = processPages()
        if let available = meminfoAvailable() {
            consider(available - margin, "the memory available on this machine (\(formatBytes(available)))")
        }
        var rl = rlimit()
        #if canImport(Glibc)
        let got = getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &rl)
        #else
        let got = getrlimit(RLIMIT_AS, &rl)
        #endif
        if got == 0, rl.rlim_cur != rlim_t.max, let size = statm?.size {
            // conversion: compared with Int.max first
            let cap = rl.rlim_cur > UInt64(Int.max) ? Int.max : Int(rl.rlim_cur)
            consider(cap - size - margin,
                     "the address-space limit (ulimit -v \(cap / 1024)) less the \(formatBytes(size)) the process already maps")
        }
        if let (cgMax, cgCurrent) = cgroupMemory() {
            consider(cgMax - cgCurrent - margin, "the control group's memory limit (\(formatBytes(cgMax)))")
        }
        if let limit {
            let resident = statm?.resident ?? 0
            consider(limit - resident, "--max-memory \(formatBytes(limit)) less the \(formatBytes(resident)) the process holds")
        }
        return best
    }

    /// Throws unless `bytes` more can be allocated; `what` says what they
    /// are for ("the decompressed data", "parameters and optimizer state")
    /// and `file` names the file or object in the error.
    public static func require(_ bytes: Int, for what: String, file: String) throws(DataError) {
        if bytes < threshold && limit == nil { return }
        let (allowed, bound) = allowance()
        if bytes > allowed {
            throw DataError(file: file, .memory(what: what, needed: bytes, available: allowed, bound: bound))
        }
    }

    /// `a · b`, or nil when the product overflows or a factor is negative.
    public static func product(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (p, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : p
    }

    // MARK: Reading the system's figures

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 16 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `MemAvailable` in bytes.
    static func meminfoAvailable() -> Int? {
        guard let text = readSmallFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            // conversion: parses text (failable)
            if fields.count >= 2, let kb = Int(fields[1]), let bytes = product(kb, 1024) { return bytes }
        }
        return nil
    }

    /// The process's address space and resident set, in bytes.
    static func processPages() -> (size: Int, resident: Int)? {
        guard let text = readSmallFile("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        // conversion: sysconf returns a long, the same width as Int
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // conversion: parses text (failable)
        guard fields.count >= 2, let size = Int(fields[0]), let resident = Int(fields[1]),
              let s = product(size, page), let r = product(resident, page) else { return nil }
        return (s, r)
    }

    /// The cgroup v2 limit and usage, when a limit is set.
    static func cgroupMemory() -> (max: Int, current: Int)? {
        guard let m = readSmallFile("/sys/fs/cgroup/memory.max"),
              // conversion: parses text (failable)
              let maxBytes = Int(m.trimmingSpace()),
              let c = readSmallFile("/sys/fs/cgroup/memory.current"),
              // conversion: parses text (failable)
              let current = Int(c.trimmingSpace()) else { return nil }
        return (maxBytes, current)
    }
}

extension String {
    func trimmingSpace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

/// `1536` → `1.5 KiB`; bytes below 1 KiB as `N B`.
public func formatBytes(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var v = Double(n) / 1024
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    let tenths = (v * 10).rounded() / 10
    let text = tenths == tenths.rounded() ? String(Int(exactly: tenths) ?? 0) : String(tenths)
    return "\(text) \(units[u])"
}
