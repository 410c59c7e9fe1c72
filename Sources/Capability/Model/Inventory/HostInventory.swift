/// What discovery found on a node: an immutable value that resolution and the
/// reports read, and that tests build by hand.
public struct HostInventory: Sendable {
    public var node: String
    /// PFs that can create VFs now, by PCI address.
    public var interfaces: [PhysicalFunction]
    /// Network functions that cannot, each with the reason.
    public var unusable: [UnusableNIC]

    public init(node: String, interfaces: [PhysicalFunction], unusable: [UnusableNIC]) {
        self.node = node
        self.interfaces = interfaces
        self.unusable = unusable
    }

    /// True when at least one interface can create VFs now.
    public var capable: Bool { !interfaces.isEmpty }

    /// The identity of the card whose PF answers at `address`, if one does.
    public func card(at address: PCIAddress) -> CardIdentity? {
        interfaces.first { $0.address == address }.map(CardIdentity.init)
    }
}

/// The SR-IOV extended capability (ID 0x0010) as read from PCI config space.
public struct SRIOVCapability: Equatable, Sendable {
    public var totalVFs: Int
    public var initialVFs: Int
    public var numVFs: Int
    public var firstVFOffset: Int
    public var vfStride: Int
    /// The device ID every VF of this PF reports, 4 lowercase hex digits.
    public var vfDeviceID: String

    public init(totalVFs: Int, initialVFs: Int, numVFs: Int, firstVFOffset: Int, vfStride: Int, vfDeviceID: String) {
        self.totalVFs = totalVFs
        self.initialVFs = initialVFs
        self.numVFs = numVFs
        self.firstVFOffset = firstVFOffset
        self.vfStride = vfStride
        self.vfDeviceID = vfDeviceID
    }
}

/// A kernel network interface bound to a PCI function.
public struct NetDevice: Equatable, Sendable {
    public var name: String
    public var mac: String?
    public var mtu: Int?
    /// Mb/s; nil while the link is down (the kernel answers EINVAL or -1).
    public var speed: Int?
    /// ARPHRD type: 1 is Ethernet, 32 InfiniBand.
    public var type: Int?
    /// IFF_UP from the netdev's `flags`: administratively up.
    public var adminUp: Bool?
    /// Set on switchdev representors (`pf0vf3`) and on multi-port functions (`p0`).
    public var physPortName: String?
    public var devPort: Int?
    /// `addr_assign_type`: 0 means `mac` is the permanent, factory address.
    public var addressAssignType: Int?
    /// The factory MAC: `mac` when the kernel says it is permanent, else what ethtool
    /// reports (a bond slave, for one, carries the bond's MAC).
    public var permanentMAC: String?

    public init(
        name: String, mac: String? = nil, mtu: Int? = nil, speed: Int? = nil, type: Int? = nil,
        adminUp: Bool? = nil, physPortName: String? = nil, devPort: Int? = nil, addressAssignType: Int? = nil
    ) {
        self.name = name
        self.mac = mac
        self.mtu = mtu
        self.speed = speed
        self.type = type
        self.adminUp = adminUp
        self.physPortName = physPortName
        self.devPort = devPort
        self.addressAssignType = addressAssignType
    }

    /// The operator's link type names.
    public var linkType: String? {
        switch type {
        case 1: "ETH"
        case 32: "IB"
        default: nil
        }
    }

    /// A switchdev VF representor, which shares the PF's PCI function but is not its port.
    var isRepresentor: Bool { Self.isRepresentor(portName: physPortName) }

    /// Representors' `phys_port_name` is `pfNvfM`; ports' is `pN` or empty.
    package static func isRepresentor(portName: String?) -> Bool {
        guard let port = portName else { return false }
        return port.hasPrefix("pf") && port.contains("vf")
    }
}

/// Facts every PCI network function has, PF or VF.
public struct PCIFunction: Equatable, Sendable {
    public var address: PCIAddress
    public var vendor: String
    public var deviceID: String
    public var driver: String?
    /// All netdevs on the function; a multi-port function (mlx4) has several.
    public var netdevs: [NetDevice]

    public init(address: PCIAddress, vendor: String, deviceID: String, driver: String?, netdevs: [NetDevice]) {
        self.address = address
        self.vendor = vendor
        self.deviceID = deviceID
        self.driver = driver
        self.netdevs = netdevs
    }

    /// The netdev that stands for the function: not a representor, lowest port first.
    public var primaryNetdev: NetDevice? {
        netdevs.filter { !$0.isRepresentor }
            .min { ($0.devPort ?? 0, $0.name) < ($1.devPort ?? 0, $1.name) }
    }
}

public struct PhysicalFunction: Equatable, Sendable {
    public var function: PCIFunction
    public var vendorName: String?
    public var deviceName: String?
    /// `sriov_totalvfs`: what the kernel allows (drivers may lower the hardware figure).
    public var totalVFs: Int
    /// `sriov_numvfs`: how many VFs exist now; nil when the file holds no count.
    public var numVFs: Int?
    /// From config space, when libpci could read it.
    public var capability: SRIOVCapability?
    /// The Device Serial Number capability, `xx-xx-xx-xx-xx-xx-xx-xx`: a card's identity across slots.
    public var serialNumber: String?
    public var numaNode: Int?
    public var iommuGroup: Int?
    public var vfs: [VirtualFunction]

    public init(
        function: PCIFunction, vendorName: String?, deviceName: String?, totalVFs: Int, numVFs: Int?,
        capability: SRIOVCapability?, serialNumber: String?, numaNode: Int?, iommuGroup: Int?,
        vfs: [VirtualFunction]
    ) {
        self.function = function
        self.vendorName = vendorName
        self.deviceName = deviceName
        self.totalVFs = totalVFs
        self.numVFs = numVFs
        self.capability = capability
        self.serialNumber = serialNumber
        self.numaNode = numaNode
        self.iommuGroup = iommuGroup
        self.vfs = vfs
    }

    public var address: PCIAddress { function.address }
    public var name: String? { function.primaryNetdev?.name }
}

public struct VirtualFunction: Equatable, Sendable {
    /// N in the PF's `virtfnN` link.
    public var vfID: Int
    public var function: PCIFunction
    public var iommuGroup: Int?

    public init(vfID: Int, function: PCIFunction, iommuGroup: Int?) {
        self.vfID = vfID
        self.function = function
        self.iommuGroup = iommuGroup
    }
}

/// Why a network function cannot be used for SR-IOV; the raw values are the JSON vocabulary.
public enum UnusableReason: String, Sendable {
    /// The hardware has no SR-IOV capability in config space.
    case noSRIOVCapability = "no-sriov-capability"
    /// Config space has the capability, but the kernel shows no `sriov_*` files (no CONFIG_PCI_IOV).
    case kernelWithoutSRIOV = "kernel-without-sriov"
    /// `sriov_totalvfs` is 0: SR-IOV is off in firmware or BIOS.
    case sriovDisabled = "sriov-disabled"
    /// No driver is bound to the PF, so nothing can create VFs.
    case noDriver = "no-driver"
    /// `sriov_totalvfs` exists but cannot be read, or holds no count (a fake or corrupt tree,
    /// a failing device): how many VFs the PF allows is unknown.
    case unreadableSRIOVAttribute = "unreadable-sriov-attribute"
}

public struct UnusableNIC: Sendable {
    public var function: PCIFunction
    public var reason: UnusableReason
    public var detail: String

    public init(function: PCIFunction, reason: UnusableReason, detail: String) {
        self.function = function
        self.reason = reason
        self.detail = detail
    }
}
