import DLGGraph
import DLGSource

/// Every message of elaboration: names and declarations, calls and their
/// arguments, compile-time evaluation, layers, losses and the elaboration
/// limits, plus choosing the model of a file. The elaborator picks a case and
/// a place; the text, the notes and the ID are written here only.
public enum ElaborationDiagnostic: DiagnosticCatalog, Error {
    public enum Kind: String, CaseIterable, Sendable {
        // Models and declarations
        case noModel = "no-model"
        case unknownModel = "unknown-model"
        case unusedBlock = "unused-block"
        case duplicateBlock = "duplicate-block"
        case blockShadowsBuiltin = "block-shadows-builtin"
        case duplicateParameter = "duplicate-parameter"
        case missingModelParameter = "missing-model-parameter"
        case noOutput = "no-output"
        case unreachable = "unreachable"
        case inputInBlock = "input-in-block"
        case outputInBlock = "output-in-block"
        case minimizeInBlock = "minimize-in-block"
        case returnInModel = "return-in-model"
        case duplicateOutput = "duplicate-output"
        case duplicateMinimize = "duplicate-minimize"
        case minimizeNotScalar = "minimize-not-scalar"
        case redefinition = "redefinition"
        case shadowsFunction = "shadows-function"
        // Names
        case unknownName = "unknown-name"
        case functionAsValue = "function-as-value"
        case unknownFunction = "unknown-function"
        case notCallable = "not-callable"
        // Types
        case unknownDType = "unknown-dtype"
        case paramSymbolicShape = "param-symbolic-shape"
        case badDimension = "bad-dimension"
        case mixedFloatTypes = "mixed-float-types"
        // Compile-time evaluation
        case notCompileTimeInteger = "not-compile-time-integer"
        case notCompileTimeBool = "not-compile-time-bool"
        case integerOverflow = "integer-overflow"
        case divisionByZero = "division-by-zero"
        case badOperand = "bad-operand"
        case tensorIndex = "tensor-index"
        case badIndex = "bad-index"
        case indexOutOfRange = "index-out-of-range"
        case badLiteral = "bad-literal"
        case expectedTensor = "expected-tensor"
        // Blocks and calls
        case recursiveBlock = "recursive-block"
        case blockArity = "block-arity"
        case blockWithoutReturn = "block-without-return"
        case unknownArgument = "unknown-argument"
        case duplicateArgument = "duplicate-argument"
        case tooManyArguments = "too-many-arguments"
        case missingArgument = "missing-argument"
        case badArgument = "bad-argument"
        case argumentOutOfRange = "argument-out-of-range"
        case badLayerName = "bad-layer-name"
        case badShapeArgument = "bad-shape-argument"
        case badAxis = "bad-axis"
        // Initializers
        case unknownInitializer = "unknown-initializer"
        case badInitializer = "bad-initializer"
        case literalShapeMismatch = "literal-shape-mismatch"
        case symmetricInit = "symmetric-init"
        // Layers, losses and shape queries
        case layerInput = "layer-input"
        case unknownRank = "unknown-rank"
        case convChannelMismatch = "conv-channel-mismatch"
        case kernelFilterMismatch = "kernel-filter-mismatch"
        case reshapeInference = "reshape-inference"
        case denseOnImages = "dense-on-images"
        case droppedInput = "dropped-input"
        case lossDTypeMismatch = "loss-dtype-mismatch"
        case lossShapeMismatch = "loss-shape-mismatch"
        case stepMode = "step-mode"
        // Limits
        case elaborationLimit = "elaboration-limit"
        case loopTooLong = "loop-too-long"
        case tensorTooLarge = "tensor-too-large"
        case sizeTooLarge = "size-too-large"
    }

    /// What a value that is not a compile-time integer is, for the hint that follows.
    public enum ValueHint: Sendable, Hashable {
        case tensor, symbol(String), number, other
    }

    /// Where a statement stands that belongs elsewhere.
    public enum Misplaced: Sendable, Hashable { case input, output, minimize, `return` }

    // Models and declarations
    case noModel(path: String)
    case unknownModel(name: String, path: String, available: [String])
    case unusedBlock(name: String)
    case duplicateBlock(name: String, first: SourceRange)
    case blockShadowsBuiltin(name: String, builtin: String)
    case duplicateParameter(name: String, block: String, first: SourceRange)
    case missingModelParameter(name: String)
    case noOutput(model: String)
    case unreachable
    case misplaced(Misplaced)
    case duplicateOutput(name: String)
    case duplicateMinimize
    case minimizeNotScalar(type: TensorType)
    case redefinition(name: String, previous: SourceRange?)
    case shadowsFunction(name: String)
    // Names
    /// `suggestion`: a similar name and where it is defined.
    case unknownName(name: String, suggestion: String?, definedAt: SourceRange?, inBlock: Bool)
    case functionAsValue(name: String)
    case unknownFunction(name: String, suggestion: String?, isInitializer: Bool)
    case notCallable(name: String)
    // Types
    case unknownDType(name: String, suggestion: String?)
    case paramShapeNotCompileTime(name: String)
    case paramShapeSymbolic(symbol: String)
    case dimensionNotPositive(Int)
    case dimensionNotInteger(got: String)
    /// A value of the other float type than the model's first floating-point value (`first`, at `firstAt`).
    case mixedFloatTypes(found: TensorType, first: TensorType, firstAt: SourceRange?)
    // Compile-time evaluation
    case notCompileTimeInteger(what: String, got: String, hint: ValueHint)
    case notCompileTimeBool(what: String, got: String)
    case negationOverflow(Int)
    case arithmeticOverflow(Int, operator: String, Int)
    case divisionByZero
    case unaryOperand(operator: String, operand: String)
    case binaryOperands(operator: String, String, String)
    case matmulOperands(String, String)
    case moduloOperands(String, String)
    case tensorIndex
    case notIndexable(String)
    case indexNotInteger(got: String)
    case indexOutOfRange(index: Int, count: Int)
    case emptyListLiteral
    case raggedLiteral(Shape, Shape)
    case nonNumericLiteral
    case expectedTensor(got: String)
    case mustBeTensor(what: String, got: String)
    // Blocks and calls
    case recursiveBlock(name: String, cycle: [String])
    /// A block call with more positional arguments than parameters, or with some missing (`missing` non-empty).
    case blockArity(block: String, required: Int, parameters: Int, given: Int, missing: [String], definedAt: SourceRange)
    case blockWithoutReturn(block: String, calledAt: SourceRange)
    case unknownBlockArgument(block: String, label: String, suggestion: String?, definedAt: SourceRange)
    case unknownArgument(callee: String, label: String, suggestion: String?, takes: [String])
    case duplicateArgument(name: String)
    case tooManyArguments(callee: String, positional: Int, given: Int, nextNamed: String?)
    case missingArgument(callee: String, name: String, expectation: String)
    case argumentMismatch(name: String, callee: String, expectation: String, got: String, hint: ValueHint)
    /// A word or dtype argument that is not one of the choices; `shown` is how it was written, if it was a word.
    case argumentNotAChoice(name: String, callee: String, expectation: String, shown: String?, suggestion: String?)
    case filtersArgument(got: String)
    case reduceNeedsTensor(function: String, got: String)
    case concatNeedsList
    case concatItem(got: String)
    case padNeedsAmounts
    case lenNeedsList
    case positiveCount(layer: String, argument: String, got: Int)
    case positiveNumber(layer: String, argument: String, got: Double)
    case multiplierTooSmall(Int)
    case batchnormArguments
    case dropoutRate(Double)
    case huberDelta(Double)
    case clipBounds(low: Double, high: Double)
    case sliceStep(Int)
    case sliceAxis(axis: Int, type: TensorType)
    case badLayerName
    case inferTwice
    case inferOutsideReshape
    case badAxis(function: String, axis: Int, type: TensorType)
    // Initializers
    case unknownInitializer(name: String, suggestion: String?)
    case initializerNeedsArguments(name: String)
    case uniformBounds(low: Double, high: Double)
    case normalStd(Double)
    case initializerTakesNoArguments(name: String)
    case notAnInitializer(what: String, got: String)
    case literalShapeMismatch(what: String, literal: Shape, needed: Shape)
    case symmetricInit(parameter: String, initializer: String)
    // Layers, losses and shape queries
    case globalPoolInput(function: String, type: TensorType)
    case denseInput(layer: String, type: TensorType, units: Int)
    case denseFeatures(layer: String, type: TensorType)
    case denseDType(layer: String, type: TensorType)
    case convInput(layer: String, type: TensorType)
    case convChannels(layer: String, type: TensorType)
    case convGroups(layer: String, groups: Int, channels: Int, filters: Int)
    case convPaddingNeedsSizes(layer: String, type: TensorType)
    case convFilterShape(type: TensorType)
    case kernelFilterMismatch(kernel: [Int], filter: TensorType)
    case channelwiseConvInput(function: String, layer: String, type: TensorType)
    case poolPaddingNeedsSizes(function: String, layer: String, type: TensorType)
    case flattenUnknownRank(type: TensorType)
    case flattenRank(type: TensorType)
    case flattenSymbolic(type: TensorType, symbols: [String])
    case batchnormInput(layer: String, type: TensorType)
    case batchnormAxis(layer: String, type: TensorType)
    case preluInput(layer: String, type: TensorType)
    /// A sequence layer's input or state of the wrong shape; `expected` says what it needs.
    case sequenceInput(kind: String, layer: String, role: String, expected: String, type: TensorType)
    case crossEntropyLabels(type: TensorType)
    case channelsQuery(type: TensorType)
    case shapeQueryUnknownRank(query: String, type: TensorType)
    case sliceUnknownRank(type: TensorType)
    case padRank(type: TensorType)
    case reshapeUnknownRank(what: String, type: TensorType)
    case reshapeImpossible(what: String, type: TensorType, target: Shape)
    case reshapeProduct(what: String, factor: Int, symbol: String)
    case denseOnImages(layer: String, type: TensorType, units: Int)
    case droppedInput(layer: String, axis: String, dropped: Int, size: Int, stride: Int, kernel: Int)
    case lossDTypes(loss: String, prediction: TensorType, target: TensorType)
    case lossShapes(loss: String, prediction: TensorType, target: TensorType)
    /// Step mode (one token per call, `dlg generate`) cannot elaborate `what`.
    case stepMode(what: String, reason: String)
    // Limits
    case evaluationTooDeep(limit: Int)
    case callsTooDeep(limit: Int, chainStart: String?, startedAt: SourceRange?)
    case tooManySteps(limit: Int)
    case loopTooLong(lower: Int, upper: Int, count: Int?, limit: Int)
    case tensorTooLarge(what: String, type: TensorType, elements: String, limit: Int)
    case reshapeTooLarge(what: String, elements: String, limit: Int)
    case windowTooLarge(function: String, layer: String, kernel: [Int], limit: Int)
    case sizeTooLarge(what: String, size: Int, limit: Int)

    public static let phase = "elaboration"

    public var kind: Kind {
        switch self {
        case .noModel: .noModel
        case .unknownModel: .unknownModel
        case .unusedBlock: .unusedBlock
        case .duplicateBlock: .duplicateBlock
        case .blockShadowsBuiltin: .blockShadowsBuiltin
        case .duplicateParameter: .duplicateParameter
        case .missingModelParameter: .missingModelParameter
        case .noOutput: .noOutput
        case .unreachable: .unreachable
        case .misplaced(.input): .inputInBlock
        case .misplaced(.output): .outputInBlock
        case .misplaced(.minimize): .minimizeInBlock
        case .misplaced(.return): .returnInModel
        case .duplicateOutput: .duplicateOutput
        case .duplicateMinimize: .duplicateMinimize
        case .minimizeNotScalar: .minimizeNotScalar
        case .redefinition: .redefinition
        case .shadowsFunction: .shadowsFunction
        case .unknownName: .unknownName
        case .functionAsValue: .functionAsValue
        case .unknownFunction: .unknownFunction
        case .notCallable: .notCallable
        case .unknownDType: .unknownDType
        case .paramShapeNotCompileTime, .paramShapeSymbolic: .paramSymbolicShape
        case .dimensionNotPositive, .dimensionNotInteger: .badDimension
        case .mixedFloatTypes: .mixedFloatTypes
        case .notCompileTimeInteger: .notCompileTimeInteger
        case .notCompileTimeBool: .notCompileTimeBool
        case .negationOverflow, .arithmeticOverflow: .integerOverflow
        case .divisionByZero: .divisionByZero
        case .unaryOperand, .binaryOperands, .matmulOperands, .moduloOperands: .badOperand
        case .tensorIndex: .tensorIndex
        case .notIndexable, .indexNotInteger: .badIndex
        case .indexOutOfRange: .indexOutOfRange
        case .emptyListLiteral, .raggedLiteral, .nonNumericLiteral: .badLiteral
        case .expectedTensor, .mustBeTensor: .expectedTensor
        case .recursiveBlock: .recursiveBlock
        case .blockArity: .blockArity
        case .blockWithoutReturn: .blockWithoutReturn
        case .unknownBlockArgument, .unknownArgument: .unknownArgument
        case .duplicateArgument: .duplicateArgument
        case .tooManyArguments: .tooManyArguments
        case .missingArgument: .missingArgument
        case .argumentMismatch, .argumentNotAChoice, .filtersArgument, .reduceNeedsTensor, .concatNeedsList,
             .concatItem, .padNeedsAmounts, .lenNeedsList:
            .badArgument
        case .positiveCount, .positiveNumber, .multiplierTooSmall, .batchnormArguments, .dropoutRate, .huberDelta, .clipBounds, .sliceStep:
            .argumentOutOfRange
        case .badLayerName: .badLayerName
        case .inferTwice, .inferOutsideReshape: .badShapeArgument
        case .badAxis, .sliceAxis: .badAxis
        case .unknownInitializer: .unknownInitializer
        case .initializerNeedsArguments, .uniformBounds, .normalStd, .initializerTakesNoArguments, .notAnInitializer:
            .badInitializer
        case .literalShapeMismatch: .literalShapeMismatch
        case .symmetricInit: .symmetricInit
        case .globalPoolInput, .denseFeatures, .denseDType, .convChannels, .convPaddingNeedsSizes, .convFilterShape,
             .channelwiseConvInput, .poolPaddingNeedsSizes, .flattenRank, .flattenSymbolic, .batchnormAxis, .preluInput, .sequenceInput,
             .crossEntropyLabels, .channelsQuery, .padRank:
            .layerInput
        case .denseInput(_, let type, _), .convInput(_, let type), .batchnormInput(_, let type):
            type.dims == nil ? .unknownRank : .layerInput
        case .flattenUnknownRank, .shapeQueryUnknownRank, .sliceUnknownRank, .reshapeUnknownRank: .unknownRank
        case .convGroups: .convChannelMismatch
        case .kernelFilterMismatch: .kernelFilterMismatch
        case .reshapeImpossible, .reshapeProduct: .reshapeInference
        case .denseOnImages: .denseOnImages
        case .droppedInput: .droppedInput
        case .lossDTypes: .lossDTypeMismatch
        case .lossShapes: .lossShapeMismatch
        case .stepMode: .stepMode
        case .evaluationTooDeep, .callsTooDeep, .tooManySteps: .elaborationLimit
        case .loopTooLong: .loopTooLong
        case .tensorTooLarge, .reshapeTooLarge: .tensorTooLarge
        case .windowTooLarge, .sizeTooLarge: .sizeTooLarge
        }
    }

    public var severity: Severity {
        switch self {
        case .unusedBlock, .noOutput, .unreachable, .shadowsFunction, .symmetricInit, .denseOnImages, .droppedInput: .warning
        default: .error
        }
    }

    public var message: String {
        switch self {
        case .noModel(let path): "no model in \(path)"
        case .unknownModel(let name, let path, let available):
            "no model named '\(name)' in \(path)" + (available.isEmpty ? "" : "; it has " + available.joined(separator: ", "))
        case .unusedBlock(let name): "block '\(name)' is never used, so its body is not checked"
        case .duplicateBlock(let name, _): "block '\(name)' is defined twice"
        case .blockShadowsBuiltin(let name, let builtin): "block '\(name)' would hide the built-in \(builtin) '\(name)'; choose another name"
        case .duplicateParameter(let name, let block, _): "parameter '\(name)' appears twice in block '\(block)'"
        case .missingModelParameter(let name): "model parameter '\(name)' has no default; give it with --bind \(name)=N"
        case .noOutput(let model): "model '\(model)' has no output and nothing to minimize"
        case .unreachable: "statement after 'return' is never run"
        case .misplaced(.input): "'input' is only allowed in a model body; pass tensors to a block as arguments"
        case .misplaced(.output): "'output' is only allowed in a model body; a block gives its result with 'return'"
        case .misplaced(.minimize): "'minimize' is only allowed in a model body"
        case .misplaced(.return): "'return' is only allowed in a block; a model marks results with 'output'"
        case .duplicateOutput(let name): "output '\(name)' is declared twice"
        case .duplicateMinimize: "a model minimizes one value; add the terms into one loss instead"
        case .minimizeNotScalar(let type): "minimize needs a scalar, but this is \(type)"
        case .redefinition(let name, _): "'\(name)' is already defined"
        case .shadowsFunction(let name): "'\(name)' hides the function of the same name in the rest of this body"
        case .unknownName(let name, _, _, _): "unknown name '\(name)'"
        case .functionAsValue(let name): "'\(name)' is a function; call it, as in \(name)(x)"
        case .unknownFunction(let name, _, _): "unknown function '\(name)'"
        case .notCallable(let name): "'\(name)' is a value, not a function"
        case .unknownDType(let name, let suggestion): "unknown dtype '\(name)'" + Self.didYouMean(suggestion)
        case .paramShapeNotCompileTime(let name): "a parameter's shape must be known; '\(name)' is not a compile-time integer"
        case .paramShapeSymbolic(let symbol): "a parameter's shape must be known, but \(symbol) is a symbolic size"
        case .dimensionNotPositive(let v): "a dimension must be positive, got \(v)"
        case .dimensionNotInteger(let got): "a dimension must be an integer or a symbol such as B, got \(got)"
        case .mixedFloatTypes(let found, let first, _):
            "the model mixes f32 and f64 values: this is \(found), but the model computes in \(first.dtype)"
        case .notCompileTimeInteger(let what, let got, _): "\(what) must be a compile-time integer, got \(got)"
        case .notCompileTimeBool(let what, let got): "\(what) must be a compile-time boolean, got \(got)"
        case .negationOverflow(let i): "integer overflow: -(\(i)) does not fit in 64 bits"
        case .arithmeticOverflow(let a, let op, let b): "integer overflow: \(a) \(op) \(b) does not fit in 64 bits"
        case .divisionByZero: "division by zero"
        case .unaryOperand(let op, let x): "'\(op)' cannot be applied to \(x)"
        case .binaryOperands(let op, let x, let y): "'\(op)' cannot be applied to \(x) and \(y)"
        case .matmulOperands(let x, let y): "'@' multiplies two tensors, got \(x) and \(y)"
        case .moduloOperands(let x, let y): "'%' needs integers, got \(x) and \(y)"
        case .tensorIndex: "indexing a tensor is not supported; use slice(x, axis: …, start: …, end: …)"
        case .notIndexable(let what): "\(what) cannot be indexed"
        case .indexNotInteger(let got): "an index must be an integer, got \(got)"
        case .indexOutOfRange(let index, let count): "index \(index) is out of range for a list of \(count)"
        case .emptyListLiteral: "an empty list is not a tensor"
        case .raggedLiteral(let a, let b): "rows of a literal tensor differ in shape: \(a) and \(b)"
        case .nonNumericLiteral: "a literal tensor holds numbers only"
        case .expectedTensor(let got): "expected a tensor, got \(got)"
        case .mustBeTensor(let what, let got): "\(what) must be a tensor, got \(got)"
        case .recursiveBlock(let name, let cycle): "block '\(name)' calls itself recursively: " + cycle.joined(separator: " → ")
        case .blockArity(let block, let required, let n, let given, let missing, _):
            "block '\(block)' takes "
                + (required == n ? "\(n) argument\(n == 1 ? "" : "s")" : "\(required) to \(n) arguments")
                + " but \(given) \(given == 1 ? "was" : "were") given"
                + (missing.isEmpty ? "" : "; missing " + missing.map { "'\($0)'" }.joined(separator: ", "))
        case .blockWithoutReturn(let block, _): "block '\(block)' ends without 'return'"
        case .unknownBlockArgument(let block, let label, let suggestion, _):
            "block '\(block)' has no parameter '\(label)'" + Self.didYouMean(suggestion)
        case .unknownArgument(let callee, let label, _, _): "\(callee) has no argument '\(label)'"
        case .duplicateArgument(let name): "argument '\(name)' is given twice"
        case .tooManyArguments(let callee, let n, let given, _):
            "\(callee) takes \(n) positional argument\(n == 1 ? "" : "s") but \(given) were given"
        case .missingArgument(let callee, let name, let expectation): "\(callee) needs argument '\(name)' (\(expectation))"
        case .argumentMismatch(let name, let callee, let expectation, let got, _):
            "argument '\(name)' of \(callee) must be \(expectation), got \(got)"
        case .argumentNotAChoice(let name, let callee, let expectation, let shown, _):
            "argument '\(name)' of \(callee) must be \(expectation); \(shown ?? "this") is not"
        case .filtersArgument(let got): "argument 'filters' of conv2d must be an integer (or a filter tensor), got \(got)"
        case .reduceNeedsTensor(let function, let got): "\(function) reduces a tensor, got \(got)"
        case .concatNeedsList: "concat takes a list of tensors, as in concat([a, b], axis: 1)"
        case .concatItem(let got): "concat takes a list of tensors; one item is \(got)"
        case .padNeedsAmounts: "pad takes explicit amounts, not same/valid"
        case .lenNeedsList: "len takes a list"
        case .positiveCount(let layer, let argument, let got): "\(layer) needs a positive number of \(argument), got \(got)"
        case .positiveNumber(let layer, let argument, let got): "\(layer): \(argument) must be positive, got \(formatNumber(got))"
        case .multiplierTooSmall(let m): "multiplier must be at least 1, got \(m)"
        case .batchnormArguments: "batchnorm needs eps > 0 and momentum in [0, 1]"
        case .dropoutRate(let rate): "dropout rate must be in [0, 1), got \(formatNumber(rate))"
        case .huberDelta(let delta): "huber needs delta > 0, got \(formatNumber(delta))"
        case .clipBounds(let lo, let hi): "clip needs low ≤ high, got \(formatNumber(lo)) and \(formatNumber(hi))"
        case .sliceStep(let step): "slice: step must be at least 1, got \(step)"
        case .sliceAxis(let axis, let type): "slice: axis \(axis) is out of range for \(type)"
        case .badLayerName: "name must be a string without spaces, as in name: \"conv1\""
        case .inferTwice: "a shape may infer at most one size with -1"
        case .inferOutsideReshape: "-1 is only allowed in reshape"
        case .badAxis(let function, let axis, let type):
            "\(function): axis \(axis) is out of range for \(type); " + Self.validAxes(type.rank ?? 0)
        case .unknownInitializer(let name, let suggestion): "unknown initializer '\(name)'" + Self.didYouMean(suggestion)
        case .initializerNeedsArguments(let name):
            "initializer '\(name)' needs arguments, as in "
                + (name == "constant" ? "constant(0.1)" : name == "uniform" ? "uniform(-1, 1)" : "normal(0, 0.01)")
        case .uniformBounds(let a, let b): "uniform(\(formatNumber(a)), \(formatNumber(b))) needs low < high"
        case .normalStd(let std): "normal needs a non-negative std, got \(formatNumber(std))"
        case .initializerTakesNoArguments(let name): "initializer '\(name)' takes no arguments; write it bare"
        case .notAnInitializer(let what, let got): "\(what) must be an initializer or a literal tensor, got \(got)"
        case .literalShapeMismatch(let what, let literal, let needed):
            "\(what): the literal has shape \(literal) but \(needed) is needed"
        case .symmetricInit(let parameter, let initializer):
            "'\(parameter)' starts with every weight equal (\(initializer)); units that start alike get the same gradient and stay alike"
        case .globalPoolInput(let function, let type): "\(function) needs an NCHW tensor of rank 4, got \(type)"
        case .denseInput(let layer, let type, _):
            "dense '\(layer)' needs input of rank ≥ 2 ([batch, features]), got \(Self.shown(type))"
        case .denseFeatures(let layer, let type): "dense '\(layer)' needs a known feature count, got \(type)"
        case .denseDType(let layer, let type): "dense '\(layer)' expects floating-point input, got \(type)"
        case .convInput(let layer, let type): "conv2d '\(layer)' needs an NCHW input of rank 4, got \(Self.shown(type))"
        case .convChannels(let layer, let type): "conv2d '\(layer)' needs a known channel count, got \(type)"
        case .convGroups(let layer, let groups, let channels, let filters):
            "conv2d '\(layer)': groups \(groups) must divide both the input channels \(channels) and the filters \(filters)"
        case .convPaddingNeedsSizes(let layer, let type): "conv2d '\(layer)' needs known spatial sizes to pad, got \(type)"
        case .convFilterShape(let type): "conv2d's filter must be a tensor [F, C, kh, kw] of known shape, got \(type)"
        case .kernelFilterMismatch(let kernel, let filter): "kernel \(kernel) does not match the filter \(filter)"
        case .channelwiseConvInput(let function, let layer, let type):
            "\(function) '\(layer)' needs an NCHW input with known channels, got \(type)"
        case .poolPaddingNeedsSizes(let function, let layer, let type):
            "\(function)" + (layer.isEmpty ? "" : " '\(layer)'") + " needs an NCHW input of known height and width to pad, got \(type)"
        case .flattenUnknownRank(let type): "flatten needs a known rank, but \(type) has unknown rank"
        case .flattenRank(let type): "flatten keeps axis 0 (the batch) and needs rank ≥ 2, got \(type)"
        case .flattenSymbolic(let type, let symbols):
            "flatten of \(type): the flattened size depends on \(symbols.joined(separator: ", ")); bind it with --bind"
        case .batchnormInput(let layer, let type):
            "batchnorm '\(layer)' needs a tensor of rank ≥ 2 with features or channels on axis 1, got \(type)"
        case .batchnormAxis(let layer, let type): "batchnorm '\(layer)' needs a known, floating-point axis 1, got \(type)"
        case .preluInput(let layer, let type): "prelu '\(layer)' needs a tensor of rank ≥ 2 with a known axis 1, got \(type)"
        case .sequenceInput(let kind, let layer, let role, let expected, let type):
            "\(kind) '\(layer)': the \(role) must be \(expected), got \(type)"
        case .crossEntropyLabels(let type): "cross_entropy: integer labels must be a vector [N], got \(type)"
        case .channelsQuery(let type): "channels(x) needs a tensor of rank ≥ 2 (axis 1 is channels), got \(type)"
        case .shapeQueryUnknownRank(let query, let type): "\(query)(x) of \(type): the rank is unknown"
        case .sliceUnknownRank(let type): "slice: \(type) has unknown rank"
        case .padRank(let type): "pad works on the last two axes and needs rank ≥ 2, got \(type)"
        case .reshapeUnknownRank(let what, let type): "\(what): cannot infer -1 for \(type), whose rank is unknown"
        case .reshapeImpossible(let what, let type, let target):
            "\(what): cannot reshape \(type) to \(target): no size for -1 makes the element counts equal"
        case .reshapeProduct(let what, let factor, let symbol):
            "\(what): -1 would have to be \(factor)·\(symbol); only a plain size or symbol can be inferred"
        case .denseOnImages(let layer, let type, _): "dense '\(layer)' on \(type) acts on the last axis only"
        case .droppedInput(let layer, let axis, let dropped, let size, let stride, let kernel):
            "\(layer): the last "
                + (dropped == 1 ? "input \(axis.dropLast()) of \(size) falls" : "\(dropped) input \(axis) of \(size) fall")
                + " outside every window (stride \(stride), kernel \(kernel)) and \(dropped == 1 ? "is" : "are") ignored"
        case .lossDTypes(let loss, let a, let b): "\(loss): prediction \(a) and target \(b) have different dtypes"
        case .lossShapes(let loss, let a, let b): "\(loss): prediction \(a) and target \(b) must have the same shape"
        case .stepMode(let what, let reason): "\(what) cannot run one token at a time (step mode, as dlg generate runs it): \(reason)"
        case .evaluationTooDeep(let limit):
            "expressions and block calls are nested too deeply: more than \(groupDigits(limit)) levels"
        case .callsTooDeep(let limit, _, _): "block calls are nested too deeply: more than \(limit) blocks call each other"
        case .tooManySteps(let limit):
            "the model is too large to elaborate: more than \(groupDigits(limit)) steps (statements run, expressions evaluated, operations created)"
        case .loopTooLong(let a, let b, let count, let limit):
            "the loop \(a)..<\(b) would run \(count.map(groupDigits) ?? "more than 2⁶³") times; a loop runs at most \(groupDigits(limit)) times"
        case .tensorTooLarge(let what, let type, let elements, let limit):
            "\(what) \(type) would hold \(elements) elements; a tensor holds at most \(groupDigits(limit))"
        case .reshapeTooLarge(let what, let elements, let limit):
            "\(what): the target shape would hold \(elements) elements; a tensor holds at most \(groupDigits(limit))"
        case .windowTooLarge(let function, let layer, let kernel, let limit):
            "\(function) '\(layer)': a \(kernel[0])×\(kernel[1]) window has \(groupDigits(kernel[0] * kernel[1])) cells; at most \(groupDigits(limit))"
        case .sizeTooLarge(let what, let size, let limit):
            "\(what) \(groupDigits(size)) is too large; a size is at most \(groupDigits(limit))"
        }
    }

    public var notes: [DiagnosticNote] {
        switch self {
        case .noModel: [DiagnosticNote("a file declares at least one 'model name { … }'")]
        case .duplicateBlock(_, let first): [DiagnosticNote("first defined here", at: first)]
        case .duplicateParameter(_, _, let first): [DiagnosticNote("first declared here", at: first)]
        case .noOutput: [DiagnosticNote("mark a value with 'output name = …' or add 'minimize loss'")]
        case .minimizeNotScalar: [DiagnosticNote("reduce it with mean(…) or sum(…), or use a loss such as mse(yhat, y)")]
        case .redefinition(_, let previous): [DiagnosticNote("previous definition here", at: previous)]
        case .unknownName(_, let suggestion, let definedAt, let inBlock):
            (suggestion.map { [DiagnosticNote("did you mean '\($0)'?", at: definedAt)] } ?? [])
                + (inBlock ? [DiagnosticNote("a block sees only its parameters and its own bindings")] : [])
        case .unknownFunction(let name, let suggestion, let isInitializer):
            (suggestion.map { [DiagnosticNote("did you mean '\($0)'?")] } ?? [])
                + (isInitializer ? [DiagnosticNote("'\(name)' is an initializer; it can only appear after '=' in a param or as init:")] : [])
        case .unknownDType: [DiagnosticNote("dtypes are f32, f64 and i32")]
        case .mixedFloatTypes(let found, let first, let firstAt):
            [DiagnosticNote("the model's first floating-point value, \(first), is here", at: firstAt),
             DiagnosticNote("a program computes in one float type; convert with cast(x, dtype: \(first.dtype)) or declare \(found.dtype) throughout")]
        case .paramShapeSymbolic(let s):
            [DiagnosticNote("bind it with --bind \(s)=N, or use a layer such as dense, which sizes its parameters from its input")]
        case .notCompileTimeInteger(_, _, let hint): Self.notes(for: hint)
        case .argumentMismatch(_, _, _, _, let hint): Self.notes(for: hint)
        case .notCompileTimeBool:
            [DiagnosticNote("conditions compare integers known while compiling, e.g. 'if stride != 1 then … else …'")]
        case .recursiveBlock:
            [DiagnosticNote("blocks are expanded while compiling, so recursion would never end; use a for loop")]
        case .blockArity(let block, _, _, _, _, let definedAt), .unknownBlockArgument(let block, _, _, let definedAt):
            [DiagnosticNote("'\(block)' is defined here", at: definedAt)]
        case .blockWithoutReturn(_, let calledAt): [DiagnosticNote("called here", at: calledAt)]
        case .unknownArgument(let callee, _, let suggestion, let takes):
            (suggestion.map { [DiagnosticNote("did you mean '\($0)'?")] } ?? [])
                + [DiagnosticNote("\(callee) takes: \(takes.joined(separator: ", "))")]
        case .tooManyArguments(_, _, _, let next): next.map { [DiagnosticNote("name the others, e.g. \($0): …")] } ?? []
        case .argumentNotAChoice(_, _, _, _, let suggestion): suggestion.map { [DiagnosticNote("did you mean '\($0)'?")] } ?? []
        case .symmetricInit:
            [DiagnosticNote("break the symmetry with a random initializer such as xavier_uniform or he_normal")]
        case .denseInput(_, let type, let units):
            type.rank == 4 ? [DiagnosticNote("flatten image features first: dense(flatten(x), \(units))")] : []
        case .convInput(_, let type):
            type.rank == 2 ? [DiagnosticNote("reshape a flat input to images first, e.g. reshape(x, [B, 1, 28, 28])")] : []
        case .convPaddingNeedsSizes: [DiagnosticNote("bind them with --bind")]
        case .flattenUnknownRank: [DiagnosticNote("declare the input with a full shape such as f32[B, 1, 28, 28]")]
        case .crossEntropyLabels: [DiagnosticNote("declare the labels as i32[B]")]
        case .denseOnImages(_, _, let units): [DiagnosticNote("to connect every pixel, use dense(flatten(x), \(units))")]
        case .droppedInput: [DiagnosticNote("pad: same keeps every input position")]
        case .lossDTypes(_, _, let target):
            target.dtype == .i32 ? [DiagnosticNote("integer class labels go with cross_entropy(logits, labels)")] : []
        case .callsTooDeep(_, let start, let at):
            start.map { [DiagnosticNote("the chain of calls starts here, with '\($0)'", at: at)] } ?? []
        case .tooManySteps: [DiagnosticNote("a loop bound or a number of repetitions is probably larger than intended")]
        case .loopTooLong: [DiagnosticNote("loops are unrolled while compiling: every iteration adds its layers to the graph")]
        default: []
        }
    }

    /// The note that goes with an error inside a block: where the block was called.
    public static func calledFrom(block: String, at range: SourceRange) -> DiagnosticNote {
        DiagnosticNote("in block '\(block)' called here", at: range)
    }

    static func notes(for hint: ValueHint) -> [DiagnosticNote] {
        switch hint {
        case .tensor:
            [DiagnosticNote("tensors are only known when the model runs; use an integer, a block argument or a shape query such as channels(x)")]
        case .symbol(let s): [DiagnosticNote("\(s) is a symbolic size; bind it with --bind \(s)=N")]
        case .number: [DiagnosticNote("write an integer without a fractional part")]
        case .other: []
        }
    }

    static func didYouMean(_ suggestion: String?) -> String { suggestion.map { "; did you mean '\($0)'?" } ?? "" }

    static func shown(_ type: TensorType) -> String { type.dims == nil ? "a tensor of unknown rank" : "\(type)" }

    static func validAxes(_ r: Int) -> String {
        r == 0 ? "a scalar has no axes" : "it has \(r) ax\(r == 1 ? "is" : "es"): 0…\(r - 1), or −\(r)…−1 from the end"
    }

    public static var examples: [ElaborationDiagnostic] {
        let x = TensorType(.f32, Shape([.symbol("B"), .known(3)]))
        let image = TensorType(.f32, Shape([.symbol("B"), .known(1), .known(28), .known(28)]))
        let unknown = TensorType(.f32, .unknownRank)
        let here = SourceRange.point(0)
        return [
            .noModel(path: "‹file›"),
            .unknownModel(name: "‹name›", path: "‹file›", available: ["‹model›", "‹model›"]),
            .unusedBlock(name: "‹name›"),
            .duplicateBlock(name: "‹name›", first: here),
            .blockShadowsBuiltin(name: "‹name›", builtin: "layer"),
            .duplicateParameter(name: "‹name›", block: "‹block›", first: here),
            .missingModelParameter(name: "‹name›"),
            .noOutput(model: "‹name›"),
            .unreachable,
            .misplaced(.input), .misplaced(.output), .misplaced(.minimize), .misplaced(.return),
            .duplicateOutput(name: "‹name›"),
            .duplicateMinimize,
            .minimizeNotScalar(type: x),
            .redefinition(name: "‹name›", previous: here),
            .shadowsFunction(name: "‹name›"),
            .unknownName(name: "‹name›", suggestion: "‹similar name›", definedAt: here, inBlock: true),
            .functionAsValue(name: "‹name›"),
            .unknownFunction(name: "‹name›", suggestion: "‹similar name›", isInitializer: false),
            .notCallable(name: "‹name›"),
            .unknownDType(name: "‹name›", suggestion: "f32"),
            .paramShapeNotCompileTime(name: "‹name›"),
            .paramShapeSymbolic(symbol: "B"),
            .dimensionNotPositive(0),
            .dimensionNotInteger(got: "‹value›"),
            .mixedFloatTypes(found: TensorType(.f64, x.shape), first: x, firstAt: here),
            .notCompileTimeInteger(what: "the loop's upper bound", got: "tensor \(x)", hint: .tensor),
            .notCompileTimeBool(what: "an 'if' condition", got: "‹value›"),
            .negationOverflow(Int.min),
            .arithmeticOverflow(Int.max, operator: "+", 1),
            .divisionByZero,
            .unaryOperand(operator: "!", operand: "‹value›"),
            .binaryOperands(operator: "<", "‹value›", "‹value›"),
            .matmulOperands("‹value›", "‹value›"),
            .moduloOperands("‹value›", "‹value›"),
            .tensorIndex,
            .notIndexable("‹value›"),
            .indexNotInteger(got: "‹value›"),
            .indexOutOfRange(index: 3, count: 2),
            .emptyListLiteral,
            .raggedLiteral(Shape([2]), Shape([3])),
            .nonNumericLiteral,
            .expectedTensor(got: "‹value›"),
            .mustBeTensor(what: "an output", got: "‹value›"),
            .recursiveBlock(name: "‹a›", cycle: ["‹a›", "‹b›", "‹a›"]),
            .blockArity(block: "‹name›", required: 2, parameters: 3, given: 4, missing: [], definedAt: here),
            .blockArity(block: "‹name›", required: 2, parameters: 2, given: 1, missing: ["‹parameter›"], definedAt: here),
            .blockWithoutReturn(block: "‹name›", calledAt: here),
            .unknownBlockArgument(block: "‹name›", label: "‹label›", suggestion: "‹parameter›", definedAt: here),
            .unknownArgument(callee: "‹function›", label: "‹label›", suggestion: "‹parameter›", takes: ["‹parameters›"]),
            .duplicateArgument(name: "‹name›"),
            .tooManyArguments(callee: "‹function›", positional: 2, given: 3, nextNamed: "‹parameter›"),
            .missingArgument(callee: "‹function›", name: "‹parameter›", expectation: "‹what it takes›"),
            .argumentMismatch(name: "‹parameter›", callee: "‹function›", expectation: "‹what it takes›", got: "‹value›",
                              hint: .other),
            .argumentNotAChoice(name: "‹parameter›", callee: "‹function›", expectation: "one of ‹choices›", shown: "'‹word›'",
                                suggestion: "‹choice›"),
            .filtersArgument(got: "‹value›"),
            .reduceNeedsTensor(function: "‹function›", got: "‹value›"),
            .concatNeedsList,
            .concatItem(got: "‹value›"),
            .padNeedsAmounts,
            .lenNeedsList,
            .positiveNumber(layer: "layer_norm", argument: "eps", got: 0),
            .positiveCount(layer: "dense", argument: "units", got: 0),
            .multiplierTooSmall(0),
            .batchnormArguments,
            .dropoutRate(1),
            .huberDelta(0),
            .clipBounds(low: 1, high: 0),
            .sliceStep(0),
            .badLayerName,
            .inferTwice,
            .inferOutsideReshape,
            .badAxis(function: "‹function›", axis: 2, type: x),
            .sliceAxis(axis: 2, type: x),
            .unknownInitializer(name: "‹name›", suggestion: "‹initializer›"),
            .initializerNeedsArguments(name: "uniform"),
            .uniformBounds(low: 1, high: -1),
            .normalStd(-1),
            .initializerTakesNoArguments(name: "‹name›"),
            .notAnInitializer(what: "parameter '‹name›'", got: "‹value›"),
            .literalShapeMismatch(what: "parameter '‹name›'", literal: Shape([2]), needed: Shape([3])),
            .symmetricInit(parameter: "‹name›", initializer: "zeros"),
            .globalPoolInput(function: "global_avgpool", type: x),
            .denseInput(layer: "‹layer›", type: unknown, units: 10),
            .denseInput(layer: "‹layer›", type: TensorType(.f32, Shape([.known(3)])), units: 10),
            .denseFeatures(layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B"), .symbol("N")]))),
            .denseDType(layer: "‹layer›", type: TensorType(.i32, Shape([.symbol("B"), .known(3)]))),
            .convInput(layer: "‹layer›", type: x),
            .convChannels(layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B"), .symbol("C"), .known(28), .known(28)]))),
            .convGroups(layer: "‹layer›", groups: 4, channels: 6, filters: 8),
            .convPaddingNeedsSizes(layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B"), .known(1), .symbol("H"), .symbol("W")]))),
            .convFilterShape(type: x),
            .kernelFilterMismatch(kernel: [3, 3], filter: TensorType(.f32, Shape([8, 1, 5, 5]))),
            .channelwiseConvInput(function: "depthwise_conv2d", layer: "‹layer›", type: x),
            .poolPaddingNeedsSizes(function: "maxpool", layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B"), .known(1), .symbol("H"), .symbol("W")]))),
            .flattenUnknownRank(type: unknown),
            .flattenRank(type: TensorType(.f32, Shape([.symbol("B")]))),
            .flattenSymbolic(type: TensorType(.f32, Shape([.symbol("B"), .symbol("N")])), symbols: ["N"]),
            .batchnormInput(layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B")]))),
            .batchnormAxis(layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B"), .symbol("C")]))),
            .preluInput(layer: "‹layer›", type: TensorType(.f32, Shape([.symbol("B")]))),
            .sequenceInput(kind: "lstm", layer: "‹layer›", role: "input", expected: "a float tensor [batch, time, features] with known time and features",
                           type: TensorType(.f32, Shape([.symbol("B"), .known(8)]))),
            .crossEntropyLabels(type: TensorType(.i32, Shape([.symbol("B"), .known(1)]))),
            .channelsQuery(type: TensorType(.f32, Shape([.symbol("B")]))),
            .shapeQueryUnknownRank(query: "shape", type: unknown),
            .sliceUnknownRank(type: unknown),
            .padRank(type: TensorType(.f32, Shape([.symbol("B")]))),
            .reshapeUnknownRank(what: "reshape", type: unknown),
            .reshapeImpossible(what: "reshape", type: x, target: Shape([.symbol("-1"), .known(2)])),
            .reshapeProduct(what: "reshape", factor: 2, symbol: "B"),
            .denseOnImages(layer: "‹layer›", type: image, units: 10),
            .droppedInput(layer: "‹layer›", axis: "rows", dropped: 1, size: 28, stride: 3, kernel: 3),
            .lossDTypes(loss: "mse", prediction: x, target: TensorType(.i32, Shape([.symbol("B"), .known(3)]))),
            .lossShapes(loss: "mse", prediction: x, target: TensorType(.f32, Shape([.symbol("B"), .known(1)]))),
            .stepMode(what: "lstm '‹layer›'", reason: "‹why›"),
            .evaluationTooDeep(limit: ElaborationLimits.maxEvaluationDepth),
            .callsTooDeep(limit: ElaborationLimits.maxCallDepth, chainStart: "‹block›", startedAt: here),
            .tooManySteps(limit: ElaborationLimits.maxSteps),
            .loopTooLong(lower: 0, upper: 1_000_000_000, count: 1_000_000_000, limit: ElaborationLimits.maxLoopIterations),
            .tensorTooLarge(what: "input 'x'", type: TensorType(.f32, Shape([1 << 20, 1 << 20])), elements: groupDigits(1 << 40),
                            limit: Shape.maxElements),
            .reshapeTooLarge(what: "reshape", elements: groupDigits(1 << 40), limit: Shape.maxElements),
            .windowTooLarge(function: "maxpool", layer: "‹layer›", kernel: [1 << 20, 1 << 20], limit: Shape.maxElements),
            .sizeTooLarge(what: "dense '‹layer›': units", size: 1 << 40, limit: Shape.maxDimension),
        ]
    }
}
