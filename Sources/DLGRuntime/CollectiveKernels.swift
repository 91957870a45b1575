import DLGGraph
import DLGKernels

/// The kernels of the ops that combine values across replicas: calls into the
/// executor's `Collective`.
extension Executor {
    func compileCollective<T: KernelScalar>(_ ins: Instruction, _: T.Type, output out: UnsafeMutablePointer<T>) throws(ExecutionError) -> Call {
        guard let collective else {
            throw ExecutionError("the program sums values over the replicas of a data-parallel run, but runs without them")
        }
        let dtype = ins.output.dtype
        let n = ins.output.count
        switch ins.op {
        case .allreduce:
            let x = pointer(ins.inputs[0], T.self)
            return { () throws(ExecutionError) in
                if x != out { out.update(from: x, count: n) }
                do throws(CollectiveError) { try collective.allreduceSum(UnsafeMutableRawPointer(out), count: n, dtype: dtype) } catch {
                    throw ExecutionError(error.message)
                }
            }
        case .allreduce_start:
            // The bucket: each operand's elements after the previous one's.
            var parts: [(UnsafeMutablePointer<T>, Int, Int)] = []
            var offset = 0
            for b in ins.inputs {
                parts.append((pointer(b, T.self), offset, b.count))
                offset += b.count
            }
            guard offset == n else { throw ExecutionError("a bucket of \(n) elements holds operands of \(offset)") }
            return { () throws(ExecutionError) in
                for (p, o, c) in parts { (out + o).update(from: p, count: c) }
                do throws(CollectiveError) { try collective.startAllreduceSum(UnsafeMutableRawPointer(out), count: n, dtype: dtype) } catch {
                    throw ExecutionError(error.message)
                }
            }
        case .allreduce_wait:
            let bucket = pointer(ins.inputs[0], T.self)
            return { () throws(ExecutionError) in
                do throws(CollectiveError) { try collective.finishAllreduce(UnsafeMutableRawPointer(bucket)) } catch {
                    throw ExecutionError(error.message)
                }
                if bucket != out { out.update(from: bucket, count: n) }
            }
        default:
            throw ExecutionError("no collective kernel for \(ins.op.rawValue)")
        }
    }
}
