import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A fake `/sys` written as a plain folder, which umockdev's preload library serves
/// to libudev, libpci and plain file reads when `UMOCKDEV_DIR` names it
/// (`../shared/REFERENCE.md` section 5). It mirrors the kernel's layout: devices under
/// `/sys/devices`, `subsystem` and `driver` links, `/sys/bus/pci/devices` and
/// `/sys/class/net` links, a `uevent` file per device and a 4096-byte `config`.
public final class Testbed {
    /// The folder to put in `UMOCKDEV_DIR`.
    public let root: String

    public init(_ functions: [FakeFunction], in parent: String? = nil) throws {
        var template = Array(((parent ?? Testbed.temporaryDirectory) + "/testbed.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw Errno(rawValue: errno) }
        root = String(cString: made)
        // VFs are functions of their own in sysfs, each with a `physfn` link to its PF.
        try write(
            functions.flatMap { pf in
                [pf]
                    + (pf.sriov?.vfs ?? []).map { vf in
                        var vf = vf
                        vf.physfn = pf.address
                        return vf
                    }
            })
    }

    private var removeOnDeinit = true

    deinit { if removeOnDeinit { Testbed.removeTree(root) } }

    /// Leaves the folder in place, for a benchmark or a person to inspect.
    public func keep() { removeOnDeinit = false }

    static var temporaryDirectory: String {
        getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    }

    private func write(_ functions: [FakeFunction]) throws {
        let sys = root + "/sys"
        for dir in [
            "/devices/pci0000:00", "/bus/pci/devices", "/bus/pci/drivers", "/class/net", "/kernel/iommu_groups",
        ] {
            try makeDirectories(sys + dir)
        }
        var ifindex = 2
        for function in functions {
            let devicePath = "/devices/pci0000:00/\(function.address)"
            let dir = sys + devicePath
            try makeDirectories(dir)
            try symlink("../../../bus/pci", at: dir + "/subsystem")
            try symlink(
                "../../../devices/pci0000:00/\(function.address)", at: sys + "/bus/pci/devices/\(function.address)")

            var uevent = [
                "PCI_CLASS=\(String(function.classCode, radix: 16, uppercase: true))",
                "PCI_ID=\(hex(function.vendor, width: 4).uppercased()):\(hex(function.device, width: 4).uppercased())",
                "PCI_SUBSYS_ID=\(hex(function.vendor, width: 4).uppercased()):0000",
                "PCI_SLOT_NAME=\(function.address)",
                "MODALIAS=pci:v0000\(hex(function.vendor, width: 4).uppercased())d0000\(hex(function.device, width: 4).uppercased())sv*sd*bc*sc*i*",
            ]
            if let driver = function.driver {
                uevent.insert("DRIVER=\(driver)", at: 0)
                try makeDirectories(sys + "/bus/pci/drivers/\(driver)")
                try symlink("../../../bus/pci/drivers/\(driver)", at: dir + "/driver")
                // As driver_sysfs_add (drivers/base/dd.c) does: the device, by name, in its driver's folder.
                try symlink(
                    "../../../../devices/pci0000:00/\(function.address)",
                    at: sys + "/bus/pci/drivers/\(driver)/\(function.address)")
            }
            try writeFile(dir + "/uevent", uevent.joined(separator: "\n") + "\n")
            try writeFile(dir + "/vendor", "0x\(hex(function.vendor, width: 4))\n")
            try writeFile(dir + "/device", "0x\(hex(function.device, width: 4))\n")
            try writeFile(dir + "/subsystem_vendor", "0x\(hex(function.vendor, width: 4))\n")
            try writeFile(dir + "/subsystem_device", "0x0000\n")
            try writeFile(dir + "/class", "0x\(hex(function.classCode, width: 6))\n")
            try writeFile(dir + "/numa_node", "\(function.numaNode)\n")
            try writeFile(dir + "/irq", "0\n")
            try writeFile(dir + "/driver_override", "(null)\n")
            try writeFile(
                dir + "/resource",
                String(repeating: "0x0000000000000000 0x0000000000000000 0x0000000000000000\n", count: 13))
            try writeFile(dir + "/config", function.configSpace())
            if let group = function.iommuGroup {
                try makeDirectories(sys + "/kernel/iommu_groups/\(group)/devices")
                try symlink("../../../kernel/iommu_groups/\(group)", at: dir + "/iommu_group")
                try symlink(
                    "../../../../devices/pci0000:00/\(function.address)",
                    at: sys + "/kernel/iommu_groups/\(group)/devices/\(function.address)")
            }
            if let sriov = function.sriov, let total = sriov.kernelTotalVFs {
                try writeFile(dir + "/sriov_totalvfs", "\(total)\n")
                try writeFile(dir + "/sriov_numvfs", "\(sriov.vfs.count)\n")
                try writeFile(dir + "/sriov_offset", "\(sriov.firstVFOffset)\n")
                try writeFile(dir + "/sriov_stride", "\(sriov.vfStride)\n")
                try writeFile(dir + "/sriov_vf_device", "\(hex(sriov.vfDevice, width: 4))\n")
                try writeFile(dir + "/sriov_drivers_autoprobe", "1\n")
                for (index, vf) in sriov.vfs.enumerated() {
                    try symlink("../\(vf.address)", at: dir + "/virtfn\(index)")
                }
            }
            if let pf = function.physfn {
                try symlink("../\(pf)", at: dir + "/physfn")
            }
            for netdev in function.netdevs {
                let netDir = dir + "/net/\(netdev.name)"
                try makeDirectories(netDir)
                try symlink("../../../../../class/net", at: netDir + "/subsystem")
                try symlink("../../../\(function.address)", at: netDir + "/device")
                try symlink(
                    "../../devices/pci0000:00/\(function.address)/net/\(netdev.name)",
                    at: sys + "/class/net/\(netdev.name)")
                try writeFile(netDir + "/uevent", "INTERFACE=\(netdev.name)\nIFINDEX=\(ifindex)\n")
                try writeFile(netDir + "/ifindex", "\(ifindex)\n")
                ifindex += 1
                try writeFile(netDir + "/address", netdev.mac + "\n")
                try writeFile(netDir + "/addr_assign_type", "\(netdev.addressAssignType)\n")
                try writeFile(netDir + "/mtu", "\(netdev.mtu)\n")
                try writeFile(netDir + "/type", "\(netdev.type)\n")
                try writeFile(netDir + "/operstate", (netdev.adminUp ? "up" : "down") + "\n")
                try writeFile(netDir + "/flags", netdev.adminUp ? "0x1003\n" : "0x1002\n")
                try writeFile(netDir + "/dev_port", "\(netdev.devPort)\n")
                // The kernel answers EINVAL for a down link; an empty file reads as "no value" too.
                try writeFile(netDir + "/speed", netdev.speed.map { "\($0)\n" } ?? "")
                if let port = netdev.physPortName { try writeFile(netDir + "/phys_port_name", port + "\n") }
                if let master = netdev.master {
                    // A bond or bridge is a virtual netdev: its folder tells which (bonding/, bridge/).
                    let masterDir = sys + "/devices/virtual/net/\(master.name)"
                    if !FileManager.default.fileExists(atPath: masterDir) {
                        try makeDirectories(masterDir + "/" + (master.isBond ? "bonding" : "bridge"))
                        try symlink("../../devices/virtual/net/\(master.name)", at: sys + "/class/net/\(master.name)")
                    }
                    try symlink("../../../../virtual/net/\(master.name)", at: netDir + "/master")
                }
            }
        }
    }

    // MARK: - What a corrupt or hand-made /sys shows (no kernel writes these)

    /// The path of `name` (`sriov_totalvfs`, `net/eth0/mtu`) below the function at `address`.
    public func path(_ address: String, _ name: String) -> String {
        root + "/sys/devices/pci0000:00/\(address)/\(name)"
    }

    /// Replaces an attribute's bytes; nil removes the attribute.
    public func setAttribute(_ address: String, _ name: String, _ bytes: [UInt8]?) throws {
        let file = path(address, name)
        Testbed.removeTree(file)
        if let bytes { try writeFile(file, bytes) }
    }

    public func setAttribute(_ address: String, _ name: String, _ text: String) throws {
        try setAttribute(address, name, Array(text.utf8))
    }

    /// Points a link (`virtfn3`, `physfn`, `iommu_group`) at `target`; nil removes it.
    public func setLink(_ address: String, _ name: String, to target: String?) throws {
        let link = path(address, name)
        Testbed.removeTree(link)
        if let target { try symlink(target, at: link) }
    }

    // MARK: - File helpers

    func makeDirectories(_ path: String) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST { throw Errno(rawValue: errno) }
        }
    }

    func symlink(_ target: String, at path: String) throws {
        if Glibc.symlink(target, path) != 0 { throw Errno(rawValue: errno) }
    }

    func writeFile(_ path: String, _ text: String) throws {
        try writeFile(path, Array(text.utf8))
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileDescriptor.open(
            FilePath(path), .writeOnly, options: [.create, .truncate],
            permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? fd.close() }
        _ = try fd.writeAll(bytes)
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
