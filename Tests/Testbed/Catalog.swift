import Capability
import SRIOVHost
import SRIOVModel

/// Real NICs' published IDs and SR-IOV layouts (pci.ids; the operator's supported-NIC
/// list; the drivers' `sriov_totalvfs` limits), to build faithful fake hosts from.
public struct NICModel: Sendable {
    public var vendor: UInt16
    public var pfDevice: UInt16
    public var vfDevice: UInt16
    public var driver: String
    public var vfDriver: String
    /// TotalVFs in config space, and what the driver lets the kernel report.
    public var configTotalVFs: Int
    public var kernelTotalVFs: Int
    public var firstVFOffset: Int
    public var vfStride: Int
    public var speed: Int

    /// Intel X710 for 10GbE SFP+ (i40e; VFs are iavf, 8086:154c).
    public static let x710 = NICModel(
        vendor: 0x8086, pfDevice: 0x1572, vfDevice: 0x154c, driver: "i40e", vfDriver: "iavf",
        configTotalVFs: 64, kernelTotalVFs: 64, firstVFOffset: 16, vfStride: 1, speed: 10000)
    /// Intel E810-C for QSFP (ice; VFs 8086:1889).
    public static let e810 = NICModel(
        vendor: 0x8086, pfDevice: 0x1592, vfDevice: 0x1889, driver: "ice", vfDriver: "iavf",
        configTotalVFs: 256, kernelTotalVFs: 256, firstVFOffset: 8, vfStride: 1, speed: 100000)
    /// Intel 82599ES (ixgbe): config space offers 64 VFs, the driver allows 63.
    public static let x82599 = NICModel(
        vendor: 0x8086, pfDevice: 0x10fb, vfDevice: 0x10ed, driver: "ixgbe", vfDriver: "ixgbevf",
        configTotalVFs: 64, kernelTotalVFs: 63, firstVFOffset: 128, vfStride: 2, speed: 10000)
    /// Intel 82576 (igb): config space offers 8 VFs, the driver allows 7; what QEMU's `igb` emulates.
    public static let x82576 = NICModel(
        vendor: 0x8086, pfDevice: 0x10c9, vfDevice: 0x10ca, driver: "igb", vfDriver: "igbvf",
        configTotalVFs: 8, kernelTotalVFs: 7, firstVFOffset: 128, vfStride: 2, speed: 1000)
    /// Mellanox ConnectX-5 (mlx5_core for PF and VF; VFs 15b3:1018).
    public static let connectX5 = NICModel(
        vendor: 0x15b3, pfDevice: 0x1017, vfDevice: 0x1018, driver: "mlx5_core", vfDriver: "mlx5_core",
        configTotalVFs: 8, kernelTotalVFs: 8, firstVFOffset: 2, vfStride: 1, speed: 25000)
    /// Mellanox ConnectX-6 Dx (VFs 15b3:101e).
    public static let connectX6Dx = NICModel(
        vendor: 0x15b3, pfDevice: 0x101d, vfDevice: 0x101e, driver: "mlx5_core", vfDriver: "mlx5_core",
        configTotalVFs: 8, kernelTotalVFs: 8, firstVFOffset: 2, vfStride: 1, speed: 100000)
    /// Broadcom BCM57414 NetXtreme-E 10Gb/25Gb (bnxt_en; VFs 14e4:16dc).
    public static let bcm57414 = NICModel(
        vendor: 0x14e4, pfDevice: 0x16d7, vfDevice: 0x16dc, driver: "bnxt_en", vfDriver: "bnxt_en",
        configTotalVFs: 128, kernelTotalVFs: 128, firstVFOffset: 8, vfStride: 1, speed: 25000)
}

public enum Catalog {
    /// A PF of `model` at `address` with netdev `name` and `numVFs` VFs, each VF with
    /// a netdev `<name>v<N>` on the model's VF driver, at the addresses the SR-IOV
    /// capability's offset and stride give.
    public static func pf(
        _ model: NICModel, at address: String, name: String?, mac: String, numVFs: Int = 0,
        numaNode: Int = 0, iommuGroup: Int? = nil, serialNumber: UInt64? = nil
    ) -> FakeFunction {
        // Functions of one card place their VFs one after another, as real firmware does:
        // function N's offset skips the routing IDs of the functions before it.
        let function = Int(address.split(separator: ".").last!)!
        let offset = model.firstVFOffset + function * (model.configTotalVFs * model.vfStride - 1)
        let vfs = (0..<numVFs).map { index in
            let vfAddress = Self.vfAddress(pf: address, offset: offset + index * model.vfStride)
            return FakeFunction(
                address: vfAddress, vendor: model.vendor, device: model.vfDevice, driver: model.vfDriver,
                numaNode: numaNode, iommuGroup: iommuGroup.map { $0 + 1 + index },
                netdevs: name.map { [FakeNetdev(name: "\($0)v\(index)", mac: vfMAC(mac, index))] } ?? [])
        }
        return FakeFunction(
            address: address, vendor: model.vendor, device: model.pfDevice, driver: model.driver,
            numaNode: numaNode, iommuGroup: iommuGroup,
            sriov: FakeSRIOV(
                configTotalVFs: model.configTotalVFs, kernelTotalVFs: model.kernelTotalVFs,
                firstVFOffset: offset, vfStride: model.vfStride, vfDevice: model.vfDevice, vfs: vfs),
            serialNumber: serialNumber,
            netdevs: name.map { [FakeNetdev(name: $0, mac: mac, speed: model.speed)] } ?? [])
    }

    /// A virtio-net function, as on any VM: no SR-IOV capability.
    public static func virtio(at address: String, name: String, mac: String) -> FakeFunction {
        FakeFunction(
            address: address, vendor: 0x1af4, device: 0x1041, driver: "virtio-pci",
            netdevs: [FakeNetdev(name: name, mac: mac)])
    }

    /// An NVMe controller: on every host, never a NIC.
    public static func nvme(at address: String) -> FakeFunction {
        FakeFunction(address: address, vendor: 0x144d, device: 0xa808, classCode: 0x010802, driver: "nvme")
    }

    /// The VF's routing ID is the PF's plus offset (PCIe SR-IOV spec 3.3.10/11).
    static func vfAddress(pf: String, offset: Int) -> String {
        let parts = pf.split(whereSeparator: { $0 == ":" || $0 == "." })
        let domain = parts[0]
        let rid = Int(parts[1], radix: 16)! << 8 | Int(parts[2], radix: 16)! << 3 | Int(parts[3], radix: 16)!
        let vf = rid + offset
        return "\(domain):\(hex(vf >> 8, width: 2)):\(hex((vf >> 3) & 0x1f, width: 2)).\(vf & 7)"
    }

    static func vfMAC(_ pfMAC: String, _ index: Int) -> String {
        "02:" + pfMAC.split(separator: ":").dropFirst().dropLast().joined(separator: ":") + ":"
            + hex(index & 0xff, width: 2)
    }
}
