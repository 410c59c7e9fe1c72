/// A PCI function's address in the kernel's `DDDD:BB:DD.F` form.
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let domain: UInt32
    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        self.domain = domain
        self.bus = bus
        self.device = device & 0x1f
        self.function = function & 0x7
    }

    /// Parses `0000:3b:00.0`; the short `3b:00.0` form means domain 0, as lspci prints it.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let slot = parts[parts.count - 1].split(separator: ".", omittingEmptySubsequences: false)
        guard slot.count == 2,
            parts.dropLast().allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isHexDigit) }),
            slot.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isHexDigit) }),
            let domain = parts.count == 3 ? UInt32(parts[0], radix: 16) : 0,
            parts[parts.count - 2].count == 2, let bus = UInt8(parts[parts.count - 2], radix: 16),
            slot[0].count == 2, let device = UInt8(slot[0], radix: 16), device < 32,
            slot[1].count == 1, let function = UInt8(slot[1], radix: 16), function < 8
        else { return nil }
        self.init(domain: domain, bus: bus, device: device, function: function)
    }

    /// The address of this PF's VF `index` for the SR-IOV capability's First VF Offset
    /// and VF Stride: routing IDs (bus << 8 | device << 3 | function) add up; nil past
    /// the domain's last bus.
    func virtualFunction(_ index: Int, offset: Int, stride: Int) -> PCIAddress? {
        let routingID = Int(bus) << 8 | Int(device) << 3 | Int(function)
        let (product, overflow) = index.multipliedReportingOverflow(by: stride)
        guard !overflow, index >= 0 else { return nil }
        let vf = routingID + offset + product
        guard (0...0xffff).contains(vf) else { return nil }
        return PCIAddress(domain: domain, bus: UInt8(vf >> 8), device: UInt8(vf >> 3 & 0x1f), function: UInt8(vf & 7))
    }

    public var description: String {
        hex(domain, width: 4) + ":" + hex(bus, width: 2) + ":" + hex(device, width: 2) + "." + String(function)
    }

    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = PCIAddress(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a PCI address: \(text)"))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
