import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

@Suite struct PCIAddressTests {
    @Test(arguments: [
        ("0000:3b:00.0", "0000:3b:00.0"),
        ("3b:00.1", "0000:3b:00.1"),
        ("10000:af:1f.7", "10000:af:1f.7"),
        ("0000:AF:00.0", "0000:af:00.0"),
    ])
    func parses(_ text: String, _ canonical: String) throws {
        #expect(try #require(PCIAddress(text)).description == canonical)
    }

    @Test(arguments: [
        "", "eth0", "0000:3b:00", "0000:3b:20.0", "0000:3b:00.8", "0000:3b:0.0", "0000:3b:00.0.1", "g000:3b:00.0",
        "0000::00.0",
    ])
    func rejects(_ text: String) {
        #expect(PCIAddress(text) == nil)
    }

    @Test func ordersByDomainBusDeviceFunction() {
        let sorted = ["0000:3b:02.0", "0000:3b:00.1", "0001:00:00.0", "0000:04:00.0"].compactMap { PCIAddress($0) }
            .sorted()
        #expect(sorted.map(\.description) == ["0000:04:00.0", "0000:3b:00.1", "0000:3b:02.0", "0001:00:00.0"])
    }
}

/// VF addresses from the SR-IOV capability's First VF Offset and VF Stride, as the
/// kernel computes them (drivers/pci/iov.c: pci_iov_virtfn_bus/devfn).
@Test(arguments: [
    ("0000:3b:00.0", 0, 16, 1, "0000:3b:02.0"),
    ("0000:3b:00.0", 63, 16, 1, "0000:3b:09.7"),
    ("0000:3b:00.1", 0, 79, 1, "0000:3b:0a.0"),
    ("0000:01:00.0", 1, 128, 2, "0000:01:10.2"),  // 82576: VFs of one port on every other function
    ("0001:3b:00.0", 0, 0x100, 1, "0001:3c:00.0"),  // past the PF's bus
])
func virtualFunctionAddressesFollowOffsetAndStride(
    _ pf: String, _ index: Int, _ offset: Int, _ stride: Int,
    _ vf: String
) throws {
    let address = try #require(PCIAddress(pf))
    #expect(address.virtualFunction(index, offset: offset, stride: stride)?.description == vf)
}

@Test func aVFBeyondTheLastBusHasNoAddress() throws {
    let pf = try #require(PCIAddress("0000:ff:00.0"))
    #expect(pf.virtualFunction(0, offset: 0x100, stride: 1) == nil)
    #expect(pf.virtualFunction(Int.max, offset: 1, stride: 2) == nil)
}
