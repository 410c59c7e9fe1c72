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
    package func virtualFunction(_ index: Int, offset: Int, stride: Int) -> PCIAddress? {
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

extension PCIAddress {
    /// A name from a sysfs listing or link. The kernel writes `%04x:%02x:%02x.%d`; that
    /// form is read byte by byte (the general parser splits strings, which for thousands
    /// of VFs costs more than reading them); any other spelling goes to the general parser.
    package init?(sysfsName name: String) {
        var name = name
        if let address = name.withUTF8(Self.kernelForm) {
            self = address
        } else {
            self.init(name)
        }
    }

    /// `description` (`%04x:%02x:%02x.%d`, the name sysfs gives the function), written
    /// into a stack buffer: building it from hex strings costs more than reading a VF's
    /// attributes, and discovery and `detect --json` need it for every VF.
    package var sysfsName: String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var end = 0
            func put(_ byte: UInt8) {
                buffer[end] = byte
                end += 1
            }
            func hex(_ value: UInt32, width: Int) {
                var count = width
                while count < 8, value >> (4 * UInt32(count)) != 0 { count += 1 }
                for shift in stride(from: 4 * (count - 1), through: 0, by: -4) {
                    put(digits.utf8Start[Int(value >> UInt32(shift) & 0xf)])
                }
            }
            hex(domain, width: 4)
            put(UInt8(ascii: ":"))
            hex(UInt32(bus), width: 2)
            put(UInt8(ascii: ":"))
            hex(UInt32(device), width: 2)
            put(UInt8(ascii: "."))
            hex(UInt32(function), width: 1)
            return String(decoding: buffer[..<end], as: UTF8.self)
        }
    }

    private static func kernelForm(_ bytes: UnsafeBufferPointer<UInt8>) -> PCIAddress? {
        guard bytes.count == 12, bytes[4] == UInt8(ascii: ":"), bytes[7] == UInt8(ascii: ":"),
            bytes[10] == UInt8(ascii: ".")
        else { return nil }
        func hexValue(_ range: Range<Int>) -> UInt32? {
            var value: UInt32 = 0
            for index in range {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        guard let domain = hexValue(0..<4), let bus = hexValue(5..<7), let device = hexValue(8..<10), device < 32,
            let function = hexValue(11..<12), function < 8
        else { return nil }
        return PCIAddress(domain: domain, bus: UInt8(bus), device: UInt8(device), function: UInt8(function))
    }
}
