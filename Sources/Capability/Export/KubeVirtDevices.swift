/// A JSON merge patch for the `KubeVirt` CR that permits this node's vfio-pci pools as host
/// devices: `spec.configuration.permittedHostDevices.pciHostDevices`, one entry per resource
/// and VF vendor:device ID (kubevirt.io/api core/v1 `PciHostDevice`).
///
/// KubeVirt's own device plugin (virt-handler `device_controller.go`) pools every vfio-pci
/// device of one vendor:device ID on a node as one resource. Where VFs of that ID belong to
/// anything but the one resource (another resource, VFs of a planned PF that no group takes,
/// a PF the plan leaves out), its pool would mix them, so the entry is marked
/// `externalResourceProvider: true` and the SR-IOV device plugin's pools serve it.
public struct KubeVirtDevices: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        /// `<prefix>/<resourceName>`.
        public var resourceName: String
        /// `vvvv:dddd`, lower case, as KubeVirt compares it.
        public var pciVendorSelector: String
        public var externalResourceProvider: Bool
    }

    public var entries: [Entry]
    /// Why entries are external or left out, one line each, for stderr.
    public var notes: [String]

    /// Pure. `allExternal` marks every entry external: for clusters where the SR-IOV device plugin
    /// serves the vfio-pci pools too, which KubeVirt's plugin must then not advertise a second time.
    public init(plan: NodePlan, host: HostInventory, prefix: String, allExternal: Bool = false) {
        var notes: [String] = []
        var holders: [String: [String]] = [:]
        func hold(_ id: String, _ holder: String) {
            if !(holders[id]?.contains(holder) ?? false) { holders[id, default: []].append(holder) }
        }
        var wanted: [(resource: String, id: String)] = []
        for planned in plan.interfaces {
            let pf = host.interfaces.first { $0.address == planned.pciAddress }
            let pfName = planned.name ?? pf?.name ?? planned.pciAddress.description
            guard let vendor = pf?.function.vendor, let device = DevicePluginConfig.vfDeviceID(pf) else {
                for group in planned.vfGroups where group.deviceType == .vfioPCI {
                    notes.append(
                        "\(pfName): the VFs' device ID is unknown (no SR-IOV capability read and no VF yet), so "
                            + "resource \(group.resourceName) gets no entry from this PF; run again once its VFs exist")
                }
                continue
            }
            let id = "\(vendor):\(device)".lowercased()
            for group in planned.vfGroups {
                hold(id, "resource \(group.resourceName)")
                if group.deviceType == .vfioPCI, !wanted.contains(where: { $0 == (group.resourceName, id) }) {
                    wanted.append((group.resourceName, id))
                }
            }
            let covered = planned.vfGroups.reduce(0) { $0 + $1.vfRange.count }
            if covered < planned.numVfs { hold(id, "VFs of \(pfName) that no policy's range takes") }
        }
        for pf in host.interfaces where !plan.interfaces.contains(where: { $0.pciAddress == pf.address }) {
            guard let device = DevicePluginConfig.vfDeviceID(pf) else { continue }
            hold(
                "\(pf.function.vendor):\(device)".lowercased(),
                "PF \(pf.name ?? pf.address.description) (no policy selects it)")
        }
        wanted.sort { ($0.resource, $0.id) < ($1.resource, $1.id) }
        var noted: Set<String> = []
        entries = wanted.map { resource, id in
            let others = (holders[id] ?? []).filter { $0 != "resource \(resource)" }
            if !others.isEmpty, !allExternal, noted.insert(id).inserted {
                notes.append(
                    "\(id) is the VF ID of \((holders[id] ?? []).joined(separator: ", ")); KubeVirt's own device "
                        + "plugin would pool them as one, so its entries are externalResourceProvider: true and "
                        + "need the SR-IOV device plugin's pools (export device-plugin --write)")
            }
            return Entry(
                resourceName: ResourcePrefix.qualified(resource, prefix: prefix), pciVendorSelector: id,
                externalResourceProvider: allExternal || !others.isEmpty)
        }
        if entries.isEmpty {
            notes.append(
                "the plan has no vfio-pci VFs on node \(host.node); the patch leaves pciHostDevices as it is")
        }
        self.notes = notes
    }

    /// The merge patch. With no entry it names no list: an empty one would remove every permitted device.
    public func json() -> String {
        PrettyJSON.text { json in
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
                                    json.member("externalResourceProvider", entry.externalResourceProvider)
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
