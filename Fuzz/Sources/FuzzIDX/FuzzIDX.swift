import DLGData
import FuzzSupport

/// IDX bytes, plain or gzip (the first bytes 1F 8B), through `IDX.decode`;
/// the input is also tried gzip-wrapped, so that the gzip path sees the
/// plain inputs' variety.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.setUp()
    let bytes = FuzzSupport.bytes(data, size)
    FuzzSupport.expectNamed { _ = try IDX.decode(bytes, file: FuzzSupport.file) }
    if !Gzip.isGzip(bytes), let wrapped = try? Gzip.compress(bytes, level: 1) {
        FuzzSupport.expectNamed { _ = try IDX.decode(wrapped, file: FuzzSupport.file) }
    }
    return 0
}
