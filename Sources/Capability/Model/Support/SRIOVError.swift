import SystemPackage

/// How a request to the Kubernetes API failed.
public enum ClusterFailure: Sendable, Equatable {
    /// No answer, a timeout or a 5xx, until the retries ran out.
    case unreachable
    /// 401 or 403: the credential is missing, wrong, or may not do this.
    case refused
    /// 404: no such object (a Node not registered), or no such kind (an addon not installed).
    case notRegistered
    /// Another 4xx: the request itself was refused.
    case rejected
}

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
    /// The Kubernetes API did not apply a request: which way it failed, and the message.
    case cluster(ClusterFailure, String)

    /// One line (one per problem for `invalidPolicies`): the user's and the API's text in it, names and
    /// kubectl's messages, has its control characters escaped, so that a newline in a name cannot split it.
    public var description: String {
        switch self {
        case let .io(path, operation, errno, hint):
            let base = "\(operation) \(path): \(errno.description) (\(Self.symbol(errno)))"
            return escapingControls(hint.map { "\(base); \($0)" } ?? base)
        case let .discovery(message), let .usage(message), let .unsafePath(message), let .restore(message):
            return escapingControls(message)
        case let .cluster(_, message):
            return escapingControls(message)
        case let .invalidPolicies(problems):
            return problems.map(\.description).joined(separator: "\n")
        }
    }

    /// The process exit status for this error, after sysexits.h.
    public var exitCode: Int32 {
        switch self {
        case .usage: 64  // EX_USAGE
        case .invalidPolicies: 65  // EX_DATAERR
        case .discovery: 69  // EX_UNAVAILABLE
        case .io: 74  // EX_IOERR
        case .unsafePath: 77  // EX_NOPERM
        case .restore: 1
        case .cluster(.unreachable, _): 69  // EX_UNAVAILABLE
        case .cluster(.notRegistered, _): 68  // EX_NOHOST
        case .cluster(.refused, _): 77  // EX_NOPERM
        case .cluster(.rejected, _): 65  // EX_DATAERR
        }
    }

    /// The C name of an errno, which is what kernel documentation and forum answers use.
    /// A table of our own: glibc 2.31, which the shipped binary must run on, has no
    /// strerrorname_np.
    public static func symbol(_ errno: Errno) -> String {
        let code = Int(errno.rawValue)
        if code > 0, code < errnoNames.count, errnoNames[code] != "-" { return errnoNames[code] }
        // Kernel-internal, but some drivers let it out of a sysfs write ("Unknown error 524").
        if code == 524 { return "ENOTSUPP" }
        return "errno \(errno.rawValue)"
    }

    /// Linux's errno names by number, 1 to 133 (include/uapi/asm-generic/errno-base.h and
    /// errno.h, which x86-64 and arm64 use); "-" marks the unused 0, 41 and 58. Where two
    /// names share a number (EWOULDBLOCK, EDEADLOCK, ENOTSUP) the first one defined is given.
    private static let errnoNames: [String] = """
        - EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT ENOTBLK
        EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS
        EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP - ENOMSG EIDRM ECHRNG
        EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT - EBFONT
        ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT
        EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART
        ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT
        EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET
        ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED
        EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT
        ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE
        ERFKILL EHWPOISON
        """.split(whereSeparator: \.isWhitespace).map(String.init)
}
