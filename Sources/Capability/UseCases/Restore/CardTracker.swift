import SRIOVHost
import SRIOVModel

/// Follows the cards the policies were applied to: a card found in another slot is
/// followed (its policies' rootDevices and pfNames are rewritten to the new slot), a
/// different card in a remembered slot is refused.
public struct CardTracker: Sendable {
    public struct Move: Equatable, Sendable {
        public var card: CardIdentity
        public var to: PhysicalFunction
    }

    public struct Foreign: Equatable, Sendable {
        public var expected: CardIdentity
        public var found: PhysicalFunction
    }

    public var moves: [Move] = []
    public var foreign: [Foreign] = []
    /// Remembered cards found nowhere: not plugged in, or their driver not loaded yet.
    public var missing: [CardIdentity] = []

    public init(stored: [CardIdentity], host: HostInventory) {
        for card in stored {
            let here = host.interfaces.first { $0.address == card.pciAddress }
            if let here, Self.same(card, here) { continue }
            if let elsewhere = host.interfaces.first(where: {
                $0.address != card.pciAddress && Self.identifiable(card) && Self.same(card, $0)
            }) {
                moves.append(Move(card: card, to: elsewhere))
            } else if here == nil {
                missing.append(card)
            }
            if let here, !Self.same(card, here) {
                foreign.append(Foreign(expected: card, found: here))
            }
        }
    }

    /// A card can be told apart from another of the same model only by its MAC or serial.
    static func identifiable(_ card: CardIdentity) -> Bool {
        card.permanentMAC != nil || card.serialNumber != nil
    }

    /// The permanent MAC names a port; the serial number names a card, so with it the
    /// function number names the port.
    static func same(_ card: CardIdentity, _ pf: PhysicalFunction) -> Bool {
        let now = CardIdentity(pf)
        guard card.vendor == now.vendor, card.deviceID == now.deviceID else { return false }
        if let mac = card.permanentMAC, let current = now.permanentMAC { return mac == current }
        if let serial = card.serialNumber, let current = now.serialNumber {
            return serial == current && card.pciAddress.function == now.pciAddress.function
        }
        return card.pciAddress == now.pciAddress
    }

    /// The policies with moved cards' old slots and names replaced by the new ones.
    public func follow(_ policies: [NodePolicy]) -> [NodePolicy] {
        policies.map { policy in
            var policy = policy
            for move in moves {
                let old = move.card.pciAddress.description
                let new = move.to.address.description
                policy.spec.nicSelector.rootDevices = policy.spec.nicSelector.rootDevices.map { $0 == old ? new : $0 }
                if let oldName = move.card.name, let newName = move.to.name {
                    policy.spec.nicSelector.pfNames = policy.spec.nicSelector.pfNames.map {
                        $0.name == oldName ? PFName(name: newName, range: $0.range) : $0
                    }
                }
            }
            return policy
        }
    }

    /// Describes a card for messages: what identifies it.
    static func describe(_ card: CardIdentity) -> String {
        var parts: [String] = []
        if let mac = card.permanentMAC { parts.append("MAC \(mac)") }
        if let serial = card.serialNumber { parts.append("serial \(serial)") }
        return parts.isEmpty ? "\(card.vendor):\(card.deviceID)" : parts.joined(separator: ", ")
    }
}
