import DLGSource

/// Every message about `train` blocks and the settings given on the command
/// line: unknown or repeated names (checked with the model), values that cannot
/// be read, and values the trainer rejects (data sources, optimizers,
/// schedules, counts). The text, the notes and the ID are written here only;
/// `dlg train` shows a rejected flag's value as `--batch: <message>`.
public indirect enum TrainSettingDiagnostic: DiagnosticCatalog, Error {
    public enum Kind: String, CaseIterable, Sendable {
        case unknownTrainedModel = "unknown-trained-model"
        case unknownSetting = "unknown-setting"
        case duplicateSetting = "duplicate-setting"
        case unreadableSetting = "unreadable-setting"
        case badSetting = "bad-setting"
        case unknownDataSource = "unknown-data-source"
        case badDataSource = "bad-data-source"
        case unknownSchedule = "unknown-schedule"
        case badSchedule = "bad-schedule"
        case unknownOptimizer = "unknown-optimizer"
        case badOptimizerArgument = "bad-optimizer-argument"
        case unknownTransform = "unknown-transform"
        case badTransform = "bad-transform"
    }

    /// What a setting's value should be, for "expected …, got …".
    public enum Expectation: Sendable, Hashable {
        case batch, epochs, seed, nonNegativeNumber, patience, metric, bool, normalize, threads, path
        case validation, dataSource, schedule, optimizer, transform, freezePatterns

        var text: String {
            switch self {
            case .batch: "a positive batch size (or full)"
            case .epochs: "a positive number of epochs"
            case .seed: "a non-negative integer"
            case .nonNegativeNumber: "a non-negative number"
            case .patience: "a number of epochs"
            case .metric: "loss, accuracy, val_loss or val_accuracy"
            case .bool: "true or false"
            case .normalize: "none, unit or standardize"
            case .threads: "a positive thread count"
            case .path: "a file path"
            case .validation: "a fraction in (0, 1), a count of examples, or a data source"
            case .dataSource: "a data source such as xor(), mnist(\"dir\") or csv(\"file.csv\", label: \"y\")"
            case .schedule: "a schedule such as time_based(k: 0.01)"
            case .optimizer: "an optimizer such as sgd(lr: 0.1)"
            case .transform: "a transform such as flip(horizontal) or rotate(15)"
            case .freezePatterns: "parameter-name patterns such as [\"c1.*\", \"c3.*\"]"
            }
        }
    }

    /// A data source's argument that is missing or out of range.
    public enum DataProblem: Sendable, Hashable {
        case count(source: String), countPerClass(source: String), mnistSplit, mnistClasses
        case csvPath, npyFeatures, npzFile, idxImages, cifarFiles

        var text: String {
            switch self {
            case .count(let s): "\(s)(n:) needs a positive count"
            case .countPerClass(let s): "\(s)(n:) needs a positive count per class"
            case .mnistSplit: "mnist split must be train or test"
            case .mnistClasses: "mnist classes must be digits 0…9"
            case .csvPath: "csv needs a file path: csv(\"data.csv\", label: \"y\")"
            case .npyFeatures: "npy needs a features file: npy(\"x.npy\", \"y.npy\")"
            case .npzFile: "npz needs a file: npz(\"d.npz\", features: \"x\", labels: \"y\")"
            case .idxImages: "idx needs an images file: idx(\"images.gz\", \"labels.gz\")"
            case .cifarFiles: "cifar10 needs batch files: cifar10(\"data_batch_1.bin\", …)"
            }
        }
    }

    /// An optimizer argument out of range.
    public enum OptimizerProblem: Sendable, Hashable {
        case learningRate, momentum, form, unitInterval(argument: String), eps

        var text: String {
            switch self {
            case .learningRate: "the learning rate must be positive"
            case .momentum: "momentum must be in [0, 1)"
            case .form: "form must be ewma (v ← βv + (1−β)g) or pytorch (v ← βv + g)"
            case .unitInterval(let a): "\(a) must be in [0, 1)"
            case .eps: "eps must be positive"
            }
        }
    }

    /// An augmentation transform's argument that is missing or out of range.
    public enum TransformProblem: Sendable, Hashable {
        case unknownArgument(transform: String, argument: String, known: [String])
        case fill(got: String)
        case flipProbability(got: String), flipMode(got: String)
        case shiftMissing, shiftRange(got: String)
        case zoomMissing, zoomRange
        case rotateMissing, rotateRange
        case cropPad, noiseStd
        case factor(transform: String), contrastFactor(got: String)
        case fillConflict(first: String, firstFill: String, other: String, otherFill: String)

        var text: String {
            switch self {
            case .unknownArgument(let t, let a, let known): "\(t) has no argument '\(a)'; it takes " + known.joined(separator: ", ")
            case .fill(let got): "fill is zeros, nearest or reflect, got \(got)"
            case .flipProbability(let got): "flip's p is a probability in [0, 1], got \(got)"
            case .flipMode(let got): "flip takes horizontal, vertical or horizontal_and_vertical, got \(got)"
            case .shiftMissing: "shift needs the largest shift as a fraction of the size: shift(0.1)"
            case .shiftRange(let got): "shift takes fractions of the height and width in [0, 1) (0.1 = up to 10%), got \(got)"
            case .zoomMissing: "zoom needs a range of scale factors: zoom(0.9, 1.1), or zoom(0.1) for the same"
            case .zoomRange: "zoom's scale factors must satisfy 0 < low ≤ high (zoom(0.9, 1.1)); zoom(f) takes 0 ≤ f < 1"
            case .rotateMissing: "rotate needs the largest angle in degrees: rotate(15)"
            case .rotateRange: "rotate takes an angle in degrees (rotate(15): −15° … 15°) or a range low ≤ high within ±360"
            case .cropPad: "crop needs the padding in pixels, an integer ≥ 1: crop(pad: 4)"
            case .noiseStd: "noise needs a standard deviation ≥ 0: noise(0.05)"
            case .factor(let t): "\(t) needs a factor ≥ 0: \(t)(0.2)"
            case .contrastFactor(let got): "contrast's factor is in [0, 1], got \(got)"
            case .fillConflict(let a, let fa, let b, let fb):
                "\(a) fills with \(fa) but \(b) with \(fb); the geometric transforms are applied as one map with one fill"
            }
        }
    }

    // The block, checked with the model
    case unknownTrainedModel(name: String, suggestion: String?)
    case unknownSetting(name: String, suggestion: String?, known: [String])
    case duplicateSetting(name: String, first: SourceRange)
    case unreadableSetting
    /// A value the trainer rejects, in a train block: "train setting 'batch': …".
    case inSetting(key: String, TrainSettingDiagnostic)
    // Values
    case expected(Expectation, got: String)
    case expectedInputList
    case unknownDataSource(name: String, known: [String])
    case badDataSource(DataProblem)
    case unknownSchedule(name: String, known: [String])
    /// A schedule's arguments, with how to write it.
    case badSchedule(name: String, usage: String)
    case unknownOptimizer(name: String, known: [String])
    case unknownOptimizerArgument(optimizer: String, argument: String, known: [String])
    case badOptimizerArgument(OptimizerProblem)
    case unknownTransform(name: String, known: [String])
    case badTransform(TransformProblem)

    public static let phase = "train settings"

    public var kind: Kind {
        switch self {
        case .unknownTrainedModel: .unknownTrainedModel
        case .unknownSetting: .unknownSetting
        case .duplicateSetting: .duplicateSetting
        case .unreadableSetting: .unreadableSetting
        case .inSetting(_, let problem): problem.kind
        case .expected, .expectedInputList: .badSetting
        case .unknownDataSource: .unknownDataSource
        case .badDataSource: .badDataSource
        case .unknownSchedule: .unknownSchedule
        case .badSchedule: .badSchedule
        case .unknownOptimizer: .unknownOptimizer
        case .unknownOptimizerArgument, .badOptimizerArgument: .badOptimizerArgument
        case .unknownTransform: .unknownTransform
        case .badTransform: .badTransform
        }
    }

    public var message: String {
        switch self {
        case .unknownTrainedModel(let name, let suggestion):
            "train block refers to unknown model '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case .unknownSetting(let name, let suggestion, _):
            "unknown train setting '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case .duplicateSetting(let name, _): "train setting '\(name)' is given twice"
        case .unreadableSetting: "a train setting is a number, string, word, list or call such as sgd(lr: 0.1)"
        case .inSetting(let key, let problem): "train setting '\(key)': \(problem.message)"
        case .expected(let what, let got): "expected \(what.text), got \(got)"
        case .expectedInputList: "expected a list of input names, e.g. [image, label]"
        case .unknownDataSource(let name, let known): "unknown data source '\(name)'; known: " + known.joined(separator: ", ")
        case .badDataSource(let problem): problem.text
        case .unknownSchedule(let name, let known): "unknown schedule '\(name)'; known: " + known.joined(separator: ", ")
        case .badSchedule(let name, let usage): "\(name) needs \(usage)"
        case .unknownOptimizer(let name, let known): "unknown optimizer '\(name)'; known: " + known.joined(separator: ", ")
        case .unknownOptimizerArgument(let optimizer, let argument, let known):
            "\(optimizer) has no argument '\(argument)'; it takes " + known.joined(separator: ", ")
        case .badOptimizerArgument(let problem): problem.text
        case .unknownTransform(let name, let known): "unknown transform '\(name)'; known: " + known.joined(separator: ", ")
        case .badTransform(let problem): problem.text
        }
    }

    public var notes: [DiagnosticNote] {
        switch self {
        case .unknownSetting(_, _, let known): [DiagnosticNote("settings: " + known.joined(separator: ", "))]
        case .duplicateSetting(_, let first): [DiagnosticNote("first given here", at: first)]
        case .inSetting(_, let problem): problem.notes
        default: []
        }
    }

    public static var examples: [TrainSettingDiagnostic] {
        [
            .unknownTrainedModel(name: "‹name›", suggestion: "‹model›"),
            .unknownSetting(name: "‹name›", suggestion: "‹setting›", known: ["‹settings›"]),
            .duplicateSetting(name: "‹name›", first: .point(0)),
            .unreadableSetting,
            .inSetting(key: "batch", .expected(.batch, got: "‹value›")),
            .expected(.batch, got: "‹value›"),
            .expectedInputList,
            .unknownDataSource(name: "‹name›", known: ["‹sources›"]),
            .badDataSource(.csvPath),
            .unknownSchedule(name: "‹name›", known: ["‹schedules›"]),
            .badSchedule(name: "time_based", usage: "k ≥ 0: time_based(k: 0.01)"),
            .unknownOptimizer(name: "‹name›", known: ["‹optimizers›"]),
            .unknownOptimizerArgument(optimizer: "‹optimizer›", argument: "‹name›", known: ["‹arguments›"]),
            .badOptimizerArgument(.momentum),
            .unknownTransform(name: "‹name›", known: ["‹transforms›"]),
            .badTransform(.shiftRange(got: "shift(2, 2)")),
        ]
    }
}
