import SystemPackage

/// The one error type of harvester-sriov. Every case renders as a single line that
/// names what failed (file, field, PF) and, where there is one, what to do about it.
public enum SRIOVError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A system call on a file failed: the path, the call and the errno.
    case io(path: String, operation: String, errno: Errno, hint: String? = nil)
    /// The host could not be inspected at all (sysfs missing, libpci unusable).
    case discovery(String)
    /// Input given by the user (a flag) is wrong.
    case usage(String)
    /// Policy manifests or stored state are wrong: every problem, one per line.
    case invalidPolicies([PolicyProblem])
    /// A write would go through a symbolic link or replace something that is not a file.
    case unsafePath(String)
    /// Restoring VFs failed for a reason not tied to one file.
    case restore(String)

    public var description: String {
        switch self {
        case let .io(path, operation, errno, hint):
            let base = "\(operation) \(path): \(errno.description) (\(Self.symbol(errno)))"
            return hint.map { "\(base); \($0)" } ?? base
        case let .discovery(message), let .usage(message), let .unsafePath(message), let .restore(message):
            return message
        case let .invalidPolicies(problems):
            return problems.map(\.description).joined(separator: "\n")
        }
    }

    /// The process exit status for this error, after sysexits.h.
    public var exitCode: Int32 {
        switch self {
        case .usage: 64           // EX_USAGE
        case .invalidPolicies: 65 // EX_DATAERR
        case .discovery: 69       // EX_UNAVAILABLE
        case .io: 74              // EX_IOERR
        case .unsafePath: 77      // EX_NOPERM
        case .restore: 1
        }
    }

    /// The C name of an errno, which is what kernel documentation and forum answers use.
    static func symbol(_ errno: Errno) -> String {
        switch errno {
        case .noSuchFileOrDirectory: "ENOENT"
        case .permissionDenied: "EACCES"
        case .notPermitted: "EPERM"
        case .resourceBusy: "EBUSY"
        case .outOfRange: "ERANGE"
        case .noMemory: "ENOMEM"
        case .invalidArgument: "EINVAL"
        case .ioError: "EIO"
        case .readOnlyFileSystem: "EROFS"
        case .timedOut: "ETIMEDOUT"
        case .notDirectory: "ENOTDIR"
        case .operationNotSupportedByDevice: "ENODEV"
        case .tooManySymbolicLinkLevels: "ELOOP"
        case .fileExists: "EEXIST"
        case .noSpace: "ENOSPC"
        case .resourceTemporarilyUnavailable: "EAGAIN"
        default: "errno \(errno.rawValue)"
        }
    }
}
