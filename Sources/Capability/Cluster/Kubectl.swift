import Dispatch
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

    public let path: String
    public let kubeconfig: String
    public let requestTimeout: Duration
    public let retryFor: Duration

    /// Resolves kubectl (the given one, RKE2's, then `kubectl` on PATH) and checks that the kubeconfig
    /// can be read; fails here, before any request. `missingKubeconfig` is the hint for a kubeconfig
    /// that is not there.
    public init(
        kubectl: String?, kubeconfig: String, missingKubeconfig: String,
        requestTimeoutSeconds: Int = defaultRequestTimeoutSeconds, retrySeconds: Int = defaultRetrySeconds
    ) throws(SRIOVError) {
        if let kubectl {
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
        guard access(kubeconfig, R_OK) == 0 else {
            throw .io(
                path: kubeconfig, operation: "read the kubeconfig", errno: Errno(rawValue: errno),
                hint: missingKubeconfig)
        }
        self.kubeconfig = kubeconfig
        guard requestTimeoutSeconds > 0, retrySeconds >= 0 else {
            throw .usage("--request-timeout must be at least 1 and --retry-for at least 0 seconds")
        }
        requestTimeout = .seconds(requestTimeoutSeconds)
        retryFor = .seconds(retrySeconds)
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
        let start = ContinuousClock.now
        let deadline = start + retryFor
        // kubectl makes a few requests (discovery, GET, PATCH), each bounded by --request-timeout.
        let perAttempt = requestTimeout * 3 + .seconds(2)
        var attempt = 0
        var last = ""
        while true {
            attempt += 1
            let childDeadline = attempt == 1 ? perAttempt : min(perAttempt, remaining(until: deadline))
            let run = Self.run(arguments, input: input, timeout: childDeadline)
            let prefix = "attempt \(attempt): \(what):"
            switch Self.verdict(status: run.status, output: run.output) {
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
            guard remaining(until: deadline) > pause else { break }
            Self.sleep(for: pause)
        }
        let seconds = milliseconds(ContinuousClock.now - start) / 1000
        throw .cluster(
            .unreachable,
            "the Kubernetes API (kubeconfig \(kubeconfig)) did not answer \(what) in \(attempt) attempts over "
                + "\(seconds) s (last: \(last)); run \(again) again once it answers")
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
        // Discovery found no such kind: a 404 kubectl words its own way.
        if output.contains("the server doesn't have a resource type") { return .failed(.notRegistered) }
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

    static func sleep(for duration: Duration) {
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

    /// Runs kubectl as a child, its stdout and stderr into one pipe, `input` (or nothing) on its stdin, and kills
    /// it at `timeout`: a request kubectl does not bound (a stalled connection) must not hold up the node.
    static func run(_ arguments: [String], input: String? = nil, timeout: Duration) -> Run {
        var fds: [Int32] = [0, 0]
        var stdin: [Int32] = [-1, -1]
        guard pipe(&fds) == 0, input == nil || pipe(&stdin) == 0 else {
            return Run(status: nil, output: "pipe: \(Errno(rawValue: errno).description)")
        }
        // Neither end may leak into other children; dup2 gives kubectl its own stdin, stdout and stderr.
        for fd in fds + stdin where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, stdin[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        var pid = pid_t()
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        close(fds[1])
        if let input {
            close(stdin[0])
            // Written by its own thread, so that the deadline below holds even when kubectl never reads it; a
            // killed child closes the pipe and the write ends with EPIPE (SIGPIPE is ignored for that).
            let writer = stdin[1]
            if spawned == 0 {
                signal(SIGPIPE, SIG_IGN)
                DispatchQueue.global().async {
                    var bytes = Array(input.utf8)[...]
                    while !bytes.isEmpty {
                        let written = bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
                        if written > 0 {
                            bytes = bytes.dropFirst(written)
                        } else if written < 0, errno == EINTR {
                            continue
                        } else {
                            break
                        }
                    }
                    close(writer)
                }
            } else {
                close(writer)
            }
        }
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
