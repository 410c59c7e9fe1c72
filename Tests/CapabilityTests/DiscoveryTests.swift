import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Discovery in-process, through real libudev and libpci, against umockdev testbeds.
@Suite struct DiscoveryTests {
    struct ModelCase: CustomTestStringConvertible, Sendable {
        let fixture: FakeFunction
        let name: String
        let driver: String
        let vendor: String
        let deviceID: String
        let vfDeviceID: String
        let totalVFs: Int
        let configTotalVFs: Int
        let deviceName: String
        let speed: String
        var testDescription: String { "\(driver) \(vendor):\(deviceID)" }
    }

    static let models: [ModelCase] = [
        ModelCase(
            fixture: Fixtures.x710, name: "enp59s0f0", driver: "i40e", vendor: "8086", deviceID: "1572",
            vfDeviceID: "154c",
            totalVFs: 64, configTotalVFs: 64, deviceName: "Ethernet Controller X710 for 10GbE SFP+", speed: "10000 Mb/s"
        ),
        ModelCase(
            fixture: Fixtures.e810, name: "ens801f0", driver: "ice", vendor: "8086", deviceID: "1592",
            vfDeviceID: "1889",
            totalVFs: 256, configTotalVFs: 256, deviceName: "Ethernet Controller E810-C for QSFP", speed: "100000 Mb/s"),
        ModelCase(
            fixture: Fixtures.x82599, name: "enp4s0f0", driver: "ixgbe", vendor: "8086", deviceID: "10fb",
            vfDeviceID: "10ed",
            totalVFs: 63, configTotalVFs: 64, deviceName: "82599ES 10-Gigabit SFI/SFP+ Network Connection",
            speed: "10000 Mb/s"),
        ModelCase(
            fixture: Fixtures.x82576, name: "enp1s0", driver: "igb", vendor: "8086", deviceID: "10c9",
            vfDeviceID: "10ca",
            totalVFs: 7, configTotalVFs: 8, deviceName: "82576 Gigabit Network Connection", speed: "1000 Mb/s"),
        ModelCase(
            fixture: Fixtures.bcm57414, name: "ens2f0np0", driver: "bnxt_en", vendor: "14e4", deviceID: "16d7",
            vfDeviceID: "16dc",
            totalVFs: 128, configTotalVFs: 128, deviceName: "BCM57414 NetXtreme-E 10Gb/25Gb RDMA Ethernet Controller",
            speed: "25000 Mb/s"),
        ModelCase(
            fixture: Fixtures.connectX6Dx, name: "ens5f0np0", driver: "mlx5_core", vendor: "15b3", deviceID: "101d",
            vfDeviceID: "101e",
            totalVFs: 8, configTotalVFs: 8, deviceName: "MT2892 Family [ConnectX-6 Dx]", speed: "100000 Mb/s"),
    ]

    @Test("each supported NIC is found with the kernel's and config space's figures", arguments: models)
    func supportedNIC(_ model: ModelCase) throws {
        let host = try Umockdev.discover([Fixtures.nvme, model.fixture])
        #expect(host.capable)
        #expect(host.unusable.isEmpty)
        let pf = try #require(host.interfaces.first)
        #expect(host.interfaces.count == 1)
        #expect(pf.address.description == model.fixture.address)
        #expect(pf.name == model.name)
        #expect(pf.function.driver == model.driver)
        #expect(pf.function.vendor == model.vendor)
        #expect(pf.function.deviceID == model.deviceID)
        #expect(pf.deviceName == model.deviceName)
        #expect(pf.totalVFs == model.totalVFs)
        #expect(pf.numVFs == 0)
        #expect(pf.vfs.isEmpty)
        #expect(pf.capability?.vfDeviceID == model.vfDeviceID)
        #expect(pf.capability?.totalVFs == model.configTotalVFs)
        #expect(pf.iommuGroup == model.fixture.iommuGroup)
        #expect(pf.function.primaryNetdev?.mac == model.fixture.netdevs[0].mac)
        #expect(pf.function.primaryNetdev?.linkType == "ETH")
        let json = try JSONDocument(DetectReport.json(host))
        #expect(json["interfaces", 0, "linkSpeed"] as? String == model.speed)
    }

    @Test func connectX5TwoPortsAreTwoPFsOfOneCard() throws {
        let host = try Umockdev.discover(Fixtures.connectX5Ports)
        #expect(host.interfaces.map(\.address.description) == ["0000:86:00.0", "0000:86:00.1"])
        #expect(host.interfaces.map(\.name) == ["ens3f0np0", "ens3f1np1"])
        #expect(host.interfaces.allSatisfy { $0.function.driver == "mlx5_core" && $0.totalVFs == 8 })
        #expect(host.interfaces.allSatisfy { $0.capability?.vfDeviceID == "1018" })
        // One card, one serial number: what identifies it across a slot move.
        #expect(host.interfaces.map(\.serialNumber) == ["98-03-9b-03-00-7f-00-a0", "98-03-9b-03-00-7f-00-a0"])
        #expect(host.interfaces.map(\.numaNode) == [1, 1])
        // The second port's VFs follow the first port's in routing-ID space.
        #expect(host.interfaces.map(\.capability?.firstVFOffset) == [2, 9])
    }

    @Test func vfsAppearUnderTheirPFIncludingOneOnVFIOWithoutNetdev() throws {
        let host = try Umockdev.discover([Fixtures.x710WithVFs])
        #expect(host.unusable.isEmpty, "VFs are never listed as unusable")
        let pf = try #require(host.interfaces.first)
        #expect(host.interfaces.count == 1, "VFs are never listed as PFs")
        #expect(pf.numVFs == 4)
        #expect(pf.capability?.numVFs == 4)
        #expect(pf.vfs.map(\.vfID) == [0, 1, 2, 3])
        #expect(
            pf.vfs.map(\.function.address.description) == [
                "0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:3b:02.3",
            ])
        #expect(pf.vfs.map(\.function.driver) == ["iavf", "iavf", "iavf", "vfio-pci"])
        #expect(pf.vfs.map(\.function.primaryNetdev?.name) == ["enp59s0f0v0", "enp59s0f0v1", "enp59s0f0v2", nil])
        #expect(pf.vfs.allSatisfy { $0.function.vendor == "8086" && $0.function.deviceID == "154c" })
        #expect(pf.vfs.map(\.iommuGroup) == [31, 32, 33, 34])
    }

    @Test func virtioNICHasNoSRIOVCapability() throws {
        let host = try Umockdev.discover([Fixtures.virtio])
        #expect(!host.capable)
        #expect(host.interfaces.isEmpty)
        let nic = try #require(host.unusable.first)
        #expect(nic.reason == .noSRIOVCapability)
        #expect(nic.function.primaryNetdev?.name == "eth0")
        #expect(nic.function.driver == "virtio-pci")
        #expect(
            nic.detail
                == "Virtio 1.0 network device (1af4:1041) has no SR-IOV capability in PCI config space; it cannot create VFs"
        )
    }

    @Test func pfWithoutDriverCannotCreateVFs() throws {
        var pf = Fixtures.x710
        pf.driver = nil
        pf.netdevs = []
        let host = try Umockdev.discover([pf])
        #expect(!host.capable)
        let nic = try #require(host.unusable.first)
        #expect(nic.reason == .noDriver)
        #expect(nic.function.primaryNetdev == nil)
        #expect(nic.function.driver == nil)
        #expect(nic.detail.hasPrefix("Ethernet Controller X710 for 10GbE SFP+ (8086:1572) has no driver bound"))
    }

    @Test func capabilityInConfigSpaceButKernelWithoutSRIOV() throws {
        var pf = Fixtures.x82599
        pf.sriov!.kernelTotalVFs = nil
        let host = try Umockdev.discover([pf])
        let nic = try #require(host.unusable.first)
        #expect(nic.reason == .kernelWithoutSRIOV)
        #expect(
            nic.detail
                == "82599ES 10-Gigabit SFI/SFP+ Network Connection (8086:10fb) has an SR-IOV capability for 64 VFs in config space, but the kernel shows no sriov_* files; boot a kernel built with CONFIG_PCI_IOV=y"
        )
    }

    @Test func totalVFsZeroMeansDisabledInFirmware() throws {
        var pf = Fixtures.bcm57414
        pf.sriov!.kernelTotalVFs = 0
        let host = try Umockdev.discover([pf])
        let nic = try #require(host.unusable.first)
        #expect(nic.reason == .sriovDisabled)
        #expect(nic.function.primaryNetdev?.name == "ens2f0np0")
        #expect(nic.detail.contains("sriov_totalvfs 0"))
    }

    @Test func hostWithoutAnyNIC() throws {
        let host = try Umockdev.discover([Fixtures.nvme])
        #expect(!host.capable)
        #expect(host.interfaces.isEmpty)
        #expect(host.unusable.isEmpty, "an NVMe disk is not a NIC")
    }

    @Test func serverIsOrderedByPCIAddress() throws {
        let host = try Umockdev.discover(Fixtures.server.reversed())
        #expect(
            host.interfaces.map(\.address.description) == [
                "0000:3b:00.0", "0000:3b:00.1", "0000:86:00.0", "0000:86:00.1", "0000:af:00.0",
            ])
        #expect(host.unusable.map(\.function.address.description) == ["0000:00:03.0"])
        #expect(host.interfaces.first?.vfs.count == 4)
    }

    @Test func aPFWithSeveralNetdevsIsOneEntryNamedByItsFirstPort() throws {
        var pf = Fixtures.connectX6Dx
        pf.netdevs = [
            FakeNetdev(name: "ens5f0np0", mac: "0c:42:a1:5b:00:10", devPort: 0, physPortName: "p0"),
            // switchdev VF representors live on the PF's function too; they are not the PF.
            FakeNetdev(name: "eth2", mac: "aa:bb:cc:00:00:01", physPortName: "pf0vf0"),
            FakeNetdev(name: "ens5f0np1", mac: "0c:42:a1:5b:00:11", devPort: 1, physPortName: "p1"),
        ]
        let host = try Umockdev.discover([pf])
        #expect(host.interfaces.count == 1)
        #expect(host.interfaces.first?.name == "ens5f0np0")
        #expect(host.interfaces.first?.function.netdevs.map(\.name).sorted() == ["ens5f0np0", "ens5f0np1", "eth2"])
    }

    @Test func thePermanentMACIsTheFactoryOneOrNone() throws {
        var pf = Fixtures.x710
        #expect(
            try Umockdev.discover([pf]).interfaces.first?.function.primaryNetdev?.permanentMAC == "3c:fd:fe:9e:a1:00")
        // A changed MAC (a bond slave's) is not the card's; ethtool would know the
        // factory one, and a fake netdev has none to ask for.
        pf.netdevs[0].addressAssignType = 3
        let netdev = try Umockdev.discover([pf]).interfaces.first?.function.primaryNetdev
        #expect(netdev?.mac == "3c:fd:fe:9e:a1:00")
        #expect(netdev?.permanentMAC == nil)
        #expect(HostDiscovery.ethtoolPermanentMAC("lo") == nil, "loopback has no factory address")
    }

    @Test func absentValuesStayAbsent() throws {
        var pf = Fixtures.x82576
        pf.numaNode = -1
        pf.iommuGroup = nil
        pf.netdevs[0].speed = nil
        pf.netdevs[0].type = 32
        pf.netdevs[0].adminUp = false
        let host = try Umockdev.discover([pf])
        let found = try #require(host.interfaces.first)
        #expect(found.numaNode == nil, "-1 is the kernel's 'unknown'")
        #expect(found.iommuGroup == nil)
        #expect(found.function.primaryNetdev?.speed == nil)
        #expect(found.function.primaryNetdev?.linkType == "IB")
        #expect(found.function.primaryNetdev?.adminUp == false)
        #expect(found.serialNumber == nil)
    }
}
