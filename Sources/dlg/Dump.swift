import ArgumentParser
import DLGCompiler
import DLGData
import Foundation
import DLGGraph
import DLGRuntime
import DLGSource
import DLGSyntax

extension Stage: ExpressibleByArgument {}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the IR of a model at a stage of the pipeline, as text, JSON or Graphviz.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, dot }

    @OptionGroup var options: ModelOptions
    @OptionGroup var form: FormOptions

    @Option(help: ArgumentHelp("Where in the pipeline to stop: after the parser, after elaboration, after the pass of that stage, or (kernels) the lowered kernel program.",
                               valueName: "STAGE"))
    var stage: Stage = .shapes

    @Option(help: ArgumentHelp("text: one line per value; json: schema dlg.ir/1; dot: a Graphviz digraph (not for --stage kernels).", valueName: "FORMAT"))
    var format: Format = .text

    @OptionGroup var passes: PassOptions

    func run() throws {
        if stage == .parsed {
            let file = try loadSource(options.file)
            let (unit, diags) = Parser.parse(file)
            report(diags, in: file)
            if diags.hasErrors { throw ExitCode.failure }
            print(ASTPrinter.print(unit), terminator: "")
            return
        }
        if stage == .kernels, format == .dot { throw ValidationError("--stage kernels prints text or json, not dot") }
        var (file, graph) = try compileOrExit(options, inference: form.inference, replicas: passes.replicas,
                                              syncBatchnorm: passes.syncBatchnorm)
        var context = PassContext(verify: passes.verify)
        var popts = try passes.pipelineOptions(stage: stage, blockOptimizer: blockOptimizer(file, model: options.model))
        popts.freeze = passes.freezePatterns(file, model: options.model)
        popts.bindings = try options.bindings()
        if stage == .kernels {
            // A program has concrete shapes: an unbound symbol of an input is bound to 1, as dlg compile does.
            for n in graph.inputs { for s in n.type.shape.symbols where popts.bindings[s] == nil { popts.bindings[s] = 1 } }
            graph.bindings = popts.bindings
        }
        let printAfter = try passes.printAfterSet()
        var index = 0
        if let dir = passes.dumpDir {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? AtomicFile.write(TextPrinter.print(graph, options: PrintOptions(stage: "elaborated", unrolled: passes.unrolled)), to: "\(dir)/00-elaborated.txt")
        }
        _ = Pipeline.run(&graph, upTo: stage, context: &context, options: popts) { pass, g in
            index += 1
            if printAfter.contains(pass) || printAfter.contains("all") {
                printError("// after \(pass)\n" + TextPrinter.print(g, options: PrintOptions(stage: pass, showCosts: true, unrolled: passes.unrolled)))
            }
            if let dir = passes.dumpDir {
                try? AtomicFile.write(TextPrinter.print(g, options: PrintOptions(stage: pass, showCosts: true, unrolled: passes.unrolled)),
                                      to: "\(dir)/" + String(format: "%02d-%@.txt", index, pass))
            }
        }
        report(context.diagnostics, in: file)
        if context.diagnostics.hasErrors { throw ExitCode.failure }
        if stage == .kernels {
            let program: Program
            do { program = try Lowering.lower(graph) } catch {
                printError("error: \(error.message)")
                throw ExitCode.failure
            }
            print(format == .json ? try ProgramPrinter.json(program) : ProgramPrinter.text(program, graph: graph, unrolled: passes.unrolled),
                  terminator: format == .json ? "\n" : "")
            return
        }
        switch format {
        case .text: print(TextPrinter.print(graph, options: PrintOptions(stage: stage.rawValue, showCosts: stage != .elaborated, unrolled: passes.unrolled)), terminator: "")
        case .json: print(JSONPrinter.json(graph, stage: stage.rawValue).serialized(pretty: true))
        case .dot: print(DotPrinter.dot(graph, stage: stage.rawValue), terminator: "")
        }
    }
}
