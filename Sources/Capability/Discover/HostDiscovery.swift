#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Builds the `HostInventory` model from the running kernel: libudev enumerates network-class
/// PCI functions and their netdevs, libpci reads config space and names, and sysfs
/// gives the SR-IOV state. Read-only: discovery never writes anything.
public enum HostDiscovery {
    public static func discover() throws(SRIOVError) -> HostInventory {
        guard Sysfs.exists(Sysfs.root.appending("devices")) else {
            throw .discovery("cannot read /sys/devices: sysfs is not mounted at /sys; mount it (mount -t sysfs sysfs /sys) or run on the node itself")
        }
        let udev = try Udev()
        // Class 0x02xxxx is "network controller": Ethernet, InfiniBand, and the rest.
        let functions = try udev.devices(subsystem: "pci", attribute: ("class", "0x02*"))
        var netdevsByFunction: [String: [NetDevice]] = [:]
        for netdev in try udev.devices(subsystem: "net") {
            // Bridges, bonds, veth and other virtual netdevs have no PCI parent.
            guard let parent = netdev.pciParentName else { continue }
            netdevsByFunction[parent, default: []].append(netDevice(netdev))
        }
        let pci = try PCILibrary()

        var byAddress: [PCIAddress: UdevDevice] = [:]
        for device in functions {
            if let address = PCIAddress(device.sysname) { byAddress[address] = device }
        }
        // A function whose IDs cannot be read went away during the scan (hot unplug): skip it.
        func function(_ address: PCIAddress, _ device: UdevDevice) -> PCIFunction? {
            guard let vendor = idValue(device.attribute("vendor")), let deviceID = idValue(device.attribute("device")) else { return nil }
            return PCIFunction(address: address, vendor: vendor, deviceID: deviceID, driver: device.driver,
                               netdevs: netdevsByFunction[device.sysname, default: []])
        }

        var interfaces: [PhysicalFunction] = []
        var unusable: [UnusableNIC] = []
        for (address, device) in byAddress.sorted(by: { $0.key < $1.key }) {
            let path = FilePath(device.syspath)
            // A VF is reported under its PF, never on its own.
            guard !Sysfs.exists(path.appending("physfn")), let base = function(address, device) else { continue }
            let config = pci.configFacts(address)
            let names = pci.names(vendor: Int(base.vendor, radix: 16) ?? 0, device: Int(base.deviceID, radix: 16) ?? 0)
            let label = names.device.map { "\($0) (\(base.vendor):\(base.deviceID))" } ?? "\(base.vendor):\(base.deviceID)"

            guard let totalVFs = device.integerAttribute("sriov_totalvfs") else {
                if let sriov = config?.sriov {
                    unusable.append(UnusableNIC(function: base, reason: .kernelWithoutSRIOV, detail:
                        "\(label) has an SR-IOV capability for \(sriov.totalVFs) VFs in config space, but the kernel shows no sriov_* files; boot a kernel built with CONFIG_PCI_IOV=y"))
                } else {
                    unusable.append(UnusableNIC(function: base, reason: .noSRIOVCapability, detail:
                        "\(label) has no SR-IOV capability in PCI config space; it cannot create VFs"))
                }
                continue
            }
            if totalVFs == 0 {
                unusable.append(UnusableNIC(function: base, reason: .sriovDisabled, detail:
                    "\(label) reports sriov_totalvfs 0: enable SR-IOV for this NIC in the BIOS/UEFI setup or the NIC's firmware, then reboot"))
                continue
            }
            guard base.driver != nil else {
                unusable.append(UnusableNIC(function: base, reason: .noDriver, detail:
                    "\(label) has no driver bound, so no VFs can be created; load its driver (see `modinfo -F alias` / `lspci -k -s \(address)`)"))
                continue
            }

            var vfs: [VirtualFunction] = []
            for entry in Sysfs.entries(path) where entry.hasPrefix("virtfn") {
                guard let vfID = Int(entry.dropFirst("virtfn".count)),
                      let vfName = Sysfs.linkName(path.appending(entry)),
                      let vfAddress = PCIAddress(vfName) else { continue }
                let vfPath = Sysfs.pciDevices.appending(vfName)
                let vfFunction: PCIFunction
                if let vfDevice = byAddress[vfAddress], let known = function(vfAddress, vfDevice) {
                    vfFunction = known
                } else if let vendor = idValue(Sysfs.attribute(vfPath.appending("vendor"))),
                          let deviceID = idValue(Sysfs.attribute(vfPath.appending("device"))) {
                    // A VF whose class is not "network" (some vendors): read it directly.
                    vfFunction = PCIFunction(address: vfAddress, vendor: vendor, deviceID: deviceID,
                                             driver: Sysfs.linkName(vfPath.appending("driver")),
                                             netdevs: netdevsByFunction[vfName, default: []])
                } else {
                    continue
                }
                vfs.append(VirtualFunction(vfID: vfID, function: vfFunction,
                                           iommuGroup: Sysfs.linkName(vfPath.appending("iommu_group")).flatMap { Int($0) }))
            }
            vfs.sort { $0.vfID < $1.vfID }

            let numa = device.integerAttribute("numa_node")
            interfaces.append(PhysicalFunction(
                function: base,
                vendorName: names.vendor,
                deviceName: names.device,
                totalVFs: totalVFs,
                numVFs: device.integerAttribute("sriov_numvfs") ?? 0,
                capability: config?.sriov,
                serialNumber: config?.serialNumber,
                // -1 is the kernel's "no NUMA information".
                numaNode: numa.flatMap { $0 < 0 ? nil : $0 },
                iommuGroup: Sysfs.linkName(path.appending("iommu_group")).flatMap { Int($0) },
                vfs: vfs))
        }
        return HostInventory(node: hostname(), interfaces: interfaces, unusable: unusable)
    }

    private static func netDevice(_ device: UdevDevice) -> NetDevice {
        let speed = device.integerAttribute("speed")
        let port = device.attribute("phys_port_name")
        return NetDevice(
            name: device.sysname,
            mac: device.attribute("address"),
            mtu: device.integerAttribute("mtu"),
            // The kernel reports -1 (or EINVAL) while the link is down.
            speed: speed.flatMap { $0 > 0 ? $0 : nil },
            type: device.integerAttribute("type"),
            operState: device.attribute("operstate"),
            physPortName: port?.isEmpty == false ? port : nil,
            devPort: device.integerAttribute("dev_port"))
    }

    /// `0x8086` as sysfs shows it becomes `8086`, the operator's form.
    private static func idValue(_ text: String?) -> String? {
        guard let text, let value = UInt16(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16) else { return nil }
        return hex(value, width: 4)
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cBuffer: buffer)
    }
}
