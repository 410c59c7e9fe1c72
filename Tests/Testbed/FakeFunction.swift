/// One PCI function of a fake host: a PF, a VF, or any other device.
public struct FakeFunction: Sendable {
    public var address: String
    public var vendor: UInt16
    public var device: UInt16
    /// 24-bit class code: 0x020000 Ethernet, 0x020700 InfiniBand, 0x010802 NVMe.
    public var classCode: UInt32
    public var driver: String?
    public var numaNode: Int
    public var iommuGroup: Int?
    /// The SR-IOV capability; nil for hardware without one.
    public var sriov: FakeSRIOV?
    /// The Device Serial Number capability.
    public var serialNumber: UInt64?
    /// Set on a VF: its PF's address.
    public var physfn: String?
    public var netdevs: [FakeNetdev]

    public init(
        address: String, vendor: UInt16, device: UInt16, classCode: UInt32 = 0x020000, driver: String?,
        numaNode: Int = -1, iommuGroup: Int? = nil, sriov: FakeSRIOV? = nil, serialNumber: UInt64? = nil,
        physfn: String? = nil, netdevs: [FakeNetdev] = []
    ) {
        self.address = address
        self.vendor = vendor
        self.device = device
        self.classCode = classCode
        self.driver = driver
        self.numaNode = numaNode
        self.iommuGroup = iommuGroup
        self.sriov = sriov
        self.serialNumber = serialNumber
        self.physfn = physfn
        self.netdevs = netdevs
    }

    /// A 4096-byte PCIe config space: the type 0 header, a PCIe capability (libpci
    /// walks extended capabilities only behind one), then AER, DSN and SR-IOV
    /// extended capabilities, at the offsets real Intel NICs use.
    public func configSpace() -> [UInt8] {
        var config = [UInt8](repeating: 0, count: 4096)
        func put16(_ offset: Int, _ value: UInt16) {
            config[offset] = UInt8(value & 0xff)
            config[offset + 1] = UInt8(value >> 8)
        }
        func put32(_ offset: Int, _ value: UInt32) {
            put16(offset, UInt16(value & 0xffff))
            put16(offset + 2, UInt16(value >> 16))
        }
        put16(0x00, vendor)
        put16(0x02, device)
        put16(0x04, 0x0406)  // command: memory space, bus master
        put16(0x06, 0x0010)  // status: capability list present
        config[0x09] = UInt8(classCode & 0xff)
        config[0x0a] = UInt8((classCode >> 8) & 0xff)
        config[0x0b] = UInt8(classCode >> 16)
        config[0x0e] = 0x80  // header type 0, multi-function
        config[0x34] = 0x40  // first capability
        config[0x40] = 0x10  // PCI Express capability
        config[0x41] = 0x00  // last in the list
        put16(0x42, 0x0002)  // version 2, endpoint

        // Extended capabilities, chained: AER at 0x100 always, then the optional ones.
        var chain: [(offset: Int, id: UInt16)] = [(0x100, 0x0001)]
        if serialNumber != nil { chain.append((0x140, 0x0003)) }
        if sriov != nil { chain.append((0x160, 0x0010)) }
        for (index, cap) in chain.enumerated() {
            let next = index + 1 < chain.count ? UInt32(chain[index + 1].offset) : 0
            put32(cap.offset, UInt32(cap.id) | 1 << 16 | next << 20)
        }
        if let serialNumber {
            put32(0x144, UInt32(truncatingIfNeeded: serialNumber))
            put32(0x148, UInt32(truncatingIfNeeded: serialNumber >> 32))
        }
        if let sriov {
            put16(0x160 + 0x08, sriov.vfs.isEmpty ? 0 : 0x0009)  // control: VF Enable, VF MSE
            put16(0x160 + 0x0c, UInt16(sriov.configTotalVFs))  // InitialVFs
            put16(0x160 + 0x0e, UInt16(sriov.configTotalVFs))  // TotalVFs
            put16(0x160 + 0x10, UInt16(sriov.vfs.count))  // NumVFs
            put16(0x160 + 0x14, UInt16(sriov.firstVFOffset))
            put16(0x160 + 0x16, UInt16(sriov.vfStride))
            put16(0x160 + 0x1a, sriov.vfDevice)
        }
        return config
    }
}

public struct FakeSRIOV: Sendable {
    /// TotalVFs in config space.
    public var configTotalVFs: Int
    /// `sriov_totalvfs`; nil when the kernel shows no `sriov_*` files (no CONFIG_PCI_IOV).
    public var kernelTotalVFs: Int?
    public var firstVFOffset: Int
    public var vfStride: Int
    public var vfDevice: UInt16
    /// The VFs that exist now, in `virtfnN` order.
    public var vfs: [FakeFunction]

    public init(
        configTotalVFs: Int, kernelTotalVFs: Int?, firstVFOffset: Int, vfStride: Int, vfDevice: UInt16,
        vfs: [FakeFunction] = []
    ) {
        self.configTotalVFs = configTotalVFs
        self.kernelTotalVFs = kernelTotalVFs
        self.firstVFOffset = firstVFOffset
        self.vfStride = vfStride
        self.vfDevice = vfDevice
        self.vfs = vfs
    }
}

public struct FakeNetdev: Sendable {
    public var name: String
    public var mac: String
    public var mtu: Int
    public var speed: Int?
    public var type: Int
    public var adminUp: Bool
    public var devPort: Int
    public var physPortName: String?
    /// 0: the MAC is the factory one; 3: it was set (a bond slave's, say).
    public var addressAssignType = 0
    /// The bond or bridge it is enslaved to.
    public var master: FakeMaster?

    public init(
        name: String, mac: String, mtu: Int = 1500, speed: Int? = nil, type: Int = 1,
        adminUp: Bool = true, devPort: Int = 0, physPortName: String? = nil
    ) {
        self.name = name
        self.mac = mac
        self.mtu = mtu
        self.speed = speed
        self.type = type
        self.adminUp = adminUp
        self.devPort = devPort
        self.physPortName = physPortName
    }
}

/// A bond or a bridge a netdev is a member of.
public struct FakeMaster: Sendable {
    public var name: String
    public var isBond: Bool

    public static func bond(_ name: String) -> FakeMaster { FakeMaster(name: name, isBond: true) }
    public static func bridge(_ name: String) -> FakeMaster { FakeMaster(name: name, isBond: false) }
}
