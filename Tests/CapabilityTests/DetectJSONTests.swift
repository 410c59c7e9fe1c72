import Foundation
import SystemPackage
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `detect --json` is written by its own small writer, not JSONEncoder (which cost most of
/// the command's time on a host with 2,000 VFs). Its bytes must stay JSONEncoder's: each
/// document is parsed back into a plain JSON tree and re-encoded with the project's
/// `encodeJSON` (sorted keys, pretty-printed, slashes unescaped); the two must be identical.
@Suite struct DetectJSONTests {
    /// Any JSON value, so that JSONEncoder can write back what the writer wrote.
    enum Tree: Codable, Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case string(String)
        case array([Tree])
        case object([String: Tree])

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() {
                self = .null
            } else if let flag = try? value.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? value.decode(Int.self) {
                self = .int(number)
            } else if let text = try? value.decode(String.self) {
                self = .string(text)
            } else if let elements = try? value.decode([Tree].self) {
                self = .array(elements)
            } else {
                self = .object(try value.decode([String: Tree].self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var value = encoder.singleValueContainer()
            switch self {
            case .null: try value.encodeNil()
            case .bool(let flag): try value.encode(flag)
            case .int(let number): try value.encode(number)
            case .string(let text): try value.encode(text)
            case .array(let elements): try value.encode(elements)
            case .object(let members): try value.encode(members)
            }
        }
    }

    static func expectJSONEncoderBytes(_ host: HostInventory) throws {
        let written = DetectReport.json(host)
        let tree = try JSONDecoder().decode(Tree.self, from: Data(written.utf8))
        #expect(written == encodeJSON(tree))
    }

    /// Text that JSON must escape, or that an escaper might wrongly touch.
    static let awkward = [
        "quote \" backslash \\ slash / tab \t newline \n return \r", "\u{8}\u{c}\u{0}\u{1}\u{1f}\u{7f}",
        "Ethernet Controller X710 for 10GbE SFP+", "café 🚀 e\u{301} 中文", "",
    ]

    func function(_ name: String, address: String, netdevs: [NetDevice]) -> PCIFunction {
        PCIFunction(
            address: PCIAddress(address) ?? PCIAddress(bus: 0, device: 0, function: 0), vendor: "8086",
            deviceID: "1572", driver: name.isEmpty ? nil : name, netdevs: netdevs)
    }

    @Test(arguments: awkward)
    func handBuiltHostWithAwkwardText(_ text: String) throws {
        var netdev = NetDevice(
            name: "n" + text, mac: "3c:fd:fe:9e:a1:00", mtu: 9000, speed: 10000, type: 1, adminUp: false,
            physPortName: text, devPort: 0, addressAssignType: 0)
        netdev.permanentMAC = text
        let vf = VirtualFunction(
            vfID: 3, function: function(text, address: "0000:3b:02.3", netdevs: [netdev]), iommuGroup: nil)
        let pf = PhysicalFunction(
            function: function("i40e", address: "0000:3b:00.0", netdevs: [netdev, NetDevice(name: text)]),
            vendorName: text, deviceName: nil, totalVFs: 64, numVFs: nil,
            capability: SRIOVCapability(
                totalVFs: 64, initialVFs: 64, numVFs: 1, firstVFOffset: 16, vfStride: 1, vfDeviceID: text),
            serialNumber: text, numaNode: -1, iommuGroup: 30, vfs: [vf, vf])
        let bare = PhysicalFunction(
            function: function("", address: "0000:3b:00.1", netdevs: []), vendorName: nil, deviceName: nil,
            totalVFs: 0, numVFs: 0, capability: nil, serialNumber: nil, numaNode: nil, iommuGroup: nil, vfs: [])
        let unusable = UnusableNIC(
            function: function(text, address: "0000:00:03.0", netdevs: []), reason: .noDriver, detail: text)
        try Self.expectJSONEncoderBytes(
            HostInventory(node: text, interfaces: [pf, bare], unusable: [unusable, unusable]))
        try Self.expectJSONEncoderBytes(HostInventory(node: text, interfaces: [], unusable: []))
    }

    @Test func discoveredServer() throws {
        try Self.expectJSONEncoderBytes(try Umockdev.discover(Fixtures.server))
    }
}

/// Discovery's byte-level readers of sysfs names must agree with the general ones they stand in for.
@Suite struct SysfsNameTests {
    @Test(arguments: [
        "0000:3b:00.0", "0000:3B:00.7", "0000:3b:1f.7", "0000:3b:20.0", "0000:3b:00.8", "10000:00:01.0",
        "3b:00.0", "ffff:ff:1f.7", "0000:3b:00", "0000-3b:00.0", "0000:3b:0g.0", "", "virtfn0", "+000:3b:00.0",
    ])
    func addressParsing(_ name: String) {
        #expect(PCIAddress(sysfsName: name) == PCIAddress(name))
        if let address = PCIAddress(name) { #expect(address.sysfsName == address.description) }
    }

    @Test(arguments: [0, 1, 0xffff, 0x10000, 0xffff_ffff] as [UInt32])
    func sysfsNameIsDescription(_ domain: UInt32) {
        for (bus, device, function) in [(0, 0, 0), (0x3b, 0x1f, 7), (0xff, 0x0a, 3)] as [(UInt8, UInt8, UInt8)] {
            let address = PCIAddress(domain: domain, bus: bus, device: device, function: function)
            #expect(address.sysfsName == address.description)
        }
    }

    @Test(arguments: [
        "../../../bus/pci/drivers/iavf", "iavf", "/", "//", "a//b", "a/b/", "a/b//", "/a", "../0000:3b:02.0", ".",
        "a/.", "é/ü",
    ])
    func lastComponentIsFilePaths(_ path: String) {
        #expect(Sysfs.lastComponent(path) == FilePath(path).lastComponent?.string)
    }

    @Test(arguments: [
        "3c:fd:fe:9e:a1:00", "00", "0", "", ":", "3c:fd:fe:9e:a1:0", "3c:fd:fe:9e:a1:00:", "3C:fd:fe:9e:a1:00",
        "3c-fd-fe-9e-a1-00", String(repeating: "ab:", count: 31) + "ab", String(repeating: "ab:", count: 32) + "ab",
        "3c:fd:fe:9e:a1:0\u{301}",
    ])
    func linkAddressAsBefore(_ text: String) {
        // The rule as it was written before it read bytes.
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        func lowerHex(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) }
        let valid =
            (1...32).contains(groups.count) && groups.allSatisfy { $0.utf8.count == 2 && $0.utf8.allSatisfy(lowerHex) }
        #expect(SysfsValue.linkAddress(text) == (valid ? text : nil))
    }
}
