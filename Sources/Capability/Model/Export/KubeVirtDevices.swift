/// A JSON merge patch for the `KubeVirt` CR that permits this node's vfio-pci pools as host
/// devices: `spec.configuration.permittedHostDevices.pciHostDevices`, one entry per resource
/// and VF vendor:device ID (kubevirt.io/api core/v1 `PciHostDevice`), for KubeVirt's own PCI device plugin
/// (`externalResourceProvider: false`).
///
/// That plugin is the one that serves a VM's `hostDevices`: it sets `PCI_RESOURCE_<resource>`, where
/// virt-launcher finds the device (kubevirt `pkg/virt-launcher/virtwrap/device/hostdevice/generic/addresspool.go`).
/// The SR-IOV network device plugin sets `PCIDEVICE_...` only, so an external entry served by it gives the VM no
/// device. KubeVirt's plugin serves every device bound to vfio-pci whose ID an entry names, with one resource per
/// ID: its map is keyed by the selector, so a second entry with the same ID replaces the first
/// (`pkg/virt-handler/device-manager/device_controller.go`, `discoverPermittedHostPCIDevices`, kubevirt v1.8.3).
/// VFs of other resources on the same ID are on their kernel driver, not vfio-pci, so the plugin leaves them be.
public struct KubeVirtDevices: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        /// `<prefix>/<resourceName>`.
        public var resourceName: String
        /// `vvvv:dddd`, lower case, as KubeVirt compares it.
        public var pciVendorSelector: String
    }

    /// On Harvester the PCI devices addon writes `permittedHostDevices` as it binds claimed devices
    /// (pcidevices `pcideviceclaim_controller.go`, `reconcileKubevirtCR`): a patch of ours would replace its entries.
    public static let harvesterRefusal =
        "export kubevirt: on Harvester the PCI devices addon owns the KubeVirt CR's permittedHostDevices and "
        + "adds an entry for each device it binds; claim the vfio-pci VFs instead (harvester-sriov pcidevices "
        + "--claim), or pass --layout fhs for a plain KubeVirt cluster"

    public var entries: [Entry]
    /// Why a PF gives no entry, one line each, for stderr.
    public var notes: [String]

    /// Pure. Throws when two resources' vfio-pci VFs share one ID: KubeVirt can serve only one of them.
    public init(plan: NodePlan, host: HostInventory, prefix: String) throws(SRIOVError) {
        var notes: [String] = []
        var wanted: [(resource: String, id: String)] = []
        // VFs of a served ID that no resource of ours holds: restore leaves their driver alone.
        var strays: [(id: String, what: String)] = []
        for planned in plan.interfaces {
            let pf = host.interfaces.first { $0.address == planned.pciAddress }
            let pfName = planned.name ?? pf?.name ?? planned.pciAddress.description
            let groups = planned.vfGroups.filter { $0.deviceType == .vfioPCI }
            guard let vendor = pf?.function.vendor, let device = DevicePluginConfig.vfDeviceID(pf) else {
                for group in groups {
                    notes.append(
                        "\(pfName): the VFs' device ID is unknown (no SR-IOV capability read and no VF yet), so "
                            + "resource \(group.resourceName) gets no entry from this PF; run again once its VFs exist")
                }
                continue
            }
            let id = "\(vendor):\(device)".lowercased()
            for group in groups where !wanted.contains(where: { $0 == (group.resourceName, id) }) {
                wanted.append((group.resourceName, id))
            }
            let covered = planned.vfGroups.reduce(0) { $0 + $1.vfRange.count }
            if covered < planned.numVfs { strays.append((id, "VFs of \(pfName) that no policy's range takes")) }
        }
        for pf in host.interfaces where !plan.interfaces.contains(where: { $0.pciAddress == pf.address }) {
            guard let device = DevicePluginConfig.vfDeviceID(pf) else { continue }
            strays.append(
                (
                    "\(pf.function.vendor):\(device)".lowercased(),
                    "PF \(pf.name ?? pf.address.description)'s VFs (no policy selects it)"
                ))
        }
        wanted.sort { ($0.resource, $0.id) < ($1.resource, $1.id) }
        for (id, holders) in Dictionary(grouping: wanted, by: \.id).sorted(by: { $0.key < $1.key })
        where holders.count > 1 {
            throw .cluster(
                .rejected,
                "resources \(holders.map(\.resource).joined(separator: " and ")) all have vfio-pci VFs of ID \(id), and "
                    + "KubeVirt's PCI device plugin serves one resource per vendor:device ID "
                    + "(discoverPermittedHostPCIDevices): make all but one of them deviceType netdevice, or one "
                    + "resource of both; on Harvester, claim the VFs instead (harvester-sriov pcidevices --claim)")
        }
        for (resource, id) in wanted {
            let others = strays.filter { $0.id == id }.map(\.what)
            guard !others.isEmpty else { continue }
            notes.append(
                "\(id) is also the VF ID of \(others.joined(separator: ", ")); KubeVirt's device plugin serves every "
                    + "device of that ID bound to vfio-pci as resource \(resource), so keep those on their network driver"
            )
        }
        entries = wanted.map {
            Entry(resourceName: ResourcePrefix.qualified($0.resource, prefix: prefix), pciVendorSelector: $0.id)
        }
        if entries.isEmpty {
            notes.append(
                "the plan has no vfio-pci VFs on node \(host.node); the patch leaves pciHostDevices as it is")
        }
        self.notes = notes
    }

    /// The merge patch. With no entry it names no list: an empty one would remove every permitted device.
    public func json() -> String {
        JSONWriter.text { json in
            json.object { json in
                json.key("spec")
                json.object { json in
                    json.key("configuration")
                    json.object { json in
                        json.key("permittedHostDevices")
                        json.object { json in
                            guard !entries.isEmpty else { return }
                            json.key("pciHostDevices")
                            json.array(entries) { json, entry in
                                json.object { json in
                                    json.member("externalResourceProvider", false)
                                    json.member("pciVendorSelector", entry.pciVendorSelector)
                                    json.member("resourceName", entry.resourceName)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
