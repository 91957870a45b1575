import DLGData
import FuzzSupport

/// `.npz` bytes (a ZIP archive of `.npy` entries) through `NPZ.decode`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.run(data, size) { bytes in
        let arrays = try NPZ.decode(bytes, file: FuzzSupport.file)
        for a in arrays { _ = a.array.firstNonFinite() }
    }
}
