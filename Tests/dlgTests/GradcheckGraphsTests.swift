import Foundation
import Testing

/// `dlg gradcheck` on every model in Graphs/, with a small batch. The large CNNs check fewer
/// coordinates per tensor, and only against the release binary (make test, CI): in a debug
/// build their double-precision forward passes take minutes.
@Suite struct GradcheckGraphsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var arguments: [String] = []
        var large = false
        /// Tensors (by name) whose gradient is zero in exact arithmetic, so that only
        /// rounding is left to compare.
        var zeroGradients: [String] = []
        /// The share of the other tensors that may pass at rounding noise: with one coordinate per
        /// tensor, a coordinate whose gradient is small (1e-3) is resolved only to J's rounding.
        var atNoiseShare = 0.0
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: "xor.dlg"), Case(file: "sine.dlg"),
        Case(file: "perceptron_and.dlg"), Case(file: "perceptron_or.dlg"),
        Case(file: "mnist_binary_bce.dlg"), Case(file: "mnist_binary_ce.dlg"), Case(file: "mnist_mlp.dlg"),
        // With B = 2, batchnorm right after a dense layer gives ±1 whatever the weights, so the
        // weights' gradient is zero up to rounding; B = 8 makes it a real check.
        Case(file: "mlp_bn_dropout.dlg", arguments: ["--bind", "B=8"]),
        Case(file: "lenet5.dlg"), Case(file: "shapes_cnn.dlg"), Case(file: "mnist_transfer.dlg"),
        // The sequence models with fewer steps and units (model parameters), T ≥ 4 as the
        // recurrent layers' own checks: backpropagation through time over every step.
        Case(file: "sine_lstm.dlg", arguments: ["--bind", "W=5", "--bind", "H=6"]),
        Case(file: "char_lstm.dlg", arguments: ["--bind", "T=4", "--bind", "V=9", "--bind", "E=5", "--bind", "H=6"]),
        Case(file: "adder_lstm.dlg", arguments: ["--bind", "T=5", "--bind", "H=6"]),
        Case(file: "first_symbol_bigru.dlg", arguments: ["--bind", "T=5", "--bind", "H=6"]),
        Case(file: "resnet_cifar.dlg", arguments: ["--samples", "2", "--threads", "2"], large: true),
        // A depthwise convolution keeps each channel apart and the batchnorm after it divides out
        // the channel's scale, so while β = 0 (its initial value) the γ of the batchnorm before
        // it scales relu(γ·x̂) away: dJ/dγ = 0 up to batchnorm's ε. Those γ are the block outputs'
        // (and the stem's); the last block's γ feeds the classifier and is checked like the rest.
        // With OpenBLAS's AVX2 kernels (OPENBLAS_CORETYPE=Haswell) one of its tensors passes at rounding noise.
        Case(file: "mobilenet.dlg", arguments: ["--samples", "2", "--threads", "2"], large: true,
             zeroGradients: ["x.batchnorm.gamma"] + (0...11).map { "depthwise_separable.\($0).batchnorm.gamma" },
             atNoiseShare: 0.1),
        // The key part of an attention's in_proj_bias (rows D..<2D) has zero gradient in exact
        // arithmetic: it adds q·b_k to every score of a row, which the softmax cancels. A tensor
        // whose checked coordinates all fall there passes at rounding noise.
        Case(file: "adder_gpt.dlg", arguments: ["--samples", "2"], atNoiseShare: 0.1),
        // Shrunk by its model parameters (the full size is compiled by GraphsTests).
        Case(file: "char_gpt.dlg", arguments: ["--bind", "T=6", "--bind", "D=16", "--bind", "layers=2", "--samples", "2"],
             atNoiseShare: 0.1),
        Case(file: "resnet50.dlg", arguments: ["--bind", "size=64", "--samples", "1", "--threads", "2"], large: true,
             atNoiseShare: 0.1),
    ]

    @Test func everyGraphHasACase() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: CLI.graphs).filter { $0.hasSuffix(".dlg") }
        #expect(Set(files) == Set(Self.cases.map(\.file)))
    }

    @Test(arguments: cases) func gradientsAgree(_ c: Case) throws {
        if c.large && CLI.releaseBinary == nil {
            print("skipping gradcheck of \(c.file): set DLG_BIN to a release dlg (make test does)")
            return
        }
        let r = try CLI.run(["gradcheck", CLI.graph(c.file), "--json"] + c.arguments)
        expectSuccess(r)
        let j = try jsonObject(r)
        #expect(j["passed"] as? Bool == true, "\(r.stdout)")
        let tensors = try #require(j["tensors"] as? [[String: Any]])
        #expect(!tensors.isEmpty)
        var atNoise = 0, others = 0
        for t in tensors {
            let status = t["status"] as? String
            #expect(status == "passed" || status == "not_checkable", "\(t)")
            guard status == "passed" else { continue }
            #expect((t["checked"] as? Int ?? 0) > 0, "\(t)")
            if let name = t["name"] as? String, c.zeroGradients.contains(name) { continue }
            others += 1
            if t["at_rounding_noise"] as? Bool == true { atNoise += 1 }
            else { #expect((t["relative_error"] as? Double ?? 1) <= 1e-7, "\(t)") }
        }
        #expect(Double(atNoise) <= c.atNoiseShare * Double(others),
                "\(atNoise) of \(others) tensors pass only at rounding noise")
    }
}
