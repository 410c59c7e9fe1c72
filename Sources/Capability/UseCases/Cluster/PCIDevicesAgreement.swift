import SRIOVHost
import SRIOVModel

/// Makes this node's `SRIOVNetworkDevice` objects ask for what the plan gives their PFs, so that
/// Harvester's PCI devices addon and harvester-sriov never write different counts to one PF. Needs a
/// credential that may patch the objects: RKE2's admin kubeconfig on a server node, or `--kubeconfig`.
public struct PCIDevicesAgreement: Sendable {
    public let kubectl: Kubectl
    public let node: String

    public init(
        kubectl: String? = nil, kubeconfig: String? = nil, node: String? = nil,
        requestTimeoutSeconds: Int = Kubectl.defaultRequestTimeoutSeconds,
        retrySeconds: Int = Kubectl.defaultRetrySeconds
    ) throws(SRIOVError) {
        self.kubectl = try Kubectl.admin(
            kubectl: kubectl, kubeconfig: kubeconfig, mayDo: "patch \(PCIDevicesAddon.resource)",
            orElse: "run the kubectl command harvester-sriov pcidevices prints",
            requestTimeoutSeconds: requestTimeoutSeconds, retrySeconds: retrySeconds)
        self.node = try NodeName.resolve(override: node)
    }

    public enum Outcome: Equatable, Sendable {
        /// The cluster has no such kind: the addon is not enabled.
        case noAddon
        /// Every object of a planned PF asks for the plan's count (`objects` of this node in all).
        case agreed(objects: Int)
        /// Left as they are (no `patch`).
        case conflicting([PCIDevicesAddon.Conflict])
        /// Patched to the plan's counts.
        case patched([PCIDevicesAddon.Conflict])
    }

    /// Reads this node's objects, and with `patch` sends one merge patch per conflicting object.
    public func reconcile(plan: NodePlan, patch: Bool, log: (String) -> Void) throws(SRIOVError) -> Outcome {
        let kubeconfig = kubectl.kubeconfig
        let output: String
        do {
            output = try kubectl.run(
                ["get", PCIDevicesAddon.resource, "-l", "\(PCIDevicesAddon.nodeLabel)=\(node)", "-o", "json"],
                what: "get \(PCIDevicesAddon.resource) of node \(node)", again: "harvester-sriov pcidevices",
                log: { _ in }, failure: { Self.message($0, $1, kubeconfig: kubeconfig, verb: "list") })
        } catch .cluster(.notRegistered, _) {
            log("the cluster has no \(PCIDevicesAddon.resource) kind (the PCI devices addon is not enabled)")
            return .noAddon
        }
        let (devices, skipped) = try PCIDevicesAddon.read(fromJSON: output)
        for line in skipped { log("warning: \(line)") }
        let conflicts = PCIDevicesAddon.conflicts(devices, plan: plan, node: node)
        guard !conflicts.isEmpty else {
            log("the \(devices.count) SRIOVNetworkDevice objects of node \(node) agree with the plan")
            return .agreed(objects: devices.count)
        }
        guard patch else { return .conflicting(conflicts) }
        for conflict in conflicts {
            try kubectl.run(
                [
                    "patch", PCIDevicesAddon.resource, conflict.object, "--type", "merge", "-p",
                    PCIDevicesAddon.patch(numVFs: conflict.planned),
                ],
                what: "set numVFs \(conflict.planned) on \(conflict.object)",
                again: "harvester-sriov pcidevices --sync",
                log: log, failure: { Self.message($0, $1, kubeconfig: kubeconfig, verb: "patch") })
        }
        return .patched(conflicts)
    }

    private static func message(_ failure: ClusterFailure, _ detail: String, kubeconfig: String, verb: String)
        -> String
    {
        switch failure {
        case .refused:
            "the credential in \(kubeconfig) may not \(verb) \(PCIDevicesAddon.resource) (\(detail)); use an admin "
                + "kubeconfig (\(Kubectl.adminKubeconfig) on a server node)"
        case .notRegistered, .rejected, .unreachable:
            "the API server refused to \(verb) \(PCIDevicesAddon.resource): \(detail)"
        }
    }
}
