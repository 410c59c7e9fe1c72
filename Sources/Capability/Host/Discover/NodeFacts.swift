import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// What `doctor` needs of the node beyond discovery: IOMMU groups, the devices in each, the bond or bridge a
/// netdev is enslaved to, and whether a driver is loaded or can be. Read from sysfs (served by umockdev in
/// the tests) and the kernel's module index; a plain value, so the checks are pure.
public struct NodeFacts: Equatable, Sendable {
    public enum Master: Equatable, Sendable {
        case bond(String)
        case bridge(String)
        case other(String)

        package var name: String {
            switch self {
            case let .bond(name), let .bridge(name), let .other(name): name
            }
        }
    }

    /// `/sys/kernel/iommu_groups` has groups: the kernel has an IOMMU and uses it.
    public var iommuGroups: Bool
    /// The PCI functions of each IOMMU group that holds a function of interest.
    public var groupMembers: [Int: [PCIAddress]]
    /// By netdev name: the device it is enslaved to (`/sys/class/net/<if>/master`).
    public var masters: [String: Master]
    /// Loaded PCI drivers among those the plan needs, and whether each missing one has a module.
    public var loadedDrivers: Set<String>
    /// nil when the module index could not be read (then nothing is said about it).
    public var modulesAvailable: [String: Bool]
    /// CPU vendor for the IOMMU's kernel argument: "GenuineIntel", "AuthenticAMD", or nil.
    public var cpuVendor: String?

    public init(
        iommuGroups: Bool, groupMembers: [Int: [PCIAddress]] = [:], masters: [String: Master] = [:],
        loadedDrivers: Set<String> = [], modulesAvailable: [String: Bool] = [:], cpuVendor: String? = nil
    ) {
        self.iommuGroups = iommuGroups
        self.groupMembers = groupMembers
        self.masters = masters
        self.loadedDrivers = loadedDrivers
        self.modulesAvailable = modulesAvailable
        self.cpuVendor = cpuVendor
    }

    /// Reads the facts for `host`'s PFs and VFs. `modules`: the module index folder (`/lib/modules/<release>`).
    public static func read(_ host: HostInventory, modules: String? = nil) -> NodeFacts {
        let groups = Sysfs.entries(Sysfs.root.appending("kernel/iommu_groups"))
        var members: [Int: [PCIAddress]] = [:]
        let functions = host.interfaces.flatMap { pf in
            [pf.iommuGroup].compactMap { $0 } + pf.vfs.compactMap(\.iommuGroup)
        }
        for group in Set(functions) {
            members[group] = Sysfs.entries(Sysfs.root.appending("kernel/iommu_groups/\(group)/devices"))
                .compactMap { PCIAddress(sysfsName: $0) }.sorted()
        }
        var masters: [String: Master] = [:]
        for name in host.interfaces.compactMap(\.name) {
            guard let master = Sysfs.linkName(Sysfs.netDevices.appending(name).appending("master")) else { continue }
            let folder = Sysfs.netDevices.appending(master)
            masters[name] =
                Sysfs.exists(folder.appending("bonding"))
                ? .bond(master) : Sysfs.exists(folder.appending("bridge")) ? .bridge(master) : .other(master)
        }
        let wanted = ["vfio-pci"]
        let loaded = Set(wanted.filter { Sysfs.exists(Sysfs.pciDriver($0)) })
        let index = modules ?? "/lib/modules/\(release())"
        var available: [String: Bool] = [:]
        if let dep = moduleIndex(index) {
            for driver in wanted where !loaded.contains(driver) {
                let file = driver.replacing("-", with: "_")
                available[driver] = dep.contains("/\(driver).ko") || dep.contains("/\(file).ko")
            }
        }
        return NodeFacts(
            iommuGroups: !groups.isEmpty, groupMembers: members, masters: masters, loadedDrivers: loaded,
            modulesAvailable: available, cpuVendor: cpuVendor())
    }

    /// modules.dep and modules.builtin together, or nil when there is no index (a container, a chroot).
    static func moduleIndex(_ folder: String) -> String? {
        let texts = ["modules.dep", "modules.builtin"].compactMap { name in
            (try? BoundedRead.file("\(folder)/\(name)", limit: 16 << 20)).map { String(decoding: $0, as: UTF8.self) }
        }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }

    static func release() -> String { uname(\.release) }

    static func cpuVendor() -> String? {
        guard let bytes = try? BoundedRead.file("/proc/cpuinfo", limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("vendor_id") }
            .flatMap { $0.split(separator: ":").last.map { String($0).trimmingSpaces } }
    }
}
