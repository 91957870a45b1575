import DLGData
import FuzzSupport

/// `.safetensors` bytes through `Safetensors.decode`; a decoded file is
/// encoded again and must decode to the same tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.run(data, size) { bytes in
        let f = try Safetensors.decode(bytes, file: FuzzSupport.file)
        guard !f.tensors.contains(where: { $0.name.isEmpty || $0.name == "__metadata__" }) else { return }
        let again = try Safetensors.decode(try Safetensors.encode(f.tensors, metadata: f.metadata), file: FuzzSupport.file)
        // Compared bit for bit: a NaN element is not equal to itself.
        let same = again.tensors.count == f.tensors.count && zip(again.tensors, f.tensors).allSatisfy {
            $0.name == $1.name && $0.array.shape == $1.array.shape && $0.array.elementType == $1.array.elementType
                && $0.array.littleEndianBytes() == $1.array.littleEndianBytes()
        }
        if !same { fatalError("safetensors round trip changed the tensors") }
    }
}
