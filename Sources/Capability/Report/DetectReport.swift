import FoundationEssentials

/// Renders a `HostInventory` for people (a table) and for machines (JSON whose interface
/// objects use the operator's `SriovNetworkNodeState.status.interfaces` names).
public enum DetectReport {
    public static func json(_ host: HostInventory) -> String {
        encodeJSON(HostDocument(host))
    }

    public static func table(_ host: HostInventory) -> String {
        var out = "Node \(host.node): network-sriov.capable=\(host.capable)\n"
        if host.interfaces.isEmpty {
            out += "\nNo SR-IOV capable NIC.\n"
        } else {
            var rows = [["PF", "PCI ADDRESS", "DRIVER", "ID", "VFS", "NUMA", "MAC", "DEVICE"]]
            for pf in host.interfaces {
                rows.append([
                    pf.name ?? "-", pf.address.description, pf.function.driver ?? "-",
                    "\(pf.function.vendor):\(pf.function.deviceID)",
                    "\(pf.numVFs.map(String.init) ?? "-")/\(pf.totalVFs)",
                    pf.numaNode.map(String.init) ?? "-", pf.function.primaryNetdev?.mac ?? "-",
                    pf.deviceName ?? "-",
                ])
                for vf in pf.vfs {
                    rows.append([
                        "  vf \(vf.vfID) " + (vf.function.primaryNetdev?.name ?? "-"), vf.function.address.description,
                        vf.function.driver ?? "-", "\(vf.function.vendor):\(vf.function.deviceID)", "", "",
                        vf.function.primaryNetdev?.mac ?? "-", "",
                    ])
                }
            }
            out += "\n" + alignedColumns(rows)
        }
        if !host.unusable.isEmpty {
            out += "\nNot usable for SR-IOV:\n"
            var rows = [["PCI ADDRESS", "NAME", "ID", "REASON", "DETAIL"]]
            for nic in host.unusable {
                rows.append([
                    nic.function.address.description, nic.function.primaryNetdev?.name ?? "-",
                    "\(nic.function.vendor):\(nic.function.deviceID)", nic.reason.rawValue, nic.detail,
                ])
            }
            out += alignedColumns(rows)
        }
        return out
    }
}

// MARK: - The JSON documents

private struct HostDocument: Encodable {
    let host: HostInventory
    init(_ host: HostInventory) { self.host = host }

    enum Keys: String, CodingKey { case node, capable, interfaces, unusable }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(host.node, forKey: .node)
        try c.encode(host.capable, forKey: .capable)
        try c.encode(host.interfaces.map(InterfaceDocument.init), forKey: .interfaces)
        try c.encode(host.unusable.map(UnusableDocument.init), forKey: .unusable)
    }
}

private struct InterfaceDocument: Encodable {
    let pf: PhysicalFunction

    enum Keys: String, CodingKey {
        case name, mac, permanentMac, driver, pciAddress, vendor, deviceID, vendorName, deviceName, mtu, numVfs,
            totalvfs
        case linkSpeed, linkType, linkAdminState, vfDeviceID, numaNode, iommuGroup, serialNumber, netdevs
        case sriovCapability
        // The operator's SriovNetworkNodeState spells it so.
        // swift-format-ignore: AlwaysUseLowerCamelCase
        case Vfs
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        let netdev = pf.function.primaryNetdev
        try c.encode(netdev?.name, forKey: .name)
        try c.encode(netdev?.mac, forKey: .mac)
        try c.encode(netdev?.permanentMAC, forKey: .permanentMac)
        try c.encode(pf.function.driver, forKey: .driver)
        try c.encode(pf.address, forKey: .pciAddress)
        try c.encode(pf.function.vendor, forKey: .vendor)
        try c.encode(pf.function.deviceID, forKey: .deviceID)
        try c.encode(pf.vendorName, forKey: .vendorName)
        try c.encode(pf.deviceName, forKey: .deviceName)
        try c.encode(netdev?.mtu, forKey: .mtu)
        try c.encode(pf.numVFs, forKey: .numVfs)
        try c.encode(pf.totalVFs, forKey: .totalvfs)
        try c.encode(netdev?.speed.map { "\($0) Mb/s" }, forKey: .linkSpeed)
        try c.encode(netdev?.linkType, forKey: .linkType)
        try c.encode(netdev?.adminUp.map { $0 ? "up" : "down" }, forKey: .linkAdminState)
        try c.encode(pf.capability?.vfDeviceID, forKey: .vfDeviceID)
        try c.encode(pf.numaNode, forKey: .numaNode)
        try c.encode(pf.iommuGroup, forKey: .iommuGroup)
        try c.encode(pf.serialNumber, forKey: .serialNumber)
        try c.encode(pf.function.netdevs.map(\.name), forKey: .netdevs)
        try c.encode(pf.capability.map(CapabilityDocument.init), forKey: .sriovCapability)
        try c.encode(pf.vfs.map(VFDocument.init), forKey: .Vfs)
    }
}

private struct CapabilityDocument: Encodable {
    let totalVFs, initialVFs, numVFs, firstVFOffset, vfStride: Int
    let vfDeviceID: String

    init(_ cap: SRIOVCapability) {
        (totalVFs, initialVFs, numVFs, firstVFOffset, vfStride, vfDeviceID) =
            (cap.totalVFs, cap.initialVFs, cap.numVFs, cap.firstVFOffset, cap.vfStride, cap.vfDeviceID)
    }
}

private struct VFDocument: Encodable {
    let vf: VirtualFunction

    enum Keys: String, CodingKey { case vfID, name, mac, driver, pciAddress, vendor, deviceID, mtu, iommuGroup }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        let netdev = vf.function.primaryNetdev
        try c.encode(vf.vfID, forKey: .vfID)
        try c.encode(netdev?.name, forKey: .name)
        try c.encode(netdev?.mac, forKey: .mac)
        try c.encode(vf.function.driver, forKey: .driver)
        try c.encode(vf.function.address, forKey: .pciAddress)
        try c.encode(vf.function.vendor, forKey: .vendor)
        try c.encode(vf.function.deviceID, forKey: .deviceID)
        try c.encode(netdev?.mtu, forKey: .mtu)
        try c.encode(vf.iommuGroup, forKey: .iommuGroup)
    }
}

private struct UnusableDocument: Encodable {
    let nic: UnusableNIC

    enum Keys: String, CodingKey { case pciAddress, name, vendor, deviceID, driver, reason, detail }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(nic.function.address, forKey: .pciAddress)
        try c.encode(nic.function.primaryNetdev?.name, forKey: .name)
        try c.encode(nic.function.vendor, forKey: .vendor)
        try c.encode(nic.function.deviceID, forKey: .deviceID)
        try c.encode(nic.function.driver, forKey: .driver)
        try c.encode(nic.reason.rawValue, forKey: .reason)
        try c.encode(nic.detail, forKey: .detail)
    }
}
