import DLGGraph
import DLGSource

private typealias E = ElaborationDiagnostic

/// Layers: calls that expand to several primitives and usually create parameters.
enum Layers {
    static let x = ParamSpec.required("x", .tensor)
    static let name = ParamSpec.optional("name", .any)
    /// `activation:` words: none and linear, the unary functions whose definitions make them
    /// activations, and the softmaxes.
    static let activationWords = ["none", "linear"]
        + Op.unaryFunctions.filter { $0.unaryInfo!.role == .activation }.map(\.rawValue) + ["softmax", "log_softmax"]
    static let activation = ParamSpec.optional("activation", .word(activationWords), .word("none"))
    static let weightInit = ParamSpec.optional("init", .initializer, .initializer(.uniformFanIn))
    static let bias = ParamSpec.optional("bias", .bool, .bool(true))
    static let biasInit = ParamSpec.optional("bias_init", .initializer, .initializer(.uniformFanIn))
    static let roundWords = ParamSpec.optional("round", .word(["floor", "ceil", "exact"]), .word("floor"))

    static let convParams: [ParamSpec] = [
        .optional("stride", .pair, .ints([1, 1])),
        .optional("pad", .padding, .padding(.valid)),
        .optional("pad_mode", .word(["zero", "constant", "replicate", "reflect"]), .word("zero")),
        .optional("pad_value", .float, .float(0)),
        .optional("dilation", .pair, .ints([1, 1])),
        bias, weightInit, biasInit, activation, roundWords, name,
    ]

    static let all: [Builtin] = [
        Builtin(name: "dense", role: .layer(parameters: true),
                params: [x, .required("units", .int), bias, weightInit, biasInit, activation, name]) { e, c in
            e.dense(c)
        },
        Builtin(name: "conv2d", role: .layer(parameters: true),
                params: [x, .required("filters", .any), .optional("kernel", .pair, nil, positional: true),
                         .optional("groups", .int, .int(1))] + convParams) { e, c in
            e.conv2dLayer(c, kind: "conv2d")
        },
        Builtin(name: "depthwise_conv2d", role: .layer(parameters: true),
                params: [x, .required("kernel", .pair), .optional("multiplier", .int, .int(1))] + convParams) { e, c in
            e.conv2dLayer(c, kind: "depthwise_conv2d")
        },
        Builtin(name: "separable_conv2d", role: .layer(parameters: true),
                params: [x, .required("filters", .int), .required("kernel", .pair), .optional("multiplier", .int, .int(1))]
                    + convParams) { e, c in
            e.separableConv2d(c)
        },
        pool("maxpool", kind: "max"),
        pool("avgpool", kind: "avg"),
        pool("minpool", kind: "min"),
        globalPool("global_avgpool", .reduce_mean),
        globalPool("global_maxpool", .reduce_max),
        Builtin(name: "flatten", role: .layer(parameters: false), params: [x, name]) { e, c in
            let layer = e.layerName(kind: "flatten", createsParameters: false, explicit: e.explicitName(c))
            let out = e.withLabel(layer) { e.flatten(c.tensor("x")!, at: c.range) }
            e.record(layer, kind: "flatten", output: out, params: [], at: c.range)
            return out
        },
        Builtin(name: "batchnorm", role: .layer(parameters: true, perChannel: true),
                params: [x, .optional("eps", .float, .float(1e-5)), .optional("momentum", .float, .float(0.1)), name]) { e, c in
            e.batchnorm(c)
        },
        Builtin(name: "dropout", role: .layer(parameters: false),
                params: [x, .optional("rate", .float, .float(0.5), positional: true), name]) { e, c in
            e.dropout(c)
        },
        Builtin(name: "prelu", role: .layer(parameters: true, perChannel: true),
                params: [x, .optional("init", .initializer, .initializer(.constant(0.25))), name]) { e, c in
            e.prelu(c)
        },
    ]

    static func pool(_ fn: String, kind: String) -> Builtin {
        var params: [ParamSpec] = [x, .optional("kernel", .pair, .ints([2, 2]), positional: true),
                                   .optional("stride", .pair, nil), .optional("pad", .padding, .padding(.valid)), roundWords]
        if kind == "avg" { params.append(.optional("count_include_pad", .bool, .bool(true))) }
        params.append(name)
        return Builtin(name: fn, role: .layer(parameters: false), params: params) { e, c in e.pool(c, kind: kind, fn: fn) }
    }

    static func globalPool(_ fn: String, _ op: Op) -> Builtin {
        Builtin(name: fn, role: .layer(parameters: false), params: [x, name]) { e, c in
            let layer = e.layerName(kind: fn, createsParameters: false, explicit: e.explicitName(c))
            let t = c.tensor("x")!
            let out: Value = e.withLabel(layer) {
                guard let r = e.graph[t].type.rank, r == 4 else {
                    e.diagnostics.report(E.globalPoolInput(function: fn, type: e.graph[t].type), at: c.range)
                    return .poison
                }
                return e.emit(op, [t], .reduce(ReduceAttributes(axes: [2, 3])), at: c.range, what: fn)
            }
            e.record(layer, kind: fn, output: out, params: [], at: c.range)
            return out
        }
    }
}

extension Elaborator {
    func explicitName(_ c: BoundCall) -> String? {
        guard let v = c.value("name") ?? c.args["name"].flatMap({ if case .value(let v) = $0.arg { v } else { nil } }) else {
            return nil
        }
        if case .string(let s) = v, !s.isEmpty, !s.contains(" ") { return s }
        diagnostics.report(E.badLayerName, at: c.range(of: "name"))
        return nil
    }

    /// Height and width of an NCHW tensor, when both are known.
    func spatialSize(_ x: ValueID) -> (Int, Int)? {
        guard let d = graph[x].type.dims, d.count == 4, let h = d[2].value, let w = d[3].value else { return nil }
        return (h, w)
    }

    /// Applies the `activation:` of a layer.
    func applyActivation(_ v: Value, _ word: String, at range: SourceRange) -> Value {
        guard case .tensor(let t) = v else { return v }
        switch word {
        case "none", "linear": return v
        case "softmax", "log_softmax":
            return emit(word == "softmax" ? .softmax : .log_softmax, [t], .axis(-1), at: range, what: word)
        default:
            // A unary function, with its parameter's default.
            guard let op = Op(rawValue: word), let info = op.unaryInfo else { return .poison }
            return emit(op, [t], info.parameter.map { .alpha($0.defaultValue) } ?? .none, at: range, what: word)
        }
    }

    func dense(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "dense", createsParameters: true, explicit: explicitName(c))
        let x = c.tensor("x")!
        let type = graph[x].type
        let units = c.int("units")!
        guard units > 0 else {
            diagnostics.report(E.positiveCount(layer: "dense", argument: "units", got: units), at: c.range(of: "units"))
            return .poison
        }
        guard type.dtype.isFloat else {
            diagnostics.report(E.denseDType(layer: layer, type: type), at: c.range)
            return .poison
        }
        guard let dims = type.dims, dims.count >= 2 else {
            diagnostics.report(E.denseInput(layer: layer, type: type, units: units), at: c.range)
            return .poison
        }
        guard case .known(let fanIn) = dims[dims.count - 1] else {
            diagnostics.report(E.denseFeatures(layer: layer, type: type), at: c.range)
            return .poison
        }
        guard checkSizeArgument(units, "dense '\(layer)': units", at: c.range(of: "units")),
              checkElementCount(TensorType(type.dtype, [fanIn, units]), "the weight of dense '\(layer)'", at: c.range) else {
            return .poison
        }
        if type.rank! > 2, type.rank! == 4 {
            diagnostics.report(E.denseOnImages(layer: layer, type: type, units: units), at: c.range)
        }
        let winit = c.initializer("init")!, binit = c.initializer("bias_init")!
        guard checkInitializer(winit, shape: [fanIn, units], what: "init of dense '\(layer)'", at: c.range(of: "init")) else {
            return .poison
        }
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            let w = makeParam(layer, "weight", dtype: type.dtype, shape: [fanIn, units], initializer: winit,
                              fanIn: fanIn, fanOut: units, at: c.range)
            params.append(w)
            guard var y = emitID(.matmul, [x, w], at: c.range, what: "dense '\(layer)'") else { return .poison }
            if c.bool("bias")! {
                guard checkInitializer(binit, shape: [units], what: "bias_init of dense '\(layer)'", at: c.range(of: "bias_init")) else {
                    return .poison
                }
                let b = makeParam(layer, "bias", dtype: type.dtype, shape: [units], initializer: binit, fanIn: fanIn,
                                  fanOut: units, at: c.range)
                params.append(b)
                guard let yb = emitID(.bias_add, [y, b], .axis(dims.count - 1), at: c.range, what: "dense '\(layer)'") else {
                    return .poison
                }
                y = yb
            }
            return applyActivation(.tensor(y), c.word("activation")!, at: c.range)
        }
        record(layer, kind: "dense", output: out, params: params, at: c.range)
        return out
    }

    /// Resolves `pad:` to [top, bottom, left, right] for an input of size h×w.
    func resolvePadding(_ p: Padding, h: Int, w: Int, kernel: [Int], stride: [Int], dilation: [Int]) -> [Int] {
        switch p {
        case .valid: return [0, 0, 0, 0]
        case .explicit(let v): return v
        case .same:
            // out = ⌈n / s⌉; the extra row or column goes after (bottom/right), as TensorFlow does.
            func total(_ n: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
                let out = (n + s - 1) / s
                return max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            }
            let th = total(h, kernel[0], stride[0], dilation[0]), tw = total(w, kernel[1], stride[1], dilation[1])
            return [th / 2, th - th / 2, tw / 2, tw - tw / 2]
        }
    }

    /// The shared part of conv2d, depthwise and separable layers. Returns the
    /// output and the parameters created, or nil after reporting an error.
    func convolve(_ c: BoundCall, layer: String, x: ValueID, filters: Int, kernel: [Int], groups: Int, bias: Bool,
                  weightInit: Initializer, activation: String) -> (ValueID, [ValueID])? {
        let type = graph[x].type
        guard let dims = type.dims, dims.count == 4 else {
            diagnostics.report(E.convInput(layer: layer, type: type), at: c.range)
            return nil
        }
        guard filters > 0 else {
            diagnostics.report(E.positiveCount(layer: "conv2d '\(layer)'", argument: "filters", got: filters), at: c.range(of: "filters"))
            return nil
        }
        guard case .known(let channels) = dims[1] else {
            diagnostics.report(E.convChannels(layer: layer, type: type), at: c.range)
            return nil
        }
        guard groups >= 1, channels % groups == 0, filters % groups == 0 else {
            diagnostics.report(E.convGroups(layer: layer, groups: groups, channels: channels, filters: filters), at: c.range(of: "groups"))
            return nil
        }
        let stride = c.ints("stride")!, dilation = c.ints("dilation")!
        var input = x
        var pads = [0, 0, 0, 0]
        let padding = c.padding("pad")!
        if padding != .valid {
            guard case .known(let h) = dims[2], case .known(let w) = dims[3] else {
                diagnostics.report(E.convPaddingNeedsSizes(layer: layer, type: type), at: c.range)
                return nil
            }
            pads = resolvePadding(padding, h: h, w: w, kernel: kernel, stride: stride, dilation: dilation)
        }
        let mode = c.word("pad_mode")!
        if mode != "zero", pads != [0, 0, 0, 0] {
            guard case .tensor(let p)? = spatialPad(x, pads, mode: mode, value: c.float("pad_value")!, at: c.range) else {
                return nil
            }
            input = p
            pads = [0, 0, 0, 0]
        }
        let wshape = [filters, channels / groups, kernel[0], kernel[1]]
        guard checkSizeArgument(filters, "conv2d '\(layer)': filters", at: c.range(of: "filters")),
              checkElementCount(TensorType(type.dtype, wshape), "the filter of conv2d '\(layer)'", at: c.range) else {
            return nil
        }
        guard checkInitializer(weightInit, shape: wshape, what: "init of conv2d '\(layer)'", at: c.range(of: "init")) else {
            return nil
        }
        let fanIn = channels / groups * kernel[0] * kernel[1], fanOut = filters / groups * kernel[0] * kernel[1]
        let w = makeParam(layer, "weight", dtype: type.dtype, shape: wshape, initializer: weightInit, fanIn: fanIn,
                          fanOut: fanOut, at: c.range)
        var params = [w]
        let attrs = Attributes.conv(ConvAttributes(stride: stride, pad: pads, dilation: dilation, groups: groups,
                                                   round: WindowRounding(rawValue: c.word("round") ?? "floor") ?? .floor))
        guard var y = emitID(.conv2d, [input, w], attrs, at: c.range, what: "conv2d '\(layer)'") else { return nil }
        warnDroppedInput(y, input: input, kernel: kernel, stride: stride, pads: pads, dilation: dilation,
                         layer: "conv2d '\(layer)'", at: c.range)
        if bias {
            let binit = c.initializer("bias_init")!
            guard checkInitializer(binit, shape: [filters], what: "bias_init of conv2d '\(layer)'", at: c.range(of: "bias_init")) else {
                return nil
            }
            let b = makeParam(layer, "bias", dtype: type.dtype, shape: [filters], initializer: binit, fanIn: fanIn,
                              fanOut: fanOut, at: c.range)
            params.append(b)
            guard let yb = emitID(.bias_add, [y, b], .axis(1), at: c.range, what: "conv2d '\(layer)'") else { return nil }
            y = yb
        }
        guard case .tensor(let out) = applyActivation(.tensor(y), activation, at: c.range) else { return nil }
        return (out, params)
    }

    /// Floor rounding can leave input rows or columns that no window covers; say so.
    func warnDroppedInput(_ y: ValueID, input: ValueID, kernel: [Int], stride: [Int], pads: [Int], dilation: [Int],
                          layer: String, at range: SourceRange) {
        // Only the spatial sizes matter; the batch may be symbolic.
        guard let ind = graph[input].type.dims, ind.count == 4, let outd = graph[y].type.dims, outd.count == 4 else { return }
        for (axis, name) in [(0, "rows"), (1, "columns")] {
            guard let n = ind[2 + axis].value, let o = outd[2 + axis].value else { continue }
            // With a stride beyond the window, positions between windows are skipped
            // on purpose (a strided 1×1 projection subsamples); only tiling windows
            // make dropped trailing rows a surprise.
            if stride[axis] > dilation[axis] * (kernel[axis] - 1) + 1 { continue }
            let covered = (o - 1) * stride[axis] + dilation[axis] * (kernel[axis] - 1) + 1
            let unused = n + pads[2 * axis] + pads[2 * axis + 1] - covered
            let dropped = unused - pads[2 * axis + 1]
            if dropped > 0 {
                diagnostics.report(E.droppedInput(layer: layer, axis: name, dropped: dropped, size: n, stride: stride[axis],
                                                  kernel: kernel[axis]),
                                   at: range)
            }
        }
    }

    func conv2dLayer(_ c: BoundCall, kind: String) -> Value {
        let x = c.tensor("x")!
        // conv2d(x, W) with a filter tensor is the primitive: no parameters are created.
        if kind == "conv2d", case .tensor(let w)? = c.value("filters") {
            return conv2dPrimitive(c, x: x, w: w)
        }
        let layer = layerName(kind: kind, createsParameters: true, explicit: explicitName(c))
        let channels = graph[x].type.dims.flatMap { $0.count > 1 ? $0[1].value : nil }
        var filters = 0, groups = 1
        let kernel: [Int]
        if kind == "depthwise_conv2d" {
            guard let ch = channels else {
                diagnostics.report(E.channelwiseConvInput(function: "depthwise_conv2d", layer: layer, type: graph[x].type), at: c.range)
                return .poison
            }
            let m = c.int("multiplier")!
            guard m >= 1 else {
                diagnostics.report(E.multiplierTooSmall(m), at: c.range(of: "multiplier"))
                return .poison
            }
            guard checkSizeArgument(m, "depthwise_conv2d '\(layer)': multiplier", at: c.range(of: "multiplier")) else {
                return .poison
            }
            filters = ch * m
            groups = ch
            kernel = c.ints("kernel")!
        } else {
            guard case .int(let f)? = c.value("filters") else {
                let v = c.value("filters") ?? .poison
                if !v.isPoison {
                    diagnostics.report(E.filtersArgument(got: describe(v)), at: c.range(of: "filters"))
                }
                return .poison
            }
            guard let k = c.ints("kernel") else {
                diagnostics.report(E.missingArgument(callee: "conv2d", name: "kernel", expectation: ArgKind.pair.expectation),
                                   at: c.calleeRange)
                return .poison
            }
            filters = f
            kernel = k
            groups = c.int("groups")!
        }
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            guard let (y, p) = convolve(c, layer: layer, x: x, filters: filters, kernel: kernel, groups: groups,
                                        bias: c.bool("bias")!, weightInit: c.initializer("init")!,
                                        activation: c.word("activation")!) else { return .poison }
            params = p
            return .tensor(y)
        }
        record(layer, kind: kind, output: out, params: params, at: c.range)
        return out
    }

    /// conv2d(x, W, stride:, pad:, …) with an explicit filter tensor.
    func conv2dPrimitive(_ c: BoundCall, x: ValueID, w: ValueID) -> Value {
        let wt = graph[w].type
        guard let wd = wt.shape.knownDims, wd.count == 4 else {
            diagnostics.report(E.convFilterShape(type: wt), at: c.range(of: "filters"))
            return .poison
        }
        if c.has("kernel"), c.ints("kernel")! != [wd[2], wd[3]] {
            diagnostics.report(E.kernelFilterMismatch(kernel: c.ints("kernel")!, filter: wt), at: c.range(of: "kernel"))
            return .poison
        }
        let stride = c.ints("stride")!, dilation = c.ints("dilation")!
        var pads = [0, 0, 0, 0]
        var input = x
        let padding = c.padding("pad")!
        if padding != .valid {
            guard let (h, w) = spatialSize(x) else {
                diagnostics.report(E.poolPaddingNeedsSizes(function: "conv2d", layer: "", type: graph[x].type), at: c.range)
                return .poison
            }
            pads = resolvePadding(padding, h: h, w: w, kernel: [wd[2], wd[3]], stride: stride, dilation: dilation)
        }
        let mode = c.word("pad_mode")!
        if mode != "zero", pads != [0, 0, 0, 0] {
            guard case .tensor(let p)? = spatialPad(x, pads, mode: mode, value: c.float("pad_value")!, at: c.range) else {
                return .poison
            }
            input = p
            pads = [0, 0, 0, 0]
        }
        let attrs = Attributes.conv(ConvAttributes(stride: stride, pad: pads, dilation: dilation, groups: c.int("groups")!,
                                                   round: WindowRounding(rawValue: c.word("round") ?? "floor") ?? .floor))
        let y = emit(.conv2d, [input, w], attrs, at: c.range, what: "conv2d")
        return applyActivation(y, c.word("activation")!, at: c.range)
    }

    func separableConv2d(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "separable_conv2d", createsParameters: true, explicit: explicitName(c))
        let x = c.tensor("x")!
        guard let ch = graph[x].type.dims.flatMap({ $0.count == 4 ? $0[1].value : nil }) else {
            diagnostics.report(E.channelwiseConvInput(function: "separable_conv2d", layer: layer, type: graph[x].type), at: c.range)
            return .poison
        }
        let m = c.int("multiplier")!
        guard m >= 1 else {
            diagnostics.report(E.multiplierTooSmall(m), at: c.range(of: "multiplier"))
            return .poison
        }
        guard checkSizeArgument(m, "separable_conv2d '\(layer)': multiplier", at: c.range(of: "multiplier")) else {
            return .poison
        }
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            // Depthwise: one k×k filter per input channel (× multiplier), no bias.
            guard let (d, p1) = convolve(c, layer: "\(layer).depthwise", x: x, filters: ch * m, kernel: c.ints("kernel")!,
                                         groups: ch, bias: false, weightInit: c.initializer("init")!, activation: "none") else {
                return .poison
            }
            // Pointwise: a 1×1 convolution mixing channels, with bias and activation.
            let pointwise = BoundCall(name: c.name, range: c.range, calleeRange: c.calleeRange, args: c.args.merging([
                "stride": (.ints([1, 1]), c.range), "pad": (.padding(.valid), c.range), "dilation": (.ints([1, 1]), c.range),
            ]) { _, new in new })
            guard let (y, p2) = convolve(pointwise, layer: "\(layer).pointwise", x: d, filters: c.int("filters")!,
                                         kernel: [1, 1], groups: 1, bias: c.bool("bias")!,
                                         weightInit: c.initializer("init")!, activation: c.word("activation")!) else {
                return .poison
            }
            params = p1 + p2
            return .tensor(y)
        }
        record(layer, kind: "separable_conv2d", output: out, params: params, at: c.range)
        return out
    }

    func pool(_ c: BoundCall, kind: String, fn: String) -> Value {
        let layer = layerName(kind: fn, createsParameters: false, explicit: explicitName(c))
        let x = c.tensor("x")!
        let kernel = c.ints("kernel")!
        let stride = c.ints("stride") ?? kernel
        guard kernel[0] * kernel[1] <= Shape.maxElements else {
            diagnostics.report(E.windowTooLarge(function: fn, layer: layer, kernel: kernel, limit: Shape.maxElements),
                               at: c.range(of: "kernel"))
            return .poison
        }
        let out: Value = withLabel(layer) {
            var pads = [0, 0, 0, 0]
            let padding = c.padding("pad")!
            if padding != .valid {
                guard let (h, w) = spatialSize(x) else {
                    diagnostics.report(E.poolPaddingNeedsSizes(function: fn, layer: layer, type: graph[x].type), at: c.range)
                    return .poison
                }
                pads = resolvePadding(padding, h: h, w: w, kernel: kernel, stride: stride, dilation: [1, 1])
            }
            let round = WindowRounding(rawValue: c.word("round")!) ?? .floor
            let k = PoolAttributes.Kind(rawValue: kind) ?? .max
            let attrs = PoolAttributes(kind: k, kernel: kernel, stride: stride, pad: pads, round: round,
                                       countIncludePad: k != .avg || c.bool("count_include_pad") != false)
            let y = emit(.pool2d, [x], .pool(attrs), at: c.range, what: "\(fn) '\(layer)'")
            if case .tensor(let t) = y, round == .floor {
                warnDroppedInput(t, input: x, kernel: kernel, stride: stride, pads: pads, dilation: [1, 1],
                                 layer: "\(fn) '\(layer)'", at: c.range)
            }
            return y
        }
        record(layer, kind: fn, output: out, params: [], at: c.range)
        return out
    }

    func flatten(_ x: ValueID, at range: SourceRange) -> Value {
        let type = graph[x].type
        guard let dims = type.dims else {
            diagnostics.report(E.flattenUnknownRank(type: type), at: range)
            return .poison
        }
        guard dims.count >= 2 else {
            diagnostics.report(E.flattenRank(type: type), at: range)
            return .poison
        }
        let (k, syms) = symbolicProduct(Array(dims[1...]))
        let rest: Dim
        if syms.isEmpty {
            rest = .known(k)
        } else if syms.count == 1, k == 1 {
            rest = .symbol(syms[0])
        } else {
            diagnostics.report(E.flattenSymbolic(type: type, symbols: syms), at: range)
            return .poison
        }
        return emit(.reshape, [x], .shape(Shape([dims[0], rest])), at: range, what: "flatten")
    }

    /// Batch normalization over every axis but 1 (the channels or features).
    func batchnorm(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "batchnorm", createsParameters: true, explicit: explicitName(c))
        let x = c.tensor("x")!
        let type = graph[x].type
        guard let dims = type.dims, dims.count >= 2 else {
            diagnostics.report(E.batchnormInput(layer: layer, type: type), at: c.range)
            return .poison
        }
        guard case .known(let ch) = dims[1], type.dtype.isFloat else {
            diagnostics.report(E.batchnormAxis(layer: layer, type: type), at: c.range)
            return .poison
        }
        let eps = c.float("eps")!, momentum = c.float("momentum")!
        guard eps > 0, momentum >= 0, momentum <= 1 else {
            diagnostics.report(E.batchnormArguments, at: c.range)
            return .poison
        }
        let r = dims.count
        let axes = [0] + Array(2..<r)
        // γ and β broadcast along axis 1: [C] → [C, 1, 1] for NCHW.
        let bshape = Shape([.known(ch)] + Array(repeating: Dim.known(1), count: r - 2))
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            let gamma = makeParam(layer, "gamma", dtype: type.dtype, shape: [ch], initializer: .ones, fanIn: ch, fanOut: ch, at: c.range)
            let beta = makeParam(layer, "beta", dtype: type.dtype, shape: [ch], initializer: .zeros, fanIn: ch, fanOut: ch, at: c.range)
            let rmean = makeParam(layer, "running_mean", dtype: type.dtype, shape: [ch], initializer: .zeros, trainable: false,
                                  fanIn: ch, fanOut: ch, at: c.range)
            let rvar = makeParam(layer, "running_var", dtype: type.dtype, shape: [ch], initializer: .ones, trainable: false,
                                 fanIn: ch, fanOut: ch, at: c.range)
            params = [gamma, beta, rmean, rvar]
            let what = "batchnorm '\(layer)'"
            let rg = c.range
            func op(_ o: Op, _ i: [ValueID], _ a: Attributes = Attributes()) -> ValueID? { emitID(o, i, a, at: rg, what: what) }
            let epsC = scalar(eps, like: x, at: rg)
            let normalized: ValueID?
            if graph.training {
                // Batch statistics: mean and (biased) variance over the batch and spatial axes.
                // Synchronized over the replicas of a data-parallel run: each statistic is the sum over
                // replicas of the local one weighted by the replica's share of the batch (its gradient,
                // through allreduce's own, is the one of the whole batch).
                let sync = graph.training && options.syncBatchnorm && options.replicas > 1
                func synced(_ s: ValueID?) -> ValueID? {
                    guard sync, let s else { return s }
                    let share = graph.replicaScalar(ReplicaLossScaling.fraction, dtype: type.dtype)
                    guard let w = op(.mul, [s, share]) else { return nil }
                    return op(.allreduce, [w])
                }
                guard let mean = synced(op(.reduce_mean, [x], .reduce(ReduceAttributes(axes: axes, keepdims: true)))),
                      let centered = op(.sub, [x, mean]),
                      let sq = op(.square, [centered]),
                      let variance = synced(op(.reduce_mean, [sq], .reduce(ReduceAttributes(axes: axes, keepdims: true)))),
                      let ve = op(.add, [variance, epsC]),
                      let inv = op(.rsqrt, [ve]),
                      let xhat = op(.mul, [centered, inv]) else { return .poison }
                normalized = xhat
                // Running averages: r ← (1 − m)·r + m·batch, the variance's with the unbiased batch
                // variance, n/(n − 1) times the biased one used above (as PyTorch keeps it). n counts
                // the values each statistic is over: synchronized, the whole global batch's, this
                // replica's count over its share (a replica without rows, share 0, runs on one row:
                // its count is made huge and its correction 1; rank 0's running statistics replace
                // the others' after each epoch).
                let keep = scalar(1 - momentum, like: x, at: rg), m = scalar(momentum, like: x, at: rg)
                let counted = axes.map { dims[$0] }
                let known = counted.allSatisfy { $0.value != nil }
                let correction: ValueID?
                if !sync, known {
                    let n = Double(counted.reduce(1) { $0 * $1.value! })
                    correction = scalar(n / max(n - 1, 1), like: x, at: rg)
                } else {
                    func count() -> ValueID? {
                        let local = known ? scalar(Double(counted.reduce(1) { $0 * $1.value! }), like: x, at: rg)
                            : op(.axis_size, [x], .axes(axes))
                        guard sync, let local else { return local }
                        let share = graph.replicaScalar(ReplicaLossScaling.fraction, dtype: type.dtype)
                        guard let positive = op(.maximum, [share, scalar(1e-30, like: x, at: rg)]) else { return nil }
                        return op(.div, [local, positive])
                    }
                    if let n = count(), let n1 = op(.sub, [n, scalar(1, like: x, at: rg)]),
                       let d = op(.maximum, [n1, scalar(1, like: x, at: rg)]) {
                        correction = op(.div, [n, d])
                    } else {
                        correction = nil
                    }
                }
                guard let correction, let unbiased = op(.mul, [variance, correction]) else { return .poison }
                for (running, batch) in [(rmean, mean), (rvar, unbiased)] {
                    guard let flat = op(.reshape, [batch], .shape(Shape([.known(ch)]))),
                          let a = op(.mul, [running, keep]), let b = op(.mul, [flat, m]),
                          let updated = op(.add, [a, b]) else { return .poison }
                    graph.updates.append(StateUpdate(target: running, value: updated))
                }
            } else {
                guard let mean = op(.reshape, [rmean], .shape(bshape)),
                      let variance = op(.reshape, [rvar], .shape(bshape)),
                      let centered = op(.sub, [x, mean]),
                      let ve = op(.add, [variance, epsC]),
                      let inv = op(.rsqrt, [ve]),
                      let xhat = op(.mul, [centered, inv]) else { return .poison }
                normalized = xhat
            }
            guard let xhat = normalized,
                  let g = op(.reshape, [gamma], .shape(bshape)),
                  let scaled = op(.mul, [xhat, g]) else { return .poison }
            return emit(.bias_add, [scaled, beta], .axis(1), at: rg, what: what)
        }
        record(layer, kind: "batchnorm", output: out, params: params, at: c.range)
        return out
    }

    func dropout(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "dropout", createsParameters: false, explicit: explicitName(c))
        let x = c.tensor("x")!
        let rate = c.float("rate")!
        guard rate >= 0, rate < 1 else {
            diagnostics.report(E.dropoutRate(rate), at: c.range(of: "rate"))
            return .poison
        }
        let out: Value = withLabel(layer) {
            // Inverted dropout: scaled at training time, the identity at inference.
            guard graph.training, rate > 0 else { return .tensor(x) }
            let stream = dropoutStreams
            dropoutStreams += 1
            guard let mask = emitID(.dropout_mask, [x], .dropout(DropoutAttributes(rate: rate, stream: stream)), at: c.range,
                                    what: "dropout '\(layer)'") else { return .poison }
            return emit(.mul, [x, mask], at: c.range, what: "dropout '\(layer)'")
        }
        record(layer, kind: "dropout", output: out, params: [], at: c.range)
        return out
    }

    /// prelu(x) = relu(x) − α·relu(−x) with one learned α per channel (axis 1).
    func prelu(_ c: BoundCall) -> Value {
        let layer = layerName(kind: "prelu", createsParameters: true, explicit: explicitName(c))
        let x = c.tensor("x")!
        let type = graph[x].type
        guard let dims = type.dims, dims.count >= 2, case .known(let ch) = dims[1] else {
            diagnostics.report(E.preluInput(layer: layer, type: type), at: c.range)
            return .poison
        }
        let ainit = c.initializer("init")!
        guard checkInitializer(ainit, shape: [ch], what: "init of prelu '\(layer)'", at: c.range(of: "init")) else { return .poison }
        var params: [ValueID] = []
        let out: Value = withLabel(layer) {
            let alpha = makeParam(layer, "alpha", dtype: type.dtype, shape: [ch], initializer: ainit, fanIn: ch, fanOut: ch, at: c.range)
            params = [alpha]
            let what = "prelu '\(layer)'"
            let bshape = Shape([.known(ch)] + Array(repeating: Dim.known(1), count: dims.count - 2))
            guard let pos = emitID(.relu, [x], at: c.range, what: what),
                  let negx = emitID(.neg, [x], at: c.range, what: what),
                  let neg = emitID(.relu, [negx], at: c.range, what: what),
                  let a = emitID(.reshape, [alpha], .shape(bshape), at: c.range, what: what),
                  let scaled = emitID(.mul, [neg, a], at: c.range, what: what) else { return .poison }
            return emit(.sub, [pos, scaled], at: c.range, what: what)
        }
        record(layer, kind: "prelu", output: out, params: params, at: c.range)
        return out
    }
}
