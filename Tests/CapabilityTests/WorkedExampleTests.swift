import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// The README's worked example, from a policy to a VM on Harvester, run through stand-ins of what a real cluster
/// runs: the API server with the PCI devices addon's webhook and claim controller, and Harvester's network
/// webhook (FakeAPIServer.py), then virt-launcher with the addon's device plugin (VirtLauncherStandIn.py). Each
/// step fails here where it would fail on the real components.
@Suite(.enabled(if: FakeAPIServer.available && Tool.available("python3")))
struct WorkedExampleTests {
    static let examples = PolicyCommandTests.repository.appendingPathComponent("examples")
    static let readme = PolicyCommandTests.repository.appendingPathComponent("README.md")
    static let launcher = FakeAPIServer.script.deletingLastPathComponent().appendingPathComponent(
        "VirtLauncherStandIn.py")
    static let node = "node1"

    /// The server after `restore`: the X710 port 1 with the plan's 8 VFs.
    static var server: [FakeFunction] {
        Fixtures.server.filter { $0.address != "0000:3b:00.1" }
            + [
                Catalog.pf(
                    .x710, at: "0000:3b:00.1", name: "enp59s0f1", mac: "3c:fd:fe:9e:a1:01", numVFs: 8,
                    iommuGroup: 130)
            ]
    }

    struct Cluster {
        let folder: TemporaryFolder
        let root: String
        let testbed: Testbed
        let api: FakeAPIServer

        init() throws {
            folder = try TemporaryFolder()
            root = try folder.folder("target")
            testbed = try Testbed(WorkedExampleTests.server)
            api = try FakeAPIServer(node: WorkedExampleTests.node, pcidevices: WorkedExampleTests.server)
            let apply = try Umockdev.run(
                ["policy", "apply", "--root", root, examples.appendingPathComponent("vm/policies.yaml").path],
                in: testbed.root)
            #expect(apply.status == 0, "\(apply.stderr)")
        }

        func claim() throws -> Program.Result {
            try Umockdev.run(
                [
                    "pcidevices", "--claim", "--root", root, "--kubeconfig", api.kubeconfig, "--node", node,
                    "--wait-for", "0", "--retry-for", "0",
                ], in: testbed.root)
        }

        /// `state`: the cluster's, unless a plain KubeVirt cluster's (no PCI devices addon) is meant.
        func launch(_ vm: String, state: String? = nil, extraEnvironment: String? = nil) throws -> Program.Result {
            var arguments = [launcher.path, state ?? api.stateFolder, vm]
            if let extraEnvironment {
                try folder.write("env.json", extraEnvironment)
                arguments.append(folder.url.path + "/env.json")
            }
            return try Program.run(try Tool.url("python3"), arguments)
        }
    }

    @Test func theREADMEsExampleReachesTheVM() throws {
        let cluster = try Cluster()
        let claimed = try cluster.claim()
        #expect(claimed.status == 0, "\(claimed.stderr)")
        let line =
            "resource x710_vm: 8 VFs; VMs ask for them with hostDevices deviceName "
            + "intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES"
        #expect(claimed.stdout.hasSuffix(line + "\n"))
        #expect(claimed.stdout.contains("created PCIDeviceClaim node1-00003b0a1\n"))
        // The addon bound them and permitted them to KubeVirt as its own device plugin's resource.
        let kubevirt = try #require(try cluster.api.state("kubevirt.json") as? [String: Any])
        let permitted =
            ((kubevirt["spec"] as? [String: Any])?["configuration"] as? [String: Any])?[
                "permittedHostDevices"] as? [String: Any]
        #expect(
            (permitted?["pciHostDevices"] as? [[String: Any]])?.first?["resourceName"] as? String
                == "intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES")

        // virt-launcher finds the VF through PCI_RESOURCE_..., which the addon's device plugin sets.
        let vm = Self.examples.appendingPathComponent("vm/vm.yaml").path
        let launched = try cluster.launch(vm)
        #expect(launched.status == 0, "\(launched.stdout)")
        #expect(launched.stdout == "hostDevice vf1: 0000:3b:0a.0\n")

        // The README shows these commands, that name and that VM file.
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        #expect(text.contains("harvester-sriov pcidevices --claim"))
        #expect(text.contains(line))
        #expect(text.contains("deviceName: intel.com/ETHERNET_VIRTUAL_FUNCTION_700_SERIES"))
        #expect(text.contains("examples/vm/vm.yaml"))

        // A second run changes nothing.
        let again = try cluster.claim()
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("8 PCIDeviceClaims were there already\n"))
        #expect(
            cluster.api.requests.filter { $0.hasPrefix("POST ") }.count == 8,
            "one create per claim, all in the first run")
    }

    /// The claims as `export pcideviceclaims` prints them have no ownerReference (only the API knows the
    /// PCIDevice's uid); the addon's controller cannot find the device without it (pcideviceclaim_controller.go
    /// l.560-573), so they are accepted but never bound: that is why `pcidevices --claim` creates them.
    @Test func exportedClaimsAreNamedAsTheAddonNamesTheDevicesButNeedTheOwner() throws {
        let cluster = try Cluster()
        let exported = try Umockdev.run(
            ["export", "pcideviceclaims", "--root", cluster.root, "--node", Self.node], in: cluster.testbed.root)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.components(separatedBy: "kind: PCIDeviceClaim").count == 9)
        #expect(exported.stdout.contains("  name: node1-00003b0a7\n"))
        #expect(exported.stdout.contains("  address: 0000:3b:0a.7\n"))
        try cluster.folder.write("claims.yaml", exported.stdout)
        let created = try Program.run(
            try Tool.url("kubectl"),
            [
                "--kubeconfig", cluster.api.kubeconfig, "create", "--validate=false", "-f",
                cluster.folder.url.path + "/claims.yaml",
            ])
        #expect(created.status == 0, "\(created.stderr)")
        let claims = try #require(try cluster.api.state("pcideviceclaims.json") as? [[String: Any]])
        #expect(claims.count == 8)
        #expect(claims.allSatisfy { $0["status"] == nil })
        let launched = try cluster.launch(Self.examples.appendingPathComponent("vm/vm.yaml").path)
        #expect(launched.status == 1, "\(launched.stderr)")
        #expect(launched.stdout.hasPrefix("failed to create hostdevice"))
    }

    /// The addon's create webhook (pkg/webhook/pcideviceclaim.go l.60-63) refuses a claim whose PCIDevice the
    /// addon has not made yet (a VF that does not exist): --claim waits for it, then names it.
    @Test func aVFTheAddonDoesNotKnowIsNamedAfterTheWait() throws {
        let cluster = try Cluster()
        let api = try FakeAPIServer(node: Self.node, pcidevices: Fixtures.server)  // before the VFs were made
        let result = try Umockdev.run(
            [
                "pcidevices", "--claim", "--root", cluster.root, "--kubeconfig", api.kubeconfig, "--node", Self.node,
                "--wait-for", "0", "--retry-for", "0",
            ], in: cluster.testbed.root)
        #expect(result.status == 68)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("harvester-sriov: the PCI devices addon has no PCIDevice node1-00003b0a0, "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(api.requests.filter { $0.hasPrefix("POST ") }.isEmpty)
    }

    /// Harvester's network webhook (network-controller-harvester pkg/webhook/nad/validator.go, checkNadConfig
    /// l.222-236) refuses a NetworkAttachmentDefinition that is not a bridge of a ClusterNetwork: what `export
    /// network` renders for sriov-cni is refused, which is why the harvester layout refuses to print it.
    @Test func harvestersNetworkWebhookRefusesAnSRIOVNetwork() throws {
        let cluster = try Cluster()
        let sriov = """
            {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
             "metadata": {"name": "vm-vlan200", "namespace": "default"},
             "spec": {"config": "{\\"cniVersion\\":\\"1.0.0\\",\\"name\\":\\"vm-vlan200\\",\\"type\\":\\"sriov\\",\\"vlan\\":200}"}}
            """
        let bridge = sriov.replacingOccurrences(
            of: #"\"type\":\"sriov\""#, with: #"\"type\":\"bridge\",\"bridge\":\"mgmt-br\""#)
        for (name, manifest, accepted) in [("sriov", sriov, false), ("bridge", bridge, true)] {
            try cluster.folder.write("\(name).json", manifest)
            let created = try Program.run(
                try Tool.url("kubectl"),
                [
                    "--kubeconfig", cluster.api.kubeconfig, "create", "--validate=false", "-f",
                    cluster.folder.url.path + "/\(name).json",
                ])
            #expect((created.status == 0) == accepted, "\(name): \(created.stderr)")
            if !accepted {
                #expect(created.stderr.contains("the length of bridge name  is less than 3"))
            }
        }
    }

    /// The SR-IOV network device plugin sets PCIDEVICE_<prefix>_<resource> (pkg/resources/pool_stub.go
    /// l.107-137); a hostDevice is found only through PCI_RESOURCE_ (generic/addresspool.go), so a resource that
    /// plugin serves gives the VM no device.
    @Test func aHostDeviceServedOnlyByTheSRIOVDevicePluginIsNotFound() throws {
        let cluster = try Cluster()
        try cluster.folder.write(
            "vm.yaml",
            "domain: {devices: {hostDevices: [{name: vf1, deviceName: harvester-sriov.io/x710_vm}]}}\n")
        let launched = try cluster.launch(
            cluster.folder.url.path + "/vm.yaml", state: try cluster.folder.folder("kubevirt-cluster"),
            extraEnvironment: #"{"PCIDEVICE_HARVESTER-SRIOV_IO_X710_VM": "0000:3b:0a.0"}"#)
        #expect(launched.status == 1)
        #expect(
            launched.stdout.contains(
                "PCI_RESOURCE_HARVESTER-SRIOV_IO_X710_VM not set for resource harvester-sriov.io/x710_vm"))
    }
}
