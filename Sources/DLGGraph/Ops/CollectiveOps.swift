/// Ops that combine values across the replicas of a data-parallel run
/// (Docs/distributed.md). A graph holds them only when it was compiled for
/// several replicas; each runs as a call into the runtime's `Collective`.
let collectiveOps: [OpDecl] = [
    OpDecl(.allreduce, arity: .exactly(1), fusion: .opaque,
           doc: """
           The sum of x over every replica of a data-parallel run, the same on each. It is its own \
           gradient: the loss of the run is the sum of the replicas' losses, and each replica's result \
           feeds every one of them. Synchronized batch normalization sums its statistics with it.
           """,
           properties: collective(.normal),
           flops: { $0.outputCount },
           vjp: Gradients.allreduce,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               return ctx.inputs[0]
           }),
    OpDecl(.allreduce_start, arity: .atLeast(1), fusion: .opaque, attributes: .bucket,
           [AttributeSpec("bucket", "int", "which bucket of gradients (numbered from 0 in the order they are started)")],
           doc: """
           Copies its operands, flattened, one after another into a vector (a bucket of gradients) and \
           starts summing that vector over the replicas; the sum is read through `allreduce_wait`. \
           Scheduled as soon as its operands are ready, so that the transfer overlaps the rest of the \
           backward pass.
           """,
           properties: collective(.early),
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let d = try ctx.requireSameDType()
               var total = 0
               for i in ctx.inputs.indices {
                   try ctx.requireFloat(i)
                   guard let n = ctx.inputs[i].shape.elementCount else {
                       throw ctx.fail(.symbolicSize(what: "the size of operand \(i + 1) (\(ctx.inputs[i]))",
                                                    symbol: "\(ctx.inputs[i].shape)"))
                   }
                   total += n
               }
               return TensorType(d, Shape([total]))
           }),
    OpDecl(.allreduce_wait, arity: .exactly(1), fusion: .opaque, attributes: .bucket,
           [AttributeSpec("bucket", "int", "the bucket of the `allreduce_start` it waits for")],
           doc: """
           Waits for the sum that `allreduce_start` began on its operand and returns it. Scheduled as \
           late as possible: only when nothing else is ready to run.
           """,
           properties: collective(.late),
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               try ctx.requireFloat(0)
               _ = try ctx.dims(0, rank: 1)
               return ctx.inputs[0]
           }),
]

extension Gradients {
    /// y = Σ over replicas of x: x̄ = Σ over replicas of ȳ.
    static let allreduce: VJPRule = { e, _, dy throws(ShapeError) in
        [try e.emit(.allreduce, [dy])]
    }
}

/// A collective's properties: it needs the runtime's `Collective`, and runs where `placement` says.
private func collective(_ placement: SchedulePlacement) -> OpProperties {
    var p = OpProperties()
    p.collective = true
    p.schedule = placement
    return p
}

extension Op {
    /// Whether the op combines values across replicas (and so needs the runtime's `Collective`).
    public var isCollective: Bool { decl.properties.collective }
}
