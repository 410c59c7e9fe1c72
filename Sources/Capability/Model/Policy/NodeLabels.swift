/// The labels a node's policies are matched against: what kubelet sets on every node,
/// the capability label harvester-sriov sets, and those given with --node-label.
public enum NodeLabels {
    /// node-feature-discovery's key for the same fact, which operators' manifests select nodes by (the
    /// sriov-network-operator's quickstart `nodeSelector`); always read as the capability label too.
    public static let nodeFeatureDiscoveryKey = "feature.node.kubernetes.io/network-sriov.capable"

    /// `key` is the capability label's key as installed (`DesiredState.capabilityKey`).
    public static func of(
        _ host: HostInventory, extra: [String: String], key: String = CapabilityLabel.defaultKey
    ) -> [String: String] {
        var labels = [
            "kubernetes.io/hostname": host.node, "kubernetes.io/os": "linux", "kubernetes.io/arch": architecture,
            nodeFeatureDiscoveryKey: String(host.capable),
        ]
        // A subscript, not the literal: `key` may be node-feature-discovery's own.
        labels[key] = String(host.capable)
        labels.merge(extra) { _, given in given }
        return labels
    }

    /// Kubernetes' GOARCH name for this machine.
    static var architecture: String {
        #if arch(x86_64)
            "amd64"
        #elseif arch(arm64)
            "arm64"
        #else
            "unknown"
        #endif
    }

    /// Parses `key=value` flags; the key and value follow Kubernetes' label syntax (an empty value is one). A key
    /// given twice is refused, even with the same value: one of the two is a typo.
    public static func parse(_ flags: [String]) throws(SRIOVError) -> [String: String] {
        var labels: [String: String] = [:]
        for flag in flags {
            let (key, value) = try LabelSyntax.pair(flag, option: "--node-label")
            if let earlier = labels[key] {
                throw .usage(
                    "--node-label \(flag): \(key) is already given (\(key)=\(earlier)); a node has one value per label, "
                        + "give each key once")
            }
            labels[key] = value
        }
        return labels
    }
}

/// Kubernetes' label syntax (apimachinery validation): a key is an optional DNS
/// subdomain prefix and `/`, then a name of at most 63 characters; a value is empty or
/// such a name.
public enum LabelSyntax {
    /// A `key=value` command-line label, both in label syntax; errors name `option`.
    public static func pair(_ flag: String, option: String) throws(SRIOVError) -> (key: String, value: String) {
        guard let equals = flag.firstIndex(of: "=") else { throw .usage("\(option) \(flag): write it as key=value") }
        let key = String(flag[..<equals])
        let value = String(flag[flag.index(after: equals)...])
        if let problem = keyProblem(key) { throw .usage("\(option) \(flag): \(problem)") }
        if let problem = valueProblem(value) { throw .usage("\(option) \(flag): \(problem)") }
        return (key, value)
    }

    public static func keyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            let prefix = String(parts[0])
            guard (1...253).contains(prefix.count),
                prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ label in
                    (1...63).contains(label.count)
                        && label.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
                        && label.first != "-" && label.last != "-"
                })
            else {
                return "the key prefix \"\(prefix)\" must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
            }
        }
        return nameProblem(String(parts.last!), what: "the key name")
    }

    public static func valueProblem(_ value: String) -> String? {
        value.isEmpty ? nil : nameProblem(value, what: "the value")
    }

    private static func nameProblem(_ name: String, what: String) -> String? {
        guard (1...63).contains(name.count),
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
            name.first!.isLetter || name.first!.isNumber, name.last!.isLetter || name.last!.isNumber
        else {
            return
                "\(what) \"\(name)\" must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        }
        return nil
    }
}
