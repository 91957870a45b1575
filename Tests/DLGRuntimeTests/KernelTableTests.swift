import DLGCompiler
import DLGGraph
import DLGKernels
import DLGRuntime
import Testing

/// The kernel table binds every op: each op, in a small graph of its own,
/// lowers to a kernel and runs.
@Suite struct KernelTableTests {
    /// A graph holding one node of `op`, on operands of small shapes.
    static func sample(_ op: Op) throws -> Graph {
        var g = Graph(name: "sample_\(op.rawValue)", source: nil, training: true)
        func input(_ shape: [Int], _ dtype: DType = .f32) -> ValueID {
            g.addInput("x\(g.nodes.count)", TensorType(dtype, shape), loc: nil)
        }
        let conv = ConvAttributes(stride: [2, 2], pad: [1, 1, 1, 1])
        let pool = PoolAttributes(kind: .max, kernel: [2, 2])
        var out: ValueID
        if op.unaryInfo != nil {
            out = try g.add(op, [input([2, 3])])
        } else if op.isBinaryFunction {
            out = try g.add(op, [input([2, 3]), input([3])])
        } else {
            switch op {
            case .input: out = input([2, 3])
            case .param:
                out = g.addParam("p", TensorType(.f32, [2, 3]), initializer: .ones, trainable: true, fanIn: 2, fanOut: 3, loc: nil)
            case .constant: out = g.addConstant(TensorLiteral(shape: [2], values: [1, 2]), dtype: .f32, loc: nil)
            case .stop_gradient: out = try g.add(op, [input([2, 3])])
            case .unary_grad:
                out = try g.add(op, [input([2, 3]), input([2, 3]), input([2, 3])], .unaryGrad(UnaryFunction(.tanh)!))
            case .bias_add: out = try g.add(op, [input([2, 3]), input([3])], .axis(1))
            case .reduce_sum, .reduce_mean, .reduce_max, .reduce_min:
                out = try g.add(op, [input([2, 3, 4])], .reduce(ReduceAttributes(axes: [1])))
            case .reduce_max_grad, .reduce_min_grad:
                out = try g.add(op, [input([2, 3, 4]), input([2, 4])], .reduce(ReduceAttributes(axes: [1])))
            case .axis_size: out = try g.add(op, [input([2, 3])], .axes([0, 1]))
            case .reshape: out = try g.add(op, [input([2, 3])], .shape(Shape([3, 2])))
            case .transpose: out = try g.add(op, [input([2, 3, 4])], .perm([2, 0, 1]))
            case .broadcast_to: out = try g.add(op, [input([1, 3])], .shape(Shape([2, 3])))
            case .concat: out = try g.add(op, [input([2, 3]), input([2, 1])], .axis(1))
            case .slice: out = try g.add(op, [input([4, 3])], .slice(SliceAttributes(starts: [1, 0], ends: [3, .max], steps: [1, 1])))
            case .slice_grad:
                out = try g.add(op, [input([2, 3])], .slice(SliceAttributes(starts: [1, 0], ends: [3, .max], steps: [1, 1],
                                                                            inputShape: Shape([4, 3]))))
            case .pad: out = try g.add(op, [input([1, 1, 3, 3])], .pad(PadAttributes(pads: [0, 0, 0, 0, 1, 1, 2, 0], mode: .reflect)))
            case .pad_grad:
                out = try g.add(op, [input([1, 1, 5, 5])], .pad(PadAttributes(pads: [0, 0, 0, 0, 1, 1, 2, 0], mode: .reflect,
                                                                              inputShape: Shape([1, 1, 3, 3]))))
            case .one_hot: out = try g.add(op, [input([4], .i32)], .oneHot(OneHotAttributes(classes: 3, dtype: .f32)))
            case .cast: out = try g.add(op, [input([2, 3], .i32)], .dtype(.f32))
            case .gather: out = try g.add(op, [input([5, 3]), input([2, 2], .i32)])
            case .gather_grad: out = try g.add(op, [input([2, 2], .i32), input([2, 2, 3])], .shape(Shape([5, 3])))
            case .matmul: out = try g.add(op, [input([2, 3]), input([3, 4])])
            case .causal_softmax: out = try g.add(op, [input([2, 3, 4])])
            case .where: out = try g.add(op, [input([2, 3], .i32), input([2, 3]), input([2, 3])])
            case .reverse: out = try g.add(op, [input([2, 3, 4])], .axis(1))
            case .conv2d: out = try g.add(op, [input([2, 3, 7, 7]), input([4, 3, 3, 3])], .conv(conv))
            case .conv2d_grad_input:
                var a = conv
                a.operand = .input(Shape([2, 3, 7, 7]))
                out = try g.add(op, [input([2, 4, 4, 4]), input([4, 3, 3, 3])], .conv(a))
            case .conv2d_grad_weight:
                var a = conv
                a.operand = .weight(Shape([4, 3, 3, 3]))
                out = try g.add(op, [input([2, 3, 7, 7]), input([2, 4, 4, 4])], .conv(a))
            case .pool2d: out = try g.add(op, [input([2, 3, 6, 6])], .pool(pool))
            case .pool2d_grad: out = try g.add(op, [input([2, 3, 6, 6]), input([2, 3, 3, 3])], .pool(pool))
            case .softmax, .log_softmax: out = try g.add(op, [input([2, 5])], .axis(-1))
            case .softmax_grad, .log_softmax_grad: out = try g.add(op, [input([2, 5]), input([2, 5])], .axis(-1))
            case .softmax_ce: out = try g.add(op, [input([2, 5]), input([2, 5])])
            case .sparse_softmax_ce: out = try g.add(op, [input([2, 5]), input([2], .i32)])
            case .softmax_ce_grad: out = try g.add(op, [input([2, 5]), input([2, 5]), input([2])])
            case .sparse_softmax_ce_grad: out = try g.add(op, [input([2, 5]), input([2], .i32), input([2])])
            case .dropout_mask: out = try g.add(op, [input([2, 3])], .dropout(DropoutAttributes(rate: 0.5, stream: 0)))
            case .lstm_scan: out = try g.add(op, [input([2, 3, 8]), input([8, 2])])
            case .lstm_scan_grad:
                out = try g.add(op, [input([2, 3, 12]), input([8, 2]), input([2, 3, 12]), input([2, 2]), input([2, 2])],
                                .scan(ScanAttributes(reverse: true)))
            case .fused:
                let x = input([2, 3]), b = input([3])
                let add = FusedRegion.Step(op: .add, operands: [.input(0), .input(1)], attrs: .none,
                                           type: TensorType(.f32, [2, 3]), original: 0, label: nil)
                let relu = FusedRegion.Step(op: .relu, operands: [.step(0)], attrs: .none, type: TensorType(.f32, [2, 3]),
                                            original: 0, label: nil)
                out = try g.add(op, [x, b], .fused(FusedAttributes(kind: .elementwise, region: FusedRegion(steps: [add, relu]),
                                                                  dtype: .f32, shape: Shape([2, 3]))))
            case .allreduce: out = try g.add(op, [input([2, 3])])
            case .allreduce_start: out = try g.add(op, [input([2, 3]), input([3])], .bucket(0))
            case .allreduce_wait:
                let start = try g.add(.allreduce_start, [input([2, 3]), input([3])], .bucket(0))
                out = try g.add(op, [start], .bucket(0))
            default:
                Issue.record("no sample for \(op.rawValue)")
                out = input([1])
            }
        }
        g.outputs = [GraphOutput(name: "y", value: out, loc: nil)]
        return g
    }

    /// Declarations and tables keyed by op find an op by its case number (`Op.ordinal`, its
    /// position in `allCases`): each op finds its own declaration, and ops are equal and hash
    /// alike exactly when they are the same case.
    @Test func everyOpFindsItsOwnDeclaration() {
        for (i, op) in Op.allCases.enumerated() {
            #expect(op.ordinal == i, "\(op.rawValue)")
            #expect(op.decl.op == op, "\(op.rawValue)")
            #expect(Op(rawValue: op.rawValue) == op)
        }
        #expect(Set(Op.allCases).count == Op.allCases.count)
        #expect(Set(OpRegistry.declarations.map(\.op)).count == OpRegistry.declarations.count)
        #expect(OpRegistry.declarations.count == Op.allCases.count)
        #expect(Op.relu != Op.leaky_relu && Op.add == Op(rawValue: "add"))
    }

    @Test func everyOpHasAKernelRule() {
        for op in Op.allCases {
            #expect((KernelTable.rules[op] != nil) != op.decl.isSource, "\(op.rawValue): a source needs no kernel, every other op one")
        }
    }

    @Test(arguments: Op.allCases)
    func everyOpLowersAndRuns(_ op: Op) throws {
        let g = try Self.sample(op)
        let p = try Lowering.lower(g, threads: 2)
        // A wait's sample starts its bucket first.
        #expect(p.instructions.count == (op.decl.isSource ? 0 : op == .allreduce_wait ? 2 : 1))
        if let ins = p.instructions.last {
            #expect(ins.op == op)
            // The program survives its file form unchanged.
            let back = try JSONDecoder().decode(Program.self, from: JSONEncoder().encode(p))
            #expect(back == p)
            #expect(back.instructions.last?.kernel == ins.kernel)
        }
        let e = try Executor(p, threads: 2, collective: op.isCollective ? OneReplica() : nil)
        e.initializeState(seed: 1)
        var fed: [Double] = []
        for (i, slot) in p.inputs.enumerated() {
            // Labels in range, other inputs 0.1, 0.2, …
            let n = slot.buffer.count
            let v = (0..<n).map { slot.buffer.dtype == .i32 ? Double($0 % 2) : 0.1 * Double($0 + i + 1) }
            e.setValues(slot.buffer, v)
            fed += v
        }
        try e.run()
        if op.isCollective, let ins = p.instructions.last {
            // Over one replica the sum is the operands themselves, one after another in a bucket.
            #expect(e.values(ins.output).map { Float($0) } == fed.map { Float($0) })
        }
    }
}

/// A run of one replica: a sum over the replicas leaves every value as it is.
final class OneReplica: Collective, @unchecked Sendable {
    var rank: Int { 0 }
    var size: Int { 1 }
    var started: Set<UnsafeMutableRawPointer> = []
    func allreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError) {}
    func startAllreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError) {
        started.insert(buffer)
    }
    func finishAllreduce(_ buffer: UnsafeMutableRawPointer) throws(CollectiveError) {
        guard started.remove(buffer) != nil else { throw CollectiveError("a wait for a sum never started") }
    }
    func allgather(_ values: [UInt64]) throws(CollectiveError) -> [[UInt64]] { [values] }
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws(CollectiveError) {}
    var waitSeconds: Double { 0 }
}

import Foundation
