import Foundation
import Testbed
import Testing

@testable import Capability

/// The README's worked example, from a policy to a VM spec, run on the server testbed: what the
/// commands print is what the README says, and the VM spec names what they produced.
@Suite struct WorkedExampleTests {
    static let examples = PolicyCommandTests.repository.appendingPathComponent("examples")
    static let readme = PolicyCommandTests.repository.appendingPathComponent("README.md")

    @Test func theREADMEsExampleHoldsOnAServer() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let testbed = try Testbed(Fixtures.server)
        let policies = Self.examples.appendingPathComponent("vm/policies.yaml").path
        let apply = try Umockdev.run(["policy", "apply", "--root", root, policies], in: testbed.root)
        #expect(apply.status == 0, "\(apply.stderr)")

        let plugin = try Umockdev.run(["export", "device-plugin", "--root", root], in: testbed.root)
        #expect(plugin.status == 0, "\(plugin.stderr)")
        let pools = try #require(try JSONDocument(plugin.stdout)["resourceList"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: pools.map { ($0["resourceName"] as? String ?? "", $0) })
        let vmNet = try #require(byName["x710_vm_net"]?["selectors"] as? [String: Any])
        #expect(vmNet["pfNames"] as? [String] == ["enp59s0f1#0-3"])
        #expect(vmNet["drivers"] as? [String] == ["vfio-pci"])
        #expect(
            (byName["x710_passthrough"]?["selectors"] as? [String: Any])?["pfNames"] as? [String] == ["enp59s0f1#4-7"])

        let kubevirt = try Umockdev.run(["export", "kubevirt", "--root", root], in: testbed.root)
        #expect(kubevirt.status == 0, "\(kubevirt.stderr)")
        let patch = try JSONDocument(kubevirt.stdout)
        let devices = try #require(
            ((patch["spec"] as? [String: Any])?["configuration"] as? [String: Any])?["permittedHostDevices"]
                as? [String: Any])
        let entries = try #require(devices["pciHostDevices"] as? [[String: Any]])
        #expect(
            Set(entries.compactMap { $0["resourceName"] as? String }) == [
                "harvester-sriov.io/x710_passthrough", "harvester-sriov.io/x710_vm_net",
            ])
        #expect(entries.allSatisfy { $0["externalResourceProvider"] as? Bool == true })

        let network = try Umockdev.run(
            ["export", "network", "--root", root, Self.examples.appendingPathComponent("vm/network.yaml").path],
            in: testbed.root)
        #expect(network.status == 0, "\(network.stderr)")
        #expect(network.stdout.contains("  name: vm-vlan200\n  namespace: default\n"))
        #expect(network.stdout.contains("k8s.v1.cni.cncf.io/resourceName: harvester-sriov.io/x710_vm_net"))
        #expect(network.stdout.contains(#""type":"sriov","vlan":200,"#))

        // The VM spec in the README asks for exactly those names.
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        #expect(text.contains("deviceName: harvester-sriov.io/x710_passthrough}"))
        #expect(text.contains("multus: {networkName: default/vm-vlan200}"))
        #expect(text.contains(#""selectors": {"pfNames": ["enp59s0f1#0-3"], "drivers": ["vfio-pci"]"#))
    }
}
