/// Renders a `HostInventory` for people (a table) and for machines (JSON whose interface
/// objects use the operator's `SriovNetworkNodeState.status.interfaces` names).
public enum DetectReport {
    public static func json(_ host: HostInventory) -> String {
        JSONWriter.text { write(host, to: &$0) }
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

// Members in the UTF-8 order of their keys: upper case before lower case.
extension DetectReport {
    static func write(_ host: HostInventory, to json: inout JSONWriter) {
        json.object { json in
            json.member("capable", host.capable)
            json.key("interfaces")
            json.array(host.interfaces) { json, pf in write(pf, to: &json) }
            json.member("node", host.node)
            json.key("unusable")
            json.array(host.unusable) { json, nic in write(nic, to: &json) }
        }
    }

    static func write(_ pf: PhysicalFunction, to json: inout JSONWriter) {
        let netdev = pf.function.primaryNetdev
        json.object { json in
            // The operator's SriovNetworkNodeState spells it so.
            json.key("Vfs")
            json.array(pf.vfs) { json, vf in write(vf, to: &json) }
            json.member("deviceID", pf.function.deviceID)
            json.member("deviceName", pf.deviceName)
            json.member("driver", pf.function.driver)
            json.member("iommuGroup", pf.iommuGroup)
            json.member("linkAdminState", netdev?.adminUp.map { $0 ? "up" : "down" })
            json.member("linkSpeed", netdev?.speed.map { "\($0) Mb/s" })
            json.member("linkType", netdev?.linkType)
            json.member("mac", netdev?.mac)
            json.member("mtu", netdev?.mtu)
            json.member("name", netdev?.name)
            json.key("netdevs")
            json.array(pf.function.netdevs) { json, netdev in json.string(netdev.name) }
            json.member("numVfs", pf.numVFs)
            json.member("numaNode", pf.numaNode)
            json.member("pciAddress", pf.address.sysfsName)
            json.member("permanentMac", netdev?.permanentMAC)
            json.member("serialNumber", pf.serialNumber)
            json.key("sriovCapability")
            if let cap = pf.capability {
                json.object { json in
                    json.member("firstVFOffset", cap.firstVFOffset)
                    json.member("initialVFs", cap.initialVFs)
                    json.member("numVFs", cap.numVFs)
                    json.member("totalVFs", cap.totalVFs)
                    json.member("vfDeviceID", cap.vfDeviceID)
                    json.member("vfStride", cap.vfStride)
                }
            } else {
                json.null()
            }
            json.member("totalvfs", pf.totalVFs)
            json.member("vendor", pf.function.vendor)
            json.member("vendorName", pf.vendorName)
            json.member("vfDeviceID", pf.capability?.vfDeviceID)
        }
    }

    static func write(_ vf: VirtualFunction, to json: inout JSONWriter) {
        let netdev = vf.function.primaryNetdev
        json.object { json in
            json.member("deviceID", vf.function.deviceID)
            json.member("driver", vf.function.driver)
            json.member("iommuGroup", vf.iommuGroup)
            json.member("mac", netdev?.mac)
            json.member("mtu", netdev?.mtu)
            json.member("name", netdev?.name)
            json.member("pciAddress", vf.function.address.sysfsName)
            json.member("vendor", vf.function.vendor)
            json.member("vfID", vf.vfID)
        }
    }

    static func write(_ nic: UnusableNIC, to json: inout JSONWriter) {
        json.object { json in
            json.member("detail", nic.detail)
            json.member("deviceID", nic.function.deviceID)
            json.member("driver", nic.function.driver)
            json.member("name", nic.function.primaryNetdev?.name)
            json.member("pciAddress", nic.function.address.sysfsName)
            json.member("reason", nic.reason.rawValue)
            json.member("vendor", nic.function.vendor)
        }
    }
}
