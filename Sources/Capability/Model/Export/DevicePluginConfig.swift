import SystemPackage

/// The sriov-network-device-plugin configuration (`{"resourceList": [...]}`, the schema of the
/// plugin's `pkg/types/types.go`) for this node's plan: one pool per resourceName, rendered as
/// the operator's `renderDevicePluginConfigData` does (controllers/sriovnetworknodepolicy_controller.go),
/// except that the selectors come from the resolved plan rather than from the policies'
/// nicSelectors, so that a pool holds exactly the VFs the plan gave its resource.
///
/// - `pfNames` pins the VFs: one `<pf>#<first>-<last>` per PF from the group's VF range. The
///   plugin ANDs the selector fields, so `vendors` and `devices` only restate what those VFs are.
/// - A vfio-pci pool has `drivers: ["vfio-pci"]`: a VF is offered once it is bound for a VM.
///   A netdevice pool names no driver: the VF's net driver differs per card and is not known
///   before the VFs exist, and the ranges already exclude every other VF.
public struct DevicePluginConfig: Equatable, Sendable {
    /// Where the plugin reads its configuration (its `--config-file` default).
    public static let path: FilePath = "etc/pcidp/config.json"

    public struct Pool: Equatable, Sendable {
        public var resourceName: String
        public var resourcePrefix: String
        public var excludeTopology: Bool
        public var vendors: [String]
        public var devices: [String]
        public var drivers: [String]
        public var pfNames: [String]
        public var linkTypes: [String]
        public var isRdma: Bool
        public var needVhostNet: Bool
    }

    public var pools: [Pool]
    /// What the config leaves out or cannot say, one line each, for stderr.
    public var notes: [String]

    /// Pure: `policies` are the plan's own (for needVhostNet and excludeTopology, which a VF group does not carry).
    public init(plan: NodePlan, host: HostInventory, policies: [NodePolicy], prefix: String) {
        var notes: [String] = []
        let policyByName = Dictionary(policies.map { ($0.name, $0) }) { first, _ in first }
        var members: [String: [(pf: PlannedInterface, group: VFGroup)]] = [:]
        for planned in plan.interfaces {
            for group in planned.vfGroups { members[group.resourceName, default: []].append((planned, group)) }
        }
        pools = members.keys.sorted().compactMap { resource -> Pool? in
            let entries = members[resource] ?? []
            var pool = Pool(
                resourceName: resource, resourcePrefix: prefix, excludeTopology: false, vendors: [], devices: [],
                drivers: [], pfNames: [], linkTypes: [], isRdma: !entries.isEmpty, needVhostNet: false)
            var deviceKnown = true
            var linkTypes: [String?] = []
            for (planned, group) in entries {
                let pf = host.interfaces.first { $0.address == planned.pciAddress }
                // A PF whose plan cannot be carried out (plan lists why) has no such VFs: a pool of them would be
                // VFs that never exist, e.g. "#0-9223372036854775806".
                guard planned.problems.isEmpty else {
                    notes.append(
                        "\(planned.name ?? pf?.name ?? planned.pciAddress.description): its VFs \(Self.range(group.vfRange)) "
                            + "are left out of resource \(resource): the plan cannot be carried out "
                            + "(\(planned.problems.joined(separator: "; "))); see harvester-sriov plan")
                    continue
                }
                guard let name = planned.name ?? pf?.name else {
                    // pfNames is the only selector with VF ranges that every plugin release reads.
                    notes.append(
                        "\(planned.pciAddress): the PF has no interface name, so the device plugin cannot pick its "
                            + "VFs \(Self.range(group.vfRange)); they are left out of resource \(resource)")
                    continue
                }
                pool.pfNames.append("\(name)#\(Self.range(group.vfRange))")
                if let vendor = pf?.function.vendor { Self.add(vendor, to: &pool.vendors) }
                if let device = Self.vfDeviceID(pf) {
                    Self.add(device, to: &pool.devices)
                } else {
                    deviceKnown = false
                }
                linkTypes.append(planned.linkType)
                pool.isRdma = pool.isRdma && group.isRdma
                if let policy = policyByName[group.policyName] {
                    pool.needVhostNet = pool.needVhostNet || policy.spec.needVhostNet
                    pool.excludeTopology = pool.excludeTopology || policy.spec.excludeTopology
                }
            }
            guard !pool.pfNames.isEmpty else {
                // Without pfNames the other selectors would take every VF of the card model.
                notes.append(
                    entries.allSatisfy({ !$0.pf.problems.isEmpty })
                        ? "resource \(resource) gets no pool: the plan can carry out none of its PFs"
                        : "resource \(resource) gets no pool: none of its PFs has an interface name")
                return nil
            }
            // Each field narrows the pool: a list that misses one PF's value would drop that PF's VFs.
            if !deviceKnown { pool.devices = [] }
            if linkTypes.allSatisfy({ $0 != nil }), entries.allSatisfy({ $0.group.deviceType == .netdevice }) {
                // The operator's names; vfio-pci VFs have no netdev, so no link type to match.
                for link in linkTypes.compactMap({ $0 }) {
                    Self.add(link.uppercased() == "IB" ? "infiniband" : "ether", to: &pool.linkTypes)
                }
            }
            let types = Set(entries.map(\.group.deviceType))
            if types == [.vfioPCI] {
                pool.drivers = ["vfio-pci"]
            } else if types.count > 1 {
                notes.append(
                    "resource \(resource) has netdevice and vfio-pci VFs; its pool names no driver, so it offers "
                        + "each VF whatever driver it has; give the vfio-pci VFs a resourceName of their own")
            }
            if pool.isRdma != entries.contains(where: \.group.isRdma) {
                notes.append(
                    "resource \(resource) has VFs with isRdma and VFs without; its pool leaves isRdma false so that "
                        + "it keeps all of them; set isRdma alike in its policies")
            }
            return pool
        }
        if pools.isEmpty {
            notes.append(
                "the plan gives no VFs to any resource on node \(host.node); the device plugin gets an empty "
                    + "resourceList and advertises nothing")
        }
        self.notes = notes
    }

    /// The JSON the plugin reads, members in the UTF-8 order of their keys as JSONWriter writes them.
    public func json() -> String {
        JSONWriter.text { json in
            json.object { json in
                json.key("resourceList")
                json.array(pools) { json, pool in
                    json.object { json in
                        // The plugin's own name for a PCI network function pool (types.NetDeviceType).
                        json.member("deviceType", "netDevice")
                        if pool.excludeTopology { json.member("excludeTopology", true) }
                        json.member("resourceName", pool.resourceName)
                        json.member("resourcePrefix", pool.resourcePrefix)
                        json.key("selectors")
                        json.object { json in Self.write(pool, to: &json) }
                    }
                }
            }
        }
    }

    /// The selector fields the plugin's `omitempty` would leave out are left out; `isRdma` has no tag
    /// upstream and is always written (Go's decoder matches JSON names regardless of case).
    private static func write(_ pool: Pool, to json: inout JSONWriter) {
        let lists: [(StaticString, [String])] = [
            ("devices", pool.devices), ("drivers", pool.drivers),
        ]
        for (name, list) in lists where !list.isEmpty { strings(name, list, to: &json) }
        json.member("isRdma", pool.isRdma)
        if !pool.linkTypes.isEmpty { strings("linkTypes", pool.linkTypes, to: &json) }
        if pool.needVhostNet { json.member("needVhostNet", true) }
        if !pool.pfNames.isEmpty { strings("pfNames", pool.pfNames, to: &json) }
        if !pool.vendors.isEmpty { strings("vendors", pool.vendors, to: &json) }
    }

    private static func strings(_ name: StaticString, _ list: [String], to json: inout JSONWriter) {
        json.key(name)
        json.array(list) { json, item in json.string(item) }
    }

    static func range(_ range: ClosedRange<Int>) -> String { "\(range.lowerBound)-\(range.upperBound)" }

    private static func add(_ item: String, to list: inout [String]) {
        if !list.contains(item) { list.append(item) }
    }

    /// The device ID the PF's VFs report: from config space, else from a VF that exists now.
    static func vfDeviceID(_ pf: PhysicalFunction?) -> String? {
        (pf?.capability?.vfDeviceID ?? pf?.vfs.first?.function.deviceID).map { $0.lowercased() }
    }
}
