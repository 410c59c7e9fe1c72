/// Which node label keys a node may give itself: kubelet's `--node-labels` rule, which RKE2's
/// `node-label` passes on, and NodeRestriction admission, which holds the node's own credential
/// to the same rule when it patches its Node.
///
/// Upstream: kubernetes `pkg/kubelet/apis/well_known_labels.go` (`kubeletLabels`,
/// `kubeletLabelNamespaces`, `IsKubeletLabel`), `cmd/kubelet/app/options/options.go`
/// (`ValidateKubeletFlags`: keys in the `kubernetes.io` or `k8s.io` namespaces must be kubelet
/// labels) and `plugin/pkg/admission/noderestriction/admission.go`.
public enum KubeletLabels {
    /// The labels kubelet sets itself (`kubeletLabels`): allowed to kubelet, but not a capability
    /// label's to set, since kubelet would overwrite them.
    static let kubeletOwn: Set = [
        "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
        "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type", "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    ]

    /// The namespaces a node may label itself in although they are Kubernetes' own
    /// (`kubeletLabelNamespaces`): the namespace itself or any subdomain of it.
    static let nodeNamespaces = ["kubelet.kubernetes.io", "node.kubernetes.io"]

    /// Why `key` (already in label syntax) cannot be the capability label, or nil.
    public static func problem(_ key: String) -> String? {
        let use =
            "use network-sriov.capable, feature.node.kubernetes.io/network-sriov.capable or a key of your own domain"
        if kubeletOwn.contains(key) {
            return "is a label kubelet sets itself on every node (well_known_labels.go kubeletLabels); \(use)"
        }
        guard let slash = key.firstIndex(of: "/") else { return nil }
        let namespace = String(key[..<slash])
        func within(_ domain: String) -> Bool { namespace == domain || namespace.hasSuffix("." + domain) }
        guard within("kubernetes.io") || within("k8s.io"), !nodeNamespaces.contains(where: within) else { return nil }
        return "kubelet refuses node labels in the kubernetes.io and k8s.io namespaces except under "
            + "kubelet.kubernetes.io and node.kubernetes.io (--node-labels, NodeRestriction); \(use)"
    }
}
