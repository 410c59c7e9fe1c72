import SRIOVModel
import SystemPackage

/// The side of restore that touches the kernel: sysfs writes, netlink, device events.
/// `SysfsKernel` is the real one; tests use a simulated kernel that behaves like
/// drivers/pci/iov.c. Every operation is about one PF or one of its VFs. Restore's deadlines, waits and
/// retries run on the kernel's clock, so the simulated kernel's time is the time restore sees.
public protocol SRIOVKernel: WaitClock {
    /// The whole node, for resolving policies.
    func inventory() throws(SRIOVError) -> HostInventory
    /// One PF now; nil when no PCI function has that address.
    func pf(_ address: PCIAddress) -> PFState?
    /// Writes `sriov_numvfs`. Must return within `timeout` even when the kernel does not.
    func setNumVFs(_ count: Int, pf: PCIAddress, timeout: Duration) throws(KernelError)
    /// Binds a VF to `driver` through `driver_override` and `drivers_probe`; nil means the
    /// VF's default driver (the override cleared).
    func bind(_ vf: PCIAddress, to driver: String?, timeout: Duration) throws(KernelError)
    /// `sriov_drivers_autoprobe`: whether new VFs bind to a driver on their own. Off while
    /// VFs are created, so that their MACs are set before any driver reads them.
    func setDriversAutoprobe(_ enabled: Bool, pf: PCIAddress) throws(KernelError)
    func setMTU(_ mtu: Int, netdev: String) throws(KernelError)
    /// Sets a netdev administratively up (rtnetlink), as VFs need their PF up.
    func setLinkUp(_ netdev: String) throws(KernelError)
    /// Sets one setting of a VF through the PF's netdev (rtnetlink).
    func setVF(_ index: Int, pfNetdev: String, _ setting: VFSetting) throws(KernelError)
    /// Whether a PCI driver is registered (its module loaded).
    func driverLoaded(_ name: String) -> Bool
    /// Loads a driver's module (modprobe), as the operator does for vfio-pci.
    func loadDriver(_ name: String, timeout: Duration) throws(KernelError)
    /// Who uses a VF now, one phrase each: a process holding its vfio group device, a network namespace
    /// holding its netdev. Empty when it is free.
    func users(of vf: VFState) -> [String]
    /// What `doctor` needs beyond the inventory (IOMMU groups, bond and bridge masters, drivers).
    func facts(_ host: HostInventory) -> NodeFacts
    /// Returns when a device event may have changed something, or at `deadline`.
    func waitForEvent(until deadline: ContinuousClock.Instant)
    /// Runs restore's per-PF jobs at the same time, each on a thread of its own, and returns their results
    /// in order. Through the kernel, so that the simulated one knows which threads its time waits for.
    func concurrently<T: Sendable>(_ jobs: [@Sendable () -> T]) -> [T]
}
