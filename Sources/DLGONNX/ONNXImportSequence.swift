import DLGData
import DLGGraph
import Foundation

/// A recurrent layer's sequence result as dlg computes it: `name` bound to
/// `[B, T, directions·H]` (batch first), and how ONNX lays the same values out.
struct LSTMSequence {
    var name: String
    var info: TensorInfo
    var directions: Int
    var hidden: Int
}

/// Embeddings (`Gather` of a table by token ids) and `LSTM`, with the
/// constant folding PyTorch's exporters need around them: the TorchScript
/// exporter reorders the gates of `weight_ih_l0` & co. with `Slice` and
/// `Concat` on the initializers, transposes a `Linear`'s weight with
/// `Transpose`, and makes zero initial states with `ConstantOfShape`.
extension Translator {
    // MARK: Constants

    /// `Slice` (opset 10 and later: starts, ends, axes, steps as operands) of a constant, or of zeros.
    func slice(_ n: ONNXNode) throws {
        guard let starts = sliceBounds(n, 1), let ends = sliceBounds(n, 2) else { throw Unsupported("its starts and ends are computed at run time") }
        let rank: Int
        switch values[n.inputs[0]] {
        case .sizes(let v)?:
            // Of sizes (the dynamo exporter takes an LSTM output's shape apart): fold.
            guard let a = ints(n, 3) ?? (n.inputs.count > 3 && !n.inputs[3].isEmpty ? nil : [0]), a == [0] || a == [-1],
                  starts.count == 1, ends.count == 1, (n.inputs.count > 4 && !n.inputs[4].isEmpty ? ints(n, 4) : [1]) == [1] else {
                throw Unsupported("only a plain 1-D slice of a shape is supported")
            }
            var s = starts[0], e = ends[0]
            if s < 0 { s += v.count }
            if e < 0 { e += v.count }
            s = min(max(s, 0), v.count)
            e = min(max(e, s), v.count)
            values[n.outputs[0]] = .sizes(Array(v[s..<e]))
            return
        case .constant(let a)?: rank = a.rank
        case .zeros(let info)?: rank = info.dims?.count ?? 0
        case .tensor(_, let info)?:
            guard let r = info.dims?.count else { throw Unsupported("the operand's rank is unknown") }
            rank = r
        default: throw Unsupported("operand '\(n.inputs[0])' is not available")
        }
        let axes = (n.inputs.count > 3 && !n.inputs[3].isEmpty ? ints(n, 3) : Array(0..<starts.count)) ?? []
        let steps = (n.inputs.count > 4 && !n.inputs[4].isEmpty ? ints(n, 4) : [Int](repeating: 1, count: starts.count)) ?? []
        guard axes.count == starts.count, ends.count == starts.count, steps.count == starts.count else {
            throw Unsupported("its starts, ends, axes and steps differ in length, or are computed at run time")
        }
        guard steps.allSatisfy({ $0 >= 1 }) else { throw Unsupported("steps \(steps) are not all positive") }
        let normalized = axes.map { $0 < 0 ? $0 + rank : $0 }
        guard normalized.allSatisfy({ $0 >= 0 && $0 < rank }), Set(normalized).count == normalized.count else {
            throw Unsupported("axes \(axes) are out of range for rank \(rank)")
        }
        /// Per axis, (start, count, step) within a size.
        func window(_ k: Int, size: Int) -> (Int, Int, Int) {
            var s = starts[k], e = ends[k]
            if s < 0 { s += size }
            if e < 0 { e += size }
            s = min(max(s, 0), size)
            e = min(max(e, 0), size)
            let count = e > s ? (e - s + steps[k] - 1) / steps[k] : 0
            return (s, count, steps[k])
        }
        switch values[n.inputs[0]] {
        case .zeros(let info)?:
            guard var d = info.dims else { throw Unsupported("the operand's rank is unknown") }
            for (k, ax) in normalized.enumerated() {
                guard let size = d[ax].value else { throw Unsupported("axis \(ax) of the zeros has a symbolic size") }
                d[ax] = .known(window(k, size: size).1)
            }
            values[n.outputs[0]] = .zeros(TensorInfo(dtype: info.dtype, dims: d))
        case .constant(let a)?:
            var plan = a.shape.map { (0, $0, 1) }
            for (k, ax) in normalized.enumerated() { plan[ax] = window(k, size: a.shape[ax]) }
            values[n.outputs[0]] = .constant(try Self.sliced(a, plan))
        case .tensor(let e, let info)?:
            // dlg's slice, one axis at a time (what `dlg export` writes for an unrolled recurrent layer).
            guard var d = info.dims else { throw Unsupported("the operand's rank is unknown") }
            var text = e.text
            for (k, ax) in normalized.enumerated() {
                guard let size = d[ax].value else {
                    if starts[k] == 0, ends[k] >= Int(Int32.max), steps[k] == 1 { continue }
                    throw Unsupported("axis \(ax) has a symbolic size; dlg slices only known axes")
                }
                let (start, count, step) = window(k, size: size)
                guard count > 0 else { throw Unsupported("the slice of axis \(ax) is empty") }
                if start == 0, count == size, step == 1 { continue }
                var a = ["axis: \(ax)"]
                if start != 0 { a.append("start: \(start)") }
                let end = start + (count - 1) * step + 1
                if end != size { a.append("end: \(end)") }
                if step != 1 { a.append("step: \(step)") }
                text = "slice(\(text), \(a.joined(separator: ", ")))"
                d[ax] = .known(count)
            }
            define(n, 0, text == e.text ? e : .atom(text, layers: e.layers), TensorInfo(dtype: info.dtype, dims: d))
        default: break
        }
    }

    /// Slice's starts or ends: integers, read exactly (INT64_MAX, "to the end", is not a Double).
    func sliceBounds(_ n: ONNXNode, _ i: Int) -> [Int]? {
        if let a = constant(n, i) {
            if let v = a.values(as: Int64.self) { return v.map { Int($0) } }  // conversion: Int64 to Int, the same width on 64-bit Linux
            if let v = a.values(as: Int32.self) { return v.map { Int($0) } }  // conversion: Int32 to Int, a widening
        }
        return ints(n, i)
    }

    /// A constant cut to `plan` (per axis: start, count, step).
    static func sliced(_ a: NDArray, _ plan: [(Int, Int, Int)]) throws -> NDArray {
        let shape = plan.map(\.1)
        let source = a.toDoubles()
        var strides = [Int](repeating: 1, count: a.rank)
        if a.rank > 1 { for k in stride(from: a.rank - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * a.shape[k + 1] } }
        var out: [Double] = []
        out.reserveCapacity(try checkedProduct(shape))
        var index = [Int](repeating: 0, count: a.rank)
        let total = shape.reduce(1, *)
        for _ in 0..<total {
            var offset = 0
            for k in 0..<a.rank { offset += (plan[k].0 + index[k] * plan[k].2) * strides[k] }
            out.append(source[offset])
            var k = a.rank - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < shape[k] { break }
                index[k] = 0
                k -= 1
            }
        }
        return try NDArray(out, shape: shape).converted(to: a.elementType)
    }

    /// `Concat` of constants: folded along `axis`.
    static func concatenated(_ parts: [NDArray], axis: Int) throws -> NDArray {
        guard let first = parts.first else { throw Unsupported("it has no operands") }
        let r = first.rank
        let ax = axis < 0 ? axis + r : axis
        guard ax >= 0, ax < r, parts.allSatisfy({ $0.rank == r && $0.elementType == first.elementType }) else {
            throw Unsupported("axis \(axis) is out of range, or the operands' ranks or types differ")
        }
        for p in parts {
            for k in 0..<r where k != ax && p.shape[k] != first.shape[k] {
                throw Unsupported("operand shapes \(parts.map(\.shape)) do not agree off axis \(axis)")
            }
        }
        let outer = first.shape[..<ax].reduce(1, *)
        var shape = first.shape
        shape[ax] = parts.map { $0.shape[ax] }.reduce(0, +)
        _ = try checkedProduct(shape)
        let blocks = parts.map { ($0.toDoubles(), $0.shape[ax...].reduce(1, *)) }
        var out: [Double] = []
        for o in 0..<outer {
            for (v, block) in blocks { out += v[o * block ..< (o + 1) * block] }
        }
        return try NDArray(out, shape: shape).converted(to: first.elementType)
    }

    /// `ConstantOfShape`: a constant when every size is known, else (zeros only) a tensor of zeros with a symbolic size.
    func constantOfShape(_ n: ONNXNode) throws {
        guard let dims = sizes(n, 0) else { throw Unsupported("its shape is computed at run time") }
        var fill = 0.0
        var type: ElementType = .f32
        if case .tensor(let t)? = n.attributes["value"] {
            guard t.array.count == 1 else { throw Unsupported("its value has \(t.array.count) elements, not one") }
            fill = t.array.toDoubles()[0]
            type = t.array.elementType
        }
        let known = dims.compactMap(\.value)
        if known.count == dims.count {
            guard known.allSatisfy({ $0 >= 0 }), let count = try? Self.checkedProduct(known), count <= Self.constantLimit else {
                throw Unsupported("the shape \(known) is out of range")
            }
            let a = try NDArray([Double](repeating: fill, count: count), shape: known).converted(to: type)
            values[n.outputs[0]] = .constant(a)
            return
        }
        guard fill == 0, type.isFloatingPoint else { throw Unsupported("a filled tensor of symbolic shape \(dims) is not supported (zeros are)") }
        values[n.outputs[0]] = .zeros(TensorInfo(dtype: type == .f64 ? .f64 : .f32, dims: dims))
    }

    /// The initializers a constant was computed from, in the order the computation reads them.
    func sourceInitializers(of name: String) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        func visit(_ v: String) {
            guard !v.isEmpty, seen.insert(v).inserted else { return }
            if initializerNames.contains(v) {
                out.append(v)
                return
            }
            guard let p = producers[v] else { return }
            for i in p.inputs { visit(i) }
        }
        visit(name)
        return out
    }

    // MARK: Embedding

    /// `Gather` along axis 0 of a [V, D] float initializer by integer ids: `embedding`.
    func embedding(_ n: ONNXNode, table: NDArray) throws {
        let (e, info) = try tensor(n, 1)
        guard info.dtype == .i32 else { throw Unsupported("the ids of an embedding must be integers") }
        let base = DLGText.layerName(fromInitializer: n.inputs[0]) ?? DLGText.identifier(from: n.name.isEmpty ? n.outputs[0] : n.name)
        let layer = uniqueLayerName(base)
        addWeight(layer + ".weight", table, from: n.inputs[0])
        let dims = info.dims.map { $0 + [.known(table.shape[1])] }
        define(n, 0, .atom("embedding(\(e.text), vocab: \(table.shape[0]), dim: \(table.shape[1]), name: \(DLGText.quoted(layer)))",
                           layers: e.layers + 1), TensorInfo(dtype: .f32, dims: dims))
    }

    // MARK: LSTM

    /// ONNX's gate blocks i, o, f, c (rows of `gates·H`) → PyTorch's and dlg's i, f, g, o.
    static func gatesFromONNX(_ a: NDArray, hidden h: Int) throws -> NDArray {
        let parts = try (0..<4).map { k -> NDArray in
            var plan = a.shape.map { (0, $0, 1) }
            plan[0] = (k * h, h, 1)
            return try sliced(a, plan)
        }
        return try concatenated([parts[0], parts[2], parts[3], parts[1]], axis: 0)
    }

    /// The batch-first form `[B, T, F]` of an LSTM's input.
    func lstmInput(_ n: ONNXNode, layout: Int) throws -> (Expr, TensorInfo) {
        if layout == 0, let alias = batchFirst[n.inputs[0]] { return alias }
        let (e, info) = try tensor(n, 0)
        guard let d = info.dims, d.count == 3 else { throw Unsupported("its input is not 3-D") }
        if layout == 1 { return (e, info) }
        return (.atom("transpose(\(e.text), [1, 0, 2])", layers: e.layers), TensorInfo(dtype: info.dtype, dims: [d[1], d[0], d[2]]))
    }

    func lstm(_ n: ONNXNode) throws {
        let direction = string(n, "direction", "forward")
        guard direction == "forward" || direction == "bidirectional" else {
            throw Unsupported("direction \(direction) is not supported (dlg's lstm runs forward, or both ways with bidirectional: true)")
        }
        let dirs = direction == "bidirectional" ? 2 : 1
        guard int(n, "input_forget", 0) == 0 else { throw Unsupported("input_forget 1 (coupled gates) is not supported") }
        guard n.attributes["clip"] == nil else { throw Unsupported("clip is not supported") }
        guard n.attributes["activation_alpha"] == nil, n.attributes["activation_beta"] == nil else {
            throw Unsupported("activation_alpha/beta are not supported")
        }
        if case .strings(let acts)? = n.attributes["activations"] {
            let standard = Array([String](repeating: "", count: dirs).map { _ in ["sigmoid", "tanh", "tanh"] }.joined())
            guard acts.map({ $0.lowercased() }) == standard else {
                throw Unsupported("activations \(acts) differ from the standard Sigmoid, Tanh, Tanh")
            }
        }
        let layout = int(n, "layout", 0)
        guard layout == 0 || layout == 1 else { throw Unsupported("layout \(layout) is not 0 or 1") }
        guard let w = constant(n, 1), w.elementType.isFloatingPoint, w.rank == 3,
              let r = constant(n, 2), r.elementType.isFloatingPoint, r.rank == 3 else {
            throw Unsupported("its weights W and R are not constants known while importing")
        }
        let h = r.shape[2]
        guard h > 0, w.shape[0] == dirs, w.shape[1] == 4 * h, r.shape == [dirs, 4 * h, h] else {
            throw Unsupported("W \(w.shape) and R \(r.shape) do not fit \(dirs) direction(s) of 4 gates")
        }
        if case .int(let size)? = n.attributes["hidden_size"], size != h { throw Unsupported("hidden_size \(size) disagrees with R \(r.shape)") }
        var b: NDArray?
        if n.inputs.count > 3, !n.inputs[3].isEmpty {
            guard let c = constant(n, 3), c.elementType.isFloatingPoint, c.shape == [dirs, 8 * h] else {
                throw Unsupported("its bias B is not a constant [\(dirs), \(8 * h)]")
            }
            b = c
        }
        if n.inputs.count > 7, !n.inputs[7].isEmpty { throw Unsupported("peephole weights P are not supported") }
        let (x, xi) = try lstmInput(n, layout: layout)
        guard let d = xi.dims, d.count == 3, let steps = d[1].value, d[2].value == w.shape[2] else {
            throw Unsupported("its input is not [batch, time, \(w.shape[2])] with a known time")
        }
        if n.inputs.count > 4, !n.inputs[4].isEmpty {
            guard let lens = ints(n, 4), lens.allSatisfy({ $0 == steps }) else {
                throw Unsupported("sequence_lens shorter than the sequence are not supported")
            }
        }
        var args = [x.text, String(h)]
        let outputs = n.outputs + ["", "", ""]
        let used = (0..<3).map { k in !outputs[k].isEmpty && (graphOutputs.contains(outputs[k]) || !(consumers[outputs[k]] ?? []).isEmpty) }
        if used[2] { throw Unsupported("its cell state output Y_c is used; dlg's lstm gives h only") }
        if used[0] { args.append("return_sequences: true") }
        if dirs == 2 { args.append("bidirectional: true") }
        for (k, key) in [(5, "h0"), (6, "c0")] where n.inputs.count > k && !n.inputs[k].isEmpty {
            switch values[n.inputs[k]] {
            case .zeros?: continue
            case .constant(let a)? where a.toDoubles().allSatisfy({ $0 == 0 }): continue
            default:
                let (s, _) = try tensor(n, k)
                args.append("\(key): " + (layout == 1 ? "transpose(\(s.text), [1, 0, 2])" : s.text))
            }
        }
        // The layer's name: PyTorch's module (`lstm` of `lstm.weight_ih_l0`), else the node's.
        let sources = sourceInitializers(of: n.inputs[1])
        var base = DLGText.identifier(from: n.name.isEmpty ? n.outputs[0] : n.name)
        if let s = sources.first, let dot = s.range(of: ".weight_ih_l", options: .backwards) {
            let p = String(s[..<dot.lowerBound])
            if !p.isEmpty, !p.contains(" "), !p.contains("\""), !p.contains("\\") { base = p }
        }
        let layer = uniqueLayerName(base)
        args.append("name: \(DLGText.quoted(layer))")
        // Weights, per direction, in dlg's (PyTorch's) gate order.
        let biasSources = n.inputs.count > 3 ? sourceInitializers(of: n.inputs[3]) : []
        let recurrentSources = sourceInitializers(of: n.inputs[2])
        for dir in 0..<dirs {
            let suffix = dir == 1 ? "_reverse" : ""
            func direction(_ a: NDArray) throws -> NDArray {
                var plan = a.shape.map { (0, $0, 1) }
                plan[0] = (dir, 1, 1)
                return try Self.sliced(a, plan).reshaped(Array(a.shape.dropFirst()))
            }
            let wih = try Self.gatesFromONNX(try direction(w), hidden: h)
            let whh = try Self.gatesFromONNX(try direction(r), hidden: h)
            var bih = try NDArray.zeros(wih.elementType, shape: [4 * h]), bhh = bih
            if let b {
                let both = try direction(b)
                bih = try Self.gatesFromONNX(try Self.sliced(both, [(0, 4 * h, 1)]), hidden: h)
                bhh = try Self.gatesFromONNX(try Self.sliced(both, [(4 * h, 4 * h, 1)]), hidden: h)
            }
            let perDirection = sources.count == dirs ? sources[dir] : nil
            addLSTMWeight("\(layer).weight_ih_l0\(suffix)", wih, source: perDirection, onnx: n.inputs[1], dir: dir, dirs: dirs)
            addLSTMWeight("\(layer).weight_hh_l0\(suffix)", whh,
                          source: recurrentSources.count == dirs ? recurrentSources[dir] : nil,
                          onnx: n.inputs[2], dir: dir, dirs: dirs)
            let hasBias = b != nil
            addLSTMWeight("\(layer).bias_ih_l0\(suffix)", bih, source: biasSources.count == 2 * dirs ? biasSources[2 * dir] : nil,
                          onnx: hasBias ? n.inputs[3] : nil, dir: dir, dirs: dirs)
            addLSTMWeight("\(layer).bias_hh_l0\(suffix)", bhh, source: biasSources.count == 2 * dirs ? biasSources[2 * dir + 1] : nil,
                          onnx: hasBias ? n.inputs[3] : nil, dir: dir, dirs: dirs)
        }
        let call = "lstm(\(args.joined(separator: ", ")))"
        let batch = d[0]
        let stmt = bindName(outputs[used[0] ? 0 : 1], kind: "value", opType: "LSTM")
        lines.append("\(stmt) = \(call)")
        let width = dirs * h
        let bt = "\(batch), \(steps)"
        if used[0] {
            let info = TensorInfo(dtype: xi.dtype, dims: [batch, .known(steps), .known(width)])
            lstmSequences[outputs[0]] = LSTMSequence(name: stmt, info: info, directions: dirs, hidden: h)
            if layout == 0 {
                values[outputs[0]] = .tensor(.atom("transpose(reshape(\(stmt), [\(bt), \(dirs), \(h)]), [1, 2, 0, 3])"),
                                             TensorInfo(dtype: xi.dtype, dims: [.known(steps), .known(dirs), batch, .known(h)]))
            } else {
                values[outputs[0]] = .tensor(.atom("reshape(\(stmt), [\(bt), \(dirs), \(h)])"),
                                             TensorInfo(dtype: xi.dtype, dims: [batch, .known(steps), .known(dirs), .known(h)]))
            }
        }
        if used[1] {
            // The final states [B, dirs·H]: the statement itself, or cut out of the sequence.
            var final = stmt
            if used[0] {
                let forward = "reshape(slice(\(stmt), axis: 1, start: \(steps - 1)\(dirs == 2 ? ", end: \(steps)" : "")), [\(batch), \(width)])"
                final = dirs == 1 ? forward
                    : "concat([slice(\(forward), axis: 1, end: \(h)), slice(reshape(slice(\(stmt), axis: 1, end: 1), [\(batch), \(width)]), axis: 1, start: \(h))], axis: 1)"
            }
            lstmFinals[outputs[1]] = (final, dirs)
            let text = layout == 0
                ? (dirs == 1 ? "reshape(\(final), [1, \(batch), \(h)])" : "transpose(reshape(\(final), [\(batch), 2, \(h)]), [1, 0, 2])")
                : "reshape(\(final), [\(batch), \(dirs), \(h)])"
            values[outputs[1]] = .tensor(.atom(text), TensorInfo(dtype: xi.dtype, dims: layout == 0 ? [.known(dirs), batch, .known(h)]
                                                                    : [batch, .known(dirs), .known(h)]))
        }
    }

    /// One of an LSTM's dlg parameters; its origin is the PyTorch initializer it equals, when there is one.
    func addLSTMWeight(_ name: String, _ a: NDArray, source: String?, onnx: String?, dir: Int, dirs: Int) {
        if let source, let s = model.initializer(source), s.array.shape == a.shape, s.array.toDoubles() == a.toDoubles() {
            addWeight(name, a, from: source)
            return
        }
        guard let onnx else {
            weights.append(NamedArray(name, a))
            origins[name] = "zeros (the ONNX LSTM has no bias)"
            return
        }
        addWeight(name, a, from: onnx, note: " (\(dirs == 2 ? "direction \(dir), " : "")gates reordered from ONNX's i, o, f, c)")
    }

    /// A layer name made unique among the model's layers.
    func uniqueLayerName(_ proposed: String) -> String {
        var base = proposed
        if layerNames.contains(base) {
            var k = 1
            while layerNames.contains("\(base)_\(k)") { k += 1 }
            base = "\(base)_\(k)"
        }
        layerNames.insert(base)
        layerPrefixes.insert(base)
        return base
    }

    /// The readable forms of what PyTorch writes around an LSTM (Squeeze of the direction axis,
    /// Transpose back to batch first, the bidirectional Transpose + Reshape): true when `n` was one.
    func lstmLayoutPattern(_ n: ONNXNode) throws -> Bool {
        let input = n.inputs.first ?? ""
        switch n.opType {
        case "Squeeze":
            var axes = ints(n, "axes")
            if axes == nil, n.inputs.count > 1, !n.inputs[1].isEmpty { axes = ints(n, 1) }
            if let s = lstmSequences[input], s.directions == 1, axes == [1] || axes == [-3],
               case .tensor(_, let yi)? = values[input], yi.dims?.count == 4, yi.dims?[1] == .known(1), yi.dims?[0] == s.info.dims?[1] {
                // [T, 1, B, H] → [T, B, H]: the sequence, time first.
                setSequenceTimeFirst(n.outputs[0], s)
                return true
            }
            if let (final, dirs) = lstmFinals[input], dirs == 1, axes == [0] || axes == [-3], let info = finalInfo(input) {
                // [1, B, H] → [B, H]: the final state itself.
                define(n, 0, .atom(final), info)
                return true
            }
        case "Transpose":
            let perm = ints(n, "perm")
            if perm == [1, 0, 2], let (e, info) = batchFirst[input] {
                define(n, 0, e, info)
                return true
            }
            if perm == [0, 2, 1, 3], let s = lstmSequences[input], case .tensor(_, let yi)? = values[input],
               yi.dims?.count == 4, yi.dims?[1] == .known(s.directions) {
                // [T, dirs, B, H] → [T, B, dirs, H]
                let d = s.info.dims!
                let text = "transpose(reshape(\(s.name), [\(d[0]), \(d[1]), \(s.directions), \(s.hidden)]), [1, 0, 2, 3])"
                values[n.outputs[0]] = .tensor(.atom(text), TensorInfo(dtype: s.info.dtype,
                                                                       dims: [d[1], d[0], .known(s.directions), .known(s.hidden)]))
                lstmJoined[n.outputs[0]] = s
                return true
            }
            if perm == [1, 0, 2], case .tensor(let e, let info)? = values[input], let d = info.dims, d.count == 3,
               let users = consumers[n.outputs[0]], !users.isEmpty,
               users.allSatisfy({ $0.opType == "LSTM" && $0.inputs.first == n.outputs[0] && int($0, "layout", 0) == 0 }),
               e.isName || users.count == 1, !graphOutputs.contains(n.outputs[0]) {
                // Batch first to time first, read only by LSTMs: they read the batch-first value itself.
                let t = TensorInfo(dtype: info.dtype, dims: [d[1], d[0], d[2]])
                values[n.outputs[0]] = .tensor(.atom("transpose(\(e.text), [1, 0, 2])", layers: e.layers), t)
                batchFirst[n.outputs[0]] = (e, info)
                return true
            }
        case "Reshape":
            if let s = lstmJoined[input], let target = sizes(n, 1), case .tensor(_, let yi)? = values[input], let d = yi.dims,
               let out = try? reshapeDims(d, target, allowZero: int(n, "allowzero", 0) == 1), out.count == 3,
               out[0] == d[0], out[1] == d[1], out[2] == .known(s.directions * s.hidden) {
                setSequenceTimeFirst(n.outputs[0], s)
                return true
            }
        default: break
        }
        return false
    }

    /// `name` holds sequence `s` time first, [T, B, F]: written as a transpose where it is read as
    /// such, and as `s` itself by an LSTM or by the Transpose back to batch first.
    func setSequenceTimeFirst(_ name: String, _ s: LSTMSequence) {
        let d = s.info.dims!
        values[name] = .tensor(.atom("transpose(\(s.name), [1, 0, 2])"), TensorInfo(dtype: s.info.dtype, dims: [d[1], d[0], d[2]]))
        batchFirst[name] = (.atom(s.name), s.info)
        if graphOutputs.contains(name), case .tensor(let e, let info)? = values[name] {
            values[name] = nil
            let out = outputName(name)
            lines.append("\(out) = \(e.text)")
            values[name] = .tensor(.atom(out), info)
        }
    }

    /// The final state's info [B, H] for a one-direction Y_h.
    func finalInfo(_ yh: String) -> TensorInfo? {
        guard case .tensor(_, let info)? = values[yh], let d = info.dims, d.count == 3 else { return nil }
        return TensorInfo(dtype: info.dtype, dims: [d[1], d[2]])
    }
}
