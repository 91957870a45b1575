import DLGCompiler
import DLGData
import DLGRuntime
import DLGTrain
import Foundation

/// Writes valid files of every format the readers' fuzz targets take, one
/// folder per target, to start their corpora: `write(to: DIR)` writes
/// DIR/npy, DIR/npz, DIR/safetensors, DIR/idx, DIR/csv, DIR/text, DIR/cifar,
/// DIR/compiled and DIR/checkpoint. The files are made with dlg's own
/// writers (and, for compiled programs, its compiler) from small arrays.
/// `Fuzz/run.sh` calls it through `FuzzCompiled` (environment variable
/// `DLG_FUZZ_SEEDS=DIR`).
public enum FuzzSeeds {
    public static func write(to root: String) throws {
        func write(_ folder: String, _ name: String, _ bytes: [UInt8]) throws {
            let dir = root + "/" + folder
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try AtomicFile.write(bytes, to: dir + "/" + name)
        }
        let arrays: [NamedArray] = [
            NamedArray("x", try NDArray([Float(0), 0, 0, 1, 1, 0, 1, 1], shape: [4, 2])),
            NamedArray("y", try NDArray([Float(0), 1, 1, 0], shape: [4, 1])),
            NamedArray("d", NDArray([Double(1.5), -2, 1e300])),
            NamedArray("i", try NDArray([Int32(3), -1, 7, 0, 2, 9], shape: [2, 3])),
            NamedArray("l", NDArray([Int64(1) << 40, -5])),
            NamedArray("u", try NDArray([UInt8](0..<24), shape: [2, 3, 4])),
            NamedArray("s", try NDArray([Float(2.5)], shape: [])),
            NamedArray("e", try NDArray([Float](), shape: [0, 3])),
        ]
        for a in arrays { try write("npy", "\(a.name).npy", NPY.encode(a.array)) }
        // A Fortran-order array, as NumPy writes np.asfortranarray(a).
        var fortran = Array("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }".utf8)
        while (10 + fortran.count + 1) % 64 != 0 { fortran.append(0x20) }
        fortran.append(0x0A)
        var fbytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(fortran.count & 0xFF), UInt8(fortran.count >> 8)]
        fbytes += fortran
        for v: Int32 in [1, 4, 2, 5, 3, 6] { fbytes += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        try write("npy", "fortran.npy", fbytes)

        try write("npz", "stored.npz", try NPZ.encode(Array(arrays.prefix(4))))
        try write("npz", "compressed.npz", try NPZ.encode(arrays, compressed: true))
        try write("npz", "xy.npz", try NPZ.encode(Array(arrays.prefix(2)), compressed: true))

        try write("safetensors", "tensors.safetensors", try Safetensors.encode(arrays.filter { $0.name != "e" },
                                                                                  metadata: ["format": "pt", "note": "seed"]))
        try write("safetensors", "empty.safetensors", try Safetensors.encode([]))

        for (name, a) in [("u8", arrays[5].array), ("f32", arrays[0].array), ("i32", arrays[3].array), ("f64", arrays[2].array)] {
            let plain = try IDX.encode(a)
            try write("idx", "\(name).idx", plain)
            try write("idx", "\(name).idx.gz", try Gzip.compress(plain))
        }
        // i8 and i16 (codes 0x09, 0x0B), which dlg reads but does not write.
        try write("idx", "i8.idx", [0, 0, 0x09, 1, 0, 0, 0, 3, 0xFF, 0x01, 0x7F])
        try write("idx", "i16.idx", [0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0x00, 0x12, 0x34])

        try write("csv", "and.csv", Array("x1,x2,y\n0,0,0\n0,1,0\n1,0,0\n1,1,1\n".utf8))
        try write("csv", "quoted.csv", Array("\u{FEFF}\"a, b\",c\r\n\"1.5\",-2e3\r\n\r\n 3 ,4\n".utf8))
        try write("csv", "classes.csv", Array("f1,f2,class\n0.5,0.25,2\n-1,1e-3,0\n".utf8))

        // FuzzText's first byte chooses the reading (FuzzText.swift): 0x03 characters in windows
        // of 4; 0x93 the same with stride 1 and the first half's vocabulary; 0x41 bytes in windows of 2.
        try write("text", "chars.txt", [0x03] + Array("abc abc cab\n".utf8))
        try write("text", "vocabulary.txt", [0x93] + Array("to be or not to be\nthat is the question\n".utf8))
        try write("text", "unicode.txt", [0x03] + Array("naïve café — 日本語 ✓\n".utf8))
        try write("text", "bytes.txt", [0x41] + Array("\u{FEFF}line one\r\nline two\r\n".utf8) + [0x00, 0xFF, 0x80])

        var cifar = [UInt8]()
        for label in [UInt8(3), 9] {
            cifar.append(label)
            cifar += (0..<3072).map { UInt8(truncatingIfNeeded: $0 &* Int(label + 1)) }
        }
        try write("cifar", "batch.bin", cifar)

        // Compiled programs of a small model: the forward pass and the training step.
        let source = """
            model tiny {
                input  x: f32[B, 2]
                input  y: f32[B, 1]
                param  W: f32[2, 1] = [[0.5], [-0.25]]
                param  b: f32[1]    = zeros
                output p = sigmoid(x @ W + b)
                minimize mse(p, y)
            }
            train tiny {
                data = xor()
                optimizer = sgd(lr: 0.5)
                epochs = 2
            }
            """
        for (name, training) in [("forward", false), ("train", true)] {
            let recipe = CompiledModel.Recipe(text: source, model: nil, bindings: ["B": 4], trainingStep: training,
                                              optimizer: training ? OptimizerSpec(kind: .momentum, lr: 0.5) : nil,
                                              disabledPasses: [])
            let m = try CompiledModel.build(source: "tiny.dlg", recipe: recipe)
            try write("compiled", "\(name).dlgc", Array(try m.encoded()))
        }

        // A checkpoint of that model, as dlg train writes it.
        let tmp = NSTemporaryDirectory() + "dlg-fuzz-seed-\(getpid()).safetensors"
        try Checkpoint.save([NamedArray("W", try NDArray([Float(0.5), -0.25], shape: [2, 1])),
                             NamedArray("b", NDArray([Float(0)])), NamedArray("optimizer.lr", try NDArray([Float(0.5)], shape: []))],
                            model: "xor", position: Checkpoint.Position(epoch: 3, step: 12, seed: 7, best: 0.25, sinceBest: 1),
                            to: tmp)
        try write("checkpoint", "xor.safetensors", try readFileBytes(tmp))
        try? FileManager.default.removeItem(atPath: tmp)
    }
}
