import DLGData
import FuzzSupport

/// CSV bytes as a dataset: all columns features, the last column as float
/// labels, and the last column as integer class labels.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.setUp()
    let bytes = FuzzSupport.bytes(data, size)
    FuzzSupport.expectNamed { _ = try CSV.dataset(from: bytes, file: FuzzSupport.file) }
    let header = (try? CSV.parse(bytes, file: FuzzSupport.file))?.header ?? []
    if let label = header.last {
        FuzzSupport.expectNamed { _ = try CSV.dataset(from: bytes, file: FuzzSupport.file, label: label) }
        FuzzSupport.expectNamed { _ = try CSV.dataset(from: bytes, file: FuzzSupport.file, label: label, labelType: .i32) }
        FuzzSupport.expectNamed {
            _ = try CSV.dataset(from: bytes, file: FuzzSupport.file, label: label, featureType: .f64, allowNonFinite: true)
        }
    }
    return 0
}
