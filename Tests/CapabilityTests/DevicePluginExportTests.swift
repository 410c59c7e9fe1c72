import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `export device-plugin`: the sriov-network-device-plugin config for this node's plan.
@Suite struct DevicePluginExportTests {
    static let schema = SchemaCheck.schema("sriov-device-plugin-config.schema.json")

    static func policy(
        _ name: String, _ resource: String, _ numVfs: Int, _ selector: NICSelector, deviceType: DeviceType = .netdevice,
        isRdma: Bool = false, linkType: String? = nil, needVhostNet: Bool = false, excludeTopology: Bool = false
    ) -> NodePolicy {
        NodePolicy(
            name: name,
            spec: PolicySpec(
                resourceName: resource, numVfs: numVfs, nicSelector: selector, deviceType: deviceType, isRdma: isRdma,
                linkType: linkType, needVhostNet: needVhostNet, excludeTopology: excludeTopology))
    }

    static func pf(_ name: String, _ range: ClosedRange<Int>? = nil) -> NICSelector {
        NICSelector(pfNames: [PFName(name: name, range: range)])
    }

    /// Three resources over five PFs of two vendors: ranges on one PF split between a netdevice and a
    /// vfio-pci resource, a resource over two card models, one over both ports of a ConnectX-5.
    static let mixed = [
        policy("x710-pods", "pods", 8, pf("enp59s0f0", 0...3)),
        policy("x710-vms", "vms", 8, pf("enp59s0f0", 4...7), deviceType: .vfioPCI),
        policy("port1-vms", "vms", 6, pf("enp59s0f1", 2...5), deviceType: .vfioPCI),
        policy("e810-pods", "pods", 4, NICSelector(vendor: "8086", deviceID: "1592")),
        policy(
            "mlx-rdma", "rdma", 2, NICSelector(vendor: "15b3"), isRdma: true, linkType: "ETH", needVhostNet: true,
            excludeTopology: true),
    ]

    struct Rendered {
        let host: HostInventory
        let plan: NodePlan
        let config: DevicePluginConfig
    }

    static func render(
        _ policies: [NodePolicy], on functions: [FakeFunction] = Fixtures.server,
        prefix: String = ResourcePrefix.standard,
        edit: (inout HostInventory) -> Void = { _ in }
    ) throws -> Rendered {
        var host = try Umockdev.discover(functions)
        edit(&host)
        let plan = PlanResolver.resolve(policies, host: host, labels: [:])
        return Rendered(
            host: host, plan: plan,
            config: DevicePluginConfig(plan: plan, host: host, policies: policies, prefix: prefix))
    }

    @Test func onePoolPerResourceWithThePlansRangesVendorsAndDevices() throws {
        let config = try Self.render(Self.mixed).config
        #expect(config.notes == [])
        #expect(
            config.json() == """
                {
                  "resourceList" : [
                    {
                      "deviceType" : "netDevice",
                      "resourceName" : "pods",
                      "resourcePrefix" : "harvester-sriov.io",
                      "selectors" : {
                        "devices" : [
                          "154c",
                          "1889"
                        ],
                        "isRdma" : false,
                        "pfNames" : [
                          "enp59s0f0#0-3",
                          "ens801f0#0-3"
                        ],
                        "vendors" : [
                          "8086"
                        ]
                      }
                    },
                    {
                      "deviceType" : "netDevice",
                      "excludeTopology" : true,
                      "resourceName" : "rdma",
                      "resourcePrefix" : "harvester-sriov.io",
                      "selectors" : {
                        "devices" : [
                          "1018"
                        ],
                        "isRdma" : true,
                        "linkTypes" : [
                          "ether"
                        ],
                        "needVhostNet" : true,
                        "pfNames" : [
                          "ens3f0np0#0-1",
                          "ens3f1np1#0-1"
                        ],
                        "vendors" : [
                          "15b3"
                        ]
                      }
                    },
                    {
                      "deviceType" : "netDevice",
                      "resourceName" : "vms",
                      "resourcePrefix" : "harvester-sriov.io",
                      "selectors" : {
                        "devices" : [
                          "154c"
                        ],
                        "drivers" : [
                          "vfio-pci"
                        ],
                        "isRdma" : false,
                        "pfNames" : [
                          "enp59s0f0#4-7",
                          "enp59s0f1#2-5"
                        ],
                        "vendors" : [
                          "8086"
                        ]
                      }
                    }
                  ]
                }

                """)
    }

    static let plans: [(String, [NodePolicy])] = [
        ("mixed", mixed),
        (
            "one resource on every Intel PF, whole and split",
            [
                policy("all-intel", "intel", 4, NICSelector(vendor: "8086")),
                policy("x710-high", "high", 8, pf("enp59s0f0", 4...7), deviceType: .vfioPCI),
            ]
        ),
        (
            "netdevice and vfio-pci in one resource",
            [
                policy("a", "shared", 4, pf("enp59s0f0", 0...1)),
                policy("b", "shared", 4, pf("enp59s0f1", 2...3), deviceType: .vfioPCI),
                policy("c", "other", 4, pf("ens801f0")),
            ]
        ),
    ]

    /// The property the export exists for, checked with a stand-in for the plugin's selectors: over
    /// every VF each PF can have (and the VFs outside the plan on either driver), a pool selects
    /// exactly the VFs the plan gives its resource.
    @Test(arguments: plans.map(\.0))
    func eachPoolHoldsExactlyThePlannedVFsOfItsResource(label: String) throws {
        let policies = try #require(Self.plans.first { $0.0 == label }?.1)
        let rendered = try Self.render(policies)
        let resources = Set(rendered.plan.interfaces.flatMap { $0.vfGroups.map(\.resourceName) })
        #expect(rendered.config.pools.map(\.resourceName) == resources.sorted())
        let candidates = DevicePluginSelection.candidates(rendered.host, plan: rendered.plan)
        for pool in rendered.config.pools {
            let selected = DevicePluginSelection.select(pool, from: candidates)
            let planned = DevicePluginSelection.planned(pool.resourceName, host: rendered.host, plan: rendered.plan)
            #expect(!planned.isEmpty)
            #expect(selected == planned, "pool \(pool.resourceName)")
        }
    }

    @Test func aResourceOfBothDeviceTypesNamesNoDriverAndSaysSo() throws {
        let config = try Self.render(Self.plans[2].1).config
        #expect(config.pools.map(\.drivers) == [[], []])
        #expect(
            config.notes == [
                "resource shared has netdevice and vfio-pci VFs; its pool names no driver, so it offers each VF "
                    + "whatever driver it has; give the vfio-pci VFs a resourceName of their own"
            ])
    }

    @Test func isRdmaSetOnSomeGroupsOnlyIsLeftFalseAndSaid() throws {
        let config = try Self.render([
            Self.policy("rdma-0", "mlx", 2, Self.pf("ens3f0np0"), isRdma: true),
            Self.policy("plain-1", "mlx", 2, Self.pf("ens3f1np1")),
        ]).config
        #expect(config.pools.map(\.isRdma) == [false])
        #expect(
            config.notes == [
                "resource mlx has VFs with isRdma and VFs without; its pool leaves isRdma false so that it keeps "
                    + "all of them; set isRdma alike in its policies"
            ])
    }

    @Test func anEmptyPlanGivesAnEmptyResourceListAndANote() throws {
        let rendered = try Self.render([Self.policy("none", "none", 2, NICSelector(vendor: "14e4"))])
        #expect(rendered.plan.interfaces.isEmpty)
        #expect(rendered.config.json() == "{\n  \"resourceList\" : [\n\n  ]\n}\n")
        #expect(
            rendered.config.notes == [
                "the plan gives no VFs to any resource on node \(rendered.host.node); the device plugin gets an "
                    + "empty resourceList and advertises nothing"
            ])
    }

    /// pfNames cannot name a PF without a netdev; the other selectors alone would take every VF of the model.
    @Test func aPFWithoutAnInterfaceNameIsLeftOutNotWidened() throws {
        let rendered = try Self.render(
            [
                Self.policy("by-address", "vfs", 4, NICSelector(rootDevices: ["0000:3b:00.1"])),
                Self.policy("by-name", "named", 4, Self.pf("enp59s0f0")),
                Self.policy("both", "named", 4, NICSelector(rootDevices: ["0000:af:00.0"])),
            ],
            edit: { host in
                for index in host.interfaces.indices where host.interfaces[index].address.description != "0000:3b:00.0"
                {
                    host.interfaces[index].function.netdevs = []
                }
            })
        #expect(rendered.config.pools.map(\.resourceName) == ["named"])
        #expect(rendered.config.pools.map(\.pfNames) == [["enp59s0f0#0-3"]])
        #expect(
            rendered.config.notes == [
                "0000:af:00.0: the PF has no interface name, so the device plugin cannot pick its VFs 0-3; they are "
                    + "left out of resource named",
                "0000:3b:00.1: the PF has no interface name, so the device plugin cannot pick its VFs 0-3; they are "
                    + "left out of resource vfs",
                "resource vfs gets no pool: none of its PFs has an interface name",
            ])
    }

    /// Issue 19: a PF the plan marks impossible (more VFs than sriov_totalvfs) gets no pool of VFs that never
    /// exist ("#0-9223372036854775806"), with a note; the other resources keep theirs.
    @Test func aPFThePlanCannotCarryOutIsLeftOutWithANote() throws {
        let rendered = try Self.render([
            Self.policy("huge", "huge", Int.max, Self.pf("enp59s0f0")),
            Self.policy("fine", "fine", 4, Self.pf("enp59s0f1")),
        ])
        let impossible = try #require(rendered.plan.interfaces.first { $0.name == "enp59s0f0" })
        #expect(!impossible.problems.isEmpty)
        #expect(rendered.config.pools.map(\.resourceName) == ["fine"])
        #expect(!rendered.config.json().contains("9223372036854775806"))
        #expect(rendered.config.notes.count == 2, "\(rendered.config.notes)")
        #expect(
            rendered.config.notes.first?.hasPrefix(
                "enp59s0f0: its VFs 0-9223372036854775806 are left out of resource huge: the plan cannot be carried out ("
            ) == true, "\(rendered.config.notes)")
        #expect(rendered.config.notes.last == "resource huge gets no pool: the plan can carry out none of its PFs")
    }

    @Test func theResourcePrefixIsEveryPools() throws {
        let config = try Self.render(Self.mixed, prefix: "example.com").config
        #expect(config.pools.map(\.resourcePrefix) == ["example.com", "example.com", "example.com"])
    }

    // MARK: - The command

    /// A target root holding the policies, as `policy apply --root` stores them.
    static func appliedRoot(_ folder: TemporaryFolder, testbed: Testbed, manifests: String) throws -> String {
        let root = try folder.folder("target")
        try folder.write("policies.yaml", manifests)
        let apply = try Umockdev.run(
            ["policy", "apply", "--root", root, folder.path("policies.yaml")], in: testbed.root)
        #expect(apply.status == 0, "\(apply.stderr)")
        return root
    }

    static let manifests =
        PolicyManifest.policy(
            "x710-pods", #"{resourceName: pods, numVfs: 8, nicSelector: {pfNames: ["enp59s0f0#0-3"]}}"#)
        + PolicyManifest.policy(
            "x710-vms",
            #"{resourceName: vms, numVfs: 8, deviceType: vfio-pci, nicSelector: {pfNames: ["enp59s0f0#4-7"]}}"#)
        + PolicyManifest.policy(
            "port1-vms",
            #"{resourceName: vms, numVfs: 6, deviceType: vfio-pci, nicSelector: {pfNames: ["enp59s0f1#2-5"]}}"#)
        + PolicyManifest.policy(
            "e810-pods", #"{resourceName: pods, numVfs: 4, nicSelector: {vendor: "8086", deviceID: "1592"}}"#)
        + PolicyManifest.policy(
            "mlx-rdma", #"{resourceName: rdma, numVfs: 2, isRdma: true, linkType: eth, nicSelector: {vendor: "15b3"}}"#)

    @Test(.enabled(if: SchemaCheck.available), arguments: [[], ["--resource-prefix", "example.com"]])
    func theConfigValidatesAgainstThePluginsTypes(extra: [String]) throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed(Fixtures.server)
        let root = try Self.appliedRoot(folder, testbed: testbed, manifests: Self.manifests)
        let exported = try Umockdev.run(["export", "device-plugin", "--root", root] + extra, in: testbed.root)
        #expect(exported.status == 0)
        #expect(exported.stderr == "")
        #expect(exported.stdout.contains(#""enp59s0f1#2-5""#))
        let check = try SchemaCheck.validate(exported.stdout, against: Self.schema)
        #expect(check.stderr == "")
        #expect(check.stdout == "valid\n")
        #expect(check.status == 0)
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theSchemaRefusesAMisspelledSelector() throws {
        let check = try SchemaCheck.validate(
            #"{"resourceList": [{"resourceName": "a", "selectors": {"pfName": ["ens1#0-3"]}}]}"#, against: Self.schema)
        #expect(check.status != 0)
        #expect(check.stderr.contains("is not valid under any of the given schemas"))
    }

    @Test func writeInstallsTheFileOnceAndPrintsWhatItDid() throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed(Fixtures.server)
        let root = try Self.appliedRoot(folder, testbed: testbed, manifests: Self.manifests)
        let printed = try Umockdev.run(["export", "device-plugin", "--root", root], in: testbed.root)
        let first = try Umockdev.run(["export", "device-plugin", "--root", root, "--write"], in: testbed.root)
        #expect(first.status == 0)
        #expect(first.stdout == "created \(root)/etc/pcidp/config.json\n")
        #expect(try folder.read("target/etc/pcidp/config.json") == printed.stdout)
        let again = try Umockdev.run(["export", "device-plugin", "--root", root, "--write"], in: testbed.root)
        #expect(again.stdout == "unchanged \(root)/etc/pcidp/config.json\n")
        #expect(again.status == 0)
    }

    @Test func aBadPrefixIsAUsageErrorAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed(Fixtures.server)
        let root = try Self.appliedRoot(folder, testbed: testbed, manifests: Self.manifests)
        let result = try Umockdev.run(
            ["export", "device-plugin", "--root", root, "--write", "--resource-prefix", "kubernetes.io"],
            in: testbed.root)
        #expect(result.status == 64)
        #expect(result.stdout == "")
        #expect(
            result.stderr
                == "harvester-sriov: --resource-prefix \"kubernetes.io\" is reserved for Kubernetes; "
                + "use a domain of your own\n")
        #expect(!folder.exists("target/etc/pcidp"))
    }

    @Test func aSymlinkedFolderIsRefusedAndNothingIsWrittenThrough() throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed(Fixtures.server)
        let root = try Self.appliedRoot(folder, testbed: testbed, manifests: Self.manifests)
        let elsewhere = try folder.folder("elsewhere")
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/pcidp", withDestinationPath: elsewhere)
        let result = try Umockdev.run(["export", "device-plugin", "--root", root, "--write"], in: testbed.root)
        #expect(result.status == 77)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("harvester-sriov: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == [])
    }
}
