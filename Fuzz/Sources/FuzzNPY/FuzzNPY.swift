import DLGData
import FuzzSupport

/// `.npy` bytes through `NPY.decode`; a decoded array is encoded again and
/// must decode to the same array.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.run(data, size) { bytes in
        let a = try NPY.decode(bytes, file: FuzzSupport.file)
        let again = try NPY.decode(NPY.encode(a), file: FuzzSupport.file)
        if again.shape != a.shape || again.elementType != a.elementType { fatalError("npy round trip changed \(a) to \(again)") }
        _ = a.firstNonFinite()
    }
}
