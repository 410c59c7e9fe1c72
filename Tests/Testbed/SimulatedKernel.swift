import Capability
import Dispatch
import Foundation
import SRIOVHost
import SRIOVModel
import SystemPackage

/// A test double of the kernel's SR-IOV side that behaves like drivers/pci/iov.c and
/// the PCI core: writing `sriov_numvfs` is a no-op for the same value, ERANGE above
/// `sriov_totalvfs`, ENOENT without a driver, EBUSY from N to M without 0 between,
/// and takes the driver's time; VFs then bind to their driver asynchronously, and
/// `driver_override` + `drivers_probe` move them between drivers. Faults (ENOMEM, a
/// write that never returns, a VF that never binds) are switched on per PF.
///
/// Time is simulated: the driver's latencies, udev's delays and restore's waits and deadlines all run on
/// `now`, which moves only when every job `concurrently` started is waiting (for an event, a deadline or a
/// driver), and then straight to the next thing due. No test sleeps, and none depends on how fast the
/// machine is: the same test does the same steps at the same simulated times on any machine.
public final class SimulatedKernel: SRIOVKernel, @unchecked Sendable {
    public struct PF: Sendable {
        public var address: PCIAddress
        public var vendor = "8086"
        public var deviceID = "1572"
        public var vfDeviceID = "154c"
        public var driver: String? = "i40e"
        public var vfDriver = "iavf"
        public var netdev: String?
        /// Administratively up. Nothing brings a PF up at boot before the network is
        /// configured; a VF driver probed while its PF is down picks a random MAC (igbvf).
        public var up = false
        /// The link (carrier): it follows `up` after `carrierDelay`, unless no cable is connected.
        public var carrier = false
        public var cableConnected = true
        public var carrierDelay: Duration = .zero
        /// False while udev has not yet renamed the PF's netdev from ethN.
        public var settled = true
        public var mtu = 1500
        public var totalVFs: Int? = 64
        public var permanentMAC: String
        public var serialNumber: String?
        public var iommu = true
        /// Time one enabling write takes in the driver, and one disabling write.
        public var enableLatency: Duration = .zero
        public var disableLatency: Duration = .zero
        public var faults: Set<Fault> = []
        /// `sriov_drivers_autoprobe`.
        public var autoprobe = true
        /// A VF's driver takes a new MAC only when it probes again (igb: "Reload the VF
        /// driver to make this change effective"); i40e resets the VF itself.
        public var macNeedsReprobe = true
        public var numVFs = 0
        /// The netdev's ifindex; a driver reload gives a new one.
        public var ifindex = 2
        /// False when `sriov_numvfs` holds no count (a corrupt tree, a failing device):
        /// readers get nil, the kernel itself still knows `numVFs`.
        public var numVFsReadable = true
        public var vfs: [VF] = []

        public init(address: String, netdev: String?, permanentMAC: String) {
            self.address = PCIAddress(address)!
            self.netdev = netdev
            self.permanentMAC = permanentMAC
        }
    }

    public struct VF: Sendable {
        public var address: PCIAddress
        public var driver: String?
        public var override: String?
        public var netdev: String?
        /// False while the netdev still has the kernel's ethN name, before udev renames it.
        public var settled = true
        public var mtu = 1500
        public var adminMAC: [UInt8]?
        public var mac: String?
        public var trust: Bool = false
        public var spoofCheck: Bool = true
        /// Held by the PF driver, and lost with the VF when the driver is reloaded.
        public var settings = VFSettings()
    }

    public enum Fault: Hashable, Sendable {
        /// Enabling fails with ENOMEM (no IOV BAR space).
        case noMemory
        /// Writes to sriov_numvfs never return.
        case writeHangs
        /// An earlier write of ours to sriov_numvfs never returned: SysfsKernel starts no other beside it.
        case earlierWriteStuck
        /// This VF never binds to any driver.
        case vfNeverBinds(Int)
        /// The PF driver has no sriov_configure: writes fail with ENOENT.
        case driverWithoutSRIOV
        /// VFs were enabled behind our back between our writes: EBUSY.
        case busy
        /// udev renames a VF's netdev just as its MTU is written: the write gets ENOENT once.
        case renameDuringMTUWrite
        /// This VF's driver takes a MAC of its own at its first probe, whatever was set through the PF (igbvf
        /// at boot now and then, seen on a real kernel).
        case ownMACAtFirstProbe(Int)
        /// igb refuses the first rate with EINVAL even with the carrier up: its watchdog has not
        /// recorded the link speed yet (seen in the VM just as the link came up).
        case linkSpeedLate
    }

    private let lock = NSCondition()
    /// Simulated time: `origin` plus what has passed.
    private let origin = ContinuousClock.now
    private var elapsed: Duration = .zero
    /// What happens at a simulated time (a VF binds, udev renames, a carrier comes up), in order.
    private var timers: [(at: ContinuousClock.Instant, order: Int, action: () -> Void)] = []
    private var timerCount = 0
    /// A thread blocked in simulated time, until `deadline` or, when `wakesOnEvent`, the next change.
    private final class Sleeper {
        let deadline: ContinuousClock.Instant
        let wakesOnEvent: Bool
        /// A job's thread, counted in `running` when awake; a test's own thread is not.
        let isJob: Bool
        var woken = false
        init(_ deadline: ContinuousClock.Instant, wakesOnEvent: Bool, isJob: Bool) {
            self.deadline = deadline
            self.wakesOnEvent = wakesOnEvent
            self.isJob = isJob
        }
    }
    private var sleepers: [Sleeper] = []
    /// Jobs (threads `concurrently` started, and test hooks) that are running, not sleeping: time moves only at 0.
    private var running = 0
    private var jobThreads: Set<pthread_t> = []
    private var pfs: [PF]
    /// Bumped at every change. Like events queued on a udev monitor socket, a change
    /// between a thread's last read and its wait must wake it at once.
    private var generation = 0
    private var seen: [pthread_t: Int] = [:]
    /// Loaded PCI drivers.
    public var loadedDrivers: Set<String> = ["vfio-pci"]
    /// IDs vfio-pci matches besides overrides: what `new_id` added (`vvvv dddd`).
    public var vfioDynamicIDs: Set<String> = []
    /// Time between a VF's creation (or a probe) and its driver binding.
    public var bindDelay: Duration = .milliseconds(5)
    /// Time udev takes to rename a new VF netdev from ethN to its final name.
    public var renameDelay: Duration = .zero
    /// Every sriov_numvfs write that reached the kernel: "0000:3b:00.0=8".
    public private(set) var writes: [String] = []
    /// Every call that changes something (sysfs writes, netlink, modprobe), in order,
    /// failed ones too: "bind 0000:3b:02.0 vfio-pci".
    public private(set) var changes: [String] = []
    private var macCounter = 0

    public init(_ pfs: [PF]) {
        self.pfs = pfs
    }

    // MARK: - Test controls

    public func update(_ address: String, _ change: (inout PF) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if let index = pfs.firstIndex(where: { $0.address.description == address }) { change(&pfs[index]) }
        changed()
    }

    /// Adds a PF later, as hotplug or a late driver load does.
    public func plug(_ pf: PF, after delay: Duration) {
        lock.lock()
        defer { lock.unlock() }
        schedule(after: delay) {
            self.pfs.append(pf)
            self.changed()
        }
    }

    /// udev renames the PF's netdev after `delay`; until then it has the kernel's name.
    public func renamePF(_ address: String, from kernelName: String, after delay: Duration) {
        let final = snapshot(address)?.netdev
        update(address) { pf in
            pf.netdev = kernelName
            pf.settled = false
        }
        lock.lock()
        defer { lock.unlock() }
        schedule(after: delay) {
            if let index = self.pfs.firstIndex(where: { $0.address.description == address }) {
                self.pfs[index].netdev = final
                self.pfs[index].settled = true
            }
            self.changed()
        }
    }

    /// `modprobe -r DRIVER && modprobe DRIVER`: the PF's VFs, and the settings its driver
    /// held for them, are gone, and its new netdev is down.
    public func reloadDriver(of address: String) {
        update(address) { pf in
            pf.ifindex += 100
            pf.numVFs = 0
            pf.vfs = []
            pf.up = false
            pf.carrier = false
        }
    }

    private var writesInFlight = 0
    /// The most `sriov_numvfs` writes that were in the driver at one time: restores of
    /// different PFs run in parallel, and this shows it without timing anything.
    public private(set) var mostWritesInFlight = 0

    public var writeLog: [String] {
        lock.lock()
        defer { lock.unlock() }
        return writes
    }

    public var changeLog: [String] {
        lock.lock()
        defer { lock.unlock() }
        return changes
    }

    public func snapshot(_ address: String) -> PF? {
        lock.lock()
        defer { lock.unlock() }
        return pfs.first { $0.address.description == address }
    }

    // MARK: - SRIOVKernel

    /// Called after each `inventory()`, outside the lock: a test's way to change the node just after a reading.
    public var afterInventory: (@Sendable () -> Void)?

    public func inventory() throws(SRIOVError) -> HostInventory {
        defer { afterInventory?() }
        lock.lock()
        defer { lock.unlock() }
        var interfaces: [PhysicalFunction] = []
        var unusable: [UnusableNIC] = []
        for pf in pfs.sorted(by: { $0.address < $1.address }) {
            let netdevs =
                pf.netdev.map { name -> [NetDevice] in
                    var netdev = NetDevice(name: name, mac: pf.permanentMAC, mtu: pf.mtu, type: 1, addressAssignType: 0)
                    netdev.permanentMAC = pf.permanentMAC
                    return [netdev]
                } ?? []
            let function = PCIFunction(
                address: pf.address, vendor: pf.vendor, deviceID: pf.deviceID, driver: pf.driver, netdevs: netdevs)
            guard let total = pf.totalVFs, total > 0, pf.driver != nil else {
                unusable.append(
                    UnusableNIC(
                        function: function, reason: pf.driver == nil ? .noDriver : .sriovDisabled, detail: "simulated"))
                continue
            }
            let vfs = pf.vfs.enumerated().map { index, vf in
                VirtualFunction(
                    vfID: index,
                    function: PCIFunction(
                        address: vf.address, vendor: pf.vendor, deviceID: pf.vfDeviceID, driver: vf.driver,
                        netdevs: vf.netdev.map { [NetDevice(name: $0, mac: vf.mac, mtu: vf.mtu)] } ?? []),
                    iommuGroup: pf.iommu ? 100 + index : nil)
            }
            interfaces.append(
                PhysicalFunction(
                    function: function, vendorName: nil, deviceName: nil, totalVFs: total,
                    numVFs: pf.numVFsReadable ? pf.numVFs : nil, capability: nil,
                    serialNumber: pf.serialNumber, numaNode: 0,
                    iommuGroup: pf.iommu ? 99 : nil, vfs: vfs))
        }
        return HostInventory(node: "simulated", interfaces: interfaces, unusable: unusable)
    }

    public func pf(_ address: PCIAddress) -> PFState? {
        lock.lock()
        defer { lock.unlock() }
        seen[pthread_self()] = generation
        guard let pf = pfs.first(where: { $0.address == address }) else { return nil }
        var state = PFState(
            address: pf.address, driver: pf.driver, netdev: pf.netdev, mtu: pf.mtu,
            totalVFs: pf.totalVFs, numVFs: pf.numVFsReadable ? pf.numVFs : nil,
            vfs: pf.vfs.enumerated().map { index, vf in
                var state = VFState(
                    index: index, address: vf.address, driver: vf.driver, netdev: vf.netdev, mtu: vf.mtu,
                    mac: vf.mac, iommuGroup: pf.iommu ? 100 + index : nil)
                state.netdevSettled = vf.settled
                state.settings = vf.settings
                state.settings?.trust = vf.trust
                state.settings?.spoofCheck = vf.spoofCheck
                return state
            })
        state.up = pf.up
        state.carrier = pf.carrier
        state.netdevSettled = pf.settled
        state.ifindex = pf.ifindex
        return state
    }

    public func setNumVFs(_ count: Int, pf address: PCIAddress, timeout: Duration) throws(KernelError) {
        let file = "/sys/bus/pci/devices/\(address)/sriov_numvfs"
        func failure(_ errno: Errno) -> KernelError {
            KernelError(target: file, operation: "write \(count) to", errno: errno)
        }
        lock.lock()
        guard let index = pfs.firstIndex(where: { $0.address == address }), pfs[index].totalVFs != nil else {
            lock.unlock()
            throw failure(.noSuchFileOrDirectory)
        }
        let pf = pfs[index]
        if pf.faults.contains(.earlierWriteStuck) {
            lock.unlock()
            throw KernelError(
                target: file, operation: "write \(count) to",
                detail: "not tried: process 4242 of harvester-sriov has waited on this file in the kernel for 300 s; "
                    + "the kernel holds the device's lock (a write to sriov_numvfs or a removal that never returned); "
                    + "if no restore is running, reboot the node")
        }
        writes.append("\(address)=\(count)")
        changes.append("sriov_numvfs \(address) \(count)")
        lock.unlock()
        // iov.c, sriov_numvfs_store: the checks happen in this order.
        if count == pf.numVFs { return }
        guard pf.driver != nil, !pf.faults.contains(.driverWithoutSRIOV) else { throw failure(.noSuchFileOrDirectory) }
        if count > pf.totalVFs! { throw failure(.outOfRange) }
        if count != 0, pf.numVFs != 0 || pf.faults.contains(.busy) { throw failure(.resourceBusy) }
        let latency =
            pf.faults.contains(.writeHangs)
            ? Duration.seconds(3600) : (count == 0 ? pf.disableLatency : pf.enableLatency)
        if latency > timeout {
            // The real kernel keeps going; the caller stops waiting, as SysfsKernel does.
            lock.lock()
            block(until: origin + elapsed + timeout, wakesOnEvent: false)
            lock.unlock()
            throw KernelError(target: file, operation: "write \(count) to", timedOut: timeout)
        }
        lock.lock()
        writesInFlight += 1
        mostWritesInFlight = max(mostWritesInFlight, writesInFlight)
        block(until: origin + elapsed + latency, wakesOnEvent: false)
        writesInFlight -= 1
        lock.unlock()
        if count > 0, pf.faults.contains(.noMemory) { throw failure(.noMemory) }

        lock.lock()
        defer { lock.unlock() }
        guard let current = pfs.firstIndex(where: { $0.address == address }) else {
            throw failure(.noSuchFileOrDirectory)
        }
        pfs[current].numVFs = count
        pfs[current].vfs = (0..<count).map { vfIndex in
            let rid = Int(address.bus) << 8 | Int(address.device) << 3 | Int(address.function)
            let vfRID = rid + 16 + vfIndex
            return VF(
                address: PCIAddress(
                    domain: address.domain, bus: UInt8(truncatingIfNeeded: vfRID >> 8),
                    device: UInt8((vfRID >> 3) & 0x1f), function: UInt8(vfRID & 7)))
        }
        if pfs[current].autoprobe {
            for vfIndex in 0..<count { scheduleProbe(address, vfIndex) }
        }
        changed()
        if let afterWrite {
            // On a thread of its own (the lock is held here), counted as running so that time waits for it.
            running += 1
            DispatchQueue.global().async {
                afterWrite(address.description, count)
                self.lock.lock()
                self.running -= 1
                self.advanceIfAllWait()
                self.lock.unlock()
            }
        }
    }

    /// Called (on another thread) after each completed `sriov_numvfs` write: a test's way to make
    /// something happen while a restore runs, at a known step rather than at a guessed time.
    public var afterWrite: (@Sendable (_ pf: String, _ count: Int) -> Void)?

    public func bind(_ vf: PCIAddress, to driver: String?, timeout: Duration) throws(KernelError) {
        lock.lock()
        defer { lock.unlock() }
        changes.append("bind \(vf) \(driver ?? "-")")
        guard let (pfIndex, vfIndex) = locate(vf) else {
            throw KernelError(
                target: "/sys/bus/pci/devices/\(vf)/driver_override", operation: "write to",
                errno: .noSuchFileOrDirectory)
        }
        if driver == nil, vfioDynamicIDs.remove(vfID(pfIndex)) != nil {
            changes.append("remove_id vfio-pci \(vfID(pfIndex))")
        }
        // driver_override, then unbind, then drivers_probe.
        pfs[pfIndex].vfs[vfIndex].override = driver
        pfs[pfIndex].vfs[vfIndex].driver = nil
        pfs[pfIndex].vfs[vfIndex].netdev = nil
        scheduleProbe(pfs[pfIndex].address, vfIndex)
        changed()
    }

    public func setDriversAutoprobe(_ enabled: Bool, pf: PCIAddress) throws(KernelError) {
        lock.lock()
        defer { lock.unlock() }
        changes.append("sriov_drivers_autoprobe \(pf) \(enabled)")
        guard let index = pfs.firstIndex(where: { $0.address == pf }) else {
            throw KernelError(
                target: "/sys/bus/pci/devices/\(pf)/sriov_drivers_autoprobe", operation: "write to",
                errno: .noSuchFileOrDirectory)
        }
        pfs[index].autoprobe = enabled
    }

    public func setLinkUp(_ netdev: String) throws(KernelError) {
        lock.lock()
        defer { lock.unlock() }
        changes.append("up \(netdev)")
        guard let index = pfs.firstIndex(where: { $0.netdev == netdev }) else {
            throw KernelError(target: netdev, operation: "RTM_SETLINK", errno: .operationNotSupportedByDevice)
        }
        pfs[index].up = true
        changed()
        let address = pfs[index].address
        schedule(after: pfs[index].carrierDelay) {
            if let index = self.pfs.firstIndex(where: { $0.address == address }) {
                self.pfs[index].carrier = self.pfs[index].up && self.pfs[index].cableConnected
            }
            self.changed()
        }
    }

    public func setMTU(_ mtu: Int, netdev: String) throws(KernelError) {
        lock.lock()
        defer { lock.unlock() }
        changes.append("mtu \(netdev) \(mtu)")
        for pfIndex in pfs.indices {
            if pfs[pfIndex].netdev == netdev {
                pfs[pfIndex].mtu = mtu
                return
            }
            if let vfIndex = pfs[pfIndex].vfs.firstIndex(where: { $0.netdev == netdev }) {
                if pfs[pfIndex].faults.contains(.renameDuringMTUWrite) {
                    pfs[pfIndex].faults.remove(.renameDuringMTUWrite)
                    pfs[pfIndex].vfs[vfIndex].netdev = netdev + "r"
                    changed()
                    throw KernelError(
                        target: "/sys/class/net/\(netdev)/mtu", operation: "write \(mtu) to",
                        errno: .noSuchFileOrDirectory)
                }
                guard mtu <= pfs[pfIndex].mtu else {
                    throw KernelError(
                        target: "/sys/class/net/\(netdev)/mtu", operation: "write \(mtu) to", errno: .invalidArgument)
                }
                pfs[pfIndex].vfs[vfIndex].mtu = mtu
                changed()
                return
            }
        }
        throw KernelError(
            target: "/sys/class/net/\(netdev)/mtu", operation: "write \(mtu) to", errno: .noSuchFileOrDirectory)
    }

    /// rtnetlink's do_setvfinfo and the PF drivers' ndo_set_vf_*: igb takes no link_state
    /// (EOPNOTSUPP), rates only on the 82576 (EOPNOTSUPP), without a minimum and with
    /// the link up (EINVAL); only ice takes 802.1ad VLANs (EPROTONOSUPPORT).
    public func setVF(_ index: Int, pfNetdev: String, _ setting: VFSetting) throws(KernelError) {
        lock.lock()
        defer { lock.unlock() }
        changes.append("vf \(pfNetdev) \(index) \(setting)")
        func refuse(_ errno: Errno) -> KernelError {
            KernelError(target: "\(pfNetdev) vf \(index)", operation: "RTM_SETLINK", errno: errno)
        }
        guard let pfIndex = pfs.firstIndex(where: { $0.netdev == pfNetdev }), index < pfs[pfIndex].vfs.count else {
            throw refuse(.invalidArgument)
        }
        let pf = pfs[pfIndex]
        let igb = pf.driver == "igb"
        switch setting {
        case let .mac(mac):
            pfs[pfIndex].vfs[index].adminMAC = mac
            if pf.vfs[index].netdev != nil, !pf.macNeedsReprobe {
                pfs[pfIndex].vfs[index].mac = StableMAC.text(mac)
            }
        case let .trust(on): pfs[pfIndex].vfs[index].trust = on
        case let .spoofCheck(on): pfs[pfIndex].vfs[index].spoofCheck = on
        case let .vlan(id, qos, proto):
            guard id <= 4095, qos <= 7 else { throw refuse(.invalidArgument) }
            guard proto == .dot1Q || pf.driver == "ice" else { throw refuse(.protocolNotSupported) }
            pfs[pfIndex].vfs[index].settings.vlan = id
            pfs[pfIndex].vfs[index].settings.vlanQoS = qos
            pfs[pfIndex].vfs[index].settings.vlanProto = proto
        case let .txRates(min, max):
            if igb, pf.deviceID != "10c9" { throw refuse(.notSupported) }
            if igb, min != 0 || !pf.carrier || max > 1000 { throw refuse(.invalidArgument) }
            if igb, pfs[pfIndex].faults.contains(.linkSpeedLate) {
                pfs[pfIndex].faults.remove(.linkSpeedLate)
                throw refuse(.invalidArgument)
            }
            pfs[pfIndex].vfs[index].settings.minTxRate = min
            pfs[pfIndex].vfs[index].settings.maxTxRate = max
        case let .linkState(state):
            if igb { throw refuse(.notSupported) }
            pfs[pfIndex].vfs[index].settings.linkState = state
        }
        changed()
    }

    /// `ip link set PF vf N ...` by hand, which restore knows nothing of.
    public func changeVFSettings(_ address: String, vf index: Int, _ change: (inout VFSettings) -> Void) {
        update(address) { pf in
            if pf.vfs.indices.contains(index) { change(&pf.vfs[index].settings) }
        }
    }

    /// Modules modprobe can load.
    public var availableModules: Set<String> = ["vfio-pci"]

    public func loadDriver(_ name: String, timeout: Duration) throws(KernelError) {
        lock.lock()
        defer { lock.unlock() }
        changes.append("modprobe \(name)")
        guard availableModules.contains(name) else {
            throw KernelError(target: name, operation: "modprobe", errno: .noSuchFileOrDirectory)
        }
        loadedDrivers.insert(name)
        changed()
    }

    /// Who uses each VF (a VM's QEMU, a pod's namespace), as `users(of:)` reports it; set by the tests.
    private var vfUsers: [PCIAddress: String] = [:]

    public func use(_ vf: PCIAddress, by user: String?) {
        lock.lock()
        defer { lock.unlock() }
        vfUsers[vf] = user
    }

    public func users(of vf: VFState) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return vfUsers[vf.address].map { [$0] } ?? []
    }

    /// An IOMMU when every PF has one, a group of its own for each function, no bonds or bridges.
    public func facts(_ host: HostInventory) -> NodeFacts {
        lock.lock()
        defer { lock.unlock() }
        return NodeFacts(iommuGroups: pfs.allSatisfy(\.iommu), loadedDrivers: loadedDrivers)
    }

    public func driverLoaded(_ name: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return loadedDrivers.contains(name)
    }

    public func waitForEvent(until deadline: ContinuousClock.Instant) {
        lock.lock()
        defer { lock.unlock() }
        let me = pthread_self()
        if generation == seen[me] ?? -1 { block(until: deadline, wakesOnEvent: true) }
        seen[me] = generation
    }

    // MARK: - Simulated time

    public var now: ContinuousClock.Instant {
        lock.lock()
        defer { lock.unlock() }
        return origin + elapsed
    }

    public func sleep(until deadline: ContinuousClock.Instant) {
        lock.lock()
        defer { lock.unlock() }
        block(until: deadline, wakesOnEvent: false)
    }

    /// Threads of their own, as on a node; each counts as running until it ends or sleeps. A job that starts
    /// jobs hands its place to them until they end.
    public func concurrently<T: Sendable>(_ jobs: [@Sendable () -> T]) -> [T] {
        lock.lock()
        let caller = jobThreads.contains(pthread_self()) ? 1 : 0
        running += jobs.count - caller
        lock.unlock()
        let results = runInParallel(
            jobs.map { job in
                { @Sendable in
                    // runInParallel runs a single job on the calling thread, which may be a job already.
                    self.lock.lock()
                    let started = self.jobThreads.insert(pthread_self()).inserted
                    self.lock.unlock()
                    let result = job()
                    self.lock.lock()
                    if started { self.jobThreads.remove(pthread_self()) }
                    self.running -= 1
                    self.advanceIfAllWait()
                    self.lock.unlock()
                    return result
                }
            })
        lock.lock()
        running += caller
        lock.unlock()
        return results
    }

    /// Called with the lock held: sleeps in simulated time until `deadline` or, when `wakesOnEvent`, a change.
    private func block(until deadline: ContinuousClock.Instant, wakesOnEvent: Bool) {
        guard deadline > origin + elapsed else { return }
        // A thread that is not a job (a test calling restore itself) is not counted as running.
        let sleeper = Sleeper(deadline, wakesOnEvent: wakesOnEvent, isJob: jobThreads.contains(pthread_self()))
        sleepers.append(sleeper)
        if sleeper.isJob { running -= 1 }
        advanceIfAllWait()
        while !sleeper.woken { lock.wait() }
    }

    /// Called with the lock held. When no job runs, time moves to the next thing due (a timer, a sleeper's
    /// deadline), which happens, and those it wakes run.
    private func advanceIfAllWait() {
        while running == 0, !sleepers.isEmpty {
            let next = min(timers.first?.at ?? .now + .seconds(86_400 * 365), sleepers.map(\.deadline).min()!)
            if next > origin + elapsed { elapsed = next - origin }
            while let timer = timers.first, timer.at <= origin + elapsed {
                timers.removeFirst()
                timer.action()
            }
            wake { $0.deadline <= self.origin + self.elapsed }
        }
    }

    /// Called with the lock held: wakes the sleepers `which` picks; each counts as running until it sleeps again.
    private func wake(_ which: (Sleeper) -> Bool) {
        let woken = sleepers.filter(which)
        guard !woken.isEmpty else { return }
        sleepers.removeAll(where: which)
        for sleeper in woken { sleeper.woken = true }
        running += woken.filter(\.isJob).count
        lock.broadcast()
    }

    /// Called with the lock held: `action` happens (with the lock held) `delay` from now in simulated time.
    private func schedule(after delay: Duration, _ action: @escaping () -> Void) {
        timerCount += 1
        timers.append((origin + elapsed + delay, timerCount, action))
        timers.sort { ($0.at, $0.order) < ($1.at, $1.order) }
        // No advance here: whenever every job sleeps, `advanceIfAllWait` has already moved time on until one woke.
    }

    // MARK: -

    /// Called with the lock held.
    private func changed() {
        generation += 1
        wake(\.wakesOnEvent)
        lock.broadcast()
    }

    /// `vvvv dddd` of a PF's VFs, as new_id and remove_id take it.
    private func vfID(_ pfIndex: Int) -> String { "\(pfs[pfIndex].vendor) \(pfs[pfIndex].vfDeviceID)" }

    /// What Harvester's PCI devices addon does to bind a claimed VF (`bindDeviceToVFIOPCIDriver`): writes its ID to
    /// vfio-pci's `new_id`, then binds it. From then on vfio-pci takes any unbound device of that ID.
    public func claimLikePCIDevicesAddon(_ vf: PCIAddress) {
        lock.lock()
        defer { lock.unlock() }
        guard let (pfIndex, vfIndex) = locate(vf) else { return }
        loadedDrivers.insert("vfio-pci")
        vfioDynamicIDs.insert(vfID(pfIndex))
        changes.append("new_id vfio-pci \(vfID(pfIndex))")
        pfs[pfIndex].vfs[vfIndex].driver = "vfio-pci"
        pfs[pfIndex].vfs[vfIndex].netdev = nil
        changed()
    }

    private func locate(_ vf: PCIAddress) -> (Int, Int)? {
        for pfIndex in pfs.indices {
            if let vfIndex = pfs[pfIndex].vfs.firstIndex(where: { $0.address == vf }) { return (pfIndex, vfIndex) }
        }
        return nil
    }

    /// The PCI core probes a new or unbound VF: its override, else its default driver.
    private func scheduleProbe(_ pf: PCIAddress, _ vfIndex: Int) {
        schedule(after: bindDelay) {
            guard let pfIndex = self.pfs.firstIndex(where: { $0.address == pf }), vfIndex < self.pfs[pfIndex].vfs.count,
                !self.pfs[pfIndex].faults.contains(.vfNeverBinds(vfIndex))
            else { return }
            var vf = self.pfs[pfIndex].vfs[vfIndex]
            guard vf.driver == nil else { return }
            // With no override, a dynamic ID that another writer gave vfio-pci (new_id) wins: vfio-pci registered
            // before the VF driver, and the PCI core tries drivers in that order.
            let dynamic = self.vfioDynamicIDs.contains(self.vfID(pfIndex)) && self.loadedDrivers.contains("vfio-pci")
            let driver = vf.override ?? (dynamic ? "vfio-pci" : self.pfs[pfIndex].vfDriver)
            if driver == "vfio-pci" && (!self.pfs[pfIndex].iommu || !self.loadedDrivers.contains("vfio-pci")) { return }
            vf.driver = driver
            if driver != "vfio-pci" {
                let name = "\(self.pfs[pfIndex].netdev ?? "eth")v\(vfIndex)"
                vf.settled = self.renameDelay == .zero
                vf.netdev = vf.settled ? name : "eth\(100 + vfIndex)"
                // Without an administrative MAC, or with the PF down, the VF driver picks
                // a random one, new at every boot.
                self.macCounter += 1
                var admin = self.pfs[pfIndex].up ? vf.adminMAC.map(StableMAC.text) : nil
                if self.pfs[pfIndex].faults.remove(.ownMACAtFirstProbe(vfIndex)) != nil { admin = nil }
                vf.mac =
                    admin
                    ?? "aa:00:00:00:\(hex((self.macCounter >> 8) & 0xff, width: 2)):\(hex(self.macCounter & 0xff, width: 2))"
                vf.mtu = 1500
                if !vf.settled { self.scheduleRename(pf, vfIndex, to: name) }
            }
            self.pfs[pfIndex].vfs[vfIndex] = vf
            self.changed()
        }
    }

    /// udev renames a new netdev a little later; a write by the old name fails.
    private func scheduleRename(_ pf: PCIAddress, _ vfIndex: Int, to name: String) {
        schedule(after: renameDelay) {
            guard let pfIndex = self.pfs.firstIndex(where: { $0.address == pf }), vfIndex < self.pfs[pfIndex].vfs.count,
                self.pfs[pfIndex].vfs[vfIndex].netdev != nil
            else { return }
            self.pfs[pfIndex].vfs[vfIndex].netdev = name
            self.pfs[pfIndex].vfs[vfIndex].settled = true
            self.changed()
        }
    }
}
