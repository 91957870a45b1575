import DLGGraph
import DLGKernels

/// The collective kernels (`Kernel.collective`): calls into the executor's
/// `Collective`, supplied when the executor is made.
extension Executor {
    func bindCollective<T: KernelScalar>(_ kernel: CollectiveKernel, _ ins: Instruction, inputs x: [UnsafeMutablePointer<T>],
                                         output out: UnsafeMutablePointer<T>) throws(ExecutionError) -> Call {
        guard let collective else {
            throw ExecutionError("the program sums values over the replicas of a data-parallel run, but runs without them")
        }
        let dtype = ins.output.dtype
        let n = ins.output.count
        switch kernel {
        case .sum:
            let a = x[0]
            return { () throws(ExecutionError) in
                if a != out { out.update(from: a, count: n) }
                do throws(CollectiveError) { try collective.allreduceSum(UnsafeMutableRawPointer(out), count: n, dtype: dtype) } catch {
                    throw ExecutionError(error.message)
                }
            }
        case .start:
            // The bucket: each operand's elements after the previous one's.
            var parts: [(UnsafeMutablePointer<T>, Int, Int)] = []
            var offset = 0
            for (p, b) in zip(x, ins.inputs) {
                parts.append((p, offset, b.count))
                offset += b.count
            }
            guard offset == n else { throw ExecutionError("a bucket of \(n) elements holds operands of \(offset)") }
            return { () throws(ExecutionError) in
                for (p, o, c) in parts { (out + o).update(from: p, count: c) }
                do throws(CollectiveError) { try collective.startAllreduceSum(UnsafeMutableRawPointer(out), count: n, dtype: dtype) } catch {
                    throw ExecutionError(error.message)
                }
            }
        case .wait:
            let bucket = x[0]
            return { () throws(ExecutionError) in
                do throws(CollectiveError) { try collective.finishAllreduce(UnsafeMutableRawPointer(bucket)) } catch {
                    throw ExecutionError(error.message)
                }
                if bucket != out { out.update(from: bucket, count: n) }
            }
        }
    }
}
