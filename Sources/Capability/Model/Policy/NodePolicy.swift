/// A `sriovnetwork.openshift.io/v1` `SriovNetworkNodePolicy` as harvester-sriov
/// honours it: the operator's spec, less what a node-side tool cannot do (switchdev,
/// vDPA, bridges, netFilter, externally managed PFs), which the decoder rejects.
/// Stored as JSON with the operator's field names.
public struct NodePolicy: Codable, Equatable, Sendable {
    public var name: String
    public var spec: PolicySpec
    /// From `metadata.annotations`: what the operator's schema has no field for.
    public var vfOptions: VFOptions

    public init(name: String, spec: PolicySpec, vfOptions: VFOptions = VFOptions()) {
        self.name = name
        self.spec = spec
        self.vfOptions = vfOptions
    }
}

/// Per-VF settings a policy can ask for through annotations:
/// `harvester-sriov.io/vf-mac: derived|kernel`, `harvester-sriov.io/vf-trust: "on"|"off"`,
/// `harvester-sriov.io/vf-spoof-check: "on"|"off"`, and sriov-cni's per-VF fields under their
/// sriov-cni names: `vlan`, `vlanQoS`, `vlanProto`, `min_tx_rate`, `max_tx_rate`, `link_state`.
/// Fields added later are optional, so that older state files still decode.
public struct VFOptions: Codable, Equatable, Sendable {
    public static let annotationPrefix = "harvester-sriov.io/"

    /// Stable MACs derived from the PF and the VF index (the default), or whatever the
    /// kernel and VF driver pick, which changes at every boot (harvester#6954).
    public var stableMAC: Bool
    /// nil leaves the kernel's default (trust off, spoof-check on).
    public var trust: Bool?
    public var spoofCheck: Bool?
    /// The VF's port VLAN (0 for none); `vlanQoS` and `vlanProto` only with it, as in sriov-cni.
    public var vlan: Int?
    public var vlanQoS: Int?
    public var vlanProto: VLANProtocol?
    /// Mbps; 0 is no limit. Set together, as the kernel takes them (IFLA_VF_RATE).
    public var minTxRate: Int?
    public var maxTxRate: Int?
    public var linkState: VFLinkState?

    public init(
        stableMAC: Bool = true, trust: Bool? = nil, spoofCheck: Bool? = nil, vlan: Int? = nil, vlanQoS: Int? = nil,
        vlanProto: VLANProtocol? = nil, minTxRate: Int? = nil, maxTxRate: Int? = nil, linkState: VFLinkState? = nil
    ) {
        self.stableMAC = stableMAC
        self.trust = trust
        self.spoofCheck = spoofCheck
        self.vlan = vlan
        self.vlanQoS = vlanQoS
        self.vlanProto = vlanProto
        self.minTxRate = minTxRate
        self.maxTxRate = maxTxRate
        self.linkState = linkState
    }

    /// The rates when either is asked for: the other is then 0, as sriov-cni sets them.
    public var txRates: (min: Int, max: Int)? {
        minTxRate == nil && maxTxRate == nil ? nil : (minTxRate ?? 0, maxTxRate ?? 0)
    }
}

/// `vlanProto`, lower-cased as sriov-cni stores it.
public enum VLANProtocol: String, Codable, Equatable, Sendable {
    case dot1Q = "802.1q"
    case dot1AD = "802.1ad"
}

/// `link_state`: IFLA_VF_LINK_STATE's values, in their order.
public enum VFLinkState: String, Codable, Equatable, Sendable, CaseIterable {
    case auto, enable, disable
}

public struct PolicySpec: Codable, Equatable, Sendable {
    public var resourceName: String
    public var nodeSelector: [String: String]
    /// 0 is the highest priority and wins; 99 the lowest.
    public var priority: Int
    public var mtu: Int?
    public var numVfs: Int
    public var nicSelector: NICSelector
    public var deviceType: DeviceType
    public var isRdma: Bool
    /// `ETH` or `IB`, upper-cased; nil leaves the PF's link type alone.
    public var linkType: String?
    public var needVhostNet: Bool
    public var excludeTopology: Bool

    public init(
        resourceName: String, nodeSelector: [String: String] = [:], priority: Int = 99, mtu: Int? = nil,
        numVfs: Int, nicSelector: NICSelector, deviceType: DeviceType = .netdevice, isRdma: Bool = false,
        linkType: String? = nil, needVhostNet: Bool = false, excludeTopology: Bool = false
    ) {
        self.resourceName = resourceName
        self.nodeSelector = nodeSelector
        self.priority = priority
        self.mtu = mtu
        self.numVfs = numVfs
        self.nicSelector = nicSelector
        self.deviceType = deviceType
        self.isRdma = isRdma
        self.linkType = linkType
        self.needVhostNet = needVhostNet
        self.excludeTopology = excludeTopology
    }
}

public enum DeviceType: String, Codable, Equatable, Sendable {
    case netdevice
    case vfioPCI = "vfio-pci"
}

public struct NICSelector: Codable, Equatable, Sendable {
    /// 4 lowercase hex digits.
    public var vendor: String?
    public var deviceID: String?
    public var rootDevices: [String]
    public var pfNames: [PFName]

    public init(vendor: String? = nil, deviceID: String? = nil, rootDevices: [String] = [], pfNames: [PFName] = []) {
        self.vendor = vendor
        self.deviceID = deviceID
        self.rootDevices = rootDevices
        self.pfNames = pfNames
    }

    public var isEmpty: Bool { vendor == nil && deviceID == nil && rootDevices.isEmpty && pfNames.isEmpty }
}

/// `eth1` or `eth1#2-7`: a PF name, optionally with the 0-based, inclusive range of its
/// VFs that the policy takes.
public struct PFName: Codable, Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var range: ClosedRange<Int>?

    public init(name: String, range: ClosedRange<Int>? = nil) {
        self.name = name
        self.range = range
    }

    public var description: String {
        range.map { "\(name)#\($0.lowerBound)-\($0.upperBound)" } ?? name
    }

    /// Text that does not parse is kept whole as the name, so that reading a stored
    /// state can name the policy and `PolicyRules.validate` can say what is wrong.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch PFName.parse(text) {
        case let .success(parsed): self = parsed
        case .failure: self = PFName(name: text)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The operator's syntax: one `#`, then `start-end`, both non-negative integers, end >= start.
    static func parse(_ text: String) -> Result<PFName, PFNameError> {
        guard text.contains("#") else {
            return text.isEmpty ? .failure(.emptyName) : .success(PFName(name: text))
        }
        let fields = text.split(separator: "#", omittingEmptySubsequences: false)
        guard fields.count == 2 else { return .failure(.separator) }
        guard !fields[0].isEmpty else { return .failure(.emptyName) }
        let bounds = fields[1].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2 else { return .failure(.rangeSyntax) }
        guard let start = Int(bounds[0]), start >= 0 else { return .failure(.start) }
        guard let end = Int(bounds[1]), end >= 0 else { return .failure(.end) }
        guard end >= start else { return .failure(.endBeforeStart) }
        return .success(PFName(name: String(fields[0]), range: start...end))
    }
}

enum PFNameError: Error {
    case emptyName, separator, rangeSyntax, start, end, endBeforeStart

    var message: String {
        switch self {
        case .emptyName: "the PF name is empty"
        case .separator: "use one \"#\" between the PF name and the VF range, e.g. \"ens1f0#0-3\""
        case .rangeSyntax: "the VF range must be \"first-last\", e.g. \"ens1f0#0-3\""
        case .start: "the range's first VF index is not a non-negative integer"
        case .end: "the range's last VF index is not a non-negative integer"
        case .endBeforeStart: "the range's last VF index is smaller than its first"
        }
    }
}
