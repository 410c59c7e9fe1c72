import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

#if canImport(Glibc)
    import Glibc
#endif

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

    @Option(help: "Seconds to keep retrying while the API does not answer or answers 5xx (0 to 86400).")
    var retryFor = Kubectl.defaultRetrySeconds

    @Option(help: "Seconds one kubectl request may take (1 to 3600).")
    var requestTimeout = Kubectl.defaultRequestTimeoutSeconds

    func validate() throws {
        try usageLine { () throws(SRIOVError) in
            try Kubectl.checkBounds(requestTimeoutSeconds: requestTimeout, retrySeconds: retryFor)
        }
    }
}

/// A usage error found while the command line is parsed: its one line and exit 64, not ArgumentParser's usage text.
func usageLine(_ body: () throws(SRIOVError) -> Void) throws {
    do {
        try body()
    } catch {
        printError("harvester-sriov: \(error)")
        throw ExitCode(error.exitCode)
    }
}

/// Where `plan` and `status` read the Node's labels from: the cluster, with the node's own credential, when it
/// answers within a few seconds; else the labels `label --apply` stored last.
struct ClusterLabelOptions: ParsableArguments {
    @Option(
        name: .customLong("kubeconfig"),
        help:
            "Read the Node's labels with this kubeconfig (default: RKE2's kubelet kubeconfig, when --root is / and it exists)."
    )
    var kubeconfig: String?

    @Option(name: .customLong("node"), help: "This node's name in the cluster (default: the host name, lowercased).")
    var node: String?

    @Flag(help: "Do not ask the cluster: match against the labels stored last.")
    var offline = false

    /// The labels, or nil (with a warning on stderr when the cluster was asked and did not answer).
    func read(root: TargetRoot) -> [String: String]? {
        guard !offline else { return nil }
        let kubeconfig = self.kubeconfig ?? (root.path == "/" ? Kubectl.kubeletKubeconfig : nil)
        guard let kubeconfig, self.kubeconfig != nil || access(kubeconfig, R_OK) == 0 else { return nil }
        do {
            let kubectl = try Kubectl(
                kubectl: nil, kubeconfig: kubeconfig, missingKubeconfig: "pass --kubeconfig, or --offline",
                requestTimeoutSeconds: 5, retrySeconds: 0)
            return try ClusterNodeLabels.read(
                kubectl, node: try NodeName.resolve(root: root.path, override: node), again: "this command")
        } catch {
            printError(
                "harvester-sriov: warning: the Node's labels were not read (\(error)); matching against the ones "
                    + "stored by the last label --apply")
            return nil
        }
    }
}
