import FoundationEssentials

/// The node's desired VF state, stored under the root: the validated policies, the
/// labels their nodeSelectors were matched against, and the identity of each card
/// they resolved to when applied on the live host, so that restore can follow a card
/// whose PCI address changed (harvester#6518) and refuse a different card in its slot.
public struct DesiredState: Codable, Equatable, Sendable {
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    /// Sorted by name.
    public var policies: [NodePolicy]
    /// Labels given with --node-label, besides the ones harvester-sriov derives.
    public var nodeLabels: [String: String]
    /// Sorted by PCI address.
    public var cards: [CardIdentity]

    public init(policies: [NodePolicy] = [], nodeLabels: [String: String] = [:], cards: [CardIdentity] = []) {
        schemaVersion = Self.currentSchemaVersion
        self.policies = policies.sorted { $0.name < $1.name }
        self.nodeLabels = nodeLabels
        self.cards = cards.sorted { $0.pciAddress < $1.pciAddress }
    }

    public static let empty = DesiredState()

    /// The stored form: pretty JSON with sorted keys, so equal states are equal bytes.
    public var jsonBytes: [UInt8] { Array(encodeJSON(self).utf8) }

    /// Reads a stored state; `file` names it in messages.
    public static func decode(_ bytes: [UInt8], file: String) throws(SRIOVError) -> DesiredState {
        let state: DesiredState
        do {
            state = try JSONDecoder().decode(DesiredState.self, from: Data(bytes))
        } catch {
            throw .invalidPolicies([PolicyProblem(file: file, message: "is not a harvester-sriov state file (\(error)); restore it from a backup, or remove it and apply the policies again")])
        }
        guard state.schemaVersion == currentSchemaVersion else {
            throw .invalidPolicies([PolicyProblem(file: file, message: "has schema version \(state.schemaVersion), this harvester-sriov \(version) reads version \(currentSchemaVersion); use a matching release")])
        }
        return state
    }
}

/// What identifies a card: its slot, and what survives a slot move.
public struct CardIdentity: Codable, Equatable, Sendable {
    public var pciAddress: PCIAddress
    public var name: String?
    public var vendor: String
    public var deviceID: String
    /// The factory MAC (sysfs, or ethtool when the address was changed).
    public var permanentMAC: String?
    /// The PCIe Device Serial Number, shared by the ports of one card.
    public var serialNumber: String?

    public init(_ pf: PhysicalFunction) {
        pciAddress = pf.address
        name = pf.name
        vendor = pf.function.vendor
        deviceID = pf.function.deviceID
        let netdev = pf.function.primaryNetdev
        permanentMAC = netdev?.permanentMAC
        serialNumber = pf.serialNumber
    }
}
