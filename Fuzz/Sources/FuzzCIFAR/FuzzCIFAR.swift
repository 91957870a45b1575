import DLGData
import FuzzSupport

/// CIFAR-10 batch bytes through `CIFAR10.decodeBatch`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.run(data, size) { bytes in
        let (x, y) = try CIFAR10.decodeBatch(bytes, file: FuzzSupport.file)
        if x.shape[0] != y.shape[0] { fatalError("CIFAR images and labels differ in count") }
    }
}
