import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Discovery, detect and the restore reader against /sys trees holding what no kernel
/// writes: every value is reported as what it is (unknown, unusable and why), never as
/// a number it is not, and nothing traps.
@Suite struct CorruptSysfsTests {
    static let pf = "0000:3b:00.0"
    static let vfs = ["0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:3b:02.3"]
    static let sysfsKernel = SysfsKernel(executable: Umockdev.binary.path)

    struct Garbage: CustomTestStringConvertible, Sendable {
        let bytes: [UInt8]
        let shown: String
        var testDescription: String { shown }
        init(_ text: String, shown: String? = nil) {
            bytes = Array(text.utf8)
            self.shown = shown ?? "\"\(text)\""
        }
        init(bytes: [UInt8], shown: String) {
            self.bytes = bytes
            self.shown = shown
        }
    }

    static let garbage: [Garbage] = [
        Garbage("abc"), Garbage(""), Garbage("-1"), Garbage("99999999999999999999"), Garbage("65536"),
        Garbage("0x40"), Garbage("4 4"), Garbage("+4"),
        Garbage(bytes: [0xff, 0xfe, 0x0a], shown: #""\u{FFFD}\u{FFFD}""#),
        Garbage(bytes: Array("12\n34".utf8), shown: #""12\n34""#),
    ]

    @Test("a sriov_totalvfs that holds no count makes the NIC unusable, quoting what it holds", arguments: garbage)
    func garbageTotalVFs(_ value: Garbage) throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        try testbed.setAttribute(Self.pf, "sriov_totalvfs", value.bytes)
        let host = try Umockdev.discover(in: testbed.root)
        #expect(host.interfaces.isEmpty)
        #expect(!host.capable)
        let nic = try #require(host.unusable.first)
        #expect(host.unusable.count == 1, "its VFs are not listed as NICs of their own")
        #expect(nic.reason == .unreadableSRIOVAttribute)
        #expect(
            nic.detail == "Ethernet Controller X710 for 10GbE SFP+ (8086:1572): "
                + "/sys/bus/pci/devices/0000:3b:00.0/sriov_totalvfs reads \(value.shown), not a VF count as the kernel "
                + "writes it; check dmesg for the driver's errors, then reload the NIC's driver or reboot")
    }

    @Test func aSriovTotalVFsThatCannotBeReadSaysWhy() throws {
        let testbed = try Testbed([Fixtures.x710])
        try testbed.setAttribute(Self.pf, "sriov_totalvfs", nil)
        #expect(mkdir(testbed.path(Self.pf, "sriov_totalvfs"), 0o755) == 0)
        let nic = try #require(try Umockdev.discover(in: testbed.root).unusable.first)
        #expect(nic.reason == .unreadableSRIOVAttribute)
        #expect(
            nic.detail.hasPrefix(
                "Ethernet Controller X710 for 10GbE SFP+ (8086:1572): "
                    + "/sys/bus/pci/devices/0000:3b:00.0/sriov_totalvfs cannot be read: Is a directory"))
    }

    /// Discovery reads `sriov_numvfs` only where config space cannot tell the count: here, where only its first
    /// 64 bytes can be read, as for a user who is not root.
    static func hideConfigSpaceCount(_ testbed: Testbed, _ function: FakeFunction) throws {
        try testbed.setAttribute(function.address, "config", Array(function.configSpace()[..<64]))
    }

    @Test("a sriov_numvfs that holds no count is unknown (null), not 0", arguments: garbage)
    func garbageNumVFs(_ value: Garbage) throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        try Self.hideConfigSpaceCount(testbed, Fixtures.x710WithVFs)
        try testbed.setAttribute(Self.pf, "sriov_numvfs", value.bytes)
        let host = try Umockdev.discover(in: testbed.root)
        let pf = try #require(host.interfaces.first)
        #expect(pf.numVFs == nil)
        #expect(pf.totalVFs == 64)
        #expect(pf.vfs.count == 4, "the VFs that exist are still listed")
        let json = try JSONDocument(DetectReport.json(host))
        #expect(json["interfaces", 0, "numVfs"] is NSNull)
        #expect(json["interfaces", 0, "totalvfs"] as? Int == 64)
        #expect(DetectReport.table(host).contains(" -/64 "))
        let state = try Umockdev.within(testbed.root) { Self.sysfsKernel.pf(PCIAddress(Self.pf)!) }
        #expect(state?.numVFs == nil, "restore's reader does not take it for 0 either")
        #expect(state?.totalVFs == 64)
    }

    /// The SR-IOV capability's registers as a test sets them, and the count discovery reports with
    /// `sriov_numvfs` reading 2.
    struct CountRegisters: CustomTestStringConvertible, Sendable {
        let vfEnable: Bool
        let numVFs: UInt16
        let reported: Int
        let testDescription: String
    }

    static let countRegisters = [
        CountRegisters(vfEnable: true, numVFs: 4, reported: 4, testDescription: "VF Enable set: NumVFs"),
        CountRegisters(
            vfEnable: false, numVFs: 4, reported: 0, testDescription: "VF Enable clear: 0, whatever NumVFs holds"),
        CountRegisters(
            vfEnable: true, numVFs: 0xffff, reported: 2, testDescription: "all ones (a device going away): sysfs"),
        CountRegisters(vfEnable: true, numVFs: 65, reported: 2, testDescription: "more than sriov_totalvfs: sysfs"),
    ]

    @Test(
        "the VF count comes from config space where it can be believed, else from sriov_numvfs",
        arguments: countRegisters)
    func countFromConfigSpace(_ registers: CountRegisters) throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        var config = Fixtures.x710WithVFs.configSpace()
        // The fake's SR-IOV capability is at 0x160: control at +0x08, NumVFs at +0x10 (little-endian).
        config[0x168] = registers.vfEnable ? 0x09 : 0x00
        config[0x170] = UInt8(registers.numVFs & 0xff)
        config[0x171] = UInt8(registers.numVFs >> 8)
        try testbed.setAttribute(Self.pf, "config", config)
        try testbed.setAttribute(Self.pf, "sriov_numvfs", "2\n")
        let pf = try #require(try Umockdev.discover(in: testbed.root).interfaces.first)
        #expect(pf.numVFs == registers.reported)
        #expect(pf.capability?.numVFs == Int(registers.numVFs), "the capability shows the register as it is")
    }

    @Test func detectNeverShowsANegativeOrGarbageCount() throws {
        let testbed = try Testbed([Fixtures.x710WithVFs, Fixtures.x710Port1])
        try Self.hideConfigSpaceCount(testbed, Fixtures.x710WithVFs)
        try testbed.setAttribute(Self.pf, "sriov_numvfs", "-1\n")
        try testbed.setAttribute("0000:3b:00.1", "sriov_totalvfs", "-1\n")
        let table = try Umockdev.run(["detect"], in: testbed.root)
        #expect(table.status == 0)
        let row = table.stdout.split(separator: "\n").first { $0.hasPrefix("enp59s0f0 ") }
        #expect(row?.contains(" -/64 ") == true)
        #expect(!table.stdout.contains("/-1") && !table.stdout.contains("-1/"), "a count column never shows -1")
        #expect(
            table.stdout.contains(
                "0000:3b:00.1  enp59s0f1  8086:1572  unreadable-sriov-attribute  "
                    + "Ethernet Controller X710 for 10GbE SFP+ (8086:1572): "
                    + "/sys/bus/pci/devices/0000:3b:00.1/sriov_totalvfs reads \"-1\""))
        let json = try JSONDocument(try Umockdev.run(["detect", "--json"], in: testbed.root).stdout)
        #expect(json["interfaces", 0, "numVfs"] is NSNull)
        #expect(json["unusable", 0, "reason"] as? String == "unreadable-sriov-attribute")
        #expect(json["capable"] as? Bool == true)
    }

    /// `virtfnN` links that do not name a VF of this PF, and what each would have done.
    static let strayLinks: [(name: String, target: String)] = [
        ("virtfn4", "../0000:3b:00.0"),  // the PF itself: it would be its own VF
        ("virtfn5", "../0000:3b:00.1"),  // another PF: it would vanish from the PF list
        ("virtfn6", "../0000:99:00.0"),  // nothing
        ("virtfn7", "../0000:3b:02.0"),  // VF 0 again: listed twice
        ("virtfn8", "../not-an-address"),
        ("virtfn-1", "../0000:3b:02.1"),  // not a name the kernel makes
        ("virtfn01", "../0000:3b:02.1"),
        ("virtfn99999999999999999999", "../0000:3b:02.1"),
    ]

    @Test func virtfnLinksThatNameNoVFOfThisPFAreIgnored() throws {
        let port1 = Catalog.pf(.x710, at: "0000:3b:00.1", name: "enp59s0f1", mac: "3c:fd:fe:9e:a1:01", numVFs: 1)
        let testbed = try Testbed([Fixtures.x710WithVFs, port1])
        for link in Self.strayLinks { try testbed.setLink(Self.pf, link.name, to: link.target) }
        // The other PF's VF, claimed by this one too: its physfn leads to its own PF.
        try testbed.setLink(Self.pf, "virtfn9", to: "../\(port1.sriov!.vfs[0].address)")

        let host = try Umockdev.discover(in: testbed.root)
        #expect(
            host.interfaces.map(\.address.description) == ["0000:3b:00.0", "0000:3b:00.1"],
            "no PF is taken for a VF")
        let pf = try #require(host.interfaces.first)
        #expect(pf.vfs.map(\.vfID) == [0, 1, 2, 3])
        #expect(pf.vfs.map(\.function.address.description) == Self.vfs)
        #expect(host.unusable.isEmpty)
        #expect(host.interfaces.last?.vfs.map(\.function.address.description) == ["0000:3b:0a.0"])

        let state = try #require(try Umockdev.within(testbed.root) { Self.sysfsKernel.pf(PCIAddress(Self.pf)!) })
        #expect(state.vfs.map(\.index) == [0, 1, 2, 3], "restore's reader ignores them too")
        #expect(state.vfs.map(\.address.description) == Self.vfs)
    }

    /// A link to where the PF's First VF Offset and VF Stride put the VF is believed as
    /// the kernel made it; without them, the VF's `physfn` must lead back to the PF.
    @Test func aVFWhosePhysfnLeadsElsewhereIsNotThisPFsUnlessThePFPutItThere() throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        try testbed.setLink("0000:3b:02.1", "physfn", to: "../0000:3b:00.1")
        let placed = try #require(try Umockdev.discover(in: testbed.root).interfaces.first)
        #expect(placed.vfs.map(\.vfID) == [0, 1, 2, 3])
        try testbed.setAttribute(Self.pf, "sriov_offset", "garbage\n")
        let pf = try #require(try Umockdev.discover(in: testbed.root).interfaces.first)
        #expect(pf.vfs.map(\.vfID) == [0, 2, 3])
    }

    /// VFs between the first and the last are placed by offset and stride without reading their links, but only
    /// after those two links agree: an offset that puts VF 0 on the next PF makes every link be read.
    @Test(arguments: ["1\n", "17\n"])
    func anOffsetThatDisagreesWithTheLinksIsNotUsedToPlaceVFs(offset: String) throws {
        let testbed = try Testbed([Fixtures.x710WithVFs, Fixtures.x710Port1])
        try testbed.setAttribute(Self.pf, "sriov_offset", offset)
        let host = try Umockdev.discover(in: testbed.root)
        #expect(host.interfaces.map(\.address.description) == [Self.pf, "0000:3b:00.1"])
        #expect(host.interfaces.first?.vfs.map(\.function.address.description) == Self.vfs)
        #expect(host.interfaces.first?.vfs.map(\.function.driver) == ["iavf", "iavf", "iavf", "vfio-pci"])
    }

    @Test func netdevAndFunctionValuesTheKernelWouldNotWriteAreUnknown() throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        let net = "net/enp59s0f0/"
        try testbed.setAttribute(Self.pf, net + "mtu", "-5\n")
        try testbed.setAttribute(Self.pf, net + "address", "zz:zz:zz:zz:zz:zz\n")
        try testbed.setAttribute(Self.pf, net + "speed", "99999999999999999999\n")
        try testbed.setAttribute(Self.pf, net + "type", "-1\n")
        try testbed.setAttribute(Self.pf, net + "dev_port", "abc\n")
        try testbed.setAttribute(Self.pf, net + "flags", [0xff, 0x00, 0x01])
        try testbed.setAttribute(Self.pf, "numa_node", "-7\n")
        try testbed.setLink(Self.pf, "iommu_group", to: "../../../kernel/iommu_groups/-3")
        try testbed.setAttribute("0000:3b:02.0", "net/enp59s0f0v0/mtu", "1e3\n")
        try testbed.setAttribute("0000:3b:02.0", "net/enp59s0f0v0/address", [0xc3, 0x28])
        try testbed.setLink("0000:3b:02.1", "iommu_group", to: "../../../kernel/iommu_groups/032")

        let host = try Umockdev.discover(in: testbed.root)
        let pf = try #require(host.interfaces.first)
        let netdev = try #require(pf.function.primaryNetdev)
        #expect(netdev.mtu == nil)
        #expect(netdev.mac == nil)
        #expect(netdev.permanentMAC == nil)
        #expect(netdev.speed == nil)
        #expect(netdev.type == nil)
        #expect(netdev.devPort == nil)
        #expect(netdev.adminUp == nil)
        #expect(pf.numaNode == nil)
        #expect(pf.iommuGroup == nil)
        #expect(pf.vfs[0].function.primaryNetdev?.mtu == nil)
        #expect(pf.vfs[0].function.primaryNetdev?.mac == nil)
        #expect(pf.vfs[1].iommuGroup == nil)
        #expect(pf.vfs[2].iommuGroup == 33)
        let json = try JSONDocument(DetectReport.json(host))
        #expect(json["interfaces", 0, "mtu"] is NSNull)
        #expect(json["interfaces", 0, "mac"] is NSNull)
        #expect(json["interfaces", 0, "numaNode"] is NSNull)

        let state = try #require(try Umockdev.within(testbed.root) { Self.sysfsKernel.pf(PCIAddress(Self.pf)!) })
        #expect(state.mtu == nil)
        #expect(state.vfs[0].mtu == nil)
        #expect(state.vfs[0].mac == nil)
        #expect(state.vfs[1].iommuGroup == nil)
    }

    @Test func aConfigSpaceCutShortHidesTheCapabilityItCuts() throws {
        let testbed = try Testbed([Fixtures.e810])
        let address = Fixtures.e810.address
        let config = Fixtures.e810.configSpace()
        // The SR-IOV capability sits at 0x160..0x17c, the serial number at 0x140..0x14c.
        try testbed.setAttribute(address, "config", Array(config[..<0x170]))
        var pf = try #require(try Umockdev.discover(in: testbed.root).interfaces.first)
        #expect(pf.capability == nil, "fields past the end would read as all ones")
        #expect(pf.serialNumber == "b4-96-91-ff-ff-aa-10-00")
        #expect(pf.totalVFs == 256, "the kernel's count does not depend on config space")

        try testbed.setAttribute(address, "config", Array(config[..<0x144]))
        pf = try #require(try Umockdev.discover(in: testbed.root).interfaces.first)
        #expect(pf.serialNumber == nil)

        try testbed.setAttribute(address, "config", [])
        pf = try #require(try Umockdev.discover(in: testbed.root).interfaces.first)
        #expect(pf.capability == nil)
        #expect(pf.deviceName == "Ethernet Controller E810-C for QSFP")
    }

    @Test func withoutSriovFilesAndWithOnlyTheFirst64BytesOfConfigSpaceTheDetailSaysSo() throws {
        var function = Fixtures.x82599
        function.sriov!.kernelTotalVFs = nil
        let testbed = try Testbed([function])
        // What a user who is not root reads.
        try testbed.setAttribute(function.address, "config", Array(function.configSpace()[..<64]))
        let nic = try #require(try Umockdev.discover(in: testbed.root).unusable.first)
        #expect(nic.reason == .noSRIOVCapability)
        #expect(
            nic.detail == "82599ES 10-Gigabit SFI/SFP+ Network Connection (8086:10fb) has no sriov_* files, "
                + "and only 64 bytes of its config space can be read, too few to show an SR-IOV capability; a kernel "
                + "built with CONFIG_PCI_IOV=y (as distributions' are) creates those files for every function that has "
                + "one, so it most likely cannot create VFs (run detect as root to read all of config space)")
    }

    @Test func theValueParsersTakeOnlyWhatTheKernelWrites() {
        #expect(["0", "7", "64", "65535", " 8 \n", "007"].map(SysfsValue.count) == [0, 7, 64, 65535, 8, 7])
        #expect(
            ["", "-1", "65536", "0x40", "abc", "99999999999999999999", "4 4", "+4", "٣"].allSatisfy {
                SysfsValue.count($0) == nil
            })
        #expect(["0", "3", "127"].map { SysfsValue.index($0) } == [0, 3, 127])
        #expect(["", "-1", "01", "+1", "1a", "9999999999"].allSatisfy { SysfsValue.index($0) == nil })
        #expect(SysfsValue.linkAddress("3c:fd:fe:9e:a1:00") == "3c:fd:fe:9e:a1:00")
        #expect(
            ["", "3C:FD:FE:9E:A1:00", "3c:fd:fe:9e:a1:0", "3c::fe", "zz:zz", "3c:fd:fe:9e:a1:00:"].allSatisfy {
                SysfsValue.linkAddress($0) == nil
            })
        #expect(
            ["0x8086", "8086", "0x15B3", "0x1"].map { HostDiscovery.idValue($0) }
                == ["8086", "8086", "15b3", "0001"])
        #expect(["0x", "", "+86", "0x-1", "0x123456", "0xzz", nil].allSatisfy { HostDiscovery.idValue($0) == nil })
        let fifty = String(repeating: "x", count: 50)
        #expect(SysfsValue.quoted(fifty) == "\"" + fifty.prefix(40) + "...\"")
        #expect(SysfsValue.quoted("a\tb") == #""a\tb""#)
    }
}
