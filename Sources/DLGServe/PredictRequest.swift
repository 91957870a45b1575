import DLGData
import DLGGraph
import Foundation

/// A predict request's inputs, decoded and checked against the model.
public struct PredictInputs: Sendable, Equatable {
    /// Examples in the request.
    public var rows: Int
    /// The request sent one example without a batch axis; its answer has none either.
    public var single: Bool
    /// Every input's values, in the order of `ServedModel.inputs`.
    public var values: [ExampleValues]
}

/// Reads predict bodies: JSON (`{"inputs": {"image": [[…]]}}`), a .npy
/// array (the model's only input) or a .npz archive (arrays named after the
/// inputs). Every value is checked: nesting and sizes against the input's
/// shape, element type, finiteness; the first problem found is the error.
public struct PredictRequestDecoder: Sendable {
    public let model: ServedModel
    let decoder: JSONDecoder

    public init(model: ServedModel) {
        self.model = model
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        d.userInfo[Self.specsKey] = model.inputs
        d.userInfo[Self.maxBatchKey] = model.maxBatch
        decoder = d
    }

    static let specsKey = CodingUserInfoKey(rawValue: "dlg.inputs")!
    static let maxBatchKey = CodingUserInfoKey(rawValue: "dlg.maxBatch")!

    // MARK: JSON

    struct Body: Decodable {
        var inputs: [String: DecodedInput]
    }

    /// One input of a JSON body: nested arrays of numbers, one example (the
    /// input's shape without the batch axis) or a batch of them.
    struct DecodedInput: Decodable {
        var values: ExampleValues
        /// nil for one example without a batch axis.
        var rows: Int?

        init(from decoder: any Decoder) throws {
            let specs = decoder.userInfo[PredictRequestDecoder.specsKey] as? [TensorSpec] ?? []
            let name = decoder.codingPath.last?.stringValue ?? "?"
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw RequestError(.badRequest, "the model has no input '\(name)'; it reads "
                                   + specs.map { "'\($0.name)'" }.joined(separator: ", "), input: name)
            }
            // How deep the arrays go along the first elements: the example's rank, or one more for a batch.
            var depth = 0
            do {
                var probe = try decoder.unkeyedContainer()
                depth = 1
                while !probe.isAtEnd {
                    probe = try probe.nestedUnkeyedContainer()
                    depth += 1
                }
            } catch DecodingError.typeMismatch {}
            let rank = spec.example.count
            guard depth == rank || depth == rank + 1 else {
                throw RequestError(.wrongShape, "input '\(name)' takes one example \(spec.dtype.rawValue)\(Shape(spec.example)) or a batch \(spec.dtype.rawValue)\(Shape([-1] + spec.example).description.replacingOccurrences(of: "-1", with: "N")); the value sent is nested \(depth) deep where \(rank) or \(rank + 1) is expected", input: name)
            }
            var walker = Walker(spec: spec, dims: spec.example)
            if depth == rank + 1 {
                var top = try decoder.unkeyedContainer()
                let n = top.count ?? 0
                // Before anything is reserved for them.
                let most = decoder.userInfo[PredictRequestDecoder.maxBatchKey] as? Int ?? 1
                guard n <= most else {
                    throw RequestError(.tooManyExamples, "a request holds at most \(most) examples (the largest batch, --max-batch); this one holds \(n)")
                }
                walker.dims = [n] + spec.example
                walker.reserve(n * spec.exampleCount)
                try walker.walk(&top, level: 0)
                rows = n
            } else if rank == 0 {
                walker.reserve(1)
                var single = SingleNumber(container: try decoder.singleValueContainer())
                try walker.element(&single)
                rows = nil
            } else {
                var top = try decoder.unkeyedContainer()
                walker.reserve(spec.exampleCount)
                try walker.walk(&top, level: 0)
                rows = nil
            }
            values = walker.values
        }
    }

    /// Walks nested arrays of known sizes, appending their numbers.
    struct Walker {
        let spec: TensorSpec
        var dims: [Int]
        var path: [Int] = []
        var floats: [Float] = []
        var doubles: [Double] = []
        var ints: [Int32] = []

        init(spec: TensorSpec, dims: [Int]) {
            self.spec = spec
            self.dims = dims
        }

        mutating func reserve(_ n: Int) {
            switch spec.dtype {
            case .f32: floats.reserveCapacity(n)
            case .f64: doubles.reserveCapacity(n)
            case .i32: ints.reserveCapacity(n)
            }
        }

        var values: ExampleValues {
            switch spec.dtype {
            case .f32: .f32(floats)
            case .f64: .f64(doubles)
            case .i32: .i32(ints)
            }
        }

        var place: String { path.isEmpty ? "" : " at " + path.map { "[\($0)]" }.joined() }

        mutating func walk(_ c: inout any UnkeyedDecodingContainer, level: Int) throws {
            let expected = dims[level]
            let count = c.count ?? 0
            guard count == expected else {
                throw RequestError(.wrongShape, "input '\(spec.name)' expects \(expected) elements\(place), found \(count) (the input is \(spec.dtype.rawValue)\(Shape(dims)))", input: spec.name)
            }
            path.append(0)
            defer { path.removeLast() }
            if level == dims.count - 1 {
                var numbers = UnkeyedNumbers(container: c)
                while !numbers.container.isAtEnd {
                    path[path.count - 1] = numbers.container.currentIndex
                    try element(&numbers)
                }
                c = numbers.container
            } else {
                while !c.isAtEnd {
                    path[path.count - 1] = c.currentIndex
                    var sub: any UnkeyedDecodingContainer
                    do { sub = try c.nestedUnkeyedContainer() } catch DecodingError.typeMismatch {
                        throw RequestError(.wrongShape, "input '\(spec.name)' expects an array of \(dims[level + 1])\(place), found a single value (the input is \(spec.dtype.rawValue)\(Shape(dims)))", input: spec.name)
                    }
                    try walk(&sub, level: level + 1)
                }
            }
        }

        /// One number, of the input's element type.
        mutating func element<C: NumberSource>(_ c: inout C) throws {
            do {
                switch spec.dtype {
                case .f32: floats.append(try c.float())
                case .f64: doubles.append(try c.double())
                case .i32: ints.append(try c.int32())
                }
            } catch DecodingError.typeMismatch {
                if c.holdsArray() {
                    throw RequestError(.wrongShape, "input '\(spec.name)' expects a number\(place), found an array (the input is \(spec.dtype.rawValue)\(Shape(dims)))", input: spec.name)
                }
                throw RequestError(.wrongDtype, "input '\(spec.name)' is \(spec.dtype.rawValue): the value\(place) is not a number", input: spec.name)
            } catch DecodingError.dataCorrupted {
                let what = spec.dtype == .i32 ? "an integer in the range of i32" : "a number in the range of \(spec.dtype.rawValue)"
                throw RequestError(.wrongDtype, "input '\(spec.name)' is \(spec.dtype.rawValue): the value\(place) is not \(what)", input: spec.name)
            }
        }
    }

    /// Decodes a JSON body.
    public func decodeJSON(_ bytes: Data) throws(RequestError) -> PredictInputs {
        let body: Body
        do {
            body = try decoder.decode(Body.self, from: bytes)
        } catch let e as RequestError {
            throw e
        } catch DecodingError.keyNotFound(let key, _) where key.stringValue == "inputs" {
            throw RequestError(.badRequest, "the body has no \"inputs\": send {\"inputs\": {\(exampleKeys)}}")
        } catch DecodingError.typeMismatch(_, let context) {
            throw RequestError(.badRequest, "\(context.codingPath.isEmpty ? "the body" : "\"" + context.codingPath.map(\.stringValue).joined(separator: ".") + "\"") is not an object: send {\"inputs\": {\(exampleKeys)}}")
        } catch DecodingError.dataCorrupted(let context) {
            var why = context.debugDescription
            if let u = context.underlyingError { why += " " + String(describing: u) }
            if bytes.range(of: Data("NaN".utf8)) != nil || bytes.range(of: Data("Infinity".utf8)) != nil {
                why += "; NaN and Infinity are not JSON numbers (send them as the strings \"NaN\", \"Infinity\")"
            }
            throw RequestError(.malformedBody, "the body is not valid JSON: \(why)")
        } catch {
            throw RequestError(.malformedBody, "the body could not be read as JSON: \(error)")
        }
        var values: [ExampleValues] = []
        var rows: Int?
        var single: Bool?
        for spec in model.inputs {
            guard let input = body.inputs[spec.name] else {
                let missing = model.inputs.filter { body.inputs[$0.name] == nil }.map { "'\($0.name)'" }
                throw RequestError(.badRequest, "missing input\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")): the model reads \(exampleKeys)", input: spec.name)
            }
            try agree(spec.name, rows: input.rows ?? 1, single: input.rows == nil, &rows, &single)
            values.append(input.values)
        }
        return try checked(PredictInputs(rows: rows ?? 0, single: single ?? false, values: values))
    }

    var exampleKeys: String { model.inputs.map { "\"\($0.name)\": […]" }.joined(separator: ", ") }

    /// Every input must hold the same number of examples, all with or all without a batch axis.
    func agree(_ name: String, rows n: Int, single s: Bool, _ rows: inout Int?, _ single: inout Bool?) throws(RequestError) {
        if let r = rows, let s0 = single, r != n || s0 != s {
            let first = model.inputs[0].name
            throw RequestError(.wrongShape, "input '\(name)' holds \(s ? "one example without a batch axis" : "\(n) examples") but '\(first)' holds \(s0 ? "one example without a batch axis" : "\(r) examples")", input: name)
        }
        rows = n
        single = s
    }

    /// The count of examples, and finiteness of every float.
    func checked(_ p: PredictInputs) throws(RequestError) -> PredictInputs {
        if p.rows < 1 {
            throw RequestError(.wrongShape, "the request holds no example", input: model.inputs.first?.name)
        }
        if p.rows > model.maxBatch {
            throw RequestError(.tooManyExamples, "a request holds at most \(model.maxBatch) examples (the largest batch, --max-batch); this one holds \(p.rows)")
        }
        for (spec, v) in zip(model.inputs, p.values) {
            let bad: Int?
            switch v {
            case .f32(let a): bad = a.firstIndex { !$0.isFinite }
            case .f64(let a): bad = a.firstIndex { !$0.isFinite }
            case .i32: bad = nil
            }
            if let bad {
                let dims = p.single ? spec.example : [p.rows] + spec.example
                let value: String
                switch v {
                case .f32(let a): value = "\(a[bad])"
                case .f64(let a): value = "\(a[bad])"
                case .i32(let a): value = "\(a[bad])"
                }
                throw RequestError(.nonFinite, "input '\(spec.name)' holds \(value == "nan" ? "NaN" : value) at \(Self.index(bad, in: dims)); inputs must be finite", input: spec.name)
            }
        }
        return p
    }

    /// "[0][3][14]": the position of flat element `i` in an array of shape `dims`.
    static func index(_ i: Int, in dims: [Int]) -> String {
        var rest = i
        var parts: [Int] = []
        for d in dims.reversed() {
            parts.append(d > 0 ? rest % d : 0)
            rest = d > 0 ? rest / d : 0
        }
        return parts.reversed().map { "[\($0)]" }.joined()
    }

    // MARK: .npy and .npz

    /// Decodes a .npy body: the model must read one input.
    public func decodeNPY(_ bytes: [UInt8]) throws(RequestError) -> PredictInputs {
        guard model.inputs.count == 1 else {
            throw RequestError(.badRequest, "the model reads \(model.inputs.count) inputs (\(model.inputs.map { "'\($0.name)'" }.joined(separator: ", "))); send them as JSON or as a .npz archive")
        }
        let array: NDArray
        do { array = try NPY.decode(bytes, file: "the request body") } catch {
            throw RequestError(.malformedBody, "\(error)")
        }
        let (rows, single, values) = try convert(array, to: model.inputs[0])
        return try checked(PredictInputs(rows: rows, single: single, values: [values]))
    }

    /// Decodes a .npz body: one array per input, named after it.
    public func decodeNPZ(_ bytes: [UInt8]) throws(RequestError) -> PredictInputs {
        let arrays: [NamedArray]
        do { arrays = try NPZ.decode(bytes, file: "the request body") } catch {
            throw RequestError(.malformedBody, "\(error)")
        }
        for a in arrays where !model.inputs.contains(where: { $0.name == a.name }) {
            throw RequestError(.badRequest, "the model has no input '\(a.name)'; it reads \(model.inputs.map { "'\($0.name)'" }.joined(separator: ", "))", input: a.name)
        }
        var values: [ExampleValues] = []
        var rows: Int?
        var single: Bool?
        for spec in model.inputs {
            guard let a = arrays.first(where: { $0.name == spec.name }) else {
                throw RequestError(.badRequest, "missing input '\(spec.name)': the archive holds \(arrays.map { "'\($0.name)'" }.joined(separator: ", "))", input: spec.name)
            }
            let (n, s, v) = try convert(a.array, to: spec)
            try agree(spec.name, rows: n, single: s, &rows, &single)
            values.append(v)
        }
        return try checked(PredictInputs(rows: rows ?? 0, single: single ?? false, values: values))
    }

    /// An array's values for an input: the element type must be the input's, the shape one example's or a batch's.
    func convert(_ a: NDArray, to spec: TensorSpec) throws(RequestError) -> (Int, Bool, ExampleValues) {
        let values: ExampleValues
        switch (spec.dtype, a.storage) {
        case (.f32, .f32(let v)): values = .f32(v)
        case (.f64, .f64(let v)): values = .f64(v)
        case (.i32, .i32(let v)): values = .i32(v)
        default:
            throw RequestError(.wrongDtype, "input '\(spec.name)' is \(spec.dtype.rawValue), but the array sent holds \(a.elementType.name)", input: spec.name)
        }
        if a.shape == spec.example { return (1, true, values) }
        if a.shape.count == spec.example.count + 1, Array(a.shape.dropFirst()) == spec.example { return (a.shape[0], false, values) }
        throw RequestError(.wrongShape, "input '\(spec.name)' takes one example \(spec.dtype.rawValue)\(Shape(spec.example)) or a batch of them (a leading axis N), but the array sent is \(Shape(a.shape))", input: spec.name)
    }
}

/// What `Walker.element` reads a number from: an unkeyed container's next
/// element or a single value. Each element type has its own method, so that
/// the decoder's non-generic entry point for that type is called (its
/// generic one costs several times as much per number).
protocol NumberSource {
    mutating func float() throws -> Float
    mutating func double() throws -> Double
    mutating func int32() throws -> Int32
    /// Whether the element that failed to decode as a number is an array.
    mutating func holdsArray() -> Bool
}

struct UnkeyedNumbers: NumberSource {
    var container: any UnkeyedDecodingContainer
    mutating func float() throws -> Float { try container.decode(Float.self) }
    mutating func double() throws -> Double { try container.decode(Double.self) }
    mutating func int32() throws -> Int32 { try container.decode(Int32.self) }
    mutating func holdsArray() -> Bool {
        var probe = container
        return (try? probe.nestedUnkeyedContainer()) != nil
    }
}

struct SingleNumber: NumberSource {
    var container: any SingleValueDecodingContainer
    func float() throws -> Float { try container.decode(Float.self) }
    func double() throws -> Double { try container.decode(Double.self) }
    func int32() throws -> Int32 { try container.decode(Int32.self) }
    func holdsArray() -> Bool { false }
}
