import SRIOVHost
import SRIOVModel

/// The plan for this node now, as restore, status and `plan` all see it: the stored
/// policies and the drop-in ones (`DropInPolicies`) with moved cards followed, resolved against the PFs present (less any
/// different card found in a remembered slot) and the node's labels.
public struct CurrentPlan: Sendable {
    public let state: DesiredState
    public let host: HostInventory
    public let tracker: CardTracker
    public let plan: NodePlan
    /// The drop-in folder's warnings (files skipped, and why), for stderr or the log.
    public var warnings: [String] = []

    /// Pure: from a state and a host already read. `labels` (from the command line) win
    /// over the stored ones, which win over the node's own; the Node's labels in the cluster (`clusterLabels`,
    /// else the ones stored) come under all of them, except that what harvester-sriov derives (the host name,
    /// the capability) is never taken from the cluster, where it may be stale.
    public init(
        state: DesiredState, host: HostInventory, labels: [String: String] = [:],
        clusterLabels: [String: String]? = nil
    ) {
        self.state = state
        self.host = host
        tracker = CardTracker(stored: state.cards, host: host)
        var usable = host
        for foreign in tracker.foreign {
            usable.interfaces.removeAll { $0.address == foreign.found.address }
        }
        plan = PlanResolver.resolve(
            tracker.follow(state.policies), host: usable,
            labels: Self.labels(
                host, cluster: clusterLabels ?? state.clusterLabels, stored: state.nodeLabels, given: labels,
                key: state.capabilityKey))
    }

    /// The labels nodeSelectors are matched against: the Node's in the cluster, under the ones stored with
    /// --node-label, under the ones given now; what harvester-sriov derives (the host name, the capability) is
    /// never taken from the cluster, where it may be stale.
    public static func labels(
        _ host: HostInventory, cluster: [String: String]?, stored: [String: String], given: [String: String],
        key: String
    ) -> [String: String] {
        let derived = NodeLabels.of(host, extra: [:], key: key)
        let fromCluster = (cluster ?? [:]).filter { derived[$0.key] == nil }
        let extra = fromCluster.merging(stored) { _, new in new }.merging(given) { _, new in new }
        return NodeLabels.of(host, extra: extra, key: key)
    }

    /// Reads the stored state and the drop-in policies, then the node; `nodeLabels` are `key=value` flags, checked
    /// last, as the commands always have.
    public static func load(
        store: StateStore, inventory: () throws(SRIOVError) -> HostInventory, nodeLabels: [String] = [],
        clusterLabels: [String: String]? = nil
    ) throws(SRIOVError) -> CurrentPlan {
        let (state, warnings) = try store.loadWithDropIns()
        let host = try inventory()
        var current = CurrentPlan(
            state: state, host: host, labels: try NodeLabels.parse(nodeLabels), clusterLabels: clusterLabels)
        current.warnings = warnings
        return current
    }

    /// What status lists for a slot that holds a different card than the policies were applied to.
    public static func differentCard(_ foreign: CardTracker.Foreign) -> String {
        "holds a different card (\(CardTracker.describe(CardIdentity(foreign.found)))) than the policies were applied to"
    }

    /// What restore says when it leaves such a slot alone: the slot, both cards, and what to do.
    public static func refusal(_ foreign: CardTracker.Foreign) -> String {
        "\(foreign.found.address): \(differentCard(foreign)) (\(CardTracker.describe(foreign.expected))); "
            + "not configuring it: apply the policies again to adopt this card"
    }
}
