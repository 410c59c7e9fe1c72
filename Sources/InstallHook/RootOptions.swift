import ArgumentParser
import Capability

/// `--root` and `--layout`, shared by every command that reads or writes stored state.
struct RootOptions: ParsableArguments {
    @Option(
        help:
            "The system to read or write: / on a running node, the mounted target (/run/cos/target) during installation."
    )
    var root = "/"

    @Option(
        help:
            "fhs (generic distribution) or harvester (Elemental: /oem and /usr/local). Default: harvester when the root has /oem."
    )
    var layout: LayoutOption?

    func resolve() throws(SRIOVError) -> (root: TargetRoot, layout: Layout) {
        let root = try TargetRoot(self.root)
        return (root, layout?.layout ?? Layout.detect(root))
    }

    /// This node's NICs, the node named as RKE2's config under the root names it (`NodeName`).
    func discover() throws(SRIOVError) -> HostInventory {
        try HostDiscovery.discover(root: resolve().root.path)
    }

    func store() throws(SRIOVError) -> StateStore {
        let (root, layout) = try resolve()
        return StateStore(root: root, layout: layout)
    }
}

enum LayoutOption: String, ExpressibleByArgument, CaseIterable {
    case fhs, harvester
    var layout: Layout { Layout(rawValue: rawValue)! }
}

/// What the exports that read this node's plan share: where the policies are, extra labels for
/// their nodeSelector, and the prefix the resources are advertised under.
struct PlanOptions: ParsableArguments {
    @OptionGroup var target: RootOptions

    @Option(name: .customLong("node-label"), help: "An extra label (key=value) for policies' nodeSelector.")
    var nodeLabels: [String] = []

    @Option(help: "The prefix of the resources: <prefix>/<resourceName>.")
    var resourcePrefix = ResourcePrefix.standard

    /// A usage error (64) before anything is read.
    func checkPrefix() throws(SRIOVError) {
        if let problem = ResourcePrefix.problem(resourcePrefix) { throw .usage(problem) }
    }

    /// Exports whose objects Harvester would refuse or overrule end here on the harvester layout, before any file
    /// is read; `--layout fhs` is the way out for a plain KubeVirt cluster.
    func refuseOnHarvester(_ why: String) throws(SRIOVError) {
        if try target.resolve().layout == .harvester { throw .cluster(.rejected, why) }
    }

    /// This node's plan now; its warnings go to stderr.
    func plan() throws(SRIOVError) -> CurrentPlan {
        let current = try CurrentPlan.load(
            store: target.store(), inventory: target.discover, nodeLabels: nodeLabels)
        for warning in current.warnings { printError("harvester-sriov: warning: \(warning)") }
        return current
    }
}

/// How the commands that talk to the cluster run kubectl.
struct KubectlOptions: ParsableArguments {
    @Option(help: "The kubeconfig (label --apply: RKE2's kubelet kubeconfig; pcidevices: RKE2's admin kubeconfig).")
    var kubeconfig: String?

    @Option(
        help: "This node's name (default: RKE2's node-name, else the host name, lowercased, as kubelet registers it).")
    var node: String?

    @Option(help: "The kubectl to run (default: RKE2's, then kubectl on PATH).")
    var kubectl: String?

    @Option(help: "Seconds to keep retrying while the API does not answer or answers 5xx.")
    var retryFor = Kubectl.defaultRetrySeconds

    @Option(help: "Seconds one kubectl request may take.")
    var requestTimeout = Kubectl.defaultRequestTimeoutSeconds
}
