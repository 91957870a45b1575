import DLGRuntime
import Foundation

/// How this process was started: alone, or as one rank of a job that an MPI
/// launcher (`mpirun`, `srun`, Hydra) started, told by the variables the
/// launcher puts in every rank's environment.
public enum Launch {
    /// The rank and the number of processes, when a launcher started this process.
    public static func detect(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> (rank: Int, size: Int)? {
        // Open MPI's mpirun, then MPICH's Hydra (and Slurm's PMI-2).
        for (r, s) in [("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")] {
            if let rank = environment[r].flatMap(Int.init), let size = environment[s].flatMap(Int.init),
               size >= 1, (0..<size).contains(rank) {
                return (rank, size)
            }
        }
        return nil
    }

    /// The largest count one MPI call takes (its counts are C ints).
    public static let maxCount = Int(Int32.max)

    /// `count` elements as consecutive parts of at most `limit` each: one MPI call per part.
    public static func pieces(_ count: Int, limit: Int = maxCount) -> [Range<Int>] {
        let step = max(limit, 1)
        return stride(from: 0, to: max(count, 0), by: step).map { $0 ..< min($0 + step, count) }
    }

    /// Whether this build of dlg can run on several processes: it was compiled where Open MPI's
    /// headers and pkg-config file were found (Debian: libopenmpi-dev).
    public static var builtWithMPI: Bool {
        #if canImport(CMPI)
        return true
        #else
        return false
        #endif
    }
}

/// The group of a job an MPI launcher started, whatever the build: how it ends.
public protocol ProcessGroup: Collective {
    /// Ends every process of the job at once, with this exit status.
    func abort(status: Int32) -> Never
    /// Waits for the work under way and leaves the job (MPI_Finalize); every process calls it once.
    func finish()
}

extension Launch {
    /// Joins the MPI job this process belongs to (MPI_Init). In a build without MPI it is an error.
    public static func joinMPI() throws(CollectiveError) -> any ProcessGroup {
        #if canImport(CMPI)
        return try MPIGroup()
        #else
        throw CollectiveError("this dlg was built without MPI: Open MPI's headers (Debian: libopenmpi-dev) were not found when it was compiled; install them and rebuild to train on several processes")
        #endif
    }

    /// The processes of this job on this machine, as the launcher says (nil when it does not).
    public static func localSize(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"] {
            if let n = environment[key].flatMap(Int.init), n >= 1 { return n }
        }
        return nil
    }
}
