@testable import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax
import Foundation
import Testing

/// The example models in Graphs/: each compiles without a diagnostic, and
/// their parameter counts, shapes and names agree with figures worked out by
/// hand from the architectures.
@Suite struct GraphsTests {
    /// Renders diagnostics for a failure message.
    private func rendered(_ diags: Diagnostics, _ file: SourceFile) -> String {
        DiagnosticsFormatter().format(diags.sorted, in: file)
    }

    @Test func theGraphsFolderHoldsTheExampleModels() throws {
        let names = try RepositoryFiles.graphNames()
        for expected in ["lenet5.dlg", "xor.dlg", "resnet50.dlg", "perceptron_and.dlg", "perceptron_or.dlg", "sine.dlg",
                         "mnist_mlp.dlg", "mobilenet.dlg", "mlp_bn_dropout.dlg", "resnet_cifar.dlg", "shapes_cnn.dlg",
                         "mnist_binary_bce.dlg", "mnist_binary_ce.dlg", "sine_lstm.dlg", "char_lstm.dlg", "adder_lstm.dlg",
                         "first_symbol_bigru.dlg"] {
            #expect(names.contains(expected), "Graphs/\(expected) is missing")
        }
    }

    /// No errors and no warnings, in the training form (what `dlg check`
    /// compiles) and in the inference form (dropout off, batchnorm on running
    /// statistics), and a train block for the model — except ResNet-50, an
    /// ImageNet model for which there is no data source.
    @Test(arguments: try RepositoryFiles.graphNames())
    func compilesWithoutDiagnostics(_ name: String) throws {
        let file = try RepositoryFiles.graphSource(name)
        for training in [true, false] {
            let diags = Frontend.check(file, options: ElaborationOptions(training: training))
            #expect(diags.isEmpty, "Graphs/\(name) (\(training ? "training" : "inference")):\n\(rendered(diags, file))")
        }
        let (unit, _) = Parser.parse(file)
        #expect(unit.trains.isEmpty == (name == "resnet50.dlg"), "Graphs/\(name): \(unit.trains.count) train blocks")
        for t in unit.trains {
            #expect(unit.models.contains { $0.name.name == t.model.name })
        }
    }

    /// Shape inference and autodiff run on every model with the IR verifier
    /// after each pass, with the batch bound and unbound.
    @Test(arguments: try RepositoryFiles.graphNames())
    func passesVerifyThroughAutodiff(_ name: String) throws {
        for bindings in [[:], ["B": 4]] {
            var g = try compileGraph(name, bindings: bindings)
            var ctx = PassContext(verify: true)
            _ = Pipeline.run(&g, upTo: .grad, context: &ctx)
            #expect(ctx.diagnostics.isEmpty, "Graphs/\(name) \(bindings): \(ctx.diagnostics.all.map(\.message))")
            #expect(!g.gradients.isEmpty, "Graphs/\(name): no gradients")
            // Every trainable parameter gets a gradient.
            for p in g.trainableParams {
                #expect(g.gradients[p.id] != nil, "Graphs/\(name): no gradient for \(p.name ?? "?")")
            }
        }
    }

    // MARK: Parameter counts, by hand

    private func counts(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (Int, Int) {
        let s = ModelSummary(try compileGraph(name, sourceLocation: sourceLocation))
        return (s.trainable, s.nonTrainable)
    }

    @Test func gptParameters() throws {
        // Per decoder block of width D with an MLP of 4D: two layer norms 2·2D; attention
        // in_proj 3D·D + 3D, out_proj D·D + D; MLP D·4D + 4D and 4D·D + D.
        func block(_ d: Int) -> Int { 4 * d + (3 * d * d + 3 * d + d * d + d) + (d * 4 * d + 4 * d + 4 * d * d + d) }
        // adder_gpt: embedding 12·64, positions 8·64, 2 blocks, final layer norm 2·64, head 64·12 + 12.
        let (t, nt) = try counts("adder_gpt.dlg")
        #expect(t == 12 * 64 + 8 * 64 + 2 * block(64) + 2 * 64 + 64 * 12 + 12)
        #expect(t == 102_156)
        #expect(nt == 0)
        // char_gpt: V = 76, D = 128, T = 128, 4 blocks.
        let (c, _) = try counts("char_gpt.dlg")
        #expect(c == 76 * 128 + 128 * 128 + 4 * block(128) + 2 * 128 + 128 * 76 + 76)
        #expect(c == 829_260)
    }

    @Test func lenet5Parameters() throws {
        // conv 1→6, 5×5: 6·1·25 + 6 = 156; conv 6→16, 5×5: 16·6·25 + 16 = 2,416;
        // dense 400→120: 48,120; 120→84: 10,164; 84→10: 850. Sum 61,706.
        let (t, nt) = try counts("lenet5.dlg")
        #expect(t == 61_706)
        #expect(nt == 0)
    }

    @Test func resnet50Parameters() throws {
        // 25,557,032 trainable: the figure torchvision's resnet50 reports.
        // Non-trainable: running mean and variance, 2 per batchnorm channel.
        // Batchnorm channels: stem 64; stage 1 (width 64, 3 blocks): 3·(64+64+256) + 256 (shortcut) = 1,408;
        // stage 2 (128, 4): 4·(128+128+512) + 512 = 3,584; stage 3 (256, 6): 6·(256+256+1024) + 1024 = 10,240;
        // stage 4 (512, 3): 3·(512+512+2048) + 2048 = 11,264. Total 26,560 → 53,120.
        let (t, nt) = try counts("resnet50.dlg")
        #expect(t == 25_557_032)
        #expect(nt == 2 * 26_560)
    }

    @Test func mnistMLPParameters() throws {
        // 784·512 + 512 + 512·256 + 256 + 256·10 + 10 = 401,920 + 131,328 + 2,570 = 535,818.
        let (t, nt) = try counts("mnist_mlp.dlg")
        #expect(t == 535_818)
        #expect(nt == 0)
    }

    @Test func resnetCIFARParameters() throws {
        // ResNet-20, convolutions without bias, batchnorm γ and β trainable:
        //   stem: 3·16·9 = 432 + bn 2·16 = 464
        //   stage 1, 16 ch: 3 blocks × (2·16·16·9 + 2·2·16) = 3 × 4,672 = 14,016
        //   stage 2, 32 ch: first block 16·32·9 + 32·32·9 + 16·32 (1×1 shortcut) + 3·2·32 = 14,528;
        //                   two more × (2·32·32·9 + 2·2·32) = 2 × 18,560 → 51,648
        //   stage 3, 64 ch: first block 32·64·9 + 64·64·9 + 32·64 + 3·2·64 = 57,728;
        //                   two more × (2·64·64·9 + 2·2·64) = 2 × 73,984 → 205,696
        //   dense 64→10: 650
        // 464 + 14,016 + 51,648 + 205,696 + 650 = 272,474.
        // Batchnorm channels: 16 + 6·16 + (6·32 + 32) + (6·64 + 64) = 784 → 1,568 non-trainable.
        let (t, nt) = try counts("resnet_cifar.dlg")
        #expect(t == 272_474)
        #expect(nt == 1_568)
    }

    @Test func mobilenetParameters() throws {
        // Stem 3·32·9 = 864. Blocks C→F (C then F): 32→64, 64→128, 128→128, 128→256, 256→256,
        // 256→512, 5 × 512→512, 512→1024, 1024→1024.
        //   depthwise 9·ΣC = 9·4,960 = 44,640
        //   pointwise ΣC·F = 2,048 + 8,192 + 16,384 + 32,768 + 65,536 + 131,072 + 5·262,144
        //                    + 524,288 + 1,048,576 = 3,139,584
        //   batchnorm channels: 32 + ΣC (4,960) + ΣF (5,952) = 10,944 → γβ 21,888 trainable,
        //                       running statistics 21,888 non-trainable
        //   dense 1024→10: 10,250
        // 864 + 44,640 + 3,139,584 + 21,888 + 10,250 = 3,217,226.
        let (t, nt) = try counts("mobilenet.dlg")
        #expect(t == 3_217_226)
        #expect(nt == 21_888)
    }

    @Test func smallModelsParameters() throws {
        // perceptrons: W 2 + b 1.
        #expect(try counts("perceptron_and.dlg") == (3, 0))
        #expect(try counts("perceptron_or.dlg") == (3, 0))
        // 1-10-1: 1·10 + 10 + 10·1 + 1 = 31.
        #expect(try counts("sine.dlg") == (31, 0))
        // 2-2-1 XOR: 4 + 2 + 2 + 1 = 9.
        #expect(try counts("xor.dlg") == (9, 0))
        // shapes CNN: 8·1·9 + 8 = 80; 16·8·9 + 16 = 1,168; 16·7·7·4 + 4 = 3,140 → 4,388.
        #expect(try counts("shapes_cnn.dlg") == (4_388, 0))
        // batchnorm MLP: 784·256 + 2·256 + 256·128 + 2·128 + 128·10 + 10 = 235,530;
        // running statistics 2·(256 + 128) = 768.
        #expect(try counts("mlp_bn_dropout.dlg") == (235_530, 768))
        // 784 + 1 and 784·2 + 2.
        #expect(try counts("mnist_binary_bce.dlg") == (785, 0))
        #expect(try counts("mnist_binary_ce.dlg") == (1_570, 0))
    }

    // MARK: Shapes, costs and names

    @Test func lenet5FlopsPerSample() throws {
        // Per sample (B = 1), each op's FLOP rule:
        //   conv1 2·6·28·28·25 = 235,200; bias_add, relu 4,704 each; maxpool 6·14·14·4 = 4,704
        //   conv2 2·16·10·10·150 = 480,000; bias_add, relu 1,600 each; maxpool 16·5·5·4 = 1,600
        //   dense 2·400·120 = 96,000 + bias 120 + relu 120; 2·120·84 = 20,160 + 84 + 84; 2·84·10 = 1,680 + 10
        //   sparse softmax CE 5·10 = 50; mean 1.
        // Total 852,421.
        let s = ModelSummary(try compileGraph("lenet5.dlg"))
        #expect(s.flopsPerSample == 852_421)
    }

    /// The output type of a summary row.
    private func rowType(_ s: ModelSummary, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let row = s.rows.first { $0.name == name }
        if row == nil { Issue.record("no row \(name) in \(s.model)", sourceLocation: sourceLocation) }
        return row?.outputType
    }

    @Test func featureMapSizes() throws {
        // ResNet-20: 32×32 → 16×16 at block 3 and 8×8 at block 6 (stride 2, pad same: ⌈32/2⌉, ⌈16/2⌉).
        let r = ModelSummary(try compileGraph("resnet_cifar.dlg"))
        #expect(rowType(r, "basic.2") == "f32[B,16,32,32]")
        #expect(rowType(r, "basic.3") == "f32[B,32,16,16]")
        #expect(rowType(r, "basic.8") == "f32[B,64,8,8]")
        #expect(rowType(r, "logits") == "f32[B,10]")
        // MobileNet: four stride-2 blocks, 32 → 16 → 8 → 4 → 2.
        let m = ModelSummary(try compileGraph("mobilenet.dlg"))
        #expect(rowType(m, "depthwise_separable.0") == "f32[B,64,32,32]")
        #expect(rowType(m, "depthwise_separable.1") == "f32[B,128,16,16]")
        #expect(rowType(m, "depthwise_separable.12") == "f32[B,1024,2,2]")
        // Shapes CNN: same-padded 3×3 convolutions keep 28×28; two 2×2 pools give 7×7.
        let c = ModelSummary(try compileGraph("shapes_cnn.dlg"))
        #expect(rowType(c, "p2") == "f32[B,16,7,7]")
    }

    @Test func parameterNamesFollowBlocksAndBindings() throws {
        let g = try compileGraph("resnet_cifar.dlg")
        var types: [String: String] = [:]
        for p in g.params { types[p.name ?? "?"] = p.type.description }
        // The stem: binding x, one weight layer → x; the batchnorm after it → x.batchnorm.
        #expect(types["x.weight"] == "f32[16,3,3,3]")
        #expect(types["x.batchnorm.gamma"] == "f32[16]")
        #expect(types["x.batchnorm.running_var"] == "f32[16]")
        // Block calls are numbered per block name across the model: basic.0 … basic.8.
        #expect(types["basic.3.skip.weight"] == "f32[32,16,1,1]")
        #expect(types["basic.3.skip.batchnorm.beta"] == "f32[32]")
        #expect(types["basic.8.b.weight"] == "f32[64,64,3,3]")
        #expect(types["basic.9.a.weight"] == nil)
        // Only the first block of stages 2 and 3 has a projection shortcut.
        #expect(types["basic.4.skip.weight"] == nil)
        #expect(types["logits.weight"] == "f32[64,10]")
        let m = try compileGraph("mobilenet.dlg")
        let mnames = Set(m.params.compactMap(\.name))
        #expect(mnames.contains("depthwise_separable.12.d.weight"))
        #expect(m.params.first { $0.name == "depthwise_separable.12.d.weight" }?.type.description == "f32[1024,1,3,3]")
        // A return statement binds no name: its layers are named by kind.
        #expect(mnames.contains("depthwise_separable.12.conv2d.weight") && mnames.contains("depthwise_separable.12.batchnorm.gamma"))
    }
}
