#if canImport(Glibc)
    import Glibc
#endif

/// The time that deadlines, waits and retries run on. On a node it is the monotonic clock, and a sleep
/// blocks the thread; in the tests the simulated kernel's time, which moves only when every job waits, so
/// that no test sleeps and none depends on how fast the machine is.
public protocol WaitClock: Sendable {
    var now: ContinuousClock.Instant { get }
    /// Blocks the calling thread until `deadline`.
    func sleep(until deadline: ContinuousClock.Instant)
}

extension WaitClock {
    /// What is left until `deadline`, never negative.
    public func remaining(until deadline: ContinuousClock.Instant) -> Duration { max(.zero, deadline - now) }
}

/// The monotonic clock (CLOCK_MONOTONIC: a wall-clock step does not move a deadline).
public struct SystemClock: WaitClock {
    public init() {}

    public var now: ContinuousClock.Instant { .now }

    public func sleep(until deadline: ContinuousClock.Instant) {
        let left = remaining(until: deadline)
        var request = timespec(
            tv_sec: Int(left.components.seconds), tv_nsec: Int(left.components.attoseconds / 1_000_000_000))
        var rest = timespec()
        while nanosleep(&request, &rest) < 0, errno == EINTR { request = rest }
    }
}
