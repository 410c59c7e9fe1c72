import SRIOVModel
import SystemPackage

/// A PF as restore sees it: the few facts it acts on, re-read after every step.
public struct PFState: Equatable, Sendable {
    public var address: PCIAddress
    public var driver: String?
    public var netdev: String?
    /// udev has processed the netdev (renamed it): its name is final.
    public var netdevSettled: Bool = true
    /// IFF_UP: VF drivers such as igbvf get their MAC from the PF only when it is up.
    public var up: Bool = true
    /// The link is up (`carrier`): igb sets VF rates only then.
    public var carrier: Bool = true
    public var mtu: Int?
    /// nil when the kernel shows no `sriov_totalvfs`, or it holds no count.
    public var totalVFs: Int?
    /// `sriov_numvfs`; nil when it cannot be read or holds no count: unknown, never 0.
    public var numVFs: Int?
    /// By index; as many as `virtfnN` links exist.
    public var vfs: [VFState]
    /// The netdev's ifindex: a new one means the netdev was made again (a driver reload, a hotplug).
    public var ifindex: Int?

    public init(
        address: PCIAddress, driver: String?, netdev: String?, mtu: Int?, totalVFs: Int?, numVFs: Int?,
        vfs: [VFState]
    ) {
        self.address = address
        self.driver = driver
        self.netdev = netdev
        self.mtu = mtu
        self.totalVFs = totalVFs
        self.numVFs = numVFs
        self.vfs = vfs
    }

    /// Ready for restore: a driver that can create VFs, and a netdev, renamed by udev
    /// (policies name PFs by their final names), to set VF MACs through.
    public var ready: Bool { driver != nil && totalVFs != nil && netdev != nil && netdevSettled }

    /// What keeps the PF from being ready, and what to do, for the message at the end of the wait.
    package var notReady: String? {
        if driver == nil { return "has no driver; load the NIC's driver (dmesg says why it did not bind)" }
        if totalVFs == nil {
            return "shows no VF count in sriov_totalvfs; reload the NIC's driver or reboot (dmesg)"
        }
        if netdev == nil { return "has no netdev; check that its driver created one (dmesg)" }
        if !netdevSettled { return "has a netdev udev did not finish with; check journalctl -u systemd-udevd" }
        return nil
    }

    /// The VF the kernel numbers `index` (virtfnN), when present. `vfs` is sorted by
    /// index, and its positions are the indices unless the kernel skipped one.
    public func vf(_ index: Int) -> VFState? {
        if vfs.indices.contains(index), vfs[index].index == index { return vfs[index] }
        return vfs.first { $0.index == index }
    }
}

public struct VFState: Equatable, Sendable {
    public var index: Int
    public var address: PCIAddress
    public var driver: String?
    public var netdev: String?
    /// udev has processed (renamed) the netdev: writing to it by name is safe.
    public var netdevSettled: Bool = true
    public var mtu: Int?
    public var mac: String?
    public var iommuGroup: Int?
    /// What the PF driver reports for the VF (IFLA_VFINFO_LIST); nil when it reports nothing.
    public var settings: VFSettings?

    public init(
        index: Int, address: PCIAddress, driver: String?, netdev: String?, mtu: Int?, mac: String?, iommuGroup: Int?
    ) {
        self.index = index
        self.address = address
        self.driver = driver
        self.netdev = netdev
        self.mtu = mtu
        self.mac = mac
        self.iommuGroup = iommuGroup
    }
}

/// A VF's settings held by its PF driver, as `ip link show PF` lists them.
public struct VFSettings: Equatable, Sendable {
    public var vlan = 0
    public var vlanQoS = 0
    public var vlanProto = VLANProtocol.dot1Q
    public var minTxRate = 0
    public var maxTxRate = 0
    public var linkState = VFLinkState.auto
    /// nil when the driver does not report it.
    public var trust: Bool?
    public var spoofCheck: Bool?

    public init() {}
}

/// One setting of one VF, written through its PF (one RTM_SETLINK each, so that a
/// refusal names the setting).
public enum VFSetting: Equatable, Sendable, CustomStringConvertible {
    case mac([UInt8])
    case trust(Bool)
    case spoofCheck(Bool)
    case vlan(Int, qos: Int, proto: VLANProtocol)
    case txRates(min: Int, max: Int)
    case linkState(VFLinkState)

    /// As the annotations name it.
    public var description: String {
        switch self {
        case let .mac(mac): "MAC \(StableMAC.text(mac))"
        case let .trust(on): "trust \(on ? "on" : "off")"
        case let .spoofCheck(on): "spoof-check \(on ? "on" : "off")"
        case let .vlan(id, qos, proto): "vlan \(id) (vlanQoS \(qos), vlanProto \(proto.rawValue))"
        case let .txRates(min, max): "min_tx_rate \(min) and max_tx_rate \(max) Mbps"
        case let .linkState(state): "link_state \(state.rawValue)"
        }
    }
}
