/// The prefix of the extended resources that carry VFs to pods and VMs: a policy's
/// `resourceName` is advertised as `<prefix>/<resourceName>`. Every `export` command
/// takes the same default, so that the device plugin's pools, KubeVirt's permitted
/// devices and the networks' annotations name the same resources.
public enum ResourcePrefix {
    /// The operator deploys with `openshift.io` and the device plugin defaults to
    /// `intel.com`; a Harvester cluster has neither, so the prefix is ours.
    public static let standard = "harvester-sriov.io"

    /// Kubernetes takes an extended resource's prefix as a DNS subdomain, outside
    /// `kubernetes.io` (`IsExtendedResourceName`, pkg/apis/core/helper).
    public static func problem(_ prefix: String) -> String? {
        if let problem = PolicyRules.nameProblem(prefix) {
            return "--resource-prefix " + problem
        }
        if prefix == "kubernetes.io" || prefix.hasSuffix(".kubernetes.io") {
            return "--resource-prefix \"\(prefix)\" is reserved for Kubernetes; use a domain of your own"
        }
        return nil
    }

    public static func qualified(_ resourceName: String, prefix: String = standard) -> String {
        "\(prefix)/\(resourceName)"
    }
}
