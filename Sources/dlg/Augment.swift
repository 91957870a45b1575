import ArgumentParser
import DLGData
import DLGTrain
import Foundation

struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a grid of training images next to their augmented versions (PNG or SVG).",
        discussion: """
            Each row is one example of the training part of the data: the original, then the versions \
            the train block's augment setting (or --augment) makes of it in the first epochs.
            """)

    @OptionGroup var options: ModelOptions
    @Option(help: ArgumentHelp("A data source, as in a train block, with paths relative to the working directory (default: the train block's).",
                               valueName: "SETTING"))
    var data: String?
    @Option(help: ArgumentHelp("The transforms, e.g. '[flip(horizontal), rotate(15)]' (default: the train block's augment).", valueName: "SETTING"))
    var augment: String?
    @Option(name: [.short, .long], help: ArgumentHelp(
        "The picture to write, atomically: a .png file, or a .svg file (the PNG embedded, with a caption naming the transforms).", valueName: "PATH"))
    var output: String
    @Option(help: ArgumentHelp("Examples shown, one per row (the first ones of the training part), N in 1…256.", valueName: "N")) var examples: Int = 8
    @Option(help: ArgumentHelp("Augmented versions per example (epochs 1, 2, …), N in 1…64.", valueName: "N")) var columns: Int = 8
    @Option(help: ArgumentHelp("Screen pixels per image pixel, N in 1…16.", valueName: "N")) var scale: Int = 3
    @Option(help: ArgumentHelp("Seed of the draws (default: the train block's, else 0).", valueName: "N")) var seed: UInt64?

    func validate() throws {
        guard output.hasSuffix(".png") || output.hasSuffix(".svg") else {
            throw ValidationError("--output must name a .png or .svg file, got '\(output)'")
        }
        if !(1...256).contains(examples) { throw ValidationError("--examples must be in 1…256") }
        if !(1...64).contains(columns) { throw ValidationError("--columns must be in 1…64") }
        if !(1...16).contains(scale) { throw ValidationError("--scale must be in 1…16") }
    }

    func run() throws {
        let file = try loadSource(options.file)
        var flags = try TrainingOptions.parse([])
        flags.data = data
        flags.augment = augment
        let (config, base) = try trainConfiguration(file, model: options.model, flags: flags, seed: seed)
        guard !config.augment.isEmpty else {
            printError("error: no augmentation to draw: give the train block an 'augment = […]' setting or pass --augment")
            throw ExitCode.failure
        }
        let splits = try loadData(config, base: base)
        let session = try makeSession(file, model: options.model, config: config, threads: 1, bindings: try options.bindings())
        do {
            let trainer = try Trainer(session: session)
            try trainer.validate(splits.train, role: "training", labels: false)
            // augmentation(for:) names the input when a transform moves pixels; noise and the like need images only to be drawn.
            guard let a = try trainer.augmentation(for: splits.train), trainer.imageGeometry() != nil else {
                let input = session.inputs.first { $0.name == trainer.featureInput }.map { "'\($0.name)' is \($0.type)" } ?? "is not an image"
                printError("error: dlg augment draws images, but the features input \(input); images come as [B, C, H, W] or [B, H, W]")
                throw ExitCode.failure
            }
            let shown = Array(0..<min(examples, splits.train.count))
            let grid = AugmentGrid.render(a, examples: shown, columns: columns, scale: scale)
            let what = config.augment.map(\.description).joined(separator: ", ")
            if output.hasSuffix(".svg") {
                try AtomicFile.write(try grid.svg(title: session.name, transforms: "[" + what + "]"), to: output)
            } else {
                try AtomicFile.write(try grid.png(), to: output)
            }
            printError("\(shown.count) examples × \(columns) augmented versions (\(what)) → \(output)")
        } catch let e as TrainError {
            printError("error: \(e.message)")
            throw ExitCode.failure
        } catch let e as DataError {
            printError("error: \(e.description)")
            throw ExitCode.failure
        }
    }
}
