/// Renders a `NodePlan`: JSON in the shape of the operator's
/// `SriovNetworkNodeState.spec.interfaces`, or a table.
public enum PlanReport {
    public static func json(_ plan: NodePlan) -> String {
        encodeJSON(PlanDocument(plan: plan))
    }

    public static func table(_ plan: NodePlan) -> String {
        var out = ""
        if plan.interfaces.isEmpty {
            out += "No PF of this node is configured by the stored policies.\n"
        } else {
            var rows = [["PF", "PCI ADDRESS", "VFS", "MTU", "LINK", "VF RANGE", "RESOURCE", "DEVICE TYPE", "POLICY"]]
            for interface in plan.interfaces {
                for (index, group) in interface.vfGroups.enumerated() {
                    let first = index == 0
                    rows.append([
                        first ? interface.name ?? "-" : "", first ? interface.pciAddress.description : "",
                        first ? String(interface.numVfs) : "", first ? interface.mtu.map(String.init) ?? "-" : "",
                        first ? interface.linkType ?? "-" : "",
                        "\(group.vfRange.lowerBound)-\(group.vfRange.upperBound)",
                        group.resourceName, group.deviceType.rawValue + (group.isRdma ? " rdma" : ""), group.policyName,
                    ])
                }
            }
            out += alignedColumns(rows)
        }
        let problems = plan.interfaces.flatMap { interface in
            interface.problems.map { "  \(interface.pciAddress) (\(interface.name ?? "no netdev")): \($0)\n" }
        }
        if !problems.isEmpty {
            out += "\nProblems (restore fails these PFs and writes nothing to them):\n" + problems.joined()
        }
        if !plan.unmatched.isEmpty {
            out += "\nPolicies that configure nothing on this node:\n"
            for (policy, reason) in plan.unmatched { out += "  \(policy): \(reason)\n" }
        }
        return out
    }
}

private struct PlanDocument: Encodable {
    let plan: NodePlan

    enum Keys: String, CodingKey { case interfaces, unmatched }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(plan.interfaces.map(InterfaceDocument.init), forKey: .interfaces)
        try c.encode(plan.unmatched.map(\.policy), forKey: .unmatched)
    }

    struct InterfaceDocument: Encodable {
        let interface: PlannedInterface
        enum Keys: String, CodingKey { case pciAddress, name, numVfs, mtu, linkType, vfGroups, problems }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(interface.pciAddress, forKey: .pciAddress)
            try c.encode(interface.name, forKey: .name)
            try c.encode(interface.numVfs, forKey: .numVfs)
            try c.encode(interface.mtu, forKey: .mtu)
            try c.encode(interface.linkType, forKey: .linkType)
            try c.encode(interface.vfGroups.map(GroupDocument.init), forKey: .vfGroups)
            try c.encode(interface.problems, forKey: .problems)
        }
    }

    struct GroupDocument: Encodable {
        let group: VFGroup
        enum Keys: String, CodingKey { case resourceName, deviceType, vfRange, policyName, mtu, isRdma }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(group.resourceName, forKey: .resourceName)
            try c.encode(group.deviceType.rawValue, forKey: .deviceType)
            try c.encode("\(group.vfRange.lowerBound)-\(group.vfRange.upperBound)", forKey: .vfRange)
            try c.encode(group.policyName, forKey: .policyName)
            try c.encode(group.mtu, forKey: .mtu)
            try c.encode(group.isRdma, forKey: .isRdma)
        }
    }
}
