import SystemPackage

/// A `SriovNetwork` (sriov-network-operator's `api/v1/sriovnetwork_types.go`): the secondary
/// network a pod or VM attaches to, on VFs of one resource, with the VF settings sriov-cni
/// applies when it hands a VF over.
public struct SriovNetwork: Equatable, Sendable {
    public var name: String
    /// `metadata.namespace`, when the manifest sets one.
    public var namespace: String?
    public var spec: SriovNetworkSpec
    /// Where it was read, for messages about it: the file, the object's line, spec.resourceName's line.
    public var file: String
    public var line: Int
    public var resourceNameLine: Int

    public init(
        name: String, namespace: String? = nil, spec: SriovNetworkSpec, file: String = "", line: Int = 0,
        resourceNameLine: Int? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.spec = spec
        self.file = file
        self.line = line
        self.resourceNameLine = resourceNameLine ?? line
    }

    /// The NetworkAttachmentDefinition's namespace, as the operator picks it: networkNamespace,
    /// else the SriovNetwork's own. Nil: neither is set, and kubectl's current namespace is used,
    /// where the SriovNetwork itself would have gone.
    public var targetNamespace: String? { spec.networkNamespace ?? namespace }
}

/// The spec's fields, checked; the JSON ones compacted. Nil or an empty string in the
/// manifest both mean "not set", as in the operator's template.
public struct SriovNetworkSpec: Equatable, Sendable {
    public var resourceName: String
    public var networkNamespace: String?
    public var vlan = 0
    public var vlanQoS = 0
    public var vlanProto: String?
    public var spoofChk: String?
    public var trust: String?
    public var linkState: String?
    public var minTxRate: Int?
    public var maxTxRate: Int?
    /// A JSON object.
    public var capabilities: String?
    /// A JSON object.
    public var ipam: String?
    /// JSON objects, the CNI plugins chained after sriov.
    public var metaPlugins: [String] = []
    /// The CRD defaults an absent logLevel to info; "" (given) means none.
    public var logLevel: String? = "info"
    public var logFile: String?

    public init(resourceName: String) { self.resourceName = resourceName }
}

/// Reads SriovNetwork manifests as strictly as `PolicyDecoder` reads policies: the CRD's
/// schema (`config/crd/bases/sriovnetwork.openshift.io_sriovnetworks.yaml`), the rules sriov-cni
/// applies only when a pod starts (`pkg/config/config.go`), and valid JSON where the operator
/// pastes text into the CNI config. Every problem names file, line, network and field.
public enum SriovNetworkDecoder {
    public static let apiVersion = "sriovnetwork.openshift.io/v1"
    public static let kind = "SriovNetwork"

    static let vlanProtos = ["802.1q", "802.1Q", "802.1ad", "802.1AD"]
    static let linkStates = ["auto", "enable", "disable"]
    static let logLevels = ["panic", "error", "warning", "info", "debug", ""]
    static let specFields = [
        "resourceName", "networkNamespace", "capabilities", "ipam", "vlan", "vlanQoS", "vlanProto", "spoofChk",
        "trust", "linkState", "minTxRate", "maxTxRate", "metaPlugins", "logLevel", "logFile",
    ]

    public static func decode(_ text: String, file: String) -> (networks: [SriovNetwork], problems: [PolicyProblem]) {
        let (documents, unreadable) = ManifestFields.documents(text, file: file, fileKind: "network file")
        if let unreadable { return ([], [unreadable]) }
        var context = Context(file: file)
        for document in documents {
            context.objects(in: document, kind: SriovNetworkDecoder.kind) { $0.network($1) }
        }
        if context.networks.isEmpty && context.problems.isEmpty {
            context.problems.append(PolicyProblem(file: file, message: "holds no SriovNetwork"))
        }
        return (context.networks, context.problems)
    }

    private struct Context: ManifestReading {
        let file: String
        var networks: [SriovNetwork] = []
        var problems: [PolicyProblem] = []
        var networkName: String?

        init(file: String) { self.file = file }

        mutating func problem(_ node: YAMLNode?, _ field: String?, _ message: String) {
            problems.append(
                PolicyProblem(
                    file: file, line: node?.line, policy: networkName, field: field, message: message,
                    object: "network"))
        }

        mutating func network(_ node: YAMLNode) {
            networkName = nil
            let before = problems.count
            guard case let .mapping(pairs, _) = node else {
                return problem(node, nil, "expected a SriovNetwork (a map), found \(node.kindName)")
            }
            let fields = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            var name: String?
            var namespace: String?
            if let metadata = fields["metadata"] {
                (name, namespace) = self.metadata(metadata)
            } else {
                problem(node, "metadata", "is missing; a network needs metadata.name")
            }
            typeMeta(node, pairs, apiVersion: SriovNetworkDecoder.apiVersion, kind: SriovNetworkDecoder.kind)
            guard let specNode = fields["spec"] else {
                return problem(node, "spec", "is missing; a network needs at least spec.resourceName")
            }
            let spec = self.spec(specNode)
            if let name, let spec, problems.count == before {
                var resourceLine: Int?
                if case let .mapping(pairs, _) = specNode {
                    resourceLine = pairs.first { $0.key == "resourceName" }?.value.line
                }
                networks.append(
                    SriovNetwork(
                        name: name, namespace: namespace, spec: spec, file: file, line: node.line,
                        resourceNameLine: resourceLine))
            }
        }

        mutating func metadata(_ node: YAMLNode) -> (name: String?, namespace: String?) {
            guard case let .mapping(pairs, _) = node else {
                problem(node, "metadata", "must be a map, found \(node.kindName)")
                return (nil, nil)
            }
            var name: String?
            var namespace: String?
            // The name first, so that every other message can say which network it is about.
            for (key, value) in pairs.filter({ $0.key == "name" }) + pairs.filter({ $0.key != "name" }) {
                let field = "metadata.\(key)"
                guard ManifestFields.objectMeta.contains(key) else {
                    problem(value, field, "unknown field; metadata is a Kubernetes ObjectMeta")
                    continue
                }
                switch key {
                case "name":
                    guard let text = string(value, field) else { continue }
                    if let message = PolicyRules.nameProblem(text) {
                        problem(value, field, message)
                    } else {
                        name = text
                        networkName = text
                    }
                case "namespace":
                    guard let text = string(value, field) else { continue }
                    if let message = SriovNetworkDecoder.namespaceProblem(text) {
                        problem(value, field, message)
                    } else if !text.isEmpty {
                        namespace = text
                    }
                case "labels":
                    labels(value)
                case "annotations":
                    // Not carried over (the operator does not either), but the API server would check them.
                    guard case let .mapping(annotations, _) = value else {
                        problem(value, field, "must be a map of strings, found \(value.kindName)")
                        continue
                    }
                    for (annotation, text) in annotations { _ = string(text, "\(field).\(annotation)") }
                default:
                    continue
                }
            }
            if name == nil, !pairs.contains(where: { $0.key == "name" }) {
                problem(node, "metadata.name", "is missing; every network needs a name")
            }
            return (name, namespace)
        }

        mutating func spec(_ node: YAMLNode) -> SriovNetworkSpec? {
            guard case let .mapping(pairs, _) = node else {
                problem(node, "spec", "must be a map, found \(node.kindName)")
                return nil
            }
            let before = problems.count
            var spec = SriovNetworkSpec(resourceName: "")
            if let resourceNode = pairs.first(where: { $0.key == "resourceName" })?.value {
                if let text = string(resourceNode, "spec.resourceName") {
                    if let message = PolicyRules.resourceNameProblem(text) {
                        problem(resourceNode, "spec.resourceName", message)
                    }
                    spec.resourceName = text
                }
            } else {
                problem(
                    node, "spec.resourceName", "is missing; name the policies' resource whose VFs this network uses")
            }
            var nodes: [String: YAMLNode] = [:]
            for (key, value) in pairs where key != "resourceName" {
                let field = "spec.\(key)"
                nodes[key] = value
                switch key {
                case "networkNamespace":
                    guard let text = string(value, field) else { continue }
                    if let message = SriovNetworkDecoder.namespaceProblem(text) {
                        problem(value, field, message)
                    } else if !text.isEmpty {
                        spec.networkNamespace = text
                    }
                case "vlan": spec.vlan = bounded(value, field, 0...4094, unit: "a VLAN ID") ?? 0
                case "vlanQoS": spec.vlanQoS = bounded(value, field, 0...7, unit: "a VLAN priority (PCP)") ?? 0
                case "minTxRate": spec.minTxRate = bounded(value, field, 0...Int(UInt32.max), unit: "Mbps")
                case "maxTxRate": spec.maxTxRate = bounded(value, field, 0...Int(UInt32.max), unit: "Mbps")
                case "vlanProto": spec.vlanProto = oneOf(value, field, SriovNetworkDecoder.vlanProtos)
                case "spoofChk": spec.spoofChk = oneOf(value, field, ["on", "off"])
                case "trust": spec.trust = oneOf(value, field, ["on", "off"])
                case "linkState": spec.linkState = oneOf(value, field, SriovNetworkDecoder.linkStates)
                case "logLevel":
                    let level = oneOf(value, field, SriovNetworkDecoder.logLevels)
                    spec.logLevel = level == "" ? nil : level
                case "logFile":
                    guard let text = string(value, field) else { continue }
                    spec.logFile = text.isEmpty ? nil : text
                case "capabilities":
                    spec.capabilities = json(
                        value, field, example: #"'{"mac": true, "ips": true}'"#, booleanValues: true)
                case "ipam": spec.ipam = json(value, field, example: #"'{"type": "whereabouts", "range": "..."}'"#)
                case "metaPlugins":
                    guard let text = string(value, field), !text.isEmpty else { continue }
                    do {
                        spec.metaPlugins = try JSONText.objectList(text)
                    } catch {
                        problem(
                            value, field,
                            "\(error.message); write the chained plugins' configs as JSON objects separated by commas")
                    }
                default:
                    problem(
                        value, field,
                        "unknown field; a SriovNetwork spec has "
                            + SriovNetworkDecoder.specFields.joined(separator: ", "))
                }
            }
            // sriov-cni refuses these when a pod starts; the operator lets them through.
            if spec.vlanQoS != 0, spec.vlan == 0 {
                problem(nodes["vlanQoS"], "spec.vlanQoS", "needs a VLAN: set spec.vlan (1-4094) or vlanQoS 0")
            }
            if spec.vlanProto?.lowercased() == "802.1ad", spec.vlan == 0 {
                problem(nodes["vlanProto"], "spec.vlanProto", "802.1ad needs a VLAN: set spec.vlan (1-4094)")
            }
            // The kernel refuses a minimum above a set maximum (0 is no limit).
            if let minimum = spec.minTxRate, let maximum = spec.maxTxRate, maximum != 0, minimum > maximum {
                problem(
                    nodes["minTxRate"], "spec.minTxRate",
                    "\(minimum) Mbps is above maxTxRate \(maximum) Mbps; lower it, or raise maxTxRate")
            }
            return problems.count == before ? spec : nil
        }

        mutating func bounded(_ node: YAMLNode, _ field: String, _ range: ClosedRange<Int>, unit: String) -> Int? {
            guard let number = integer(node, field) else { return nil }
            guard range.contains(number) else {
                problem(node, field, "must be \(range.lowerBound) to \(range.upperBound) (\(unit)), found \(number)")
                return nil
            }
            return number
        }

        mutating func oneOf(_ node: YAMLNode, _ field: String, _ allowed: [String]) -> String? {
            guard let text = string(node, field) else { return nil }
            guard allowed.contains(text) else {
                let list = allowed.filter { !$0.isEmpty }.map { "\"\($0)\"" }
                problem(node, field, "must be one of \(list.joined(separator: ", ")), found \"\(text)\"")
                return nil
            }
            return text
        }

        /// A JSON object in a string; "" is unset.
        mutating func json(_ node: YAMLNode, _ field: String, example: String, booleanValues: Bool = false) -> String? {
            guard let text = string(node, field), !text.isEmpty else { return nil }
            do {
                return try JSONText.object(text, booleanValues: booleanValues)
            } catch {
                problem(node, field, "\(error.message); write a JSON object in a YAML string, e.g. \(example)")
                return nil
            }
        }
    }

    /// A namespace name: a DNS label (apimachinery ValidateNamespaceName). "" is unset.
    static func namespaceProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let lower = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        if bytes.isEmpty { return nil }
        let valid =
            bytes.count <= 63 && bytes.first.map(lower) == true && bytes.last.map(lower) == true
            && bytes.allSatisfy { lower($0) || $0 == UInt8(ascii: "-") }
        return valid
            ? nil
            : "\"\(text)\" is not a valid namespace: use at most 63 lowercase letters, digits and '-', "
                + "starting and ending with a letter or digit"
    }
}
