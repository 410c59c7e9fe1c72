import Testbed

/// Hosts built from real devices, shared by the discovery, policy and command tests.
enum Fixtures {
    static let x710 = Catalog.pf(.x710, at: "0000:3b:00.0", name: "enp59s0f0", mac: "3c:fd:fe:9e:a1:00", iommuGroup: 30)
    static let x710Port1 = Catalog.pf(
        .x710, at: "0000:3b:00.1", name: "enp59s0f1", mac: "3c:fd:fe:9e:a1:01", numaNode: 0, iommuGroup: 130)
    static let e810 = Catalog.pf(
        .e810, at: "0000:af:00.0", name: "ens801f0", mac: "b4:96:91:aa:10:00", numaNode: 1,
        iommuGroup: 60, serialNumber: 0xb49691_ffff_aa1000)
    static let x82599 = Catalog.pf(
        .x82599, at: "0000:04:00.0", name: "enp4s0f0", mac: "90:e2:ba:11:22:30", iommuGroup: 20)
    static let x82576 = Catalog.pf(
        .x82576, at: "0000:01:00.0", name: "enp1s0", mac: "52:54:00:12:34:57", iommuGroup: 10)
    static let bcm57414 = Catalog.pf(
        .bcm57414, at: "0000:5e:00.0", name: "ens2f0np0", mac: "00:0a:f7:c1:d2:e0", iommuGroup: 80)
    static let connectX6Dx = Catalog.pf(
        .connectX6Dx, at: "0000:d8:00.0", name: "ens5f0np0", mac: "0c:42:a1:5b:00:10", numaNode: 1,
        iommuGroup: 90, serialNumber: 0x0c42a1_0300_5b0010)
    /// Both ports of one ConnectX-5 card: two PFs, one serial number.
    static let connectX5Ports = [
        Catalog.pf(
            .connectX5, at: "0000:86:00.0", name: "ens3f0np0", mac: "98:03:9b:7f:00:a0", numaNode: 1, iommuGroup: 70,
            serialNumber: 0x98039b_0300_7f00a0),
        Catalog.pf(
            .connectX5, at: "0000:86:00.1", name: "ens3f1np1", mac: "98:03:9b:7f:00:a1", numaNode: 1, iommuGroup: 71,
            serialNumber: 0x98039b_0300_7f00a0),
    ]
    static let virtio = Catalog.virtio(at: "0000:00:03.0", name: "eth0", mac: "52:54:00:12:34:56")
    static let nvme = Catalog.nvme(at: "0000:02:00.0")

    /// An X710 port with 4 VFs: three with iavf netdevs, the last bound to vfio-pci for a VM.
    static var x710WithVFs: FakeFunction {
        var pf = Catalog.pf(
            .x710, at: "0000:3b:00.0", name: "enp59s0f0", mac: "3c:fd:fe:9e:a1:00", numVFs: 4, iommuGroup: 30)
        pf.sriov!.vfs[3].driver = "vfio-pci"
        pf.sriov!.vfs[3].netdevs = []
        return pf
    }

    /// A server as Harvester sees one: two SR-IOV cards, a virtio management NIC, an NVMe disk.
    static var server: [FakeFunction] {
        [nvme, virtio, x710WithVFs, x710Port1, e810] + connectX5Ports
    }
}
