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
    package static func storedKey(_ key: String?) -> String? { key == CapabilityLabel.defaultKey ? nil : key }

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
    package static func decodeUnchecked(_ bytes: [UInt8], file: String) throws(SRIOVError) -> DesiredState {
        let state: DesiredState
        do {
            state = try JSONDecoder().decode(DesiredState.self, from: Data(bytes))
        } catch {
            throw .invalidPolicies([
                PolicyProblem(
                    file: file,
                    message:
                        "is not a harvester-sriov state file (\(describe(error, bytes: bytes))); "
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
    package func problems(file: String) -> [PolicyProblem] {
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

    /// A JSON decoding error in one line of plain words: which field, what it must be, what was found.
    package static func describe(_ error: any Error, bytes: [UInt8] = []) -> String {
        guard let error = error as? DecodingError else { return escapingControls("\(error)") }
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        func field(_ keys: [any CodingKey]) -> String {
            let at = path(keys)
            return at.isEmpty ? "the whole file" : escapingControls(at)
        }
        switch error {
        case let .keyNotFound(key, context):
            return "the field \(field(context.codingPath + [key])) is missing"
        case let .typeMismatch(type, context):
            return "\(field(context.codingPath)) must be \(expected(type)), found \(found(context.debugDescription))"
        case let .valueNotFound(type, context):
            return "\(field(context.codingPath)) must be \(expected(type)), found null"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return JSONNumbers.problem(bytes) ?? "it is not valid JSON" }
            return "\(field(context.codingPath)): \(escapingControls(context.debugDescription))"
        @unknown default:
            return escapingControls("\(error)")
        }
    }

    /// The JSON kind a Swift type is read from.
    private static func expected(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Dictionary") { return "an object" }
        if name.hasPrefix("Array") { return "a list" }
        switch name {
        case "String": return "a string"
        case "Bool": return "true or false"
        case "Int", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Int16", "Int8", "UInt":
            return "a whole number"
        case "Double", "Float": return "a number"
        default: return "an object"
        }
    }

    /// The JSON kind the decoder found, from its "... but found X instead."
    private static func found(_ description: String) -> String {
        guard let range = description.firstRange(of: "found ") else { return "something else" }
        let found = description[range.upperBound...].prefix { $0 != "." }
            .replacing(" instead", with: "")
            .replacing(" value", with: "")
        switch found {
        case "a dictionary": return "an object"
        case "an array": return "a list"
        case "number": return "a number"
        case "bool": return "true or false"
        case "null": return "null"
        default: return String(found)
        }
    }
}

/// The JSON number the state decoder cannot take (its numbers are whole, within Int's range), found by a scan of
/// the text, since the decoder says only "not valid JSON" for one.
enum JSONNumbers {
    /// "schemaVersion must be a whole number, found 1.5", or nil when every number is fine.
    static func problem(_ bytes: [UInt8]) -> String? {
        var index = 0
        var lastKey: String?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                var end = index + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                let text = String(decoding: bytes[(index + 1)..<min(end, bytes.count)], as: UTF8.self)
                var next = end + 1
                while next < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: ":") { lastKey = text }
                index = end + 1
            } else if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                var end = index
                while end < bytes.count, "+-0123456789.eE".utf8.contains(bytes[end]) { end += 1 }
                let number = String(decoding: bytes[index..<end], as: UTF8.self)
                if Int(number) == nil {
                    let field = lastKey.map { escapingControls($0) + " " } ?? "a number "
                    let shown = number.count > 40 ? String(number.prefix(40)) + "…" : number
                    return number.allSatisfy({ $0.isNumber || $0 == "-" })
                        ? "\(field)must be a whole number of at most 18 digits, found \(shown)"
                        : "\(field)must be a whole number, found \(shown)"
                }
                index = end
            } else {
                index += 1
            }
        }
        return nil
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
