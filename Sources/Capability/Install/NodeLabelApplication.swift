import Dispatch
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Sets the capability label on this node's own Node object with one merge patch, through the `kubectl`
/// that RKE2 ships: RKE2 applies `node-label` only when a node registers, so a node that gains or loses
/// an SR-IOV NIC later, or was installed before the hook, needs the patch. NodeRestriction admission lets
/// the kubelet's own credential set a label without a `kubernetes.io`/`k8s.io` prefix on its own Node.
public struct NodeLabelApplication: Sendable {
    public static let rke2Kubectl = "/var/lib/rancher/rke2/bin/kubectl"
    public static let kubeletKubeconfig = "/var/lib/rancher/rke2/agent/kubelet.kubeconfig"
    public static let defaultRetrySeconds = 60
    public static let defaultRequestTimeoutSeconds = 10
    /// Pauses between attempts: 5 attempts at most, fewer when `retryFor` runs out first.
    static let backoff: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8)]

    public let kubectl: String
    public let kubeconfig: String
    public let node: String
    public let requestTimeout: Duration
    public let retryFor: Duration

    /// Resolves the defaults: RKE2's kubectl, then `kubectl` on PATH; the kubelet's kubeconfig; the node
    /// name kubelet registers (the host name, lowercased). Fails here when a file is missing, before any
    /// request.
    public init(
        kubectl: String? = nil, kubeconfig: String? = nil, node: String? = nil,
        requestTimeoutSeconds: Int = defaultRequestTimeoutSeconds, retrySeconds: Int = defaultRetrySeconds
    ) throws(SRIOVError) {
        if let kubectl {
            guard access(kubectl, X_OK) == 0 else {
                throw .io(
                    path: kubectl, operation: "run kubectl", errno: Errno(rawValue: errno),
                    hint: "pass --kubectl with the path of an executable kubectl")
            }
            self.kubectl = kubectl
        } else if let found = Self.findKubectl() {
            self.kubectl = found
        } else {
            throw .io(
                path: Self.rke2Kubectl, operation: "run kubectl", errno: .noSuchFileOrDirectory,
                hint: "and no kubectl on PATH; pass --kubectl with the path of kubectl")
        }
        let kubeconfig = kubeconfig ?? Self.kubeletKubeconfig
        guard access(kubeconfig, R_OK) == 0 else {
            throw .io(
                path: kubeconfig, operation: "read the kubeconfig", errno: Errno(rawValue: errno),
                hint: "pass --kubeconfig with a kubeconfig for this node (RKE2 writes \(Self.kubeletKubeconfig))")
        }
        self.kubeconfig = kubeconfig
        let name = node ?? Self.hostName().lowercased()
        guard !name.isEmpty, !name.contains("/") else {
            throw .usage("node name '\(name)' is not a Node's name; pass --node with the name kubectl get nodes shows")
        }
        self.node = name
        guard requestTimeoutSeconds > 0, retrySeconds >= 0 else {
            throw .usage("--request-timeout must be at least 1 and --retry-for at least 0 seconds")
        }
        requestTimeout = .seconds(requestTimeoutSeconds)
        retryFor = .seconds(retrySeconds)
    }

    /// The kubectl arguments of one attempt.
    public func arguments(_ label: CapabilityLabel) -> [String] {
        let patch = NodeFiles.labelPatch(label).trimmingSpaces
        return [
            kubectl, "--kubeconfig", kubeconfig, "--request-timeout=\(milliseconds(requestTimeout) / 1000)s",
            "patch", "node", node, "--type", "merge", "-p", patch,
        ]
    }

    /// Applies the patch: retries with back-off while the API does not answer or answers 5xx, within
    /// `retryFor` (the first attempt always runs); 401, 403, 404 and other 4xx end at once. `log` gets
    /// one line per attempt. Returns the number of attempts made.
    @discardableResult
    public func apply(_ label: CapabilityLabel, log: (String) -> Void) throws(SRIOVError) -> Int {
        let arguments = arguments(label)
        let start = ContinuousClock.now
        let deadline = start + retryFor
        // kubectl makes a few requests (discovery, GET, PATCH), each bounded by --request-timeout.
        let perAttempt = requestTimeout * 3 + .seconds(2)
        var attempt = 0
        var last = ""
        while true {
            attempt += 1
            let childDeadline = attempt == 1 ? perAttempt : min(perAttempt, remaining(until: deadline))
            let run = Self.run(arguments, timeout: childDeadline)
            let verdict = Self.verdict(status: run.status, output: run.output)
            let prefix = "label attempt \(attempt): kubectl patch node \(node):"
            switch verdict {
            case .applied:
                log("\(prefix) \(run.lastLine.isEmpty ? "patched" : run.lastLine), \(label.key)=\(label.value)")
                return attempt
            case let .failed(failure):
                log("\(prefix) \(run.lastLine)")
                throw .cluster(failure, message(failure, detail: run.lastLine))
            case .retry:
                last = run.lastLine
                log("\(prefix) \(last)")
            }
            guard attempt <= Self.backoff.count else { break }
            let pause = Self.backoff[attempt - 1]
            guard remaining(until: deadline) > pause else { break }
            sleep(for: pause)
        }
        let seconds = milliseconds(ContinuousClock.now - start) / 1000
        throw .cluster(
            .unreachable,
            "the Kubernetes API (kubeconfig \(kubeconfig)) did not apply the label on node \(node) in \(attempt) "
                + "attempts over \(seconds) s (last: \(last)); run harvester-sriov label --apply again once it answers")
    }

    private func message(_ failure: ClusterFailure, detail: String) -> String {
        switch failure {
        case .refused where detail.contains("(Unauthorized)") || detail.contains(Self.unauthorized):
            "the API server refused the credential in \(kubeconfig) (401 Unauthorized); "
                + "pass --kubeconfig with a valid credential of this node"
        case .refused:
            "the credential in \(kubeconfig) may not label node \(node) (403 Forbidden: \(detail)); "
                + "use this node's own kubelet kubeconfig or one allowed to patch nodes"
        case .notRegistered:
            "node \(node) is not registered with the cluster (404 Not Found); wait until it has joined, "
                + "or pass --node with the name kubectl get nodes shows"
        case .rejected, .unreachable:
            "the API server refused the label patch on node \(node): \(detail)"
        }
    }

    /// kubectl's words for a 401 (newer kubectl no longer adds "(Unauthorized)").
    static let unauthorized = "You must be logged in to the server"

    enum Verdict: Equatable {
        case applied
        case retry
        case failed(ClusterFailure)
    }

    /// What kubectl's exit and output mean: its "Error from server (Reason)" names the API's answer;
    /// any other failure (no connection, a timeout, the deadline) is worth another try.
    static func verdict(status: Int32?, output: String) -> Verdict {
        guard status != 0 else { return .applied }
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

    /// `uname -n`, the name kubelet registers by default.
    private static func hostName() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: &names.nodename) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private func sleep(for duration: Duration) {
        var request = timespec(tv_sec: Int(duration.components.seconds), tv_nsec: 0)
        var left = timespec()
        while nanosleep(&request, &left) < 0, errno == EINTR { request = left }
    }

    struct Run {
        /// nil when the child was killed at its deadline or could not start.
        var status: Int32?
        var output: String
        var lastLine: String {
            output.split(separator: "\n").last.map { String($0).trimmingSpaces } ?? ""
        }
    }

    /// Runs kubectl as a child, its stdout and stderr into one pipe, and kills it at `timeout`: a request
    /// kubectl does not bound (a stalled connection) must not hold up the node.
    static func run(_ arguments: [String], timeout: Duration) -> Run {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            return Run(status: nil, output: "pipe: \(Errno(rawValue: errno).description)")
        }
        // Neither end may leak into other children; dup2 gives kubectl its own stdout and stderr.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        var pid = pid_t()
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            return Run(status: nil, output: "cannot run \(arguments[0]): \(Errno(rawValue: spawned).description)")
        }
        let done = DispatchSemaphore(value: 0)
        let result = ChildResult()
        let reader = fds[0]
        let child = pid
        DispatchQueue.global().async {
            var collected: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected += buffer[0..<count]
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            close(reader)
            var raw: Int32 = 0
            while waitpid(child, &raw, 0) < 0, errno == EINTR {}
            result.output = collected
            result.status = raw
            done.signal()
        }
        var timedOut = false
        if done.wait(timeout: .now() + .milliseconds(max(0, milliseconds(timeout)))) != .success {
            timedOut = true
            kill(pid, SIGKILL)
            // The pipe closes with the child, so the reader ends.
            done.wait()
        }
        let text = String(decoding: result.output, as: UTF8.self)
        if timedOut {
            return Run(status: nil, output: text + "\nno answer within \(milliseconds(timeout) / 1000) s")
        }
        let exited = result.status & 0x7f == 0
        return Run(status: exited ? (result.status >> 8) & 0xff : nil, output: text)
    }
}

/// A child's output and wait status, set by the thread that reaps it before it signals.
private final class ChildResult: @unchecked Sendable {
    var output: [UInt8] = []
    var status: Int32 = 0
}
