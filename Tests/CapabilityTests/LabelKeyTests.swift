import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// The key given is the key matched: policies' nodeSelector sees the capability under the key the node was
/// labelled with (`--key`, stored in the state), and always under node-feature-discovery's key.
@Suite struct LabelKeyTests {
    /// Two VFs of enp59s0f0 (its VFs `range`) to nodes whose `key` is "true".
    static func policy(_ name: String, selecting key: String, range: String = "") -> String {
        let pf = range.isEmpty ? "enp59s0f0" : "enp59s0f0#\(range)"
        let numVfs = range.isEmpty ? 2 : 4
        return PolicyManifest.policy(
            name,
            #"{resourceName: r_\#(name.replacingOccurrences(of: "-", with: "_")), numVfs: \#(numVfs), nicSelector: {pfNames: ["\#(pf)"]}, "#
                + #"nodeSelector: {"\#(key)": "true"}}"#)
    }

    @Test func labelWithAKeyIsTheKeyPoliciesAreMatchedAgainst() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        let label = try Umockdev.run(["label", "--root", root, "--key", "example.com/sriov"], in: testbed.root)
        #expect(label.status == 0, "\(label.stderr)")
        #expect(label.stdout.contains("created \(root)/etc/harvester-sriov/state.json\n"))
        let state = try JSONDocument(try folder.read("root/etc/harvester-sriov/state.json"))
        #expect(state["labelKey"] as? String == "example.com/sriov")

        try folder.write("p.yaml", Self.policy("given-key", selecting: "example.com/sriov", range: "0-1"))
        try folder.write("q.yaml", Self.policy("default-key", selecting: "network-sriov.capable", range: "2-3"))
        let apply = try Umockdev.run(
            ["policy", "apply", "--root", root, folder.path("p.yaml"), folder.path("q.yaml")], in: testbed.root)
        #expect(apply.status == 0, "\(apply.stderr)")
        let stored = try JSONDocument(try folder.read("root/etc/harvester-sriov/state.json"))
        #expect(stored["labelKey"] as? String == "example.com/sriov", "policy apply keeps the key")

        let plan = try Umockdev.run(["plan", "--root", root], in: testbed.root)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("r_given_key"))
        #expect(
            plan.stdout.hasSuffix(
                """

                Policies that configure nothing on this node:
                  default-key: nodeSelector network-sriov.capable=true does not match this node: it has no label network-sriov.capable (--node-label network-sriov.capable=true gives it one)

                """))
        let json = try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root)
        #expect(try JSONDocument(json.stdout)["unmatched"] as? [String] == ["default-key"])
        #expect(
            json.stderr
                == "harvester-sriov: note: policy default-key configures nothing on this node: nodeSelector "
                + "network-sriov.capable=true does not match this node: it has no label network-sriov.capable "
                + "(--node-label network-sriov.capable=true gives it one)\n")

        // Without --key, label (and label --apply, which the label unit runs) keeps the installed key.
        let printed = try Umockdev.run(["label", "--print", "--root", root], in: testbed.root)
        #expect(printed.stdout.hasPrefix("example.com/sriov=true\n"), "\(printed.stderr)")

        // Labelled again with the default key, the state forgets the other one.
        let again = try Umockdev.run(["label", "--root", root, "--key", "network-sriov.capable"], in: testbed.root)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try JSONDocument(try folder.read("root/etc/harvester-sriov/state.json"))["labelKey"] == nil)
        let planned = try JSONDocument(try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root).stdout)
        #expect(planned["unmatched"] as? [String] == ["given-key"])
    }

    @Test func hookStoresTheKeyWithThePolicies() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        try folder.write("p.yaml", Self.policy("given-key", selecting: "example.com/sriov"))
        let hook = try Umockdev.run(
            [
                "hook", "--mode", "join", "--root", root, "--key", "example.com/sriov", "--policy",
                folder.path("p.yaml"),
            ],
            in: testbed.root)
        #expect(hook.status == 0, "\(hook.stderr)")
        let state = try JSONDocument(try folder.read("root/etc/harvester-sriov/state.json"))
        #expect(state["labelKey"] as? String == "example.com/sriov")
        let plan = try JSONDocument(try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root).stdout)
        #expect(plan["interfaces", 0, "numVfs"] as? Int == 2)
    }

    /// The sriov-network-operator's quickstart selects nodes by node-feature-discovery's key.
    @Test func anOperatorsPolicySelectingNFDsKeyGetsVFsOnACapableNode() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        try folder.write("p.yaml", Self.policy("nfd", selecting: "feature.node.kubernetes.io/network-sriov.capable"))
        let apply = try Umockdev.run(["policy", "apply", "--root", root, folder.path("p.yaml")], in: testbed.root)
        #expect(apply.status == 0, "\(apply.stderr)")
        let plan = try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root)
        #expect(plan.status == 0, "\(plan.stderr)")
        let json = try JSONDocument(plan.stdout)
        #expect(json["interfaces", 0, "numVfs"] as? Int == 2)
        #expect(json["unmatched"] as? [String] == [])
    }

    /// A state written before the key was stored reads as the default key, and a state with the default key
    /// is written as before, byte for byte.
    @Test func statesWithoutAKeyReadAsTheDefaultKey() throws {
        let old = #"{"cards":[],"nodeLabels":{},"policies":[],"schemaVersion":1}"#
        let state = try DesiredState.decode(Array(old.utf8), file: "state.json")
        #expect(state.labelKey == nil)
        #expect(state.capabilityKey == "network-sriov.capable")
        #expect(
            !String(decoding: DesiredState(labelKey: "network-sriov.capable").jsonBytes, as: UTF8.self).contains(
                "labelKey"))
        #expect(DesiredState(labelKey: CapabilityLabel.defaultKey) == DesiredState.empty)
    }

    @Test func aStoredKeyKubeletRefusesIsNamed() throws {
        let bad = #"{"cards":[],"labelKey":"kubernetes.io/hostname","nodeLabels":{},"policies":[],"schemaVersion":1}"#
        #expect(throws: SRIOVError.self) { try DesiredState.decode(Array(bad.utf8), file: "state.json") }
        do {
            _ = try DesiredState.decode(Array(bad.utf8), file: "state.json")
        } catch {
            #expect(
                error.description
                    == "state.json: labelKey: \(InstallTests.kubeletOwn); run harvester-sriov label (or install) again with a valid --key"
            )
        }
    }
}
