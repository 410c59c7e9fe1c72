import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `export kubevirt`: the merge patch that permits this node's vfio-pci pools in the KubeVirt CR.
@Suite struct KubeVirtExportTests {
    static let schema = SchemaCheck.schema("kubevirt.io_kubevirts.permittedHostDevices.yaml")
    typealias D = DevicePluginExportTests

    static let port0 = Catalog.pf(
        .x82599, at: "0000:04:00.0", name: "enp4s0f0", mac: "90:e2:ba:11:22:30", iommuGroup: 20)
    static let port1 = Catalog.pf(
        .x82599, at: "0000:04:00.1", name: "enp4s0f1", mac: "90:e2:ba:11:22:31", iommuGroup: 21)

    struct Rendered {
        let host: HostInventory
        let plan: NodePlan
        let devices: KubeVirtDevices
    }

    static func render(
        _ policies: [NodePolicy], on functions: [FakeFunction] = Fixtures.server,
        edit: (inout HostInventory) -> Void = { _ in }
    ) throws -> Rendered {
        var host = try Umockdev.discover(functions)
        edit(&host)
        let plan = PlanResolver.resolve(policies, host: host, labels: [:])
        let devices = try KubeVirtDevices(plan: plan, host: host, prefix: ResourcePrefix.standard)
        return Rendered(host: host, plan: plan, devices: devices)
    }

    static let whole = [D.policy("vms", "vms", 4, D.pf("enp4s0f0"), deviceType: .vfioPCI)]

    @Test func aResourceThatAloneHoldsItsIDIsServedByKubeVirtsOwnPlugin() throws {
        let devices = try Self.render(Self.whole, on: [Self.port0]).devices
        #expect(devices.notes == [])
        #expect(
            devices.json() == """
                {
                  "spec" : {
                    "configuration" : {
                      "permittedHostDevices" : {
                        "pciHostDevices" : [
                          {
                            "externalResourceProvider" : false,
                            "pciVendorSelector" : "8086:10ed",
                            "resourceName" : "harvester-sriov.io/vms"
                          }
                        ]
                      }
                    }
                  }
                }

                """)
    }

    /// Other VFs of the entry's ID: a netdevice resource's are on their net driver (restore keeps them there), so
    /// KubeVirt's plugin, which takes only vfio-pci devices, leaves them; VFs no policy holds are said once.
    static let sharing: [(String, [NodePolicy], [FakeFunction], [String])] = [
        (
            "a netdevice resource on the PF", D.mixed, Fixtures.server,
            [
                "8086:154c is also the VF ID of VFs of enp59s0f1 that no policy's range takes; KubeVirt's device plugin "
                    + "serves every device of that ID bound to vfio-pci as resource vms, so keep those on their network "
                    + "driver"
            ]
        ),
        (
            "a PF no policy selects", whole, [port0, port1],
            [
                "8086:10ed is also the VF ID of PF enp4s0f1's VFs (no policy selects it); KubeVirt's device plugin "
                    + "serves every device of that ID bound to vfio-pci as resource vms, so keep those on their network "
                    + "driver"
            ]
        ),
        (
            "VFs outside every range", [D.policy("vms", "vms", 8, D.pf("enp4s0f0", 0...3), deviceType: .vfioPCI)],
            [port0],
            [
                "8086:10ed is also the VF ID of VFs of enp4s0f0 that no policy's range takes; KubeVirt's device "
                    + "plugin serves every device of that ID bound to vfio-pci as resource vms, so keep those on "
                    + "their network driver"
            ]
        ),
        (
            "a netdevice resource on another PF",
            [
                D.policy("a", "vms", 4, D.pf("enp4s0f0"), deviceType: .vfioPCI),
                D.policy("b", "pods", 4, D.pf("enp4s0f1")),
            ], [port0, port1], []
        ),
    ]

    @Test(arguments: sharing.map(\.0))
    func entriesAreForKubeVirtsOwnPluginAndStraysAreSaidOnce(label: String) throws {
        let (_, policies, functions, notes) = try #require(Self.sharing.first { $0.0 == label })
        let devices = try Self.render(policies, on: functions).devices
        #expect(devices.entries.map(\.resourceName) == ["harvester-sriov.io/vms"])
        #expect(devices.notes == notes)
        #expect(devices.json().contains(#""externalResourceProvider" : false"#))
        #expect(!devices.json().contains("true"))
    }

    /// KubeVirt's own plugin takes every vfio-pci device of an entry's ID (virt-handler
    /// device_controller.go, pci_device.go); over every VF each PF can have, on either driver when
    /// no policy gives it one, that is exactly the resource's planned VFs wherever no note says otherwise.
    @Test(arguments: sharing.map(\.0) + ["whole"])
    func anEntryKubeVirtServesHoldsExactlyThePlannedVFsUnlessANoteSaysSo(label: String) throws {
        var (policies, functions) = (Self.whole, [Self.port0])
        if let sharing = Self.sharing.first(where: { $0.0 == label }) { (policies, functions) = (sharing.1, sharing.2) }
        let rendered = try Self.render(policies, on: functions)
        let candidates = DevicePluginSelection.candidates(rendered.host, plan: rendered.plan)
        for entry in rendered.devices.entries {
            let pooled = Set(
                candidates.filter { "\($0.vendor):\($0.device)" == entry.pciVendorSelector && $0.driver == "vfio-pci" })
            let resource = String(entry.resourceName.dropFirst(ResourcePrefix.standard.count + 1))
            let planned = DevicePluginSelection.planned(resource, host: rendered.host, plan: rendered.plan)
            #expect((pooled == planned) == rendered.devices.notes.isEmpty)
            #expect(planned.isSubset(of: pooled))
        }
    }

    /// KubeVirt keys its plugins by the selector: a second entry of one ID replaces the first
    /// (device_controller.go, `supportedPCIDeviceMap[selector] = resourceName`, kubevirt v1.8.3).
    @Test func twoResourcesOnOneVFIDAreRefusedInOneLine() throws {
        #expect(
            throws: SRIOVError.cluster(
                .rejected,
                "resources vms_a and vms_b all have vfio-pci VFs of ID 8086:10ed, and KubeVirt's PCI device plugin "
                    + "serves one resource per vendor:device ID (discoverPermittedHostPCIDevices): make all but one of "
                    + "them deviceType netdevice, or one resource of both; on Harvester, claim the VFs instead "
                    + "(harvester-sriov pcidevices --claim)")
        ) {
            try Self.render(
                [
                    D.policy("a", "vms_a", 4, D.pf("enp4s0f0"), deviceType: .vfioPCI),
                    D.policy("b", "vms_b", 4, D.pf("enp4s0f1"), deviceType: .vfioPCI),
                ], on: [Self.port0, Self.port1])
        }
    }

    @Test func oneEntryPerResourceAndID() throws {
        let devices = try Self.render([
            D.policy("x710", "vms", 8, NICSelector(vendor: "8086", deviceID: "1572"), deviceType: .vfioPCI),
            D.policy("e810", "vms", 4, D.pf("ens801f0"), deviceType: .vfioPCI),
            D.policy("mlx", "mlx_vms", 2, NICSelector(vendor: "15b3"), deviceType: .vfioPCI),
        ]).devices
        #expect(
            devices.entries.map { "\($0.resourceName) \($0.pciVendorSelector)" } == [
                "harvester-sriov.io/mlx_vms 15b3:1018",
                "harvester-sriov.io/vms 8086:154c",
                "harvester-sriov.io/vms 8086:1889",
            ])
    }

    @Test func noVfioPCIPoolLeavesTheListAlone() throws {
        let rendered = try Self.render([D.policy("pods", "pods", 4, D.pf("enp4s0f0"))], on: [Self.port0])
        #expect(
            rendered.devices.json()
                == """
                {
                  "spec" : {
                    "configuration" : {
                      "permittedHostDevices" : {

                      }
                    }
                  }
                }

                """
        )
        #expect(
            rendered.devices.notes == [
                "the plan has no vfio-pci VFs on node \(rendered.host.node); the patch leaves pciHostDevices as it is"
            ])
    }

    @Test func anUnknownVFIDGivesNoEntryAndSaysWhy() throws {
        let rendered = try Self.render(
            Self.whole, on: [Self.port0],
            edit: { host in
                host.interfaces[0].capability = nil
                host.interfaces[0].vfs = []
            })
        #expect(rendered.devices.entries.isEmpty)
        #expect(
            rendered.devices.notes == [
                "enp4s0f0: the VFs' device ID is unknown (no SR-IOV capability read and no VF yet), so resource vms "
                    + "gets no entry from this PF; run again once its VFs exist",
                "the plan has no vfio-pci VFs on node \(rendered.host.node); the patch leaves pciHostDevices as it is",
            ])
    }

    // MARK: - The command

    @Test(.enabled(if: SchemaCheck.available))
    func thePatchValidatesAgainstKubeVirtsSchema() throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed(Fixtures.server)
        let root = try D.appliedRoot(folder, testbed: testbed, manifests: D.manifests)
        let exported = try Umockdev.run(["export", "kubevirt", "--root", root], in: testbed.root)
        #expect(exported.status == 0)
        #expect(exported.stdout.contains(#""resourceName" : "harvester-sriov.io/vms""#))
        #expect(
            exported.stderr
                == "harvester-sriov: note: 8086:154c is also the VF ID of VFs of enp59s0f1 that no policy's range "
                + "takes; KubeVirt's device plugin serves every device of that ID bound to vfio-pci as resource vms, "
                + "so keep those on their network driver\n")
        let check = try SchemaCheck.validate(exported.stdout, against: Self.schema)
        #expect(check.stderr == "")
        #expect(check.stdout == "valid\n")
        #expect(check.status == 0)
    }

    /// On Harvester the PCI devices addon owns permittedHostDevices, and its network webhook refuses sriov
    /// NetworkAttachmentDefinitions: both exports end before any file is read, with nothing on stdout.
    @Test(arguments: [
        (["export", "kubevirt"], KubeVirtDevices.harvesterRefusal),
        (["export", "network", "/nonexistent/network.yaml"], NetworkAttachment.harvesterRefusal),
    ])
    func theHarvesterLayoutRefusesExportsHarvesterWouldRefuse(command: [String], message: String) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("node")
        try FileManager.default.createDirectory(atPath: root + "/oem", withIntermediateDirectories: true)
        let refused = try Umockdev.runBinary(command + ["--root", root])
        #expect(refused.status == 65)
        #expect(refused.stdout == "")
        #expect(refused.stderr == "harvester-sriov: \(message)\n")
    }

    @Test func theExternalResourceProviderFlagIsGone() throws {
        let result = try Umockdev.runBinary(["export", "kubevirt", "--external-resource-provider"])
        #expect(result.status == 64)
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theEmptyPatchValidatesToo() throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed(Fixtures.server)
        let root = try D.appliedRoot(
            folder, testbed: testbed,
            manifests: PolicyManifest.policy(
                "pods", #"{resourceName: pods, numVfs: 2, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        let exported = try Umockdev.run(["export", "kubevirt", "--root", root], in: testbed.root)
        #expect(exported.status == 0)
        #expect(exported.stderr.hasPrefix("harvester-sriov: note: the plan has no vfio-pci VFs on node "))
        let check = try SchemaCheck.validate(exported.stdout, against: Self.schema)
        #expect(check.stdout == "valid\n")
        #expect(check.status == 0)
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theSchemaRefusesAnEntryWithoutResourceName() throws {
        let check = try SchemaCheck.validate(
            #"{"spec": {"configuration": {"permittedHostDevices": {"pciHostDevices": "#
                + #"[{"pciVendorSelector": "8086:154c"}]}}}}"#,
            against: Self.schema)
        #expect(check.status != 0)
        #expect(check.stderr.contains("'resourceName' is a required property"))
    }

    @Test func aBadPrefixIsAUsageError() throws {
        let result = try Umockdev.runBinary(["export", "kubevirt", "--resource-prefix", "Not A Domain"])
        #expect(result.status == 64)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("harvester-sriov: --resource-prefix "))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
