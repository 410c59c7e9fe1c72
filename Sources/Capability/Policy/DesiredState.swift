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
    /// The Node's labels as the cluster last showed them (`label --apply` reads them after RKE2 starts), so
    /// that restore matches nodeSelectors against them at the next boot, before the API can answer.
    public var clusterLabels: [String: String]?
    /// The capability label's key that install, label or hook put on the node (`--key`), so that policies'
    /// nodeSelector is matched against the key the node carries. nil (and absent from the file, as in
    /// states written before it) for the default key.
    public var labelKey: String?

    public init(
        policies: [NodePolicy] = [], nodeLabels: [String: String] = [:], cards: [CardIdentity] = [],
        labelKey: String? = nil, clusterLabels: [String: String]? = nil
    ) {
        schemaVersion = Self.currentSchemaVersion
        self.policies = policies.sorted { $0.name < $1.name }
        self.nodeLabels = nodeLabels
        self.cards = cards.sorted { $0.pciAddress < $1.pciAddress }
        self.labelKey = Self.storedKey(labelKey)
        self.clusterLabels = clusterLabels
    }

    /// The capability label's key on this node.
    public var capabilityKey: String { labelKey ?? CapabilityLabel.defaultKey }

    /// How a key is stored: nil for the default one.
    static func storedKey(_ key: String?) -> String? { key == CapabilityLabel.defaultKey ? nil : key }

    public static let empty = DesiredState()

    /// The stored form: pretty JSON with sorted keys, so equal states are equal bytes.
    public var jsonBytes: [UInt8] { Array(encodeJSON(self).utf8) }

    /// Reads a stored state and checks it with every rule a manifest must meet, so that
    /// a hand-edited or damaged file is refused with what is wrong rather than trapping
    /// later in plan, status or restore; `file` names it in messages.
    public static func decode(_ bytes: [UInt8], file: String) throws(SRIOVError) -> DesiredState {
        let state = try decodeUnchecked(bytes, file: file)
        let problems = state.problems(file: file)
        guard problems.isEmpty else { throw .invalidPolicies(problems) }
        return state
    }

    /// Reads a stored state, checking only its form and schema version.
    static func decodeUnchecked(_ bytes: [UInt8], file: String) throws(SRIOVError) -> DesiredState {
        let state: DesiredState
        do {
            state = try JSONDecoder().decode(DesiredState.self, from: Data(bytes))
        } catch {
            throw .invalidPolicies([
                PolicyProblem(
                    file: file,
                    message:
                        "is not a harvester-sriov state file (\(describe(error))); "
                        + "restore it from a backup, or remove it and apply the policies again")
            ])
        }
        guard state.schemaVersion == currentSchemaVersion else {
            throw .invalidPolicies([
                PolicyProblem(
                    file: file,
                    message:
                        "has schema version \(state.schemaVersion), this harvester-sriov \(version) reads version \(currentSchemaVersion); use a matching release"
                )
            ])
        }
        return state
    }

    /// What breaks the manifest rules: each policy's values, names stored twice, the
    /// rules between policies, and the label syntax of `nodeLabels`.
    func problems(file: String) -> [PolicyProblem] {
        func fix(_ name: String) -> String {
            "; remove the policy with `harvester-sriov policy remove \(name)` and apply its manifest again, "
                + "or restore \(file) from a backup"
        }
        var problems: [PolicyProblem] = []
        var unique: [NodePolicy] = []
        var names = Set<String>()
        for policy in policies {
            guard names.insert(policy.name).inserted else {
                problems.append(
                    PolicyProblem(
                        file: file, policy: policy.name, field: "metadata.name",
                        message: "is stored twice" + fix(policy.name)))
                continue
            }
            unique.append(policy)
            for issue in PolicyRules.validate(policy) {
                problems.append(
                    PolicyProblem(
                        file: file, policy: policy.name, field: issue.field,
                        message: issue.message + fix(policy.name)))
            }
        }
        let origins = Dictionary(unique.map { ($0.name, file) }, uniquingKeysWith: { first, _ in first })
        for var problem in PolicyRules.checkSet(unique, origins: origins) {
            problem.message += fix(problem.policy ?? "NAME")
            problems.append(problem)
        }
        if let labelKey, let message = CapabilityLabel.keyProblem(labelKey) {
            problems.append(
                PolicyProblem(
                    file: file, field: "labelKey",
                    message: message + "; run harvester-sriov label (or install) again with a valid --key"))
        }
        for (key, value) in nodeLabels.sorted(by: { $0.key < $1.key }) {
            if let message = LabelSyntax.keyProblem(key) ?? LabelSyntax.valueProblem(value) {
                problems.append(
                    PolicyProblem(
                        file: file, field: "nodeLabels.\(key)",
                        message: message
                            + "; restore \(file) from a backup, or remove it and apply the policies again with valid "
                            + "--node-label flags"))
            }
        }
        return problems
    }

    /// A JSON decoding error in one line: where in the file, and what.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        let text: String
        switch error {
        case let .keyNotFound(key, context):
            text = "\(path(context.codingPath + [key])) is missing"
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            let at = path(context.codingPath)
            text = (at.isEmpty ? "" : at + ": ") + context.debugDescription
        @unknown default:
            text = "\(error)"
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
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
