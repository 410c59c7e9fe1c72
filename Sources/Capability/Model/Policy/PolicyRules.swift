/// The operator's admission rules, in three scopes: one policy alone, a set of
/// policies together, and policies against the live host.
public enum PolicyRules {
    public struct Issue: Sendable {
        public var field: String
        public var message: String
    }

    /// Rules between the fields of one policy (the webhook's static validation).
    static func check(_ spec: PolicySpec) -> [Issue] {
        var issues: [Issue] = []
        // Below 1 VF, numVfs is a problem of its own (and numVfs - 1 could overflow).
        for pfName in spec.nicSelector.pfNames where spec.numVfs >= 1 {
            if let range = pfName.range, range.upperBound >= spec.numVfs {
                issues.append(
                    Issue(
                        field: "spec.nicSelector.pfNames",
                        message:
                            "the VF range of \"\(pfName)\" ends at index \(range.upperBound), but numVfs is \(spec.numVfs), so the last VF index is \(spec.numVfs &- 1)"
                    ))
            }
        }
        if spec.deviceType == .vfioPCI && spec.isRdma {
            issues.append(
                Issue(
                    field: "spec.deviceType",
                    message:
                        "'deviceType: vfio-pci' conflicts with 'isRdma: true'; set deviceType to netdevice, or isRdma to false"
                ))
        }
        return issues
    }

    /// Every rule one policy must meet on its own, for a policy that was not read from
    /// YAML (the stored state): the same value rules the manifest decoder applies field
    /// by field, then `check`.
    public static func validate(_ policy: NodePolicy) -> [Issue] {
        var issues: [Issue] = []
        func add(_ field: String, _ message: String?) {
            if let message { issues.append(Issue(field: field, message: message)) }
        }
        let spec = policy.spec
        let selector = spec.nicSelector
        add("metadata.name", nameProblem(policy.name))
        add("spec.resourceName", resourceNameProblem(spec.resourceName))
        for (key, value) in spec.nodeSelector.sorted(by: { $0.key < $1.key }) {
            add("spec.nodeSelector.\(key)", nodeSelectorProblem(key: key, value: value))
        }
        add("spec.priority", priorityProblem(spec.priority))
        if let mtu = spec.mtu { add("spec.mtu", mtuProblem(mtu)) }
        add("spec.numVfs", numVfsProblem(spec.numVfs, policy: policy.name))
        if let linkType = spec.linkType, linkType != "ETH", linkType != "IB" {
            add("spec.linkType", "must be ETH or IB (as harvester-sriov stores eth|ETH|ib|IB), found \"\(linkType)\"")
        }
        if let vendor = selector.vendor { add("spec.nicSelector.vendor", hexIDProblem(vendor, field: "vendor")) }
        if let deviceID = selector.deviceID {
            add("spec.nicSelector.deviceID", hexIDProblem(deviceID, field: "deviceID"))
        }
        var devices = Set<String>()
        for (index, device) in selector.rootDevices.enumerated() {
            add(
                "spec.nicSelector.rootDevices[\(index)]",
                rootDeviceProblem(device) ?? (devices.insert(device).inserted ? nil : listedTwice(device)))
        }
        var names = Set<String>()
        for (index, pfName) in selector.pfNames.enumerated() {
            let text = pfName.description
            if case let .failure(error) = PFName.parse(text) {
                add("spec.nicSelector.pfNames[\(index)]", "cannot parse \"\(text)\": \(error.message)")
            } else if !names.insert(pfName.name).inserted {
                add("spec.nicSelector.pfNames[\(index)]", listedTwice("PF \(pfName.name)"))
            }
        }
        if selector.isEmpty { add("spec.nicSelector", emptySelector) }
        return issues + check(spec) + vfOptionIssues(policy.vfOptions)
    }

    /// The per-VF annotations' values and the rules between them, as sriov-cni checks its
    /// fields (pkg/config/config.go, LoadConf); the rates as the kernel takes them (u32 Mbps).
    static func vfOptionIssues(_ options: VFOptions) -> [Issue] {
        var issues: [Issue] = []
        func add(_ key: String, _ message: String) {
            issues.append(Issue(field: "metadata.annotations.\(VFOptions.annotationPrefix)\(key)", message: message))
        }
        if let vlan = options.vlan {
            if !(0...4094).contains(vlan) { add("vlan", "must be a VLAN ID from 0 to 4094, found \(vlan)") }
            if let qos = options.vlanQoS, !(0...7).contains(qos) {
                add("vlanQoS", "must be a priority (PCP) from 0 to 7, found \(qos)")
            } else if let qos = options.vlanQoS, qos != 0, vlan == 0 {
                add("vlanQoS", "needs a non-zero harvester-sriov.io/vlan; set the VLAN ID, or remove vlanQoS")
            }
            if options.vlanProto == .dot1AD, vlan == 0 {
                add("vlanProto", "802.1ad needs a non-zero harvester-sriov.io/vlan; set the VLAN ID, or use 802.1q")
            }
        } else {
            let orphans = [("vlanQoS", options.vlanQoS != nil), ("vlanProto", options.vlanProto != nil)]
            for (key, present) in orphans where present {
                add(key, "needs harvester-sriov.io/vlan; set the VLAN ID, or remove \(key)")
            }
        }
        let rates = [("min_tx_rate", options.minTxRate), ("max_tx_rate", options.maxTxRate)]
        for case let (key, rate?) in rates where !(0...Int(UInt32.max)).contains(rate) {
            add(key, "must be a rate in Mbps from 0 (no limit) to \(UInt32.max), found \(rate)")
        }
        if let min = options.minTxRate, let max = options.maxTxRate, min > 0, max > 0, min > max {
            add("min_tx_rate", "\(min) Mbps is above max_tx_rate \(max) Mbps; lower min_tx_rate or raise max_tx_rate")
        }
        return issues
    }

    // MARK: single values, shared by the manifest decoder and the state decoder

    static let emptySelector = "selects nothing; set at least one of vendor, deviceID, rootDevices or pfNames"

    static func listedTwice(_ what: String) -> String { "\(what) is listed twice" }

    /// `metadata.name`: the API server's DNS subdomain (RFC 1123) rule.
    static func nameProblem(_ name: String) -> String? {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            (1...253).contains(name.utf8.count)
            && labels.allSatisfy { label in
                let bytes = Array(label.utf8)
                guard let first = bytes.first, let last = bytes.last else { return false }
                return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
                    && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            }
        return valid
            ? nil
            : "\"\(name)\" is not a valid name: use lowercase letters, digits, '-' and '.', "
                + "starting and ending with a letter or digit, at most 253 characters"
    }

    /// The webhook's `validateResourceName` (pkg/webhook/validate.go); the CRD has no pattern.
    static func resourceNameProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let valid =
            (1...63).contains(bytes.count)
            && bytes.first.map(isAlphanumeric) == true && bytes.last.map(isAlphanumeric) == true
            && bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        return valid
            ? nil
            : "\"\(text)\" is not a valid resource name: use 1 to 63 letters, digits, '-' and '_', "
                + "starting and ending with a letter or digit "
                + "(the operator's webhook: ^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$, at most 63 characters)"
    }

    static func priorityProblem(_ value: Int) -> String? {
        (0...99).contains(value) ? nil : "must be between 0 (highest) and 99 (lowest), found \(value)"
    }

    static func mtuProblem(_ value: Int) -> String? {
        value >= 1 ? nil : "must be at least 1, found \(value)"
    }

    static func numVfsProblem(_ value: Int, policy: String?) -> String? {
        if value < 0 { return "must be at least 0, found \(value)" }
        if value == 0 {
            return "0 VFs is not allowed (the operator's webhook refuses it too); "
                + "to remove VFs, remove the policy with `harvester-sriov policy remove \(policy ?? "NAME")`"
        }
        return nil
    }

    /// `vendor` and `deviceID`: the operator compares them as text with what sysfs
    /// shows, so an uppercase digit would match no PF there.
    static func hexIDProblem(_ text: String, field: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 4, bytes.allSatisfy({ isHexDigit($0) }) else {
            let example = field == "vendor" ? "8086" : "1572"
            return "must be 4 hex digits as lspci -nn shows them, e.g. \"\(example)\"; found \"\(text)\""
        }
        guard text == text.lowercased() else {
            return "write \"\(text.lowercased())\" as lspci -nn shows it; "
                + "the operator compares the text and \"\(text)\" would match no PF"
        }
        return nil
    }

    /// `rootDevices`: a full address exactly as sysfs and `lspci -D` print it, since the
    /// operator compares the text.
    static func rootDeviceProblem(_ text: String) -> String? {
        guard let address = PCIAddress(text), text.split(separator: ":").count == 3 else {
            return "\"\(text)\" is not a full PCI address; write it as lspci -D shows it, e.g. \"0000:3b:00.0\""
        }
        guard address.description == text else {
            return "write \"\(address)\" as lspci -D shows it; "
                + "the operator compares the text and \"\(text)\" would match no PF"
        }
        return nil
    }

    /// The CRD's enum.
    static func linkTypeProblem(_ text: String) -> String? {
        ["eth", "ETH", "ib", "IB"].contains(text) ? nil : "must be one of eth, ETH, ib, IB; found \"\(text)\""
    }

    /// The webhook lists nodes with the nodeSelector as a label selector, which fails
    /// (and so refuses the policy) unless keys and values follow the label syntax.
    static func nodeSelectorProblem(key: String, value: String) -> String? {
        LabelSyntax.keyProblem(key) ?? LabelSyntax.valueProblem(value)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    // MARK: between policies

    /// Rules between policies: the webhook's checks against the other policies that
    /// select the same node (here: all of them, as labels can change). `origins` names
    /// the file each policy came from. Policies are grouped by PF, device and resource,
    /// so a file of thousands of policies is checked in about linear time.
    public static func checkSet(_ policies: [NodePolicy], origins: [String: String]) -> [PolicyProblem] {
        var problems: [PolicyProblem] = []
        var reported = Set<String>()
        func problem(_ policy: NodePolicy, _ field: String, _ message: String) {
            let found = PolicyProblem(
                file: origins[policy.name] ?? "stored state", policy: policy.name, field: field,
                message: message)
            if reported.insert(found.description).inserted { problems.append(found) }
        }
        let sorted = policies.sorted { $0.name < $1.name }

        // VF ranges per PF. The webhook (validatePfNames) reads a name without a range as
        // -1..-1: two whole-PF entries overlap, a whole-PF entry never overlaps a range
        // (resolution then lets the higher priority take the VFs both select).
        var byPF: [String: [(policy: NodePolicy, pfName: PFName)]] = [:]
        for policy in sorted {
            for pfName in policy.spec.nicSelector.pfNames { byPF[pfName.name, default: []].append((policy, pfName)) }
        }
        for (name, entries) in byPF.sorted(by: { $0.key < $1.key }) {
            let whole = entries.filter { $0.pfName.range == nil }
            if let first = whole.first {
                for entry in whole.dropFirst() where entry.policy.name != first.policy.name {
                    problem(
                        entry.policy, "spec.nicSelector.pfNames",
                        "\"\(name)\" selects every VF of \(name), as does \"\(name)\" of policy "
                            + "\"\(first.policy.name)\"; give each policy its own VF range of \(name), "
                            + "e.g. \"\(name)#0-3\" and \"\(name)#4-7\"")
                }
            }
            typealias Ranged = (policy: NodePolicy, pfName: PFName, range: ClosedRange<Int>)
            let ranged =
                entries
                .compactMap { entry -> Ranged? in entry.pfName.range.map { (entry.policy, entry.pfName, $0) } }
                .sorted { ($0.range.lowerBound, $0.policy.name) < ($1.range.lowerBound, $1.policy.name) }
            // Sweep by first index; the range reaching furthest so far is the one a new range can overlap.
            var furthest: Ranged?
            for entry in ranged {
                if let reach = furthest, entry.range.lowerBound <= reach.range.upperBound,
                    reach.policy.name != entry.policy.name
                {
                    // Said of the later name, as a pair is reported everywhere else.
                    let (earlier, later) = reach.policy.name < entry.policy.name ? (reach, entry) : (entry, reach)
                    problem(
                        later.policy, "spec.nicSelector.pfNames",
                        "the VF range of \"\(later.pfName)\" overlaps \"\(earlier.pfName)\" of policy "
                            + "\"\(earlier.policy.name)\"; give each policy its own VFs of \(name)")
                }
                if furthest.map({ entry.range.upperBound > $0.range.upperBound }) ?? true { furthest = entry }
            }
        }

        var byDevice: [String: [NodePolicy]] = [:]
        for policy in sorted {
            var seen = Set<String>()
            for device in policy.spec.nicSelector.rootDevices where seen.insert(device).inserted {
                byDevice[device, default: []].append(policy)
            }
        }
        for (device, owners) in byDevice.sorted(by: { $0.key < $1.key }) {
            guard let first = owners.first else { continue }
            for other in owners.dropFirst() where other.name != first.name {
                problem(
                    other, "spec.nicSelector.rootDevices",
                    "root device \(device) is also selected by policy "
                        + "\"\(first.name)\"; a PF can be a root device of one policy only")
            }
        }

        var firstByResource: [String: NodePolicy] = [:]
        var firstLinkByPF: [String: NodePolicy] = [:]
        for policy in sorted {
            let spec = policy.spec
            if let first = firstByResource[spec.resourceName] {
                if first.spec.excludeTopology != spec.excludeTopology {
                    problem(
                        policy, "spec.excludeTopology",
                        "is \(spec.excludeTopology) but policy \"\(first.name)\" sets "
                            + "\(first.spec.excludeTopology) for the same resource \(spec.resourceName); "
                            + "make them equal")
                }
            } else {
                firstByResource[spec.resourceName] = policy
            }
            guard let link = spec.linkType else { continue }
            let pfs =
                spec.nicSelector.pfNames.map { "name " + $0.name }
                + spec.nicSelector.rootDevices.map { "device " + $0 }
            for pf in pfs {
                guard let first = firstLinkByPF[pf] else {
                    firstLinkByPF[pf] = policy
                    continue
                }
                if let firstLink = first.spec.linkType, firstLink != link, first.name != policy.name {
                    problem(
                        policy, "spec.linkType",
                        "is \(link) but policy \"\(first.name)\" sets \(firstLink) on the same PF; "
                            + "a PF has one link type")
                }
            }
        }
        return problems
    }

    /// Rules against the node's NICs, checked when the target is the live host.
    /// Returns errors and warnings (a selector that matches nothing is a warning:
    /// the card may be added later).
    public static func checkHost(_ policies: [NodePolicy], host: HostInventory, origins: [String: String])
        -> (errors: [PolicyProblem], warnings: [PolicyProblem])
    {
        var errors: [PolicyProblem] = []
        var warnings: [PolicyProblem] = []
        for policy in policies.sorted(by: { $0.name < $1.name }) {
            let spec = policy.spec
            let file = origins[policy.name] ?? "stored state"
            func error(_ field: String, _ message: String) {
                errors.append(PolicyProblem(file: file, policy: policy.name, field: field, message: message))
            }
            for pf in host.interfaces where spec.nicSelector.selects(pf) {
                let label = "\(pf.name ?? "PF") (\(pf.address))"
                if spec.numVfs > pf.totalVFs {
                    error(
                        "spec.numVfs",
                        "asks for \(spec.numVfs) VFs on \(label), which allows at most \(pf.totalVFs) (sriov_totalvfs)")
                }
                if pf.function.vendor == "15b3", spec.numVfs > 128 {
                    error(
                        "spec.numVfs",
                        "asks for \(spec.numVfs) VFs on Mellanox \(label); the operator allows at most 128")
                }
                if spec.deviceType == .vfioPCI, pf.iommuGroup == nil {
                    error(
                        "spec.deviceType",
                        "vfio-pci needs an IOMMU, but \(label) has no iommu_group: enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (or amd_iommu=on)"
                    )
                }
                if let wanted = spec.linkType, let actual = pf.function.primaryNetdev?.linkType, wanted != actual {
                    error(
                        "spec.linkType",
                        "is \(wanted) but \(label) is \(actual); harvester-sriov does not change a port's link type (use the vendor's tool, e.g. mlxconfig LINK_TYPE_P1)"
                    )
                }
            }
            for pfName in spec.nicSelector.pfNames where !host.interfaces.contains(where: { $0.name == pfName.name }) {
                warnings.append(
                    PolicyProblem(
                        file: file, policy: policy.name, field: "spec.nicSelector.pfNames",
                        message: "no SR-IOV PF named \(pfName.name) on this node (harvester-sriov detect lists them)"))
            }
            for device in spec.nicSelector.rootDevices
            where !host.interfaces.contains(where: { $0.address.description == device }) {
                warnings.append(
                    PolicyProblem(
                        file: file, policy: policy.name, field: "spec.nicSelector.rootDevices",
                        message: "no SR-IOV PF at \(device) on this node (harvester-sriov detect lists them)"))
            }
        }
        return (errors, warnings)
    }
}

extension NICSelector {
    /// The operator's NIC match: every selector field that is set must match.
    public func selects(_ pf: PhysicalFunction) -> Bool {
        if let vendor, vendor != pf.function.vendor { return false }
        if let deviceID, deviceID != pf.function.deviceID { return false }
        if !rootDevices.isEmpty, !rootDevices.contains(pf.address.description) { return false }
        if !pfNames.isEmpty {
            guard let name = pf.name, pfNames.contains(where: { $0.name == name }) else { return false }
        }
        return true
    }
}
