import NetShim
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Builds the `HostInventory` from the running kernel. Read-only: discovery never
/// writes anything.
///
/// Cost decides who reads what. libudev builds a device object with some 150 system
/// calls, and enumerating a subsystem builds one for every device in it, which on a
/// host with 2,000 VFs costs more than `lspci -vv`. So the PCI function list and the
/// class filter come from one folder listing and one small read per function;
/// libudev opens each network function that is not a VF (driver, attributes) and names it
/// from its hardware database; libpci reads config space of those (and pci.ids for a name the
/// database lacks), the VF count included. VFs are placed by their PF's offset and stride
/// (`Sysfs.virtualFunctions`) and read with a handful of plain sysfs reads each. All netdevs
/// come from one listing of `/sys/class/net`, and VFs' drivers from the PCI drivers' folders.
public enum HostDiscovery {
    /// `root` is where RKE2's config is read for the node's name (`NodeName`).
    public static func discover(root: FilePath = "/") throws(SRIOVError) -> HostInventory {
        let sysDevices = Sysfs.root.appending("devices")
        guard Sysfs.exists(sysDevices) else {
            throw .discovery(
                "cannot read \(sysDevices): sysfs is not mounted at \(Sysfs.root); "
                    + "mount it (mount -t sysfs sysfs /sys) or run on the node itself")
        }
        let udev = try Udev()
        let pci = try PCILibrary()
        // Sorted, a PF comes before its VFs: a VF's routing ID is its PF's plus a positive offset.
        let addresses = Sysfs.entries(Sysfs.pciDevices).compactMap { PCIAddress(sysfsName: $0) }.sorted()
        let listed = Set(addresses)
        var vfAddresses = Set<PCIAddress>()
        // Listed when the first network function needs it: a host without one never lists /sys/class/net.
        var netdevs: Sysfs.Netdevs?
        // Listed when the first PF with VFs needs them.
        var vfDrivers: [PCIAddress: String]?
        var namesByModel: [String: (vendor: String?, device: String?)] = [:]
        var interfaces: [PhysicalFunction] = []
        var unusable: [UnusableNIC] = []
        for address in addresses where !vfAddresses.contains(address) {
            let path = Sysfs.pciDevice(address)
            // Class 0x02xxxx is "network controller": Ethernet, InfiniBand and the rest.
            guard let classCode = Sysfs.integer(path.appending("class")), classCode >> 16 == 0x02,
                // A VF whose PF is not a network function is still not a PF.
                !Sysfs.exists(path.appending("physfn")),
                // Gone between the listing and now (hot unplug): nothing to report.
                let device = udev.device(subsystem: "pci", sysname: address.description),
                let vendor = idValue(device.attribute("vendor")),
                let deviceID = idValue(device.attribute("device"))
            else { continue }
            if netdevs == nil { netdevs = Sysfs.netdevs() }
            let base = PCIFunction(
                address: address, vendor: vendor, deviceID: deviceID, driver: device.driver,
                netdevs: (netdevs?.descendants[address] ?? []).map { NetDevice.read(folder: $0, details: true) })
            let config = pci.configFacts(address)
            // A host's PFs are mostly of one or two models: each is named once.
            let key = vendor + deviceID
            let names = namesByModel[key] ?? deviceNames(vendor: vendor, device: deviceID, udev: udev, pci: pci)
            namesByModel[key] = names
            let label = names.device.map { "\($0) (\(vendor):\(deviceID))" } ?? "\(vendor):\(deviceID)"

            let totalFile = path.appending("sriov_totalvfs")
            let totalVFs: Int
            switch Sysfs.read(totalFile) {
            case .failure(.noSuchFileOrDirectory):
                unusable.append(withoutSRIOVFiles(base, label: label, config: config))
                continue
            case .failure(let errno):
                let problem = "cannot be read: \(errno.description) (\(SRIOVError.symbol(errno)))"
                unusable.append(unreadableTotal(base, label: label, file: totalFile, problem))
                continue
            case .success(let text):
                guard let count = SysfsValue.count(text) else {
                    let problem = "reads \(SysfsValue.quoted(text)), not a VF count as the kernel writes it"
                    unusable.append(unreadableTotal(base, label: label, file: totalFile, problem))
                    continue
                }
                totalVFs = count
            }
            if totalVFs == 0 {
                unusable.append(
                    UnusableNIC(
                        function: base, reason: .sriovDisabled,
                        detail:
                            "\(label) reports sriov_totalvfs 0: enable SR-IOV for this NIC in the BIOS/UEFI setup or the NIC's firmware, then reboot"
                    ))
                continue
            }
            guard base.driver != nil else {
                unusable.append(
                    UnusableNIC(
                        function: base, reason: .noDriver,
                        detail:
                            "\(label) has no driver bound, so no VFs can be created; load its driver (lspci -k -s \(address) names the candidates)"
                    ))
                continue
            }

            // The kernel gives every VF its PF's vendor and the capability's VF device ID.
            let vfDeviceID = idValue(device.attribute("sriov_vf_device")) ?? config?.sriov?.vfDeviceID ?? deviceID
            let links = Sysfs.virtualFunctions(of: address, listed: listed)
            if vfDrivers == nil, !links.isEmpty { vfDrivers = Sysfs.pciDriverBindings() }
            let vfs = links.map { link in
                vfAddresses.insert(link.address)
                // VFs' paths are Strings: see Sysfs.attribute(in:_:).
                let vfPath = link.folder
                let netPath = "\(vfPath)/net"
                let function = PCIFunction(
                    address: link.address, vendor: vendor, deviceID: vfDeviceID,
                    driver: vfDrivers?[link.address],
                    netdevs: (netdevs?.children[link.address] ?? []).map {
                        NetDevice.read(folder: "\(netPath)/\($0)", details: false)
                    })
                return VirtualFunction(
                    vfID: link.index, function: function,
                    iommuGroup: Sysfs.linkName(in: vfPath, "iommu_group").flatMap(SysfsValue.index))
            }

            interfaces.append(
                PhysicalFunction(
                    function: base,
                    vendorName: names.vendor,
                    deviceName: names.device,
                    totalVFs: totalVFs,
                    // The kernel never has more than sriov_totalvfs; more is config space that cannot be
                    // believed (all ones from a device going away). Those are read from sysfs below.
                    numVFs: config?.enabledVFs.flatMap { $0 <= totalVFs ? $0 : nil },
                    capability: config?.sriov,
                    serialNumber: config?.serialNumber,
                    // -1 is the kernel's "no NUMA information"; no other negative is a node.
                    numaNode: device.integerAttribute("numa_node").flatMap { $0 < 0 ? nil : $0 },
                    iommuGroup: Sysfs.iommuGroup(path),
                    vfs: vfs))
        }
        // Config space that could not tell (a reader who is not root sees 64 bytes of it): `sriov_numvfs`, whose
        // read waits for the PF's lock, so it is bounded, in a child process (LockedAttribute). Unknown (null)
        // when the file holds no count or did not answer: never a made-up 0.
        let unread = interfaces.indices.filter { interfaces[$0].numVFs == nil }
        if !unread.isEmpty {
            let counts = LockedAttribute.read(all: unread.map { Sysfs.numVFsFile(interfaces[$0].address) })
            for (index, count) in zip(unread, counts) {
                interfaces[index].numVFs = (try? count.get()).flatMap(SysfsValue.count)
            }
        }
        return HostInventory(node: NodeName.resolved(root: root), interfaces: interfaces, unusable: unusable)
    }

    /// A network function without `sriov_*` files: config space tells whether the
    /// hardware has the capability (and the kernel lacks CONFIG_PCI_IOV) or not. Config
    /// space that cannot be read far enough to tell is said to be so, not taken for "none".
    static func withoutSRIOVFiles(_ function: PCIFunction, label: String, config: PCIConfigFacts?) -> UnusableNIC {
        if let sriov = config?.sriov {
            return UnusableNIC(
                function: function, reason: .kernelWithoutSRIOV,
                detail:
                    "\(label) has an SR-IOV capability for \(sriov.totalVFs) VFs in config space, but the kernel shows "
                    + "no sriov_* files; boot a kernel built with CONFIG_PCI_IOV=y")
        }
        if let config, config.readableBytes < PCILibrary.extendedConfigStart {
            return UnusableNIC(
                function: function, reason: .noSRIOVCapability,
                detail:
                    "\(label) has no sriov_* files, and only \(config.readableBytes) bytes of its config space can be "
                    + "read, too few to show an SR-IOV capability; a kernel built with CONFIG_PCI_IOV=y "
                    + "(as distributions' are) creates those files for every function that has one, so it most likely "
                    + "cannot create VFs (run detect as root to read all of config space)")
        }
        return UnusableNIC(
            function: function, reason: .noSRIOVCapability,
            detail:
                "\(label) has no SR-IOV capability in PCI config space; it cannot create VFs")
    }

    /// A `sriov_totalvfs` that gives no count: the kernel always writes one, so the
    /// driver or the device is failing (or the tree is not the kernel's).
    static func unreadableTotal(
        _ function: PCIFunction, label: String, file: FilePath,
        _ problem: String
    ) -> UnusableNIC {
        UnusableNIC(
            function: function, reason: .unreadableSRIOVAttribute,
            detail:
                "\(label): \(file) \(problem); check dmesg for the driver's errors, then reload the NIC's driver or reboot"
        )
    }

    /// Vendor and device names (IDs as 4 hex digits): udev's hardware database first, then pci.ids
    /// through libpci for a name it lacks. The same names, as both come from the PCI ID Repository,
    /// but libpci parses all of pci.ids (1.3 MB) on its first lookup before it asks the hardware
    /// database: 25 M instructions, 7 ms, as long as all the rest of detect on a typical host.
    /// The keys and modaliases are libpci's own (lib/names-hwdb.c).
    static func deviceNames(
        vendor: String, device: String, udev: Udev, pci: PCILibrary
    ) -> (vendor: String?, device: String?) {
        let v = "pci:v0000\(vendor.uppercased())"
        let vendorName = udev.hardwareDatabase(v + "*", "ID_VENDOR_FROM_DATABASE")
        let deviceName = udev.hardwareDatabase("\(v)d0000\(device.uppercased())*", "ID_MODEL_FROM_DATABASE")
        guard vendorName == nil || deviceName == nil else { return (vendorName, deviceName) }
        let fromFile = pci.names(vendor: vendor, device: device)
        return (vendorName ?? fromFile.vendor, deviceName ?? fromFile.device)
    }

    static func ethtoolPermanentMAC(_ name: String) -> String? {
        var mac = [UInt8](repeating: 0, count: 6)
        guard hsriov_permanent_mac(name, &mac) == 0, mac.contains(where: { $0 != 0 }) else { return nil }
        return mac.map { hex($0, width: 2) }.joined(separator: ":")
    }

    /// `0x8086` as sysfs shows it becomes `8086`, the operator's form.
    static func idValue(_ text: String?) -> String? {
        guard let text else { return nil }
        let digits = text.hasPrefix("0x") ? text.dropFirst(2) : Substring(text)
        // Hex digits only: UInt16 would also take a sign ("+86").
        guard digits.allSatisfy(\.isHexDigit), let value = UInt16(digits, radix: 16) else { return nil }
        return hex(value, width: 4)
    }

}

extension NetDevice {
    /// Reads a netdev's sysfs folder. VFs need only name, MAC and MTU (the operator's
    /// VF fields); `details` adds what a PF reports, at six more reads.
    static func read(folder: String, details: Bool) -> NetDevice {
        func attribute(_ name: String) -> String? { Sysfs.attribute(in: folder, name) }
        func integer(_ name: String) -> Int? { attribute(name).flatMap(SysfsValue.integer) }
        func number(_ name: String) -> Int? { integer(name).flatMap { $0 >= 0 ? $0 : nil } }
        var netdev = NetDevice(
            name: Sysfs.lastComponent(folder) ?? "", mac: attribute("address").flatMap(SysfsValue.linkAddress),
            mtu: number("mtu"))
        if details {
            // The kernel reports -1 (or EINVAL) while the link is down.
            netdev.speed = number("speed").flatMap { $0 > 0 ? $0 : nil }
            netdev.type = number("type")
            netdev.adminUp = integer("flags").map { $0 & 0x1 != 0 }
            netdev.physPortName = attribute("phys_port_name").flatMap { $0.isEmpty ? nil : $0 }
            netdev.devPort = number("dev_port")
            netdev.addressAssignType = number("addr_assign_type")
            // Only a changed address needs the ioctl (and tests on fake hosts never reach it).
            netdev.permanentMAC =
                netdev.addressAssignType == 0 ? netdev.mac : HostDiscovery.ethtoolPermanentMAC(netdev.name)
        }
        return netdev
    }
}
