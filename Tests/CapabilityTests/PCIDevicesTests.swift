import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Living with Harvester's PCI devices addon: which of its SRIOVNetworkDevice objects conflict with
/// the plan, what status and restore say when VFs vanish, and `pcidevices` through the real kubectl
/// against the API server's test double (Support/FakeAPIServer.py).
@Suite struct PCIDevicesTests {
    typealias H = RestoreHarness
    static let node = "worker-1"
    static let plan = NodePlan(
        interfaces: [
            PlannedInterface(
                pciAddress: PCIAddress("0000:3b:00.0")!, name: "enp59s0f0", numVfs: 4, vfGroups: [],
                numVfsPolicy: "x710"),
            PlannedInterface(
                pciAddress: PCIAddress("0000:af:00.0")!, name: "ens801f0", numVfs: 300, vfGroups: [],
                numVfsPolicy: "e810", problems: ["too many"]),
        ], unmatched: [])

    static func device(_ name: String, _ address: String, node: String = node, numVFs: Int = 0)
        -> PCIDevicesAddon.Device
    {
        PCIDevicesAddon.Device(name: name, address: address, nodeName: node, numVFs: numVFs)
    }

    @Test(arguments: [
        (device("worker-1-enp59s0f0", "0000:3b:00.0"), true),
        (device("worker-1-enp59s0f0", "0000:3b:00.0", numVFs: 4), false),
        (device("worker-1-enp59s0f0", "0000:3b:00.0", numVFs: 8), true),
        (device("worker-2-enp59s0f0", "0000:3b:00.0", node: "worker-2"), false),
        (device("worker-1-enp59s0f1", "0000:3b:00.1"), false),
        (device("worker-1-ens801f0", "0000:af:00.0"), false),
        (device("worker-1-odd", "not-an-address"), false),
    ])
    func anObjectConflictsOnlyWhereThePlanGivesItsPFAnotherCount(
        _ device: PCIDevicesAddon.Device, conflicts: Bool
    ) {
        let found = PCIDevicesAddon.conflicts([device], plan: Self.plan, node: Self.node)
        #expect(found.count == (conflicts ? 1 : 0))
        if conflicts {
            #expect(found[0].planned == 4)
            #expect(
                found[0].fix
                    == #"kubectl patch sriovnetworkdevices.devices.harvesterhci.io worker-1-enp59s0f0 --type merge -p '{"spec":{"numVFs":4}}'"#
            )
        }
    }

    @Test func objectNamesAreTheAddonsLowercasedNodeAndInterface() {
        #expect(PCIDevicesAddon.objectName(node: "Node-A", interface: "enP59s0f0") == "node-a-enp59s0f0")
    }

    @Test(arguments: ["", "{}", #"{"items": [{"spec": {}}]}"#, "[1]"])
    func outputThatIsNotAListIsAnError(_ text: String) {
        #expect(throws: SRIOVError.self) { try PCIDevicesAddon.devices(fromJSON: text) }
    }

    @Test func aListIsRead() throws {
        let text =
            #"{"kind": "List", "items": [{"metadata": {"name": "a"}, "spec": {"address": "0000:3b:00.0", "nodeName": "n", "numVFs": 2}}, {"metadata": {"name": "b"}}]}"#
        #expect(
            try PCIDevicesAddon.devices(fromJSON: text) == [
                Self.device("a", "0000:3b:00.0", node: "n", numVFs: 2), Self.device("b", "", node: "", numVFs: 0),
            ])
    }

    /// Another writer (the addon) sets sriov_numvfs to 0 after restore made the VFs: status names the
    /// object and the fix; the next restore says so in the journal and makes them again.
    @Test func vfsRemovedAfterARestoreAreReportedWithTheAddonsFix() throws {
        let node = try H([H.x710()])
        try node.apply(
            PolicyManifest.policy("x710", #"{resourceName: x, numVfs: 4, nicSelector: {pfNames: [enp59s0f0]}}"#))
        #expect(try node.restore().failed == false)
        #expect(try NodeStatus(engine: node.engine()).inSync)

        try node.kernel.setNumVFs(0, pf: PCIAddress("0000:3b:00.0")!, timeout: .seconds(5))
        let status = try NodeStatus(engine: node.engine())
        #expect(!status.inSync)
        let object = PCIDevicesAddon.objectName(node: NodeName.resolved(), interface: "enp59s0f0")
        let said = try #require(status.interfaces.first?.differences.last)
        #expect(
            said
                == "the 4 VFs the last restore made were removed by another writer; if Harvester's PCI devices addon is enabled, its SRIOVNetworkDevice \(object) asks for 0 VFs: run kubectl patch sriovnetworkdevices.devices.harvesterhci.io \(object) --type merge -p '{\"spec\":{\"numVFs\":4}}' with an admin kubeconfig, then harvester-sriov restore --all"
        )

        #expect(try node.restore().failed == false)
        #expect(
            node.logs.all.contains {
                $0.contains("were removed by another writer") && $0.hasSuffix("making them again")
            })
        #expect(try NodeStatus(engine: node.engine()).inSync)
    }

    @Test func vfsNeverMadeByRestoreAreNotBlamedOnAnotherWriter() throws {
        let node = try H([H.x710()])
        try node.apply(
            PolicyManifest.policy("x710", #"{resourceName: x, numVfs: 4, nicSelector: {pfNames: [enp59s0f0]}}"#))
        let status = try NodeStatus(engine: node.engine())
        #expect(status.interfaces.first?.differences == ["0 VFs instead of 4"])
    }
}

/// `harvester-sriov pcidevices` on the server testbed, through the real kubectl.
@Suite(.enabled(if: FakeAPIServer.available, "needs kubectl and python3"))
struct PCIDevicesCommandTests {
    static let node = "worker-1"

    /// The addon's objects for the testbed's SR-IOV NICs, as it creates them (numVFs 0), and one of another node.
    static var objects: String {
        let objects = [
            ("worker-1", "enp59s0f0", "0000:3b:00.0"), ("worker-1", "enp59s0f1", "0000:3b:00.1"),
            ("worker-1", "ens801f0", "0000:af:00.0"), ("worker-2", "enp59s0f0", "0000:3b:00.0"),
        ].map { node, interface, address in
            #"{"apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "SRIOVNetworkDevice", "metadata": {"name": "\#(node)-\#(interface)", "labels": {"nodename": "\#(node)"}}, "spec": {"address": "\#(address)", "nodeName": "\#(node)", "numVFs": 0}, "status": {"status": "sriovNetworkDeviceDisabled"}}"#
        }
        return "[" + objects.joined(separator: ", ") + "]"
    }

    /// A root with the x710 example stored (4 VFs on 0000:3b:00.0), and a runner of `pcidevices` in it.
    struct Node {
        let folder: TemporaryFolder
        let root: String
        let testbed: Testbed

        init() throws {
            try Umockdev.requirePreload()
            folder = try TemporaryFolder()
            root = try folder.folder("target")
            testbed = try Testbed(Fixtures.server)
            let apply = try Umockdev.run(
                ["policy", "apply", "--root", root, PolicyCommandTests.examples[0]], in: testbed.root)
            #expect(apply.status == 0, "\(apply.stderr)")
        }

        func pcidevices(_ extra: [String], kubeconfig: String) throws -> Program.Result {
            var environment = ProcessInfo.processInfo.environment
            environment["UMOCKDEV_DIR"] = testbed.root
            environment["HOME"] = folder.url.path
            return try Umockdev.runBinary(
                [
                    "pcidevices", "--root", root, "--kubeconfig", kubeconfig, "--node", PCIDevicesCommandTests.node,
                    "--kubectl", try Tool.url("kubectl").path, "--retry-for", "0",
                ] + extra,
                environment: environment)
        }
    }

    static let fix =
        #"kubectl patch sriovnetworkdevices.devices.harvesterhci.io worker-1-enp59s0f0 --type merge -p '{"spec":{"numVFs":4}}'"#

    @Test func withoutSyncTheConflictIsNamedWithItsFix() throws {
        let server = try FakeAPIServer(node: Self.node, devices: Self.objects)
        let result = try Node().pcidevices([], kubeconfig: server.kubeconfig)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(
            result.stdout
                == "SRIOVNetworkDevice worker-1-enp59s0f0 asks for 0 VFs on PF 0000:3b:00.0 (enp59s0f0), whose plan has 4; fix: \(Self.fix)\n"
        )
        #expect(server.patches.isEmpty)
    }

    @Test(.enabled(if: SchemaCheck.available))
    func syncPatchesTheOneConflictingObjectOnceAndTheResultFitsTheCRD() throws {
        let server = try FakeAPIServer(node: Self.node, devices: Self.objects)
        let node = try Node()
        let first = try node.pcidevices(["--sync"], kubeconfig: server.kubeconfig)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(
            server.patches.map { $0.split(separator: "?")[0] } == [
                "PATCH /apis/devices.harvesterhci.io/v1beta1/sriovnetworkdevices/worker-1-enp59s0f0"
            ])
        let objects = try JSONSerialization.jsonObject(with: Data(try server.devices.utf8)) as? [[String: Any]] ?? []
        let counts = objects.map {
            (
                ($0["metadata"] as? [String: Any])?["name"] as? String ?? "",
                ($0["spec"] as? [String: Any])?["numVFs"] as? Int
            )
        }
        #expect(
            counts.map(\.0) == ["worker-1-enp59s0f0", "worker-1-enp59s0f1", "worker-1-ens801f0", "worker-2-enp59s0f0"])
        #expect(counts.map(\.1) == [4, 0, 0, 0], "only this node's planned PF changes")
        let schema = SchemaCheck.schema("devices.harvesterhci.io_sriovnetworkdevices.yaml")
        for object in objects {
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let check = try SchemaCheck.validate(text, against: schema)
            #expect(check.stdout == "valid\n", "\(check.stderr)")
        }

        let second = try node.pcidevices(["--sync"], kubeconfig: server.kubeconfig)
        #expect(second.status == 0)
        #expect(server.patches.count == 1, "a second run changes nothing")
        #expect(second.stderr.contains("agree with the plan"))
    }

    @Test func aClusterWithoutTheAddonHasNothingToDo() throws {
        let server = try FakeAPIServer(node: Self.node)
        let result = try Node().pcidevices(["--sync"], kubeconfig: server.kubeconfig)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("the PCI devices addon is not enabled"))
        #expect(server.patches.isEmpty)
    }

    @Test func aCredentialThatMayNotListTheObjectsIsRefusedAtOnce() throws {
        let server = try FakeAPIServer(node: Self.node, mode: "403", devices: Self.objects)
        let result = try Node().pcidevices(["--sync"], kubeconfig: server.kubeconfig)
        #expect(result.status == 77)
        #expect(
            result.stderr.hasPrefix(
                "harvester-sriov: the credential in \(server.kubeconfig) may not list sriovnetworkdevices.devices.harvesterhci.io ("
            ))
        #expect(result.stderr.hasSuffix("; use an admin kubeconfig (/etc/rancher/rke2/rke2.yaml on a server node)\n"))
    }

    @Test func aMissingKubeconfigSaysWhereOneIs() throws {
        let result = try Node().pcidevices([], kubeconfig: "/nonexistent/rke2.yaml")
        #expect(result.status == 74)
        #expect(result.stderr.contains("RKE2 writes it on server nodes only; pass --kubeconfig"))
    }

    @Test func restoreGoesWithSync() throws {
        let result = try Umockdev.runBinary(["pcidevices", "--restore"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--restore goes with --sync"))
    }
}
