import DLGCompiler
import DLGData
import DLGRuntime
import Foundation

/// The pieces of a data-parallel run (Docs/distributed.md) that do not
/// depend on how the replicas talk: how a global batch is shared, how the
/// replicas check that they run the same thing and hold the same parameters,
/// and how state travels from rank 0 to the others.
public enum DataParallel {
    /// Rank `rank`'s rows of a global batch of `count` rows over `replicas` replicas: contiguous,
    /// in rank order, the first `count % replicas` ranks one row more than the others.
    public static func shard(_ count: Int, replicas: Int, rank: Int) -> Range<Int> {
        let base = count / replicas, extra = count % replicas
        let start = rank * base + min(rank, extra)
        return start ..< start + base + (rank < extra ? 1 : 0)
    }

    /// 64-bit FNV-1a of bytes, continuing from `seed`.
    public static func fingerprint(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }

    public static func fingerprint(_ text: String, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var t = text
        return t.withUTF8 { fingerprint(UnsafeRawBufferPointer($0), seed: seed) }
    }

    /// The fingerprint of an array: its element type, shape and values.
    public static func fingerprint(_ a: NDArray, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var h = fingerprint("\(a.elementType.name)\(a.shape)", seed: seed)
        func add<T>(_ v: [T]) { v.withUnsafeBytes { h = fingerprint($0, seed: h) } }
        switch a.storage {
        case .f32(let v): add(v)
        case .f64(let v): add(v)
        case .i32(let v): add(v)
        case .i64(let v): add(v)
        case .u8(let v): add(v)
        }
        return h
    }

    /// The fingerprint of a dataset's examples (features and labels).
    public static func fingerprint(_ d: Dataset) -> UInt64 {
        let h = fingerprint(d.features)
        return d.labels.map { fingerprint($0, seed: h) } ?? h
    }

    /// Checks that every replica runs the same thing: each of `parts` is a description and a
    /// fingerprint (the model file, the settings, the data), exchanged among all replicas. A
    /// difference is an error that every replica raises together, naming the ranks.
    public static func checkSameRun(_ c: Collective, _ parts: [(what: String, fingerprint: UInt64)]) throws {
        let all: [[UInt64]]
        do { all = try c.allgather(parts.map(\.fingerprint)) } catch { throw TrainError(error.message) }
        for (k, part) in parts.enumerated() {
            let differing = all.indices.filter { all[$0][k] != all[0][k] }
            guard !differing.isEmpty else { continue }
            let ranks = differing.map(String.init).joined(separator: ", ")
            throw TrainError("the processes do not run the same training: rank\(differing.count == 1 ? "" : "s") \(ranks) "
                             + "\(differing.count == 1 ? "has" : "have") different \(part.what) than rank 0 "
                             + "(fingerprints compared at start-up); start every rank with the same model file, settings and data",
                             collective: true)
        }
    }

    /// Agrees on whether every replica got through a phase: each passes its own error (nil when
    /// it succeeded). When any failed, every replica throws: rank 0 and every replica whose
    /// message differs from rank 0's say why (prefixed with the rank), the others stay silent.
    public static func agree(_ c: Collective, _ failure: String?) throws {
        let code: UInt64 = failure.map { fingerprint($0) | 1 } ?? 0
        let all: [[UInt64]]
        do { all = try c.allgather([code]) } catch { throw TrainError(error.message) }
        guard all.contains(where: { $0[0] != 0 }) else { return }
        let mine = all[c.rank][0]
        let speak = failure != nil && (c.rank == 0 || mine != all[0][0])
        let failed = all.indices.filter { all[$0][0] != 0 }.map(String.init).joined(separator: ", ")
        throw TrainError(speak ? (c.rank == 0 ? failure! : "rank \(c.rank): \(failure!)")
                               : "(rank\(failed.contains(",") ? "s" : "") \(failed) failed)",
                         collective: true, silent: !speak)
    }

    /// A fingerprint of state entries' bytes, in order.
    public static func fingerprint(_ state: StateStore, names: [String]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for n in names {
            guard let e = state.entry(n) else { continue }
            h = fingerprint(UnsafeRawBufferPointer(start: e.pointer, count: e.bytes), seed: h)
        }
        return h
    }

    /// Gives every replica rank 0's values of the named state entries.
    public static func broadcast(_ state: StateStore, names: [String], over c: Collective) throws {
        for n in names {
            guard let e = state.entry(n) else { continue }
            do { try c.broadcast(e.pointer, bytes: e.bytes, root: 0) } catch { throw TrainError(error.message) }
        }
        state.markChanged()
    }
}
