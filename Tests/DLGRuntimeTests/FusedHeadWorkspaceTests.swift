import DLGData
import DLGGraph
import DLGRuntime
import Testing

/// A convolution heading a fused region whose output overwrites one of its inputs writes its result
/// to scratch after its own workspace, then the region's loop writes the output. The convolution
/// splits the workspace it is given among its workers; given the whole program's workspace (sized
/// by a larger convolution elsewhere), the second worker's columns landed on the first image's
/// result in scratch, so that at two threads ResNet-50's strided projections gave other logits from
/// run to run (4% of the largest, issue 25). Here a ResNet stem and two bottleneck blocks at 64×64:
/// at two threads, run after run, exactly what one thread computes.
@Suite struct FusedHeadWorkspaceTests {
    static let source = """
        block bottleneck(x, width, stride) {
            a = relu(batchnorm(conv2d(x, filters: width, kernel: 1, bias: false)))
            b = relu(batchnorm(conv2d(a, filters: width, kernel: 3, stride: stride, pad: same, bias: false)))
            c = batchnorm(conv2d(b, filters: 4 * width, kernel: 1, bias: false))
            skip = if stride != 1 || channels(x) != 4 * width
                   then batchnorm(conv2d(x, filters: 4 * width, kernel: 1, stride: stride, bias: false))
                   else x
            return relu(c + skip)
        }
        model stem_and_blocks {
            input image: f32[2, 3, 64, 64]
            x = maxpool(relu(batchnorm(conv2d(image, filters: 64, kernel: 7, stride: 2, pad: 3, bias: false))),
                        kernel: 3, stride: 2, pad: 1)
            x = bottleneck(x, 64, 1)
            output y = bottleneck(x, 128, 2)
        }
        """

    @Test func twoThreadsComputeWhatOneDoes() throws {
        var p = try lowered(Self.source, stage: .planned)
        // As `dlg run` sets it: each image's convolution alone, so that one and two threads sum alike.
        p.batchInvariant = true
        // The case at issue is there: a convolution heading a region written over its input.
        #expect(p.instructions.contains { if case .fused(let f) = $0.kernel, case .convolution? = f.head { f.headToScratch } else { false } })
        var state: UInt32 = 1
        let image = (0..<(2 * 3 * 64 * 64)).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 2 - 1
        }
        let inputs = ["image": try NDArray(image, shape: [2, 3, 64, 64])]
        let one = try run(p, inputs, seed: 3, threads: 1)["y"]!.toDoubles()
        #expect(one.contains { $0 != 0 })
        for attempt in 0..<12 {
            let two = try run(p, inputs, seed: 3, threads: 2)["y"]!.toDoubles()
            let differing = zip(one, two).filter { $0 != $1 }.count
            #expect(differing == 0, "run \(attempt) at two threads: \(differing) of \(one.count) elements differ from one thread's")
        }
    }
}
