import DLGData
import DLGKernels
import DLGRuntime
import FuzzSeeds
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

/// A compiled program's bytes through `CompiledModel.decode`, which compiles
/// the embedded source again and requires the same programs. A file that
/// passes is run: one step of each of its programs on zero inputs, which
/// must not crash (the check guarantees the programs are the compiler's).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.setUp()
    Threads.configure(1)
    let bytes = FuzzSupport.bytes(data, size)
    do {
        let m = try CompiledModel.decode(bytes, file: FuzzSupport.file)
        for p in [m.forward, m.train, m.eval].compactMap({ $0 }) {
            let e = try Executor(p, threads: 1)
            e.initializeState(seed: 0)
            try e.run()
        }
    } catch {
        let text = "\(error)"
        if !text.contains(FuzzSupport.file) && !text.contains("model '") {
            fatalError("an error that names neither the file nor the model: \(text)")
        }
    }
    return 0
}

/// With `DLG_FUZZ_SEEDS=DIR` in the environment, writes the seed files of
/// every reader's target into DIR and exits (see FuzzSeeds).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    if let dir = getenv("DLG_FUZZ_SEEDS").map({ String(cString: $0) }), !dir.isEmpty {
        do {
            try FuzzSeeds.write(to: dir)
            print("seeds written to \(dir)")
            exit(0)
        } catch {
            print("cannot write the seeds: \(error)")
            exit(1)
        }
    }
    return 0
}
