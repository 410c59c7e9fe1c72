import CLibNL
import CLibUdev
import Dispatch
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The real kernel: sysfs for SR-IOV and drivers, rtnetlink (libnl-route) for VF
/// settings, a libudev monitor for device events.
///
/// Writes that can block in a driver (`sriov_numvfs`, `unbind`, `drivers_probe`) run in a
/// child process (`harvester-sriov sysfs-write`): some drivers never return, and a
/// thread stuck in the kernel would keep this process from exiting; a child can be
/// abandoned at the deadline.
public final class SysfsKernel: SRIOVKernel, @unchecked Sendable {
    private let executable: String
    private let monitor: OpaquePointer?
    private let udev: OpaquePointer?
    private let monitorLock = DispatchSemaphore(value: 1)

    /// This very program, which runs the child reads and writes.
    public static var selfExecutable: String {
        Sysfs.link("/proc/self/exe")?.string ?? "/usr/local/bin/harvester-sriov"
    }

    /// `executable` runs the child writes; by default this very program.
    public init(executable: String? = nil) {
        self.executable = executable ?? Self.selfExecutable
        // Kernel uevents, not udev's: they need no udevd (early boot), and any change
        // only makes us re-read sysfs.
        udev = udev_new()
        let monitor = udev.flatMap { udev_monitor_new_from_netlink($0, "kernel") }
        if let monitor {
            udev_monitor_filter_add_match_subsystem_devtype(monitor, "pci", nil)
            udev_monitor_filter_add_match_subsystem_devtype(monitor, "net", nil)
            if udev_monitor_enable_receiving(monitor) < 0 {
                udev_monitor_unref(monitor)
                self.monitor = nil
                return
            }
        }
        self.monitor = monitor
    }

    deinit {
        if let monitor { udev_monitor_unref(monitor) }
        if let udev { udev_unref(udev) }
    }

    public func inventory() throws(SRIOVError) -> HostInventory {
        try HostDiscovery.discover()
    }

    public func pf(_ address: PCIAddress) -> PFState? {
        let path = Sysfs.pciDevice(address)
        guard Sysfs.exists(path) else { return nil }
        let netdev = Self.netdev(of: path)
        let settings = netdev.map(Self.vfSettings) ?? [:]
        let vfs = Sysfs.virtualFunctions(of: address).map { link in
            let vfPath = Sysfs.pciDevice(link.address)
            let vfNetdev = Self.netdev(of: vfPath)
            let vfNet = vfNetdev.map { vfPath.appending("net").appending($0) }
            var vf = VFState(
                index: link.index, address: link.address,
                driver: Sysfs.linkName(vfPath.appending("driver")), netdev: vfNetdev,
                mtu: vfNet.flatMap { Sysfs.nonNegative($0.appending("mtu")) },
                mac: vfNet.flatMap { Sysfs.attribute($0.appending("address")) }
                    .flatMap(SysfsValue.linkAddress),
                iommuGroup: Sysfs.iommuGroup(vfPath))
            vf.netdevSettled = vfNetdev.map(settled) ?? true
            vf.settings = settings[link.index]
            return vf
        }
        let net = netdev.map { path.appending("net").appending($0) }
        var state = PFState(
            address: address, driver: Sysfs.linkName(path.appending("driver")), netdev: netdev,
            mtu: net.flatMap { Sysfs.nonNegative($0.appending("mtu")) },
            totalVFs: Sysfs.attribute(path.appending("sriov_totalvfs")).flatMap(SysfsValue.count),
            numVFs: (try? LockedAttribute.read(path.appending("sriov_numvfs")).get()).flatMap(SysfsValue.count),
            vfs: vfs)
        state.netdevSettled = netdev.map(settled) ?? true
        state.ifindex = net.flatMap { Sysfs.nonNegative($0.appending("ifindex")) }
        state.up = net.flatMap { Sysfs.integer($0.appending("flags")) }.map { $0 & 1 != 0 } ?? false
        // Reading `carrier` fails while the netdev is down.
        state.carrier = net.flatMap { Sysfs.integer($0.appending("carrier")) } == 1
        return state
    }

    /// Whether udev has processed a netdev (its database entry exists), so that its
    /// name is final. Without a running udev (containers, early tests) there is nothing
    /// to wait for.
    private func settled(_ netdev: String) -> Bool {
        guard let udev, Sysfs.exists("/run/udev/control") else { return true }
        guard let device = udev_device_new_from_subsystem_sysname(udev, "net", netdev) else { return false }
        defer { udev_device_unref(device) }
        return udev_device_get_is_initialized(device) == 1
    }

    /// The function's netdev: not a switchdev representor, lowest name first.
    private static func netdev(of function: FilePath) -> String? {
        Sysfs.entries(function.appending("net")).filter { name in
            !NetDevice.isRepresentor(
                portName: Sysfs.attribute(function.appending("net").appending(name).appending("phys_port_name")))
        }.sorted().first
    }

    public func setNumVFs(_ count: Int, pf: PCIAddress, timeout: Duration) throws(KernelError) {
        let path = Sysfs.numVFsFile(pf).string
        // A write of ours that never returned holds the PF's lock: another would only wait beside it.
        if let waiting = LockedAttribute.waiting(toWrite: path) {
            throw KernelError(target: path, operation: "write \(count) to", detail: "not tried: \(waiting.reason)")
        }
        try writeInChild(path, String(count), timeout: timeout)
    }

    public func bind(_ vf: PCIAddress, to driver: String?, timeout: Duration) throws(KernelError) {
        let device = Sysfs.pciDevice(vf).string
        // driver_override first, so that neither the unbind nor a hotplug race lets the
        // old driver take the VF back; "\n" clears it. Never new_id: that would bind
        // every device with the VF's ID.
        try writeHere("\(device)/driver_override", driver ?? "\n")
        if driver == nil { try forgetVFIODynamicID(of: device) }
        let deadline = ContinuousClock.now + timeout
        if Sysfs.exists(FilePath("\(device)/driver")) {
            try writeInChild("\(device)/driver/unbind", vf.description, timeout: remaining(until: deadline))
        }
        try writeInChild(Sysfs.pciDriversProbe.string, vf.description, timeout: remaining(until: deadline))
    }

    /// Another writer's `new_id` on vfio-pci (Harvester's PCI devices addon binds claimed devices that way,
    /// pcideviceclaim_controller.go `bindDeviceToVFIOPCIDriver`) makes vfio-pci match every device of that ID, and it
    /// is probed before the VF driver that registered after it: our netdevice VFs would land on vfio-pci. Writing
    /// the ID to `remove_id` ends that; devices bound already stay bound (drivers/pci/pci-driver.c, remove_id_store).
    private func forgetVFIODynamicID(of device: String) throws(KernelError) {
        let removeID = Sysfs.pciBus.appending("drivers/vfio-pci/remove_id").string
        guard Sysfs.exists(FilePath(removeID)),
            let vendor = Sysfs.attribute(FilePath("\(device)/vendor")).map(withoutHexPrefix),
            let deviceID = Sysfs.attribute(FilePath("\(device)/device")).map(withoutHexPrefix)
        else { return }
        do {
            try Self.write(removeID, "\(vendor) \(deviceID)")
        } catch {
            // ENODEV: no such dynamic ID, the usual case.
            guard error.rawValue == ENODEV else {
                throw KernelError(target: removeID, operation: "write \(vendor) \(deviceID) to", errno: error)
            }
        }
    }

    public func facts(_ host: HostInventory) -> NodeFacts { NodeFacts.read(host) }

    public func setDriversAutoprobe(_ enabled: Bool, pf: PCIAddress) throws(KernelError) {
        try writeHere(Sysfs.pciDevice(pf).appending("sriov_drivers_autoprobe").string, enabled ? "1" : "0")
    }

    public func setMTU(_ mtu: Int, netdev: String) throws(KernelError) {
        try writeHere(Sysfs.netDevices.appending(netdev).appending("mtu").string, String(mtu))
    }

    public func setLinkUp(_ netdev: String) throws(KernelError) {
        try changeLink(netdev, target: netdev) { changes throws(KernelError) in
            rtnl_link_set_flags(changes, UInt32(IFF_UP))
        }
    }

    public func setVF(_ index: Int, pfNetdev: String, _ setting: VFSetting) throws(KernelError) {
        let target = "\(pfNetdev) vf \(index)"
        try changeLink(pfNetdev, target: target) { changes throws(KernelError) in
            guard let vfIndex = UInt32(exactly: index) else {
                throw KernelError(target: target, operation: "RTM_SETLINK", errno: .invalidArgument)
            }
            guard let vf = rtnl_link_vf_alloc() else {
                throw KernelError(target: target, operation: "RTM_SETLINK", errno: .noMemory)
            }
            defer { rtnl_link_vf_put(vf) }
            rtnl_link_vf_set_index(vf, vfIndex)
            switch setting {
            case let .mac(mac):
                var bytes = mac
                guard let address = nl_addr_build(AF_LLC, &bytes, bytes.count) else {
                    throw KernelError(target: target, operation: "RTM_SETLINK", errno: .noMemory)
                }
                defer { nl_addr_put(address) }
                rtnl_link_vf_set_addr(vf, address)
            case let .trust(on): rtnl_link_vf_set_trust(vf, on ? 1 : 0)
            case let .spoofCheck(on): rtnl_link_vf_set_spoofchk(vf, on ? 1 : 0)
            case let .vlan(id, qos, proto):
                var vlans: UnsafeMutablePointer<nl_vf_vlans_t>?
                guard rtnl_link_vf_vlan_alloc(&vlans, 1) == 0, let vlans else {
                    throw KernelError(target: target, operation: "RTM_SETLINK", errno: .noMemory)
                }
                defer { rtnl_link_vf_vlan_put(vlans) }
                guard let info = vlans.pointee.vlans else {
                    throw KernelError(target: target, operation: "RTM_SETLINK", errno: .noMemory)
                }
                // libnl sends 802.1Q (in host order) as IFLA_VF_VLAN, anything else as
                // IFLA_VF_VLAN_INFO, whose vlan_proto the kernel reads in network order.
                let wire = proto == .dot1Q ? Self.ethernet8021Q : Self.ethernet8021AD.bigEndian
                info.pointee = nl_vf_vlan_info_t(
                    vf_vlan: UInt32(clamping: id), vf_vlan_qos: UInt32(clamping: qos), vf_vlan_proto: wire)
                rtnl_link_vf_set_vlans(vf, vlans)
            case let .txRates(min, max):
                var rate = nl_vf_rate(
                    api: Int32(RTNL_LINK_VF_RATE_API_NEW.rawValue), rate: 0, max_tx_rate: UInt32(clamping: max),
                    min_tx_rate: UInt32(clamping: min))
                rtnl_link_vf_set_rate(vf, &rate)
            case let .linkState(state):
                rtnl_link_vf_set_linkstate(vf, UInt32(VFLinkState.allCases.firstIndex(of: state) ?? 0))
            }
            let status = rtnl_link_vf_add(changes, vf)
            guard status == 0 else { throw Self.failure(status, target: target) }
        }
    }

    private static let ethernet8021Q: UInt16 = 0x8100
    private static let ethernet8021AD: UInt16 = 0x88a8

    /// The VFs' settings as the PF driver reports them, by VF index; empty when the PF
    /// reports none. libnl asks for them (RTEXT_FILTER_VF) in rtnl_link_get_kernel.
    private static func vfSettings(_ netdev: String) -> [Int: VFSettings] {
        guard let socket = nl_socket_alloc() else { return [:] }
        defer { nl_socket_free(socket) }
        var link: OpaquePointer?
        guard nl_connect(socket, NETLINK_ROUTE) == 0, rtnl_link_get_kernel(socket, 0, netdev, &link) == 0, let link
        else { return [:] }
        defer { rtnl_link_put(link) }
        var count: UInt32 = 0
        // Without the list, rtnl_link_vf_get would read a null list.
        guard rtnl_link_get_num_vf(link, &count) == 0, rtnl_link_has_vf_list(link) != 0 else { return [:] }
        var found: [Int: VFSettings] = [:]
        for index in 0..<count {
            guard let vf = rtnl_link_vf_get(link, index) else { continue }
            defer { rtnl_link_vf_put(vf) }
            var settings = VFSettings()
            var vlans: UnsafeMutablePointer<nl_vf_vlans_t>?
            if rtnl_link_vf_get_vlans(vf, &vlans) == 0, let vlans {
                if vlans.pointee.size > 0, let first = vlans.pointee.vlans?.pointee {
                    settings.vlan = Int(first.vf_vlan)
                    settings.vlanQoS = Int(first.vf_vlan_qos)
                    settings.vlanProto = first.vf_vlan_proto == ethernet8021AD ? .dot1AD : .dot1Q
                }
                rtnl_link_vf_vlan_put(vlans)
            }
            var rate = nl_vf_rate()
            if rtnl_link_vf_get_rate(vf, &rate) == 0 {
                let old = rate.api == Int32(RTNL_LINK_VF_RATE_API_OLD.rawValue)
                settings.maxTxRate = Int(old ? rate.rate : rate.max_tx_rate)
                settings.minTxRate = Int(rate.min_tx_rate)
            }
            var value: UInt32 = 0
            if rtnl_link_vf_get_linkstate(vf, &value) == 0, VFLinkState.allCases.indices.contains(Int(value)) {
                settings.linkState = VFLinkState.allCases[Int(value)]
            }
            if rtnl_link_vf_get_trust(vf, &value) == 0 { settings.trust = value != 0 }
            if rtnl_link_vf_get_spoofchk(vf, &value) == 0 { settings.spoofCheck = value != 0 }
            found[Int(index)] = settings
        }
        return found
    }

    /// A libnl error, with the errno it stands for where one does (libnl's
    /// nl_syserr2nlerr folds a few errnos together; these are the ones drivers return).
    static func failure(_ status: Int32, target: String) -> KernelError {
        let errnos: [Int32: Errno] = [
            NLE_INVAL: .invalidArgument, NLE_OPNOTSUPP: .notSupported, NLE_PROTO_MISMATCH: .protocolNotSupported,
            NLE_AGAIN: .resourceTemporarilyUnavailable, NLE_RANGE: .outOfRange, NLE_PERM: .notPermitted,
            NLE_BUSY: .resourceBusy, NLE_NODEV: .operationNotSupportedByDevice,
        ]
        if let errno = errnos[abs(status)] {
            return KernelError(target: target, operation: "RTM_SETLINK", errno: errno)
        }
        return KernelError(
            target: target, operation: "RTM_SETLINK", detail: String(cString: nl_geterror(status)) + " (libnl)")
    }

    /// One RTM_SETLINK on `netdev` with the changes `fill` makes.
    private func changeLink(_ netdev: String, target: String, _ fill: (OpaquePointer) throws(KernelError) -> Void)
        throws(KernelError)
    {
        func failure(_ status: Int32) -> KernelError { Self.failure(status, target: target) }
        guard let socket = nl_socket_alloc() else {
            throw KernelError(target: target, operation: "RTM_SETLINK", errno: .noMemory)
        }
        defer { nl_socket_free(socket) }
        var status = nl_connect(socket, NETLINK_ROUTE)
        guard status == 0 else { throw failure(status) }
        var current: OpaquePointer?
        status = rtnl_link_get_kernel(socket, 0, netdev, &current)
        guard status == 0, let current else { throw failure(status) }
        defer { rtnl_link_put(current) }
        guard let changes = rtnl_link_alloc() else { throw failure(-NLE_NOMEM) }
        defer { rtnl_link_put(changes) }
        try fill(changes)
        status = rtnl_link_change(socket, current, changes, 0)
        guard status == 0 else { throw failure(status) }
    }

    public func loadDriver(_ name: String, timeout: Duration) throws(KernelError) {
        let candidates: [String] = ["/usr/sbin/modprobe", "/sbin/modprobe"]
        guard let modprobe = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw KernelError(target: name, operation: "modprobe", errno: .noSuchFileOrDirectory)
        }
        // modprobe takes the module name with '_' or '-' alike.
        try spawn([modprobe, name], target: name, operation: "modprobe", timeout: timeout, statusIsErrno: false)
    }

    public func driverLoaded(_ name: String) -> Bool {
        Sysfs.exists(Sysfs.pciDriver(name))
    }

    public var now: ContinuousClock.Instant { .now }

    public func sleep(until deadline: ContinuousClock.Instant) { SystemClock().sleep(until: deadline) }

    public func concurrently<T: Sendable>(_ jobs: [@Sendable () -> T]) -> [T] { runInParallel(jobs) }

    public func waitForEvent(until deadline: ContinuousClock.Instant) {
        let left = milliseconds(remaining(until: deadline))
        guard left > 0 else { return }
        // Re-check at least every second, in case an event was missed or none is sent.
        let slice = Int32(min(left, 1000))
        guard let monitor else {
            poll(nil, 0, slice)
            return
        }
        monitorLock.wait()
        defer { monitorLock.signal() }
        var descriptor = pollfd(fd: udev_monitor_get_fd(monitor), events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, slice) > 0 {
            // Drain what arrived; the caller re-reads sysfs.
            while let device = udev_monitor_receive_device(monitor) { udev_device_unref(device) }
        }
    }

    // MARK: - Writes

    private func writeHere(_ path: String, _ value: String) throws(KernelError) {
        do {
            try Self.write(path, value)
        } catch {
            throw KernelError(
                target: path, operation: "write \(value.trimmingSpaces.isEmpty ? "\\n" : value) to", errno: error)
        }
    }

    /// One write(2) of the whole value, as `echo VALUE > PATH` does.
    public static func write(_ path: String, _ value: String) throws(Errno) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw Errno(rawValue: written < 0 ? errno : EIO) }
    }

    private func writeInChild(_ path: String, _ value: String, timeout: Duration) throws(KernelError) {
        try spawn(
            [executable, "sysfs-write", path, value], target: path, operation: "write \(value) to", timeout: timeout,
            statusIsErrno: true)
    }

    /// Runs `arguments` in a child and waits for it until `timeout`. `sysfs-write` exits
    /// with an errno; other programs (modprobe) with their own codes.
    private func spawn(
        _ arguments: [String], target: String, operation: String, timeout: Duration,
        statusIsErrno: Bool
    ) throws(KernelError) {
        // Its own process group, killed whole at the deadline (modprobe runs install commands of its own).
        let outcome = ChildProcess.run(arguments, captureOutput: false, timeout: timeout)
        if let error = outcome.spawnError {
            throw KernelError(target: target, operation: operation, errno: error)
        }
        // The child may be stuck in the kernel for good; it is reaped when it returns.
        if outcome.timedOut {
            LockedAttribute.didNotReturn(target, pid: outcome.pid)
            throw KernelError(target: target, operation: operation, timedOut: timeout)
        }
        if let signal = outcome.signal {
            throw KernelError(
                target: target, operation: operation, detail: "the child process died by signal \(signal)")
        }
        let code = outcome.status ?? 0
        guard code == 0 else {
            throw statusIsErrno
                ? KernelError(target: target, operation: operation, errno: Errno(rawValue: code))
                : KernelError(
                    target: target, operation: operation, detail: "\(arguments[0]) exited with status \(code)")
        }
    }
}
