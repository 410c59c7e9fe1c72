import SRIOVHost
import SRIOVModel

/// Sets the capability label on this node's own Node object with one merge patch, through the `kubectl`
/// that RKE2 ships: RKE2 applies `node-label` only when a node registers, so a node that gains or loses
/// an SR-IOV NIC later, or was installed before the hook, needs the patch. NodeRestriction admission lets
/// the kubelet's own credential set a label without a `kubernetes.io`/`k8s.io` prefix on its own Node.
public struct NodeLabelApplication: Sendable {
    public let kubectl: Kubectl
    public let node: String

    /// Resolves the defaults: RKE2's kubectl, then `kubectl` on PATH; the kubelet's kubeconfig; the node
    /// name kubelet registers (`NodeName`). Fails here when a file is missing, before any
    /// request.
    public init(
        kubectl: String? = nil, kubeconfig: String? = nil, node: String? = nil,
        requestTimeoutSeconds: Int = Kubectl.defaultRequestTimeoutSeconds,
        retrySeconds: Int = Kubectl.defaultRetrySeconds
    ) throws(SRIOVError) {
        self.kubectl = try Kubectl(
            kubectl: kubectl, kubeconfig: kubeconfig ?? Kubectl.kubeletKubeconfig,
            missingKubeconfig:
                "pass --kubeconfig with a kubeconfig for this node (RKE2 writes \(Kubectl.kubeletKubeconfig))",
            requestTimeoutSeconds: requestTimeoutSeconds, retrySeconds: retrySeconds)
        self.node = try NodeName.resolve(override: node)
    }

    /// The kubectl arguments of one attempt.
    public func arguments(_ label: CapabilityLabel) -> [String] {
        kubectl.arguments(request(label))
    }

    private func request(_ label: CapabilityLabel) -> [String] {
        ["patch", "node", node, "--type", "merge", "-p", NodeFiles.labelPatch(label).trimmingSpaces]
    }

    /// Applies the patch (see `Kubectl.run` for the retries); `log` gets one line per attempt.
    public func apply(_ label: CapabilityLabel, log: (String) -> Void) throws(SRIOVError) {
        let kubeconfig = kubectl.kubeconfig
        let node = node
        try kubectl.run(
            request(label), what: "label \(label.key)=\(label.value) on node \(node)",
            again: "harvester-sriov label --apply", log: log
        ) { failure, detail in
            switch failure {
            case .refused where detail.contains("(Unauthorized)") || detail.contains(Kubectl.unauthorized):
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
    }
}
