import DLGData
import Foundation

/// Turns a data specification into a dataset. Relative paths are resolved
/// against the directory of the .dlg file that names them.
public enum DataLoader {
    public static func load(_ spec: DataSpec, relativeTo base: String, seed: UInt64) throws -> Dataset {
        func path(_ p: String) -> String {
            if p.hasPrefix("/") || base.isEmpty { return p }
            return (base as NSString).appendingPathComponent(p)
        }
        switch spec {
        case .and: return Synthetic.and()
        case .or: return Synthetic.or()
        case .xor: return Synthetic.xor()
        case .sine(let n): return try Synthetic.sine(count: n, seed: seed)
        case .spirals(let n, let noise): return try Synthetic.spirals(perClass: n, noise: noise, seed: seed)
        case .shapes(let n, let noise): return try Synthetic.shapes(count: n, seed: seed, noise: noise)
        case .mnist(let dir, let split, let classes):
            var directory = dir
            if directory.isEmpty {
                guard let env = ProcessInfo.processInfo.environment["DLG_MNIST_DIR"], !env.isEmpty else {
                    throw DataError(file: "mnist()", .invalid("no directory given; write mnist(\"path/to/mnist\") or set DLG_MNIST_DIR"))
                }
                directory = env
            } else {
                directory = path(dir)
            }
            var d = try MNIST.load(directory: directory, split: split == "train" ? .train : .test)
            if let classes { d = try d.filter(classes: classes, relabel: true) }
            return d
        case .csv(let p, let label):
            // Labels are class indices when every one is an integer, regression targets otherwise.
            let d = try CSV.read(path(p), label: label, labelType: .f32)
            guard let y = d.labels, y.toDoubles().allSatisfy({ $0 == $0.rounded() && abs($0) < 2e9 }) else { return d }
            return try Dataset(name: d.name, features: d.features, labels: try y.converted(to: .i32).reshaped([d.count]))
        case .npy(let f, let l):
            let x = try NPY.read(path(f))
            let y = try l.map { try NPY.read(path($0)) }
            return try Dataset(name: (f as NSString).lastPathComponent, features: x, labels: y)
        case .npz(let p, let f, let l):
            let arrays = try NPZ.read(path(p))
            func named(_ n: String) throws -> NDArray {
                guard let a = arrays.first(where: { $0.name == n }) else {
                    throw DataError(file: path(p), .invalid("no array named '\(n)'; it has " + arrays.map(\.name).joined(separator: ", ")))
                }
                return a.array
            }
            return try Dataset(name: (p as NSString).lastPathComponent, features: try named(f), labels: try l.map(named))
        case .idx(let images, let labels):
            var x = try IDX.read(path(images))
            if x.elementType == .u8 { x = try Normalization.unitRange(fittedOn: x).apply(x, as: .f32) }
            let y = try labels.map { try IDX.read(path($0)).converted(to: .i32) }
            return try Dataset(name: (images as NSString).lastPathComponent, features: x, labels: y)
        case .cifar10(let files): return try CIFAR10.load(files: files.map(path))
        }
    }
}
