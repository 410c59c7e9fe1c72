import FoundationEssentials

/// Harvester's way to give a VM a VF: a `PCIDeviceClaim` (devices.harvesterhci.io/v1beta1, cluster-scoped)
/// per VF, which the PCI devices addon (harvester/pcidevices at bdd8025) answers by binding the VF to vfio-pci
/// (`new_id` then `bind`), adding a `permittedHostDevices` entry to the KubeVirt CR and serving the VF from its
/// own device plugin, which sets the `PCI_RESOURCE_<name>` variable a VM's `hostDevices` are found by.
/// One claim per vfio-pci VF of the plan: the addon unbinds, at its start, every vfio-pci device no claim holds
/// (`unbindOrphanedPCIDevices`), so an unclaimed vfio-pci VF of ours would not stay bound.
public enum PCIDeviceClaims {
    public static let group = "devices.harvesterhci.io"
    public static let version = "v1beta1"
    public static let claimResource = "pcideviceclaims.devices.harvesterhci.io"
    public static let deviceResource = "pcidevices.devices.harvesterhci.io"
    /// What the Harvester UI writes for a standalone cluster's admin; the addon never reads it.
    public static let defaultUser = "admin"

    /// One VF to claim.
    public struct Claim: Equatable, Sendable {
        /// The `PCIDevice`'s name, which the claim must carry (the addon's create webhook looks the device up by it).
        public var name: String
        public var address: PCIAddress
        public var nodeName: String
        public var userName: String
        /// Ours: the plan's resource and the PF's VF index, for the report.
        public var resource: String
        public var pf: String
        public var vfIndex: Int
    }

    /// `PCIDeviceNameForHostname` (pkg/apis/devices.harvesterhci.io/v1beta1/pcidevice.go:150-157): the node name,
    /// a dash, and the full address with every ':' and '.' removed; nothing is lower-cased there.
    public static func deviceName(node: String, address: PCIAddress) -> String {
        "\(node)-" + address.description.filter { $0 != ":" && $0 != "." }
    }

    /// The claims for every vfio-pci VF the plan gives this node, and why any is left out. A VF's address comes
    /// from the link the kernel made when it exists, else from the PF's SR-IOV capability (First VF Offset and VF
    /// Stride, as drivers/pci/iov.c computes it), so the claims can be listed before the VFs exist.
    public static func wanted(plan: NodePlan, host: HostInventory, node: String, user: String)
        -> (claims: [Claim], notes: [String])
    {
        var claims: [Claim] = []
        var notes: [String] = []
        for planned in plan.interfaces {
            let pf = host.interfaces.first { $0.address == planned.pciAddress }
            let pfName = planned.name ?? pf?.name ?? planned.pciAddress.description
            for group in planned.vfGroups where group.deviceType == .vfioPCI {
                guard planned.problems.isEmpty else {
                    notes.append(
                        "\(pfName): resource \(group.resourceName) gets no claims: the plan cannot be carried out "
                            + "(\(planned.problems.joined(separator: "; "))); see harvester-sriov plan")
                    continue
                }
                for index in group.vfRange {
                    guard let address = vfAddress(pf, planned: planned.pciAddress, index: index) else {
                        notes.append(
                            "\(pfName): VF \(index) of resource \(group.resourceName) has no known PCI address (no "
                                + "SR-IOV capability read and no VF yet); run again once harvester-sriov restore made it"
                        )
                        continue
                    }
                    claims.append(
                        Claim(
                            name: deviceName(node: node, address: address), address: address, nodeName: node,
                            userName: user, resource: group.resourceName, pf: pfName, vfIndex: index))
                }
            }
        }
        if claims.isEmpty, notes.isEmpty {
            notes.append("the plan has no vfio-pci VFs on node \(node); there is nothing to claim")
        }
        return (claims.sorted { $0.address < $1.address }, notes)
    }

    static func vfAddress(_ pf: PhysicalFunction?, planned: PCIAddress, index: Int) -> PCIAddress? {
        if let existing = pf?.vfs.first(where: { $0.vfID == index }) { return existing.function.address }
        guard let capability = pf?.capability, capability.vfStride > 0 || index == 0 else { return nil }
        return planned.virtualFunction(index, offset: capability.firstVFOffset, stride: capability.vfStride)
    }

    /// The claim as `kubectl apply` takes it; `owner` is the `PCIDevice`'s uid, which the addon's controller needs in
    /// `ownerReferences[0]` to find the device (`pcideviceclaim_controller.go:560-573`) and which only the API knows.
    public static func object(_ claim: Claim, ownerUID: String? = nil) -> YAMLValue {
        var metadata = [YAMLPair("name", .string(claim.name))]
        if let ownerUID {
            metadata.append(
                YAMLPair(
                    "ownerReferences",
                    .sequence([
                        .mapping([
                            YAMLPair("apiVersion", .string("\(group)/\(version)")),
                            YAMLPair("kind", .string("PCIDevice")),
                            YAMLPair("name", .string(claim.name)),
                            YAMLPair("uid", .string(ownerUID)),
                        ])
                    ])))
        }
        return .mapping([
            YAMLPair("apiVersion", .string("\(group)/\(version)")),
            YAMLPair("kind", .string("PCIDeviceClaim")),
            YAMLPair("metadata", .mapping(metadata)),
            YAMLPair(
                "spec",
                .mapping([
                    YAMLPair("address", .string(claim.address.description)),
                    YAMLPair("nodeName", .string(claim.nodeName)),
                    YAMLPair("userName", .string(claim.userName)),
                ])),
        ])
    }

    /// Every claim, one YAML document each.
    public static func yaml(_ claims: [Claim], ownerUIDs: [String: String] = [:]) throws(SRIOVError) -> String {
        var documents: [String] = []
        for claim in claims {
            do {
                documents.append(try YAMLEmitter.document(object(claim, ownerUID: ownerUIDs[claim.name])))
            } catch {
                throw .usage("cannot write the PCIDeviceClaim \(claim.name) as YAML: \(error)")
            }
        }
        return documents.joined(separator: "---\n")
    }

    // MARK: - What the API returns

    /// A `PCIDevice` as the addon keeps it: what a claim and a VM need.
    public struct Device: Equatable, Sendable {
        public var name: String
        public var uid: String
        public var address: String
        public var nodeName: String
        /// What a VM's `hostDevices[].deviceName` must name (the addon's VM webhook checks it).
        public var resourceName: String
        public var iommuGroup: String
    }

    /// A `PCIDeviceClaim` as the API returns it.
    public struct ExistingClaim: Equatable, Sendable {
        public var name: String
        public var nodeName: String
        public var passthroughEnabled: Bool
    }

    struct List<Item: Decodable>: Decodable { var items: [Item] }
    struct Metadata: Decodable {
        var name: String
        var uid: String?
    }

    /// Reads `kubectl get pcidevices -o json`.
    public static func devices(fromJSON text: String) throws(SRIOVError) -> [Device] {
        struct Item: Decodable {
            struct Status: Decodable {
                var address: String?
                var nodeName: String?
                var resourceName: String?
                var iommuGroup: String?
            }
            var metadata: Metadata
            var status: Status?
        }
        let list: List<Item> = try decode(text, what: deviceResource)
        return list.items.map {
            Device(
                name: $0.metadata.name, uid: $0.metadata.uid ?? "", address: $0.status?.address ?? "",
                nodeName: $0.status?.nodeName ?? "", resourceName: $0.status?.resourceName ?? "",
                iommuGroup: $0.status?.iommuGroup ?? "")
        }
    }

    /// Reads `kubectl get pcideviceclaims -o json`.
    public static func claims(fromJSON text: String) throws(SRIOVError) -> [ExistingClaim] {
        struct Item: Decodable {
            struct Spec: Decodable { var nodeName: String? }
            struct Status: Decodable { var passthroughEnabled: Bool? }
            var metadata: Metadata
            var spec: Spec?
            var status: Status?
        }
        let list: List<Item> = try decode(text, what: claimResource)
        return list.items.map {
            ExistingClaim(
                name: $0.metadata.name, nodeName: $0.spec?.nodeName ?? "",
                passthroughEnabled: $0.status?.passthroughEnabled ?? false)
        }
    }

    static func decode<T: Decodable>(_ text: String, what: String) throws(SRIOVError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw .cluster(.rejected, "kubectl get \(what) printed no list of objects; check the kubectl version")
        }
    }
}
