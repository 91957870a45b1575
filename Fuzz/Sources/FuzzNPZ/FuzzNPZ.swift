import DLGData
import FuzzSupport

/// `.npz` bytes (a ZIP archive of `.npy` entries) through `NPZ.decode`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.setUp()
    let bytes = FuzzSupport.bytes(data, size)
    FuzzSupport.expectNamed {
        let arrays = try NPZ.decode(bytes, file: FuzzSupport.file)
        for a in arrays { _ = a.array.firstNonFinite() }
    }
    return 0
}
