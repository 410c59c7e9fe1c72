import Capability
import SRIOVHost
import SRIOVModel

/// Stands in for sriov-network-device-plugin's selection of a netDevice pool (pkg/netdevice/
/// netDeviceProvider.go GetFilteredDevices, pkg/resources/deviceSelectors.go): every non-empty list
/// narrows the devices; a pfNames entry is `<pf>` or `<pf>#<first>-<last>,...` over VF indexes.
enum DevicePluginSelection {
    struct VF: Hashable, CustomStringConvertible {
        var pf: String
        var index: Int
        var vendor: String
        var device: String
        var driver: String
        var description: String { "\(pf)#\(index) \(vendor):\(device) \(driver)" }
    }

    static func select(_ pool: DevicePluginConfig.Pool, from vfs: [VF]) -> Set<VF> {
        Set(
            vfs.filter { vf in
                (pool.vendors.isEmpty || pool.vendors.contains(vf.vendor))
                    && (pool.devices.isEmpty || pool.devices.contains(vf.device))
                    && (pool.drivers.isEmpty || pool.drivers.contains(vf.driver))
                    && (pool.pfNames.isEmpty || pool.pfNames.contains { selects($0, vf) })
            })
    }

    private static func selects(_ entry: String, _ vf: VF) -> Bool {
        let parts = entry.split(separator: "#", omittingEmptySubsequences: false)
        guard parts[0].lowercased() == vf.pf.lowercased() else { return false }
        guard parts.count == 2 else { return parts.count == 1 }
        return parts[1].split(separator: ",").contains { item in
            let bounds = item.split(separator: "-").compactMap { Int($0) }
            return bounds.count == 2 ? (bounds[0]...bounds[1]).contains(vf.index) : bounds.first == vf.index
        }
    }

    /// Every VF each PF of `host` can have, on each driver it could be bound to: the plan's
    /// VFs on the driver their deviceType gives them, every other VF on its net driver and on vfio-pci.
    /// A planned PF has the plan's numVfs; any other may get up to sriov_totalvfs from someone else.
    static func candidates(_ host: HostInventory, plan: NodePlan, netDriver: String = "netdrv") -> [VF] {
        host.interfaces.flatMap { pf -> [VF] in
            let planned = plan.interfaces.first { $0.pciAddress == pf.address }
            let device = pf.capability?.vfDeviceID ?? "unknown"
            return (0..<(planned?.numVfs ?? pf.totalVFs)).flatMap { index -> [VF] in
                let vf = VF(pf: pf.name ?? "", index: index, vendor: pf.function.vendor, device: device, driver: "")
                if let group = planned?.vfGroups.first(where: { $0.vfRange.contains(index) }) {
                    return [with(vf, driver: group.deviceType == .vfioPCI ? "vfio-pci" : netDriver)]
                }
                return [with(vf, driver: netDriver), with(vf, driver: "vfio-pci")]
            }
        }
    }

    /// What the plan gives `resource`, on the driver its deviceType gives it.
    static func planned(_ resource: String, host: HostInventory, plan: NodePlan, netDriver: String = "netdrv") -> Set<
        VF
    > {
        Set(
            candidates(host, plan: plan, netDriver: netDriver).filter { vf in
                guard let pf = host.interfaces.first(where: { $0.name == vf.pf }),
                    let group = plan.interfaces.first(where: { $0.pciAddress == pf.address })?.vfGroups.first(where: {
                        $0.vfRange.contains(vf.index)
                    })
                else { return false }
                return group.resourceName == resource
            })
    }

    private static func with(_ vf: VF, driver: String) -> VF {
        var vf = vf
        vf.driver = driver
        return vf
    }
}
