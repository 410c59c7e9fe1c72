import Capability
import SRIOVHost
import SRIOVModel
import Testing

/// Rules between policies, and against the live host's NICs.
@Suite struct PolicyRulesTests {
    @Test(arguments: [
        (
            "same name twice",
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "8086"}}"#)
                + PolicyManifest.policy("a", #"{resourceName: s, numVfs: 4, nicSelector: {vendor: "8086"}}"#),
            #"one.yaml: policy "a": metadata.name: is defined twice (also in one.yaml); policy names must be unique"#
        ),
        (
            "overlapping VF ranges",
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 8, nicSelector: {pfNames: ["eth1#0-3"]}}"#)
                + PolicyManifest.policy("b", #"{resourceName: s, numVfs: 8, nicSelector: {pfNames: ["eth1#3-7"]}}"#),
            #"one.yaml: policy "b": spec.nicSelector.pfNames: the VF range of "eth1#3-7" overlaps "eth1#0-3" of policy "a"; give each policy its own VFs of eth1"#
        ),
        (
            "one PF taken whole by two policies",
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 4, nicSelector: {pfNames: ["eth1"]}}"#)
                + PolicyManifest.policy("b", #"{resourceName: s, numVfs: 8, nicSelector: {pfNames: ["eth1"]}}"#),
            #"one.yaml: policy "b": spec.nicSelector.pfNames: "#
                + #""eth1" selects every VF of eth1, as does "eth1" of policy "a"; "#
                + #"give each policy its own VF range of eth1, e.g. "eth1#0-3" and "eth1#4-7""#
        ),
        (
            "a range that overlaps the furthest-reaching one",
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 16, nicSelector: {pfNames: ["eth1#0-9"]}}"#)
                + PolicyManifest.policy("b", #"{resourceName: s, numVfs: 16, nicSelector: {pfNames: ["eth1#2-3"]}}"#)
                + PolicyManifest.policy("c", #"{resourceName: t, numVfs: 16, nicSelector: {pfNames: ["eth1#9-15"]}}"#),
            #"one.yaml: policy "b": spec.nicSelector.pfNames: "#
                + #"the VF range of "eth1#2-3" overlaps "eth1#0-9" of policy "a"; "#
                + "give each policy its own VFs of eth1\n"
                + #"one.yaml: policy "c": spec.nicSelector.pfNames: "#
                + #"the VF range of "eth1#9-15" overlaps "eth1#0-9" of policy "a"; "#
                + "give each policy its own VFs of eth1"
        ),
        (
            "one root device in two policies",
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 4, nicSelector: {rootDevices: ["0000:3b:00.0"]}}"#)
                + PolicyManifest.policy(
                    "b", #"{resourceName: s, numVfs: 4, nicSelector: {rootDevices: ["0000:3b:00.0"]}}"#),
            #"one.yaml: policy "b": spec.nicSelector.rootDevices: root device 0000:3b:00.0 is also selected by policy "a"; a PF can be a root device of one policy only"#
        ),
        (
            "excludeTopology differs for one resource",
            PolicyManifest.policy(
                "a", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "8086"}, excludeTopology: true}"#)
                + PolicyManifest.policy("b", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "15b3"}}"#),
            #"one.yaml: policy "b": spec.excludeTopology: is false but policy "a" sets true for the same resource r; make them equal"#
        ),
        (
            "two link types on one PF",
            PolicyManifest.policy(
                "a", #"{resourceName: r, numVfs: 8, linkType: eth, nicSelector: {pfNames: ["ib0#0-1"]}}"#)
                + PolicyManifest.policy(
                    "b", #"{resourceName: s, numVfs: 8, linkType: IB, nicSelector: {pfNames: ["ib0#2-3"]}}"#),
            #"one.yaml: policy "b": spec.linkType: is IB but policy "a" sets ETH on the same PF; a PF has one link type"#
        ),
    ])
    func rejectsConflicts(_ label: String, _ text: String, _ message: String) throws {
        let file = try TemporaryFolder()
        try file.write("one.yaml", text)
        let input = PolicyInput.load([file.path("one.yaml")])
        #expect(
            input.problems.map { $0.description.replacingOccurrences(of: file.path(""), with: "") }
                == message.split(separator: "\n").map(String.init))
    }

    /// The webhook reads a PF name without a range as the range -1..-1, which never
    /// overlaps a real range; resolution then gives the shared VFs to the higher priority.
    @Test func aWholePFAndARangeOfItAreAcceptedAsTheWebhookDoes() throws {
        let file = try TemporaryFolder()
        let whole = #"{resourceName: r, numVfs: 8, priority: 10, nicSelector: {pfNames: ["enp59s0f0"]}}"#
        let range = #"{resourceName: s, numVfs: 8, priority: 5, nicSelector: {pfNames: ["enp59s0f0#4-7"]}}"#
        try file.write("ok.yaml", PolicyManifest.policy("a", whole) + PolicyManifest.policy("b", range))
        let input = PolicyInput.load([file.path("ok.yaml")])
        #expect(input.problems.isEmpty)
        let plan = PlanResolver.resolve(input.policies, host: try Self.host(), labels: [:])
        #expect(plan.interfaces.first?.vfGroups.map { "\($0.policyName) \($0.vfRange)" } == ["b 4...7"])
    }

    @Test func disjointRangesAndSeparateCardsAreFine() throws {
        let file = try TemporaryFolder()
        try file.write(
            "ok.yaml",
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 8, nicSelector: {pfNames: ["eth1#0-3"]}}"#)
                + PolicyManifest.policy("b", #"{resourceName: s, numVfs: 8, nicSelector: {pfNames: ["eth1#4-7"]}}"#)
                + PolicyManifest.policy(
                    "c", #"{resourceName: r, numVfs: 2, nicSelector: {rootDevices: ["0000:af:00.0"]}}"#))
        let input = PolicyInput.load([file.path("ok.yaml")])
        #expect(input.problems.isEmpty)
        #expect(input.policies.count == 3)
    }

    @Test func aMissingFileIsAProblemNamingIt() {
        let input = PolicyInput.load(["/nonexistent/policies.yaml"])
        #expect(
            input.problems.map(\.description) == [
                "/nonexistent/policies.yaml: cannot read: No such file or directory (ENOENT)"
            ])
    }

    // MARK: host checks

    static func host() throws -> HostInventory {
        var noIOMMU = Fixtures.x82576
        noIOMMU.iommuGroup = nil
        return try Umockdev.discover([Fixtures.x710, noIOMMU] + Fixtures.connectX5Ports)
    }

    static func spec(
        _ numVfs: Int, _ selector: NICSelector, deviceType: DeviceType = .netdevice, linkType: String? = nil
    ) -> PolicySpec {
        PolicySpec(resourceName: "r", numVfs: numVfs, nicSelector: selector, deviceType: deviceType, linkType: linkType)
    }

    @Test(arguments: [
        (
            spec(65, NICSelector(pfNames: [PFName(name: "enp59s0f0")])),
            #"f.yaml: policy "p": spec.numVfs: asks for 65 VFs on enp59s0f0 (0000:3b:00.0), which allows at most 64 (sriov_totalvfs)"#
        ),
        (
            spec(8, NICSelector(rootDevices: ["0000:01:00.0"])),
            #"f.yaml: policy "p": spec.numVfs: asks for 8 VFs on enp1s0 (0000:01:00.0), which allows at most 7 (sriov_totalvfs)"#
        ),
        (
            spec(2, NICSelector(deviceID: "10c9"), deviceType: .vfioPCI),
            #"f.yaml: policy "p": spec.deviceType: vfio-pci needs an IOMMU, but enp1s0 (0000:01:00.0) has no iommu_group: enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (or amd_iommu=on)"#
        ),
        (
            spec(2, NICSelector(rootDevices: ["0000:86:00.1"]), linkType: "IB"),
            #"f.yaml: policy "p": spec.linkType: is IB but ens3f1np1 (0000:86:00.1) is ETH; harvester-sriov does not change a port's link type (use the vendor's tool, e.g. mlxconfig LINK_TYPE_P1)"#
        ),
    ])
    func rejectsWhatTheHostCannotDo(_ spec: PolicySpec, _ message: String) throws {
        let checked = PolicyRules.checkHost(
            [NodePolicy(name: "p", spec: spec)], host: try Self.host(), origins: ["p": "f.yaml"])
        #expect(checked.errors.map(\.description) == [message])
        #expect(checked.warnings.isEmpty)
    }

    @Test func mellanoxIsCappedAt128EvenWhenTheKernelAllowsMore() throws {
        var card = Fixtures.connectX5Ports[0]
        card.sriov!.kernelTotalVFs = 255
        let host = try Umockdev.discover([card])
        let checked = PolicyRules.checkHost(
            [NodePolicy(name: "p", spec: Self.spec(130, NICSelector(vendor: "15b3")))], host: host, origins: [:])
        #expect(
            checked.errors.map(\.description) == [
                #"stored state: policy "p": spec.numVfs: asks for 130 VFs on Mellanox ens3f0np0 (0000:86:00.0); the operator allows at most 128"#
            ])
    }

    @Test func selectorsThatMatchNoPFAreWarnings() throws {
        let policy = NodePolicy(
            name: "p", spec: Self.spec(2, NICSelector(rootDevices: ["0000:99:00.0"], pfNames: [PFName(name: "eth9")])))
        let checked = PolicyRules.checkHost([policy], host: try Self.host(), origins: ["p": "f.yaml"])
        #expect(checked.errors.isEmpty)
        #expect(
            checked.warnings.map(\.description) == [
                #"f.yaml: policy "p": spec.nicSelector.pfNames: no SR-IOV PF named eth9 on this node (harvester-sriov detect lists them)"#,
                #"f.yaml: policy "p": spec.nicSelector.rootDevices: no SR-IOV PF at 0000:99:00.0 on this node (harvester-sriov detect lists them)"#,
            ])
    }
}
