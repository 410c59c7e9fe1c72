import Capability
import Testing

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

    @Test(arguments: ["", "eth0", "0000:3b:00", "0000:3b:20.0", "0000:3b:00.8", "0000:3b:0.0", "0000:3b:00.0.1", "g000:3b:00.0", "0000::00.0"])
    func rejects(_ text: String) {
        #expect(PCIAddress(text) == nil)
    }

    @Test func ordersByDomainBusDeviceFunction() {
        let sorted = ["0000:3b:02.0", "0000:3b:00.1", "0001:00:00.0", "0000:04:00.0"].compactMap { PCIAddress($0) }.sorted()
        #expect(sorted.map(\.description) == ["0000:04:00.0", "0000:3b:00.1", "0000:3b:02.0", "0001:00:00.0"])
    }
}
