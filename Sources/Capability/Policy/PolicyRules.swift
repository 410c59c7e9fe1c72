/// The operator's admission rules, in three scopes: one policy alone, a set of
/// policies together, and policies against the live host.
public enum PolicyRules {
    public struct Issue: Equatable, Sendable {
        public var field: String
        public var message: String
    }

    /// Rules one policy must meet on its own (the webhook's static validation).
    static func check(_ spec: PolicySpec) -> [Issue] {
        var issues: [Issue] = []
        for pfName in spec.nicSelector.pfNames {
            if let range = pfName.range, range.upperBound >= spec.numVfs {
                issues.append(Issue(field: "spec.nicSelector.pfNames", message:
                    "the VF range of \"\(pfName)\" ends at index \(range.upperBound), but numVfs is \(spec.numVfs), so the last VF index is \(spec.numVfs &- 1)"))
            }
        }
        if spec.deviceType == .vfioPCI && spec.isRdma {
            issues.append(Issue(field: "spec.deviceType", message:
                "'deviceType: vfio-pci' conflicts with 'isRdma: true'; set deviceType to netdevice, or isRdma to false"))
        }
        return issues
    }

    /// Rules between policies: the webhook's checks against the other policies that
    /// select the same node. `origins` names the file each policy came from.
    public static func checkSet(_ policies: [NodePolicy], origins: [String: String]) -> [PolicyProblem] {
        var problems: [PolicyProblem] = []
        func problem(_ policy: NodePolicy, _ field: String, _ message: String) {
            problems.append(PolicyProblem(file: origins[policy.name] ?? "stored state", policy: policy.name, field: field, message: message))
        }
        let sorted = policies.sorted { $0.name < $1.name }
        for (index, current) in sorted.enumerated() {
            for other in sorted[(index + 1)...] {
                let a = current.spec, b = other.spec
                for pfA in a.nicSelector.pfNames {
                    for pfB in b.nicSelector.pfNames where pfA.name == pfB.name {
                        if let rangeA = pfA.range, let rangeB = pfB.range, rangeA.overlaps(rangeB) {
                            problem(other, "spec.nicSelector.pfNames", "the VF range of \"\(pfB)\" overlaps \"\(pfA)\" of policy \"\(current.name)\"; give each policy its own VFs of \(pfA.name)")
                        }
                    }
                }
                for device in b.nicSelector.rootDevices where a.nicSelector.rootDevices.contains(device) {
                    problem(other, "spec.nicSelector.rootDevices", "root device \(device) is also selected by policy \"\(current.name)\"; a PF can be a root device of one policy only")
                }
                if a.resourceName == b.resourceName, a.excludeTopology != b.excludeTopology {
                    problem(other, "spec.excludeTopology", "is \(b.excludeTopology) but policy \"\(current.name)\" sets \(a.excludeTopology) for the same resource \(a.resourceName); make them equal")
                }
                let sharedPF = a.nicSelector.pfNames.contains { pf in b.nicSelector.pfNames.contains { $0.name == pf.name } }
                    || a.nicSelector.rootDevices.contains { b.nicSelector.rootDevices.contains($0) }
                if sharedPF, let linkA = a.linkType, let linkB = b.linkType, linkA != linkB {
                    problem(other, "spec.linkType", "is \(linkB) but policy \"\(current.name)\" sets \(linkA) on the same PF; a PF has one link type")
                }
            }
        }
        return problems
    }

    /// Rules against the node's NICs, checked when the target is the live host.
    /// Returns errors and warnings (a selector that matches nothing is a warning:
    /// the card may be added later).
    public static func checkHost(_ policies: [NodePolicy], host: HostInventory, origins: [String: String])
        -> (errors: [PolicyProblem], warnings: [PolicyProblem]) {
        var errors: [PolicyProblem] = [], warnings: [PolicyProblem] = []
        for policy in policies.sorted(by: { $0.name < $1.name }) {
            let spec = policy.spec
            let file = origins[policy.name] ?? "stored state"
            func error(_ field: String, _ message: String) {
                errors.append(PolicyProblem(file: file, policy: policy.name, field: field, message: message))
            }
            for pf in host.interfaces where spec.nicSelector.selects(pf) {
                let label = "\(pf.name ?? "PF") (\(pf.address))"
                if spec.numVfs > pf.totalVFs {
                    error("spec.numVfs", "asks for \(spec.numVfs) VFs on \(label), which allows at most \(pf.totalVFs) (sriov_totalvfs)")
                }
                if pf.function.vendor == "15b3", spec.numVfs > 128 {
                    error("spec.numVfs", "asks for \(spec.numVfs) VFs on Mellanox \(label); the operator allows at most 128")
                }
                if spec.deviceType == .vfioPCI, pf.iommuGroup == nil {
                    error("spec.deviceType", "vfio-pci needs an IOMMU, but \(label) has no iommu_group: enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (or amd_iommu=on)")
                }
                if let wanted = spec.linkType, let actual = pf.function.primaryNetdev?.linkType, wanted != actual {
                    error("spec.linkType", "is \(wanted) but \(label) is \(actual); harvester-sriov does not change a port's link type (use the vendor's tool, e.g. mlxconfig LINK_TYPE_P1)")
                }
            }
            for pfName in spec.nicSelector.pfNames where !host.interfaces.contains(where: { $0.name == pfName.name }) {
                warnings.append(PolicyProblem(file: file, policy: policy.name, field: "spec.nicSelector.pfNames",
                                              message: "no SR-IOV PF named \(pfName.name) on this node (harvester-sriov detect lists them)"))
            }
            for device in spec.nicSelector.rootDevices where !host.interfaces.contains(where: { $0.address.description == device }) {
                warnings.append(PolicyProblem(file: file, policy: policy.name, field: "spec.nicSelector.rootDevices",
                                              message: "no SR-IOV PF at \(device) on this node (harvester-sriov detect lists them)"))
            }
        }
        return (errors, warnings)
    }
}

extension NICSelector {
    /// The operator's NIC match: every selector field that is set must match.
    public func selects(_ pf: PhysicalFunction) -> Bool {
        if let vendor, vendor != pf.function.vendor { return false }
        if let deviceID, deviceID != pf.function.deviceID { return false }
        if !rootDevices.isEmpty, !rootDevices.contains(pf.address.description) { return false }
        if !pfNames.isEmpty {
            guard let name = pf.name, pfNames.contains(where: { $0.name == name }) else { return false }
        }
        return true
    }
}
