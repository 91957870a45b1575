import DLGData
import DLGTrain
import FuzzSupport

/// A checkpoint's bytes: the safetensors container, then the run's position
/// in its metadata, as `dlg train --resume` reads them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.run(data, size) { bytes in
        let f = try Safetensors.decode(bytes, file: FuzzSupport.file)
        if let p = try Checkpoint.position(f.metadata, file: FuzzSupport.file, model: "xor") {
            if p.epoch < 0 || p.step < p.epoch || p.sinceBest < 0 || p.sinceBest > p.epoch || !(p.best?.isFinite ?? true) {
                fatalError("an invalid position was accepted: \(p)")
            }
        }
    }
}
