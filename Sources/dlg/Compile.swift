import ArgumentParser
import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import DLGSyntax
import DLGTrain
import Foundation

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline and report what each pass did; -o writes the compiled program.",
        discussion: """
            The report lists every pass with its time, the values before and after, the fused groups and \
            the memory plan (arena, no-reuse total, max-live lower bound, efficiency, fragmentation). \
            Without --training-step the program is the forward pass in inference form (no loss); with it, \
            the whole training step (forward, backward, optimizer). \
            A file written with -o (JSON, format dlg-compiled/2) can be given to dlg run and dlg train \
            in place of the .dlg.
            """)

    @OptionGroup var options: ModelOptions
    @OptionGroup var passes: PassOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the compiled program to this file (JSON, format dlg-compiled/2; usually .dlgc).",
                                                     valueName: "PATH"))
    var output: String?
    @Flag(help: "Print the report as JSON.") var json = false
    @OptionGroup var memory: MemoryOptions

    func validate() throws {
        if passes.replicas > 1 {
            throw ValidationError("--replicas: a compiled training step runs in one process; inspect the data-parallel step with dlg dump --training-step --replicas N")
        }
    }

    func run() throws {
        memory.apply()
        let file = try loadSource(options.file)
        let start = DispatchTime.now().uptimeNanoseconds
        var popts = try passes.pipelineOptions(stage: .planned, blockOptimizer: blockOptimizer(file, model: options.model))
        popts.freeze = passes.freezePatterns(file, model: options.model)
        popts.bindings = try options.bindings()
        // Without --training-step: the forward pass a deployment runs (inference form, no loss).
        popts.training = passes.trainingStep
        popts.keepLoss = passes.trainingStep
        // Symbols must be bound to lower; an unbound batch defaults to 1.
        let elaborated = Frontend.compile(file, model: options.model, options: ElaborationOptions(training: true))
        if let g = elaborated.graph {
            for n in g.inputs { for s in n.type.shape.symbols where popts.bindings[s] == nil { popts.bindings[s] = 1 } }
        }
        var reports: [PassReport] = []
        var final: Graph?
        var diagnostics = Diagnostics()
        let dumpDir = passes.dumpDir
        if let dumpDir { try? FileManager.default.createDirectory(atPath: dumpDir, withIntermediateDirectories: true) }
        var index = 0
        let r = Frontend.compile(file, model: options.model, options: ElaborationOptions(training: popts.training, bindings: popts.bindings))
        diagnostics.append(contentsOf: r.diagnostics.all)
        let elaboratedValues = r.graph?.nodes.count ?? 0
        if var g = r.graph, !r.hasErrors {
            g.bindings = popts.bindings
            if !popts.keepLoss { g.loss = nil }
            var ctx = PassContext(verify: popts.verify)
            let printAfter = try passes.printAfterSet()
            if let dumpDir {
                try AtomicFile.write(TextPrinter.print(g, options: PrintOptions(stage: "elaborated", unrolled: passes.unrolled)), to: "\(dumpDir)/00-elaborated.txt")
            }
            reports = Pipeline.run(&g, upTo: .planned, context: &ctx, options: popts) { pass, graph in
                index += 1
                if printAfter.contains(pass) || printAfter.contains("all") {
                    printError("// after \(pass)\n" + TextPrinter.print(graph, options: PrintOptions(stage: pass, showCosts: true, unrolled: passes.unrolled)))
                }
                if let dumpDir {
                    let name = String(format: "%02d-%@.txt", index, pass)
                    try? AtomicFile.write(TextPrinter.print(graph, options: PrintOptions(stage: pass, showCosts: true, unrolled: passes.unrolled)),
                                          to: "\(dumpDir)/\(name)")
                }
            }
            diagnostics.append(contentsOf: ctx.diagnostics.all)
            if !ctx.diagnostics.hasErrors { final = g }
        }
        report(diagnostics, in: file)
        guard let graph = final else { throw ExitCode.failure }
        let program: Program
        do { program = try Lowering.lower(graph) } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let plan = graph.plan
        if let limit = memory.maxMemory?.bytes {
            let needed = program.arenaBytes + program.stateBytes
            if needed > limit {
                printError("error: the program needs \(byteString(needed)) (\(needed) bytes): an arena of \(byteString(program.arenaBytes)) and \(byteString(program.stateBytes)) of parameters and state, above --max-memory \(byteString(limit)); no-reuse total \(byteString(plan?.noReuseBytes ?? 0)), max-live lower bound \(byteString(plan?.maxLiveBytes ?? 0)). Nothing was allocated.")
                throw ExitCode.failure
            }
        }
        let fused = graph.nodes.filter { $0.op == .fused }
        let ops = graph.nodes.filter { !$0.decl.isSource }.count
        if let output {
            // The file carries the source and the options; dlg run and dlg train compile them again
            // and require the same programs (CompiledModel.load).
            // The file's own text: the files it uses are read again when the recipe is compiled.
            let recipe = CompiledModel.Recipe(text: file.mainText, model: options.model, bindings: popts.bindings,
                                              trainingStep: passes.trainingStep, optimizer: popts.optimizer,
                                              disabledPasses: Array(popts.disabled))
            do {
                let model = try CompiledModel.build(source: file.path, recipe: recipe)
                try AtomicFile.write(Array(try model.encoded()), to: output)
            } catch {
                printError("error: writing \(output): \(error)")
                throw ExitCode.failure
            }
        }
        if json {
            var fields: [(String, JSON)] = [
                ("model", .string(graph.name)), ("training_step", .bool(passes.trainingStep)),
                ("bindings", .object(popts.bindings.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
                ("seconds", .double(seconds)), ("elaborated_values", .int(elaboratedValues)),
                ("passes", .array(reports.map { p in
                    .object([("name", .string(p.name)), ("changed", .bool(p.changed)), ("values", .int(p.nodes)),
                             ("ms", .double(Double(p.duration.components.attoseconds) * 1e-15 + Double(p.duration.components.seconds) * 1e3))])
                })),
                ("ops", .int(ops)), ("fused_groups", .int(fused.count)),
                ("fused_ops", .int(fused.reduce(0) { $0 + ($1.attrs.region?.steps.count ?? 0) })),
                ("instructions", .int(program.instructions.count)),
            ]
            if let p = plan {
                fields.append(("memory", .object([("arena_bytes", .int(p.arenaBytes)), ("no_reuse_bytes", .int(p.noReuseBytes)),
                                                  ("max_live_bytes", .int(p.maxLiveBytes)), ("efficiency", .double(p.efficiency)),
                                                  ("fragmentation_bytes", .int(p.fragmentationBytes)),
                                                  ("state_bytes", .int(program.stateBytes))])))
            }
            if let output { fields.append(("output", .string(output))) }
            print(JSON.object(fields).serialized(pretty: true))
            return
        }
        print("compiled \(graph.name)" + (passes.trainingStep ? " (training step)" : "") + ", "
              + popts.bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
              + String(format: ", in %.1f ms", seconds * 1e3))
        print("  elaborated: \(elaboratedValues) values")
        // The name column is as wide as the longest pass name (at least 20, as "pass" and the times line up).
        let width = max(20, (reports.map(\.name.count).max() ?? 0) + 2)
        print("  " + "pass".padding(toLength: width + 1, withPad: " ", startingAt: 0) + "time        values  changed")
        for p in reports {
            let ms = Double(p.duration.components.attoseconds) * 1e-15 + Double(p.duration.components.seconds) * 1e3
            print("  " + p.name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: "%8.2f ms", ms) + String(format: "%10d", p.nodes) + "  " + (p.changed ? "yes" : "no"))
        }
        print("  ops: \(ops) in \(program.instructions.count) kernels; \(fused.count) fused groups holding \(fused.reduce(0) { $0 + ($1.attrs.region?.steps.count ?? 0) }) ops")
        if let p = plan {
            print("  memory: arena \(byteString(p.arenaBytes)), no-reuse total \(byteString(p.noReuseBytes)) (arena = \(String(format: "%.1f%%", 100 * Double(p.arenaBytes) / Double(max(p.noReuseBytes, 1))))), max-live lower bound \(byteString(p.maxLiveBytes)), efficiency \(String(format: "%.3f", p.efficiency)), fragmentation \(byteString(p.fragmentationBytes)); parameters and state \(byteString(program.stateBytes))")
        }
        if let output { print("  written to \(output)") }
    }
}

