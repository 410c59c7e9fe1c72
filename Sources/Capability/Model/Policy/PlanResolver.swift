/// This node's VF plan: what the stored policies ask of each PF. The JSON shape is
/// the operator's `SriovNetworkNodeState.spec.interfaces`.
public struct NodePlan: Equatable, Sendable {
    public var interfaces: [PlannedInterface]
    /// Policies that select no PF of this node, with why.
    public var unmatched: [(policy: String, reason: String)]

    public static func == (lhs: NodePlan, rhs: NodePlan) -> Bool {
        lhs.interfaces == rhs.interfaces && lhs.unmatched.map(\.policy) == rhs.unmatched.map(\.policy)
            && lhs.unmatched.map(\.reason) == rhs.unmatched.map(\.reason)
    }
}

public struct PlannedInterface: Equatable, Sendable {
    public var pciAddress: PCIAddress
    public var name: String?
    public var numVfs: Int
    public var mtu: Int?
    public var linkType: String?
    /// Sorted by the first VF index.
    public var vfGroups: [VFGroup]
    /// The policy whose numVfs the PF gets: the one to change when it is too many.
    public var numVfsPolicy: String
    /// Why this node cannot have this plan (numVfs above `sriov_totalvfs`); restore fails
    /// such a PF before it writes anything. Empty when the plan can be carried out.
    public var problems: [String] = []
}

public struct VFGroup: Equatable, Sendable {
    public var resourceName: String
    public var deviceType: DeviceType
    public var vfRange: ClosedRange<Int>
    public var policyName: String
    public var mtu: Int?
    public var isRdma: Bool
    public var vfOptions: VFOptions = VFOptions()
}

/// Resolves policies against a host with the operator's semantics: policies apply
/// from the lowest priority (99) to the highest (0), by name within one priority; a
/// later policy replaces what an earlier one set on the same PF, except that VF
/// groups with another resource name and a disjoint VF range are kept, in which case
/// (or when both have the same priority) the PF gets the larger VF count and MTU.
public enum PlanResolver {
    public static func resolve(_ policies: [NodePolicy], host: HostInventory, labels: [String: String]) -> NodePlan {
        let ordered = policies.sorted {
            $0.spec.priority != $1.spec.priority ? $0.spec.priority > $1.spec.priority : $0.name < $1.name
        }
        var interfaces: [PlannedInterface] = []
        var unmatched: [(String, String)] = []
        var lastPriority: Int?
        for policy in ordered {
            let spec = policy.spec
            if let reason = selectorMismatch(spec.nodeSelector, labels: labels) {
                unmatched.append((policy.name, reason))
                continue
            }
            let equalPriority = lastPriority == spec.priority
            lastPriority = spec.priority
            guard spec.numVfs >= 1 else {
                // Refused in manifests and stored states; a guard here keeps 0...(numVfs - 1) from trapping.
                unmatched.append((policy.name, "numVfs \(spec.numVfs) asks for no VFs"))
                continue
            }
            let selected = host.interfaces.filter { spec.nicSelector.selects($0) }
            if selected.isEmpty {
                unmatched.append((policy.name, "nicSelector matches no SR-IOV PF of this node"))
                continue
            }
            for pf in selected {
                let range = spec.nicSelector.pfNames.first { $0.name == pf.name }?.range ?? 0...(spec.numVfs - 1)
                let group = VFGroup(
                    resourceName: spec.resourceName, deviceType: spec.deviceType, vfRange: range,
                    policyName: policy.name, mtu: spec.mtu, isRdma: spec.isRdma, vfOptions: policy.vfOptions)
                var result = PlannedInterface(
                    pciAddress: pf.address, name: pf.name, numVfs: spec.numVfs, mtu: spec.mtu,
                    linkType: spec.linkType, vfGroups: [group], numVfsPolicy: policy.name)
                if let index = interfaces.firstIndex(where: { $0.pciAddress == pf.address }) {
                    merge(interfaces[index], into: &result, equalPriority: equalPriority)
                    interfaces[index] = result
                } else {
                    interfaces.append(result)
                }
            }
        }
        for index in interfaces.indices {
            interfaces[index].vfGroups.sort { $0.vfRange.lowerBound < $1.vfRange.lowerBound }
            if let pf = host.interfaces.first(where: { $0.address == interfaces[index].pciAddress }),
                interfaces[index].numVfs > pf.totalVFs
            {
                interfaces[index].problems.append(tooManyVFs(interfaces[index], totalVFs: pf.totalVFs))
            }
        }
        interfaces.sort { $0.pciAddress < $1.pciAddress }
        return NodePlan(interfaces: interfaces, unmatched: unmatched)
    }

    /// Why a nodeSelector does not select this node, naming each key it lacks or has with another value;
    /// nil when it selects the node.
    static func selectorMismatch(_ selector: [String: String], labels: [String: String]) -> String? {
        let wrong = selector.sorted { $0.key < $1.key }.filter { labels[$0.key] != $0.value }
        guard !wrong.isEmpty else { return nil }
        let facts = wrong.map { key, value in
            labels[key].map { "it has \(key)=\($0)" }
                ?? "it has no label \(key) (--node-label \(key)=\(value) gives it one)"
        }
        return
            "nodeSelector \(wrong.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) does not match this node: "
            + facts.joined(separator: "; ")
    }

    private static func merge(_ existing: PlannedInterface, into result: inout PlannedInterface, equalPriority: Bool) {
        let newest = result.vfGroups[0]
        var merged = false
        for group in existing.vfGroups
        where group.resourceName != newest.resourceName && !group.vfRange.overlaps(newest.vfRange) {
            result.vfGroups.append(group)
            merged = true
        }
        guard equalPriority || merged else { return }
        result.mtu = [result.mtu, existing.mtu].compactMap { $0 }.max()
        if existing.numVfs > result.numVfs {
            result.numVfs = existing.numVfs
            result.numVfsPolicy = existing.numVfsPolicy
        }
    }

    /// The kernel refuses more VFs than `sriov_totalvfs` (ERANGE); plan and restore say
    /// so first, naming the policy to change.
    public static func tooManyVFs(_ planned: PlannedInterface, totalVFs: Int) -> String {
        let policy = "policy \"\(planned.numVfsPolicy)\""
        return "\(policy) asks for \(planned.numVfs) VFs, but the PF allows at most \(totalVFs) (sriov_totalvfs); "
            + "lower numVfs in \(policy)"
    }
}
