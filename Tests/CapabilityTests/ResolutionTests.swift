import Capability
import SRIOVHost
import SRIOVModel
import Testbed
import Testing

/// Policies resolved against hosts discovered from umockdev testbeds, with the
/// operator's semantics (priority order, ranges, merges, node selectors).
@Suite struct ResolutionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let policies: [NodePolicy]
        let labels: [String: String]
        /// One line per PF: `address name numVfs=N mtu=M [range resource type policy; ...]`.
        let interfaces: [String]
        let unmatched: [String]
        var testDescription: String { label }

        init(
            _ label: String, _ policies: [NodePolicy], labels: [String: String] = [:], _ interfaces: [String],
            unmatched: [String] = []
        ) {
            self.label = label
            self.policies = policies
            self.labels = labels
            self.interfaces = interfaces
            self.unmatched = unmatched
        }
    }

    static func policy(
        _ name: String, _ numVfs: Int, _ selector: NICSelector, priority: Int = 99, resource: String? = nil,
        mtu: Int? = nil, deviceType: DeviceType = .netdevice, isRdma: Bool = false,
        nodeSelector: [String: String] = [:]
    ) -> NodePolicy {
        NodePolicy(
            name: name,
            spec: PolicySpec(
                resourceName: resource ?? name.replacingOccurrences(of: "-", with: "_"),
                nodeSelector: nodeSelector, priority: priority, mtu: mtu, numVfs: numVfs,
                nicSelector: selector, deviceType: deviceType, isRdma: isRdma))
    }

    static func pf(_ name: String, _ range: ClosedRange<Int>? = nil) -> NICSelector {
        NICSelector(pfNames: [PFName(name: name, range: range)])
    }

    static let cases: [Case] = [
        Case(
            "vendor selects every Intel PF", [policy("intel", 4, NICSelector(vendor: "8086"))],
            [
                "0000:3b:00.0 enp59s0f0 numVfs=4 mtu=- [0-3 intel netdevice intel]",
                "0000:3b:00.1 enp59s0f1 numVfs=4 mtu=- [0-3 intel netdevice intel]",
                "0000:af:00.0 ens801f0 numVfs=4 mtu=- [0-3 intel netdevice intel]",
            ]),
        Case(
            "vendor and deviceID select both ports of the X710",
            [policy("x710", 8, NICSelector(vendor: "8086", deviceID: "1572"))],
            [
                "0000:3b:00.0 enp59s0f0 numVfs=8 mtu=- [0-7 x710 netdevice x710]",
                "0000:3b:00.1 enp59s0f1 numVfs=8 mtu=- [0-7 x710 netdevice x710]",
            ]),
        Case(
            "vendor and deviceID across the two cards of a ConnectX-5",
            [policy("cx5", 2, NICSelector(vendor: "15b3", deviceID: "1017"))],
            [
                "0000:86:00.0 ens3f0np0 numVfs=2 mtu=- [0-1 cx5 netdevice cx5]",
                "0000:86:00.1 ens3f1np1 numVfs=2 mtu=- [0-1 cx5 netdevice cx5]",
            ]),
        Case(
            "deviceID alone", [policy("e810", 16, NICSelector(deviceID: "1592"), deviceType: .vfioPCI)],
            [
                "0000:af:00.0 ens801f0 numVfs=16 mtu=- [0-15 e810 vfio-pci e810]"
            ]),
        Case(
            "rootDevices pick one port", [policy("port1", 4, NICSelector(rootDevices: ["0000:3b:00.1"]))],
            [
                "0000:3b:00.1 enp59s0f1 numVfs=4 mtu=- [0-3 port1 netdevice port1]"
            ]),
        Case(
            "rootDevices and a vendor that disagree select nothing",
            [policy("mismatch", 4, NICSelector(vendor: "8086", rootDevices: ["0000:86:00.0"]))],
            [], unmatched: ["mismatch: nicSelector matches no SR-IOV PF of this node"]),
        Case(
            "pfNames by netdev name", [policy("byname", 4, pf("ens801f0"), mtu: 9000)],
            [
                "0000:af:00.0 ens801f0 numVfs=4 mtu=9000 [0-3 byname netdevice byname]"
            ]),
        Case(
            "ranges split one PF between two resources",
            [
                policy("pods", 8, pf("enp59s0f1", 0...3)),
                policy("vms", 8, pf("enp59s0f1", 4...7), deviceType: .vfioPCI),
            ],
            [
                "0000:3b:00.1 enp59s0f1 numVfs=8 mtu=- [0-3 pods netdevice pods; 4-7 vms vfio-pci vms]"
            ]),
        Case(
            "priority 0 wins over 50 on the same PF",
            [policy("low", 8, pf("enp59s0f0"), priority: 50), policy("high", 4, pf("enp59s0f0"), priority: 0)],
            [
                "0000:3b:00.0 enp59s0f0 numVfs=4 mtu=- [0-3 high netdevice high]"
            ]),
        Case(
            "priority wins whatever the names' order",
            [
                policy("a-high", 2, NICSelector(vendor: "15b3"), priority: 1),
                policy("z-low", 6, NICSelector(vendor: "15b3"), priority: 90),
            ],
            [
                "0000:86:00.0 ens3f0np0 numVfs=2 mtu=- [0-1 a_high netdevice a-high]",
                "0000:86:00.1 ens3f1np1 numVfs=2 mtu=- [0-1 a_high netdevice a-high]",
            ]),
        Case(
            "equal priority: the later name replaces the group, the PF keeps the larger count and MTU",
            [
                policy("a", 4, pf("ens801f0"), priority: 20, mtu: 9000),
                policy("b", 8, pf("ens801f0"), priority: 20, mtu: 1500),
            ],
            [
                "0000:af:00.0 ens801f0 numVfs=8 mtu=9000 [0-7 b netdevice b]"
            ]),
        Case(
            "disjoint ranges of different priorities are merged with the larger MTU",
            [
                policy("jumbo", 8, pf("enp59s0f0", 0...1), priority: 10, mtu: 9000),
                policy("plain", 8, pf("enp59s0f0", 2...7), priority: 30, mtu: 1500),
            ],
            [
                "0000:3b:00.0 enp59s0f0 numVfs=8 mtu=9000 [0-1 jumbo netdevice jumbo; 2-7 plain netdevice plain]"
            ]),
        Case(
            "nodeSelector on the capability label matches",
            [
                policy(
                    "capable", 2, NICSelector(rootDevices: ["0000:af:00.0"]),
                    nodeSelector: ["network-sriov.capable": "true"])
            ],
            [
                "0000:af:00.0 ens801f0 numVfs=2 mtu=- [0-1 capable netdevice capable]"
            ]),
        Case(
            "nodeSelector that the node does not carry",
            [policy("workers", 2, NICSelector(vendor: "8086"), nodeSelector: ["node-role.kubernetes.io/worker": ""])],
            [],
            unmatched: [
                "workers: nodeSelector node-role.kubernetes.io/worker= does not match this node: it has no label "
                    + "node-role.kubernetes.io/worker (--node-label node-role.kubernetes.io/worker= gives it one)"
            ]),
        Case(
            "nodeSelector matched by a --node-label",
            [
                policy(
                    "zone", 2, NICSelector(rootDevices: ["0000:3b:00.0"]),
                    nodeSelector: ["topology.kubernetes.io/zone": "rack1"])
            ],
            labels: ["topology.kubernetes.io/zone": "rack1"],
            [
                "0000:3b:00.0 enp59s0f0 numVfs=2 mtu=- [0-1 zone netdevice zone]"
            ]),
        Case(
            "a PF absent from this host",
            [policy("elsewhere", 4, pf("ens9f0")), policy("here", 2, pf("ens3f0np0"), isRdma: true)],
            [
                "0000:86:00.0 ens3f0np0 numVfs=2 mtu=- [0-1 here netdevice+rdma here]"
            ], unmatched: ["elsewhere: nicSelector matches no SR-IOV PF of this node"]),
        Case("no policies", [], []),
    ]

    @Test(arguments: cases)
    func resolves(_ testCase: Case) throws {
        let host = try Umockdev.discover(Fixtures.server)
        let plan = PlanResolver.resolve(
            testCase.policies, host: host, labels: NodeLabels.of(host, extra: testCase.labels))
        #expect(plan.interfaces.map(Self.summary) == testCase.interfaces)
        #expect(plan.unmatched.map { "\($0.policy): \($0.reason)" } == testCase.unmatched)
    }

    @Test func theNodesHostnameIsALabel() throws {
        let host = try Umockdev.discover(Fixtures.server)
        let policy = Self.policy(
            "mine", 1, NICSelector(rootDevices: ["0000:3b:00.0"]), nodeSelector: ["kubernetes.io/hostname": host.node])
        #expect(
            PlanResolver.resolve([policy], host: host, labels: NodeLabels.of(host, extra: [:])).interfaces.count == 1)
    }

    @Test func aNodeWithoutSRIOVIsLabelledFalse() throws {
        let host = try Umockdev.discover([Fixtures.virtio])
        let labels = NodeLabels.of(host, extra: [:])
        #expect(labels["network-sriov.capable"] == "false")
        let policy = Self.policy(
            "capable", 1, NICSelector(vendor: "8086"), nodeSelector: ["network-sriov.capable": "true"])
        #expect(PlanResolver.resolve([policy], host: host, labels: labels).unmatched.map(\.policy) == ["capable"])
    }

    /// The capability label is read under the key the node was labelled with (`--key`), and always under
    /// node-feature-discovery's key, which operators' manifests select by; the default key only when it is
    /// the one installed.
    @Test(
        arguments: [
            (CapabilityLabel.defaultKey, "network-sriov.capable", true),
            (CapabilityLabel.defaultKey, "feature.node.kubernetes.io/network-sriov.capable", true),
            ("example.com/sriov", "example.com/sriov", true),
            ("example.com/sriov", "feature.node.kubernetes.io/network-sriov.capable", true),
            ("example.com/sriov", "network-sriov.capable", false),
            ("feature.node.kubernetes.io/network-sriov.capable", "network-sriov.capable", false),
        ] as [(String, String, Bool)])
    func theCapabilityIsReadUnderTheInstalledKey(_ installed: String, _ selected: String, _ matches: Bool) throws {
        let host = try Umockdev.discover(Fixtures.server)
        let policy = Self.policy("capable", 2, Self.pf("enp59s0f0"), nodeSelector: [selected: "true"])
        let plan = PlanResolver.resolve([policy], host: host, labels: NodeLabels.of(host, extra: [:], key: installed))
        #expect(plan.interfaces.map(\.numVfs) == (matches ? [2] : []))
        #expect(plan.unmatched.map(\.policy) == (matches ? [] : ["capable"]))
    }

    /// Each key of the nodeSelector the node lacks, or has with another value, is named with what the node has.
    @Test(
        arguments: [
            (["rack": "a"], nil),
            (["rack": "b"], "nodeSelector rack=b does not match this node: it has rack=a"),
            (
                ["zone": "x"],
                "nodeSelector zone=x does not match this node: it has no label zone (--node-label zone=x gives it one)"
            ),
            (
                ["rack": "b", "zone": "x", "kubernetes.io/os": "linux"],
                "nodeSelector rack=b, zone=x does not match this node: it has rack=a; "
                    + "it has no label zone (--node-label zone=x gives it one)"
            ),
        ] as [([String: String], String?)])
    func aSelectorThatMissesNamesTheKey(_ selector: [String: String], _ reason: String?) throws {
        let host = try Umockdev.discover(Fixtures.server)
        let policy = Self.policy("p", 2, Self.pf("enp59s0f0"), nodeSelector: selector)
        let plan = PlanResolver.resolve([policy], host: host, labels: NodeLabels.of(host, extra: ["rack": "a"]))
        #expect(plan.unmatched.map(\.reason) == (reason.map { [$0] } ?? []))
    }

    @Test func planJSONHasTheOperatorsShape() throws {
        let host = try Umockdev.discover(Fixtures.server)
        let plan = PlanResolver.resolve(
            [Self.policy("pods", 8, Self.pf("enp59s0f1", 0...3), mtu: 9000), Self.policy("gone", 1, Self.pf("eth9"))],
            host: host, labels: NodeLabels.of(host, extra: [:]))
        let json = try JSONDocument(PlanReport.json(plan))
        #expect(json["interfaces", 0, "pciAddress"] as? String == "0000:3b:00.1")
        #expect(json["interfaces", 0, "name"] as? String == "enp59s0f1")
        #expect(json["interfaces", 0, "numVfs"] as? Int == 8)
        #expect(json["interfaces", 0, "mtu"] as? Int == 9000)
        #expect(json["interfaces", 0, "vfGroups", 0, "vfRange"] as? String == "0-3")
        #expect(json["interfaces", 0, "vfGroups", 0, "resourceName"] as? String == "pods")
        #expect(json["interfaces", 0, "vfGroups", 0, "deviceType"] as? String == "netdevice")
        #expect(json["interfaces", 0, "vfGroups", 0, "policyName"] as? String == "pods")
        #expect(json["interfaces", 0, "vfGroups", 0, "isRdma"] as? Bool == false)
        #expect(json["unmatched"] as? [String] == ["gone"])
    }

    static func summary(_ interface: PlannedInterface) -> String {
        let groups = interface.vfGroups.map {
            "\($0.vfRange.lowerBound)-\($0.vfRange.upperBound) \($0.resourceName) \($0.deviceType.rawValue)\($0.isRdma ? "+rdma" : "") \($0.policyName)"
        }
        return
            "\(interface.pciAddress) \(interface.name ?? "-") numVfs=\(interface.numVfs) mtu=\(interface.mtu.map(String.init) ?? "-") [\(groups.joined(separator: "; "))]"
    }
}
