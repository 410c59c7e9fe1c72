import Dispatch
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The cluster's API, through the `kubectl` that RKE2 ships on every node (no TLS or HTTP of our own):
/// one request at a time, each bounded, retried with back-off while the API does not answer.
public struct Kubectl: Sendable {
    public static let rke2Kubectl = "/var/lib/rancher/rke2/bin/kubectl"
    public static let kubeletKubeconfig = "/var/lib/rancher/rke2/agent/kubelet.kubeconfig"
    /// RKE2's admin credential, on server nodes only.
    public static let adminKubeconfig = "/etc/rancher/rke2/rke2.yaml"
    public static let defaultRetrySeconds = 60
    public static let defaultRequestTimeoutSeconds = 10
    /// Pauses between attempts: 5 attempts at most, fewer when `retryFor` runs out first.
    static let backoff: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8)]

    /// The bounds of `--request-timeout` and `--retry-for`, in seconds.
    public static let requestTimeoutRange = 1...3600
    public static let retryRange = 0...86_400

    public let path: String
    public let kubeconfig: String
    public let requestTimeout: Duration
    public let retryFor: Duration
    /// What the back-off between attempts, and callers' polls, wait on.
    public var clock: any WaitClock = SystemClock()

    /// Resolves kubectl (the given one, RKE2's, then `kubectl` on PATH) and checks that the kubeconfig
    /// can be read; fails here, before any request. `missingKubeconfig` is the hint for a kubeconfig
    /// that is not there.
    public init(
        kubectl: String?, kubeconfig: String, missingKubeconfig: String,
        requestTimeoutSeconds: Int = defaultRequestTimeoutSeconds, retrySeconds: Int = defaultRetrySeconds
    ) throws(SRIOVError) {
        try Self.checkBounds(requestTimeoutSeconds: requestTimeoutSeconds, retrySeconds: retrySeconds)
        if let kubectl {
            // Looked at first: a folder passes access(X_OK), and would then fail every attempt as if the API were down.
            try Self.check(
                kubectl, operation: "run kubectl", hint: "pass --kubectl with the path of an executable kubectl")
            guard access(kubectl, X_OK) == 0 else {
                throw .io(
                    path: kubectl, operation: "run kubectl", errno: Errno(rawValue: errno),
                    hint: "pass --kubectl with the path of an executable kubectl")
            }
            path = kubectl
        } else if let found = Self.findKubectl() {
            path = found
        } else {
            throw .io(
                path: Self.rke2Kubectl, operation: "run kubectl", errno: .noSuchFileOrDirectory,
                hint: "and no kubectl on PATH; pass --kubectl with the path of kubectl")
        }
        // A FIFO would hold kubectl up until the deadline, every attempt; a folder fails every attempt alike.
        try Self.check(kubeconfig, operation: "read the kubeconfig", hint: missingKubeconfig, allowDevices: true)
        guard access(kubeconfig, R_OK) == 0 else {
            throw .io(
                path: kubeconfig, operation: "read the kubeconfig", errno: Errno(rawValue: errno),
                hint: missingKubeconfig)
        }
        self.kubeconfig = kubeconfig
        requestTimeout = .seconds(requestTimeoutSeconds)
        retryFor = .seconds(retrySeconds)
    }

    /// The numbers of `--request-timeout` and `--retry-for`, checked where they are parsed and again here: beyond
    /// these bounds a value is a typo, and near Int.max the deadlines computed from it overflow.
    public static func checkBounds(requestTimeoutSeconds: Int, retrySeconds: Int) throws(SRIOVError) {
        guard Self.requestTimeoutRange.contains(requestTimeoutSeconds) else {
            throw .usage(
                "--request-timeout \(requestTimeoutSeconds): must be \(Self.requestTimeoutRange.lowerBound) to "
                    + "\(Self.requestTimeoutRange.upperBound) seconds")
        }
        guard Self.retryRange.contains(retrySeconds) else {
            throw .usage(
                "--retry-for \(retrySeconds): must be \(Self.retryRange.lowerBound) to \(Self.retryRange.upperBound) seconds"
            )
        }
    }

    /// A file kubectl is to run or read must be a regular one (for the kubeconfig, also a character device such
    /// as /dev/null); a missing one is left to access(2) and its errno.
    static func check(_ path: String, operation: String, hint: String, allowDevices: Bool = false) throws(SRIOVError) {
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        let kind = status.st_mode & S_IFMT
        guard kind != S_IFREG, !(allowDevices && kind == S_IFCHR) else { return }
        throw .io(
            path: path, operation: operation, errno: kind == S_IFDIR ? .isDirectory : .invalidArgument,
            hint: "it is \(BoundedRead.kind(status.st_mode)), not a regular file; \(hint)")
    }

    /// kubectl with RKE2's admin credential (server nodes only) unless `kubeconfig` names another: for the
    /// PCI devices addon's objects, which a node's own credential may not touch. `mayDo` and `orElse` finish
    /// the hint for a missing kubeconfig.
    public static func admin(
        kubectl: String?, kubeconfig: String?, mayDo: String, orElse: String, requestTimeoutSeconds: Int,
        retrySeconds: Int
    ) throws(SRIOVError) -> Kubectl {
        try Kubectl(
            kubectl: kubectl, kubeconfig: kubeconfig ?? adminKubeconfig,
            missingKubeconfig: "RKE2 writes it on server nodes only; pass --kubeconfig with one that may \(mayDo), or "
                + orElse,
            requestTimeoutSeconds: requestTimeoutSeconds, retrySeconds: retrySeconds)
    }

    /// The whole command line of one request (`request` as kubectl's arguments, e.g. patch node NAME ...).
    public func arguments(_ request: [String]) -> [String] {
        [path, "--kubeconfig", kubeconfig, "--request-timeout=\(milliseconds(requestTimeout) / 1000)s"] + request
    }

    /// Runs `request`: retries with back-off while the API does not answer or answers 5xx, within
    /// `retryFor` (the first attempt always runs); 401, 403, 404 and other 4xx end at once, with
    /// `failure`'s message. `log` gets one line per attempt, after `what`; `again` is the command to
    /// run once the API answers. Returns kubectl's output.
    @discardableResult
    public func run(
        _ request: [String], input: String? = nil, what: String, again: String, log: (String) -> Void,
        failure: (ClusterFailure, _ detail: String) -> String
    ) throws(SRIOVError) -> String {
        let arguments = arguments(request)
        let start = clock.now
        let deadline = start + retryFor
        // kubectl makes a few requests (discovery, GET, PATCH), each bounded by --request-timeout.
        let perAttempt = requestTimeout * 3 + .seconds(2)
        var attempt = 0
        var last = ""
        while true {
            attempt += 1
            // A later attempt gets what is left of `retryFor`, but never less than one whole request.
            let childDeadline =
                attempt == 1 ? perAttempt : max(requestTimeout, min(perAttempt, clock.remaining(until: deadline)))
            let run = Self.run(arguments, input: input, timeout: childDeadline)
            let prefix = "attempt \(attempt): \(what):"
            switch Self.verdict(status: run.status, output: run.output, httpStatus: run.httpStatus) {
            case .applied:
                log("\(prefix) \(run.lastLine.isEmpty ? "done" : run.lastLine)")
                return run.output
            case let .failed(kind):
                log("\(prefix) \(run.lastLine)")
                throw .cluster(kind, failure(kind, run.lastLine))
            case .retry:
                last = run.lastLine
                log("\(prefix) \(last)")
            }
            guard attempt <= Self.backoff.count else { break }
            let pause = Self.backoff[attempt - 1]
            guard clock.remaining(until: deadline) > pause else { break }
            clock.sleep(until: clock.now + pause)
        }
        let seconds = milliseconds(clock.now - start) / 1000
        throw .cluster(
            .unreachable,
            "the Kubernetes API (kubeconfig \(kubeconfig)) did not answer \(what) in \(attempt) attempts over "
                + "\(seconds) s (last: \(last)); run \(again) again once it answers")
    }

    /// kubectl's words for a 401 (newer kubectl no longer adds "(Unauthorized)").
    package static let unauthorized = "You must be logged in to the server"

    enum Verdict: Equatable {
        case applied
        case retry
        case failed(ClusterFailure)
    }

    /// What kubectl's exit and output mean. The HTTP status of the last response it logged decides: 401 and 403
    /// refused, 404 not there, 408, 429 and 5xx worth another try (whatever `reason` the server gave), other 4xx
    /// rejected. Without one (no answer, or a kubectl that does not log it), its "Error from server (Reason)"
    /// names the API's answer, and any other failure (no connection, a timeout, the deadline) is worth another try.
    static func verdict(status: Int32?, output: String, httpStatus: Int? = nil) -> Verdict {
        guard status != 0 else { return .applied }
        // Discovery found no such kind: a 404 kubectl words its own way.
        if output.contains("the server doesn't have a resource type") { return .failed(.notRegistered) }
        if status != nil, let code = httpStatus, code >= 400 {
            switch code {
            case 401, 403: return .failed(.refused)
            case 404: return .failed(.notRegistered)
            case 408, 429, 500...599: return .retry
            default: return .failed(.rejected)
            }
        }
        if output.contains("(Unauthorized)") || output.contains(unauthorized) { return .failed(.refused) }
        guard let range = output.firstRange(of: "Error from server (") else { return .retry }
        let reason = output[range.upperBound...].prefix { $0 != ")" }
        switch reason {
        case "Forbidden": return .failed(.refused)
        case "NotFound": return .failed(.notRegistered)
        case "InternalError", "ServiceUnavailable", "Timeout", "ServerTimeout", "TooManyRequests":
            return .retry
        default: return .failed(.rejected)
        }
    }

    private static func findKubectl() -> String? {
        if access(rke2Kubectl, X_OK) == 0 { return rke2Kubectl }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/kubectl" }.first { access($0, X_OK) == 0 }
    }

    struct Run {
        /// nil when the child was killed at its deadline or could not start.
        var status: Int32?
        /// What kubectl printed, without its -v=6 log lines.
        var output: String
        /// The HTTP status of the last response kubectl logged (-v=6), if it logged one.
        var httpStatus: Int? = nil
        var lastLine: String {
            // API text: it goes into messages and the journal, so its control characters are escaped.
            output.split(separator: "\n").last.map { escapingControls(String($0).trimmingSpaces) } ?? ""
        }
    }

    /// Runs kubectl as a child (`ChildProcess`: its own process group, killed whole at `timeout`), its stdout
    /// and stderr into one pipe, `input` (or nothing) on its stdin: a request kubectl does not bound (a stalled
    /// connection), or a process it left behind holding the pipe, must not hold up the node.
    static func run(_ arguments: [String], input: String? = nil, timeout: Duration) -> Run {
        // -v=6 makes kubectl log each response's HTTP status, which classifies a failure better than its words.
        let verbose = arguments.isEmpty ? [] : [arguments[0], "-v=6"] + arguments.dropFirst()
        let outcome = ChildProcess.run(
            verbose, input: input.map { Array($0.utf8) }, captureOutput: true, timeout: timeout)
        if let error = outcome.spawnError {
            return Run(status: nil, output: "cannot run \(arguments[0]): \(error.description)")
        }
        let (text, httpStatus) = Self.withoutLog(String(decoding: outcome.output, as: UTF8.self))
        if outcome.timedOut {
            return Run(status: nil, output: text + "\nno answer within \(seconds(timeout)) s", httpStatus: httpStatus)
        }
        return Run(status: outcome.status, output: text, httpStatus: httpStatus)
    }

    /// kubectl's output without the info lines -v=6 added (klog's "I1204 21:15:23.805103   23595 file.go:560] "),
    /// and the HTTP status of the last response among them: "GET URL 500 Internal Server Error in 3 milliseconds"
    /// (kubectl up to 1.32), or `"Response" ... status="500 Internal Server Error"` (structured logging).
    static func withoutLog(_ raw: String) -> (output: String, httpStatus: Int?) {
        var kept: [Substring] = []
        var httpStatus: Int?
        for line in raw.split(separator: "\n", omittingEmptySubsequences: false) {
            let header = line.prefix(6)
            guard header.count == 6, header.first == "I", header.dropFirst().prefix(4).allSatisfy(\.isASCII),
                header.dropFirst().prefix(4).allSatisfy(\.isNumber), header.last == " ",
                let bracket = line.firstRange(of: "] ")
            else {
                kept.append(line)
                continue
            }
            let message = line[bracket.upperBound...]
            if let range = message.firstRange(of: "status=\""), let code = Int(message[range.upperBound...].prefix(3)) {
                httpStatus = code
            } else if message.hasSuffix(" milliseconds") {
                let words = message.split(separator: " ", omittingEmptySubsequences: false)
                if words.count > 2, words[2].count == 3, let code = Int(words[2]) { httpStatus = code }
            }
        }
        return (kept.joined(separator: "\n"), httpStatus)
    }
}
