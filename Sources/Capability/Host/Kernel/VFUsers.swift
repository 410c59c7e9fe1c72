import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Who uses a VF, as the kernel shows it: a process that holds the VF's vfio group device open (a VM's
/// QEMU, through `/dev/vfio/<group>`), or a network namespace other than ours holding its netdev (a pod's:
/// sysfs lists under `net/` only the netdevs of the reader's namespace).
extension SysfsKernel {
    public func users(of vf: VFState) -> [String] {
        if vf.driver == "vfio-pci" {
            guard let group = vf.iommuGroup else { return [] }
            return Self.processes(holding: "/dev/vfio/\(group)").map { pid, command in
                "is held by process \(pid) (\(command)) through /dev/vfio/\(group)"
            }
        }
        if vf.driver != nil, vf.netdev == nil,
            Sysfs.entries(Sysfs.pciDevice(vf.address).appending("net")).isEmpty
        {
            return ["has its netdev in another network namespace (a pod's)"]
        }
        return []
    }

    /// Every process with a descriptor open on `device`, by walking /proc/<pid>/fd (as fuser does).
    static func processes(holding device: String) -> [(pid: Int, command: String)] {
        var holders: [(pid: Int, command: String)] = []
        for entry in Sysfs.entries(atPath: "/proc") {
            guard let pid = Int(entry) else { continue }
            let fds = "/proc/\(entry)/fd"
            let holds = Sysfs.entries(atPath: fds).contains { fd in
                Sysfs.readLinkText { readlink("\(fds)/\(fd)", $0, $1) } == device
            }
            if holds {
                let command = Sysfs.attribute(FilePath("/proc/\(entry)/comm")) ?? "?"
                holders.append((pid, command))
            }
        }
        return holders.sorted { $0.pid < $1.pid }
    }
}
