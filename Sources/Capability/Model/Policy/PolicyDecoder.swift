/// Turns manifest text into policies as strictly as the API server and the operator's
/// admission webhook would: every unknown field, wrong type, bad value and feature
/// this node side cannot honour is a problem that names file, line, policy and field.
/// All problems are collected; nothing is dropped silently.
public enum PolicyDecoder {
    public static let apiVersion = "sriovnetwork.openshift.io/v1"
    public static let kind = "SriovNetworkNodePolicy"
    /// A manifest larger than this is not a policy file.
    public static let maximumFileSize = 1 << 20

    public static func decode(_ text: String, file: String) -> (policies: [NodePolicy], problems: [PolicyProblem]) {
        let (documents, unreadable) = ManifestFields.documents(text, file: file, fileKind: "policy file")
        if let unreadable { return ([], [unreadable]) }
        var context = Context(file: file)
        for document in documents {
            context.objects(in: document, kind: PolicyDecoder.kind) { $0.policy($1) }
        }
        if documents.isEmpty || (context.policies.isEmpty && context.problems.isEmpty) {
            context.problems.append(PolicyProblem(file: file, message: "holds no SriovNetworkNodePolicy"))
        }
        return (context.policies, context.problems)
    }

    private struct Context: ManifestReading {
        let file: String
        var policies: [NodePolicy] = []
        var problems: [PolicyProblem] = []
        var policyName: String?

        init(file: String) { self.file = file }

        mutating func problem(_ node: YAMLNode?, _ field: String?, _ message: String) {
            problems.append(
                PolicyProblem(file: file, line: node?.line, policy: policyName, field: field, message: message))
        }

        mutating func policy(_ node: YAMLNode) {
            policyName = nil
            let before = problems.count
            guard case let .mapping(pairs, _) = node else {
                return problem(node, nil, "expected a SriovNetworkNodePolicy (a map), found \(node.kindName)")
            }
            let fields = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            // Name the policy in every message, so read metadata first.
            var name: String?
            var options = VFOptions()
            if let metadata = fields["metadata"] {
                (name, options) = self.metadata(metadata)
            } else {
                problem(node, "metadata", "is missing; a policy needs metadata.name")
            }
            policyName = name
            typeMeta(node, pairs, apiVersion: PolicyDecoder.apiVersion, kind: PolicyDecoder.kind)
            guard let specNode = fields["spec"] else { return problem(node, "spec", "is missing") }
            let spec = self.spec(specNode)
            if let name, let spec, problems.count == before {
                policies.append(NodePolicy(name: name, spec: spec, vfOptions: options))
            }
        }

        mutating func metadata(_ node: YAMLNode) -> (String?, VFOptions) {
            var options = VFOptions()
            guard case let .mapping(pairs, _) = node else {
                problem(node, "metadata", "must be a map, found \(node.kindName)")
                return (nil, options)
            }
            var name: String?
            // The name first, so that every other message can say which policy it is about.
            for (key, value) in pairs.filter({ $0.key == "name" }) + pairs.filter({ $0.key != "name" }) {
                guard ManifestFields.objectMeta.contains(key) else {
                    problem(value, "metadata.\(key)", "unknown field; metadata is a Kubernetes ObjectMeta")
                    continue
                }
                if key == "annotations" { options = vfOptions(value) }
                if key == "labels" { labels(value) }
                guard key == "name" else { continue }
                guard case let .scalar(.string(text), _) = value else {
                    problem(value, "metadata.name", "must be a string, found \(value.kindName)")
                    continue
                }
                if let message = PolicyRules.nameProblem(text) {
                    problem(value, "metadata.name", message)
                    continue
                }
                name = text
                policyName = text
            }
            if name == nil, !pairs.contains(where: { $0.key == "name" }) {
                problem(node, "metadata.name", "is missing; every policy needs a name")
            }
            return (name, options)
        }

        /// Our annotations; others belong to other tools and are left alone.
        mutating func vfOptions(_ node: YAMLNode) -> VFOptions {
            var options = VFOptions()
            guard case let .mapping(pairs, _) = node else {
                problem(node, "metadata.annotations", "must be a map of strings, found \(node.kindName)")
                return options
            }
            var nodes: [String: YAMLNode] = [:]
            let before = problems.count
            for (key, value) in pairs {
                let field = "metadata.annotations.\(key)"
                // The API server takes annotations as strings only; others belong to other tools.
                guard let text = string(value, field), key.hasPrefix(VFOptions.annotationPrefix) else { continue }
                let name = key.dropFirst(VFOptions.annotationPrefix.count)
                nodes[String(name)] = value
                func number() -> Int? {
                    if let number = Int(text) { return number }
                    problem(value, field, "must be a whole number in quotes, e.g. \"100\"; found \"\(text)\"")
                    return nil
                }
                switch (name, text) {
                case ("vf-mac", "derived"): options.stableMAC = true
                case ("vf-mac", "kernel"): options.stableMAC = false
                case ("vf-mac", _):
                    problem(
                        value, field,
                        "must be \"derived\" (stable MACs from the PF and VF index) or \"kernel\", found \"\(text)\"")
                case ("vf-trust", "on"), ("vf-trust", "off"): options.trust = text == "on"
                case ("vf-spoof-check", "on"), ("vf-spoof-check", "off"): options.spoofCheck = text == "on"
                case ("vf-trust", _), ("vf-spoof-check", _):
                    problem(value, field, "must be \"on\" or \"off\", found \"\(text)\"")
                case ("vlan", _): options.vlan = number()
                case ("vlanQoS", _): options.vlanQoS = number()
                case ("min_tx_rate", _): options.minTxRate = number()
                case ("max_tx_rate", _): options.maxTxRate = number()
                case ("vlanProto", _):
                    // sriov-cni takes any case ("802.1Q").
                    options.vlanProto = VLANProtocol(rawValue: text.lowercased())
                    if options.vlanProto == nil {
                        problem(value, field, "must be \"802.1Q\" or \"802.1ad\", found \"\(text)\"")
                    }
                case ("link_state", _):
                    options.linkState = VFLinkState(rawValue: text)
                    if options.linkState == nil {
                        problem(value, field, "must be \"auto\", \"enable\" or \"disable\", found \"\(text)\"")
                    }
                default:
                    problem(
                        value, field,
                        "unknown harvester-sriov annotation; known: vf-mac, vf-trust, vf-spoof-check, vlan, vlanQoS, "
                            + "vlanProto, min_tx_rate, max_tx_rate, link_state")
                }
            }
            // Rules between values only once each value is known, so that one mistake gives one message.
            for issue in problems.count == before ? PolicyRules.vfOptionIssues(options) : [] {
                let key = issue.field.dropFirst("metadata.annotations.".count + VFOptions.annotationPrefix.count)
                problem(nodes[String(key)] ?? node, issue.field, issue.message)
            }
            return options
        }

        mutating func spec(_ node: YAMLNode) -> PolicySpec? {
            guard case let .mapping(pairs, _) = node else {
                problem(node, "spec", "must be a map, found \(node.kindName)")
                return nil
            }
            var resourceName: String?
            var nodeSelector: [String: String]?
            // The operator's mutating webhook sets an absent priority to 99, the lowest.
            var priority = 99
            var mtu: Int?
            var numVfs: Int?
            var nicSelector: NICSelector?
            var deviceType = DeviceType.netdevice
            var isRdma = false
            var linkType: String?
            var needVhostNet = false
            var excludeTopology = false
            for (key, value) in pairs {
                let field = "spec.\(key)"
                switch key {
                case "resourceName":
                    guard let text = string(value, field) else { continue }
                    if let message = PolicyRules.resourceNameProblem(text) {
                        problem(value, field, message)
                    } else {
                        resourceName = text
                    }
                case "nodeSelector":
                    guard case let .mapping(labels, _) = value else {
                        problem(value, field, "must be a map of label keys to values, found \(value.kindName)")
                        continue
                    }
                    var selector: [String: String] = [:]
                    for (labelKey, labelValue) in labels {
                        guard let text = string(labelValue, "\(field).\(labelKey)") else { continue }
                        if let message = PolicyRules.nodeSelectorProblem(key: labelKey, value: text) {
                            problem(labelValue, "\(field).\(labelKey)", message)
                        }
                        selector[labelKey] = text
                    }
                    nodeSelector = selector
                case "priority":
                    guard let number = integer(value, field) else { continue }
                    if let message = PolicyRules.priorityProblem(number) {
                        problem(value, field, message)
                    } else {
                        priority = number
                    }
                case "mtu":
                    guard let number = integer(value, field) else { continue }
                    if let message = PolicyRules.mtuProblem(number) {
                        problem(value, field, message)
                    } else {
                        mtu = number
                    }
                case "numVfs":
                    guard let number = integer(value, field) else { continue }
                    if let message = PolicyRules.numVfsProblem(number, policy: policyName) {
                        problem(value, field, message)
                    } else {
                        numVfs = number
                    }
                case "nicSelector":
                    nicSelector = self.nicSelector(value)
                case "deviceType":
                    guard let text = string(value, field) else { continue }
                    if let type = DeviceType(rawValue: text) {
                        deviceType = type
                    } else {
                        problem(value, field, "must be \"netdevice\" or \"vfio-pci\", found \"\(text)\"")
                    }
                case "isRdma": if let flag = bool(value, field) { isRdma = flag }
                case "needVhostNet": if let flag = bool(value, field) { needVhostNet = flag }
                case "excludeTopology": if let flag = bool(value, field) { excludeTopology = flag }
                case "linkType":
                    guard let text = string(value, field) else { continue }
                    if let message = PolicyRules.linkTypeProblem(text) {
                        problem(value, field, message)
                    } else {
                        linkType = text.uppercased()
                    }
                case "eSwitchMode":
                    guard let text = string(value, field) else { continue }
                    if text == "switchdev" {
                        problem(
                            value, field,
                            "switchdev is not supported by harvester-sriov: it needs OVS hardware offload, which Harvester does not run; use legacy or leave it out"
                        )
                    } else if text != "legacy" {
                        problem(value, field, "must be \"legacy\" or \"switchdev\", found \"\(text)\"")
                    }
                case "externallyManaged":
                    guard let flag = bool(value, field) else { continue }
                    if flag {
                        problem(
                            value, field,
                            "true is not supported: harvester-sriov creates the VFs itself; set it to false or leave it out"
                        )
                    }
                case "vdpaType":
                    problem(
                        value, field,
                        "vDPA is not supported by harvester-sriov (it needs switchdev mode); remove vdpaType")
                case "bridge":
                    problem(
                        value, field,
                        "software bridge management is not supported by harvester-sriov (it needs switchdev mode); remove bridge"
                    )
                default:
                    problem(
                        value, field,
                        "unknown field; see the SriovNetworkNodePolicy spec (resourceName, nodeSelector, priority, mtu, numVfs, nicSelector, deviceType, isRdma, linkType, eSwitchMode, needVhostNet, excludeTopology, externallyManaged)"
                    )
                }
            }
            if resourceName == nil, !pairs.contains(where: { $0.key == "resourceName" }) {
                problem(
                    node, "spec.resourceName",
                    "is missing; every policy needs the resource name its VFs are advertised as")
            }
            if nodeSelector == nil, !pairs.contains(where: { $0.key == "nodeSelector" }) {
                problem(
                    node, "spec.nodeSelector",
                    "is missing; the CRD requires it: "
                        + "write nodeSelector: {} for every node, or e.g. network-sriov.capable: \"true\"")
            }
            if numVfs == nil, !pairs.contains(where: { $0.key == "numVfs" }) {
                problem(node, "spec.numVfs", "is missing; set how many VFs each selected PF gets")
            }
            if nicSelector == nil, !pairs.contains(where: { $0.key == "nicSelector" }) {
                problem(
                    node, "spec.nicSelector", "is missing; select the PFs by vendor, deviceID, rootDevices or pfNames")
            }
            guard let resourceName, let nodeSelector, let numVfs, let nicSelector else { return nil }
            // The mutating webhook turns RDMA on for InfiniBand netdevice VFs.
            if linkType == "IB", deviceType != .vfioPCI { isRdma = true }
            let spec = PolicySpec(
                resourceName: resourceName, nodeSelector: nodeSelector, priority: priority, mtu: mtu,
                numVfs: numVfs, nicSelector: nicSelector, deviceType: deviceType, isRdma: isRdma,
                linkType: linkType, needVhostNet: needVhostNet, excludeTopology: excludeTopology)
            for issue in PolicyRules.check(spec) {
                problem(node, issue.field, issue.message)
            }
            return spec
        }

        mutating func nicSelector(_ node: YAMLNode) -> NICSelector? {
            guard case let .mapping(pairs, _) = node else {
                problem(node, "spec.nicSelector", "must be a map, found \(node.kindName)")
                return nil
            }
            var selector = NICSelector()
            var valid = true
            for (key, value) in pairs {
                let field = "spec.nicSelector.\(key)"
                switch key {
                case "vendor", "deviceID":
                    guard let text = string(value, field) else {
                        valid = false
                        continue
                    }
                    if let message = PolicyRules.hexIDProblem(text, field: key) {
                        problem(value, field, message)
                        valid = false
                        continue
                    }
                    if key == "vendor" { selector.vendor = text } else { selector.deviceID = text }
                case "rootDevices":
                    guard let items = strings(value, field) else {
                        valid = false
                        continue
                    }
                    var seen = Set<String>()
                    for (index, item) in items.enumerated() {
                        if let message = PolicyRules.rootDeviceProblem(item.text) {
                            problem(item.node, "\(field)[\(index)]", message)
                            valid = false
                            continue
                        }
                        if !seen.insert(item.text).inserted {
                            problem(item.node, "\(field)[\(index)]", PolicyRules.listedTwice(item.text))
                            valid = false
                        }
                        selector.rootDevices.append(item.text)
                    }
                case "pfNames":
                    guard let items = strings(value, field) else {
                        valid = false
                        continue
                    }
                    var seen = Set<String>()
                    for (index, item) in items.enumerated() {
                        switch PFName.parse(item.text) {
                        case let .success(pfName):
                            if !seen.insert(pfName.name).inserted {
                                problem(item.node, "\(field)[\(index)]", PolicyRules.listedTwice("PF \(pfName.name)"))
                                valid = false
                            }
                            selector.pfNames.append(pfName)
                        case let .failure(error):
                            problem(item.node, "\(field)[\(index)]", "cannot parse \"\(item.text)\": \(error.message)")
                            valid = false
                        }
                    }
                case "netFilter":
                    problem(
                        value, field,
                        "is for cloud platforms (OpenStack) and is not supported by harvester-sriov; select by vendor, deviceID, rootDevices or pfNames"
                    )
                    valid = false
                default:
                    problem(
                        value, field,
                        "unknown field; a nicSelector has vendor, deviceID, rootDevices, pfNames (and netFilter)")
                    valid = false
                }
            }
            if valid, selector.isEmpty {
                problem(node, "spec.nicSelector", PolicyRules.emptySelector)
                return nil
            }
            return valid ? selector : nil
        }
    }
}
