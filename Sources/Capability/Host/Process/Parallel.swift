import SRIOVModel

#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking jobs on threads of their own and returns their results in order.
/// Restore's jobs spend their time blocked in the kernel (i40e takes ~22 s to create
/// 64 VFs), so they need real threads, not a cooperative pool sized to the cores.
package func runInParallel<T: Sendable>(_ jobs: [@Sendable () -> T]) -> [T] {
    guard jobs.count > 1 else { return jobs.map { $0() } }
    return jobs.map(startInBackground).map { $0() }
}

/// Starts `job` on a thread of its own now; the returned function waits for it and gives its result.
private func startInBackground<T: Sendable>(_ job: @escaping @Sendable () -> T) -> () -> T {
    let slot = Slot(job)
    var thread = pthread_t()
    let context = Unmanaged.passRetained(slot as AnyJob).toOpaque()
    let status = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<AnyJob>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
    guard status == 0 else {
        // No thread to be had: run it here rather than not at all.
        Unmanaged<AnyJob>.fromOpaque(context).release()
        slot.run()
        return { slot.value! }
    }
    return {
        pthread_join(thread, nil)
        return slot.value!
    }
}

/// A job and the place for its result; each is touched by one thread until the join.
private class AnyJob: @unchecked Sendable {
    func run() {}
}

private final class Slot<T>: AnyJob, @unchecked Sendable {
    var value: T?
    let job: @Sendable () -> T
    init(_ job: @escaping @Sendable () -> T) { self.job = job }
    override func run() { value = job() }
}
