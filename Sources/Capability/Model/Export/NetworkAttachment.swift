/// The `NetworkAttachmentDefinition` (k8s.cni.cncf.io/v1) that sriov-network-operator renders
/// for a `SriovNetwork` (`SriovNetwork.RenderNetAttDef` in `api/v1/helper.go`, with the template
/// `bindata/manifests/cni-config/sriov/sriov-cni-config.yaml`): Multus reads it to call sriov-cni,
/// and its resourceName annotation makes the pod or VM request a VF of that resource.
/// Pure: the networks are checked already (`SriovNetworkDecoder`), and against this node's
/// plan by `unprovided`.
public enum NetworkAttachment {
    public static let apiVersion = "k8s.cni.cncf.io/v1"
    public static let kind = "NetworkAttachmentDefinition"
    public static let resourceAnnotation = "k8s.v1.cni.cncf.io/resourceName"
    /// Harvester's network webhook (network-controller-harvester `pkg/webhook/nad/validator.go`, `checkNadConfig`,
    /// FailurePolicy Fail, every namespace) refuses a NetworkAttachmentDefinition that is not kube-ovn unless its
    /// `bridge` is `<clusternetwork>-br` of an existing ClusterNetwork, and Harvester ships no sriov CNI.
    public static let harvesterRefusal =
        "export network: Harvester's network webhook refuses every NetworkAttachmentDefinition that is not a bridge "
        + "of a ClusterNetwork or kube-ovn, and Harvester ships no sriov CNI; give VMs the VFs as PCI devices "
        + "(harvester-sriov pcidevices --claim), or pass --layout fhs for a KubeVirt cluster that runs Multus, "
        + "sriov-cni and the SR-IOV device plugin"

    /// The version the operator's template writes.
    public static let cniVersion = "1.0.0"

    /// Every network's NetworkAttachmentDefinition, one YAML document each, for `kubectl apply -f -`.
    public static func yaml(_ networks: [SriovNetwork], prefix: String) throws(SRIOVError) -> String {
        var documents: [String] = []
        for network in networks {
            do {
                documents.append(try YAMLEmitter.document(object(network, prefix: prefix)))
            } catch {
                throw .usage("cannot write the NetworkAttachmentDefinition of \(network.name) as YAML: \(error)")
            }
        }
        return documents.joined(separator: "---\n")
    }

    static func object(_ network: SriovNetwork, prefix: String) -> YAMLValue {
        var metadata = [YAMLPair("name", .string(network.name))]
        if let namespace = network.targetNamespace { metadata.append(YAMLPair("namespace", .string(namespace))) }
        // The operator also writes an owner-ref annotation naming the SriovNetwork; there is none here.
        metadata.append(
            YAMLPair(
                "annotations",
                .mapping([
                    YAMLPair(
                        resourceAnnotation, .string(ResourcePrefix.qualified(network.spec.resourceName, prefix: prefix))
                    )
                ])))
        return .mapping([
            YAMLPair("apiVersion", .string(apiVersion)),
            YAMLPair("kind", .string(kind)),
            YAMLPair("metadata", .mapping(metadata)),
            YAMLPair("spec", .mapping([YAMLPair("config", .string(cniConfig(network)))])),
        ])
    }

    /// The CNI config, compact, with the template's members in its order. With metaPlugins it is
    /// a plugin list: sriov first, then the chained plugins.
    public static func cniConfig(_ network: SriovNetwork) -> String {
        let spec = network.spec
        return JSONWriter.compactText { json in
            json.object { json in
                json.member("cniVersion", cniVersion)
                json.member("name", network.name)
                if spec.metaPlugins.isEmpty {
                    sriovMembers(spec, &json)
                } else {
                    json.key("plugins")
                    json.array([nil] + spec.metaPlugins.map(Optional.some)) { json, plugin in
                        if let plugin {
                            json.json(plugin)
                        } else {
                            json.object { sriovMembers(spec, &$0) }
                        }
                    }
                }
            }
        }
    }

    /// sriov-cni's own settings (`pkg/types/types.go`): vlan and vlanQoS always, the rest when set.
    private static func sriovMembers(_ spec: SriovNetworkSpec, _ json: inout JSONWriter) {
        json.member("type", "sriov")
        json.member("vlan", spec.vlan)
        if let spoofChk = spec.spoofChk { json.member("spoofchk", spoofChk) }
        if let trust = spec.trust { json.member("trust", trust) }
        json.member("vlanQoS", spec.vlanQoS)
        if let vlanProto = spec.vlanProto { json.member("vlanProto", vlanProto) }
        if let minTxRate = spec.minTxRate { json.member("min_tx_rate", minTxRate) }
        if let maxTxRate = spec.maxTxRate { json.member("max_tx_rate", maxTxRate) }
        if let capabilities = spec.capabilities { json.member("capabilities", json: capabilities) }
        if let linkState = spec.linkState { json.member("link_state", linkState) }
        if let logLevel = spec.logLevel { json.member("logLevel", logLevel) }
        if let logFile = spec.logFile { json.member("logFile", logFile) }
        json.member("ipam", json: spec.ipam ?? "{}")
    }

    /// A problem for each network whose resource this node's plan gives no VFs: a pod on that
    /// network could never be scheduled here. The hint names the resources the plan has, and a
    /// stored policy that names the resource but selects nothing on this node.
    public static func unprovided(_ networks: [SriovNetwork], plan: NodePlan, policies: [NodePolicy])
        -> [PolicyProblem]
    {
        var provided: [String] = []
        for group in plan.interfaces.flatMap(\.vfGroups) where !provided.contains(group.resourceName) {
            provided.append(group.resourceName)
        }
        return networks.filter { !provided.contains($0.spec.resourceName) }.map { network in
            let resource = network.spec.resourceName
            var message = "no policy gives this node VFs of \"\(resource)\""
            if let policy = policies.first(where: { $0.spec.resourceName == resource }) {
                let reason = plan.unmatched.first { $0.policy == policy.name }?.reason ?? "it gets no VFs on this node"
                message += " (policy \"\(policy.name)\" names it, but \(reason))"
            }
            message +=
                provided.isEmpty
                ? "; this node's plan has no VFs at all: apply policies first (harvester-sriov policy apply)"
                : "; the resources here: \(provided.sorted().joined(separator: ", ")) (harvester-sriov plan)"
            return PolicyProblem(
                file: network.file, line: network.resourceNameLine, policy: network.name, field: "spec.resourceName",
                message: message, object: "network")
        }
    }
}
