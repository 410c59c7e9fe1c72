/// VF MACs that survive reboots (harvester#6954): derived from what identifies the PF
/// (its permanent MAC, else its serial number and function, else its PCI address) and
/// the VF index. Locally administered unicast (first octet xxxxxx10), so they cannot
/// collide with a vendor's MAC; 30 bits of the PF's FNV-1a hash and the 16-bit VF index
/// make every VF of a PF distinct, and VFs of different PFs distinct but by a 1 in 10^9
/// chance.
public enum StableMAC {
    public static func address(vf index: Int, of card: CardIdentity) -> [UInt8] {
        let seed =
            card.permanentMAC ?? card.serialNumber.map { "\($0)/\(card.pciAddress.function)" }
            ?? card.pciAddress.description
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in seed.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return [
            UInt8(truncatingIfNeeded: hash >> 56) & 0xfc | 0x02, UInt8(truncatingIfNeeded: hash >> 48),
            UInt8(truncatingIfNeeded: hash >> 40), UInt8(truncatingIfNeeded: hash >> 32),
            UInt8(truncatingIfNeeded: index >> 8), UInt8(truncatingIfNeeded: index),
        ]
    }

    public static func text(_ bytes: [UInt8]) -> String {
        bytes.map { hex($0, width: 2) }.joined(separator: ":")
    }
}
