import SRIOVModel
import SystemPackage

/// What went wrong in one kernel operation: the file written (or netlink call), the
/// errno, or the time it did not return within.
public struct KernelError: Error, Equatable, Sendable {
    public var target: String
    public var operation: String
    public var errno: Errno?
    public var timedOut: Duration?
    /// A library's own words, where there is no errno (libnl).
    public var detail: String?

    public init(
        target: String, operation: String, errno: Errno? = nil, timedOut: Duration? = nil, detail: String? = nil
    ) {
        self.target = target
        self.operation = operation
        self.errno = errno
        self.timedOut = timedOut
        self.detail = detail
    }
}
