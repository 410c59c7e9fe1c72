import Foundation
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 19: an addon object we cannot read is skipped with one plain line and stops no other; user and API text
/// reaches a message with its control characters escaped, and a name pasted into a command is shell-quoted.
@Suite struct PlainWordsTests {
    @Test func anObjectWithANonIntegerNumVFsIsSkippedAndTheOthersRead() throws {
        let text = """
            {"items": [
              {"metadata": {"name": "bad"}, "spec": {"address": "0000:3b:00.1", "nodeName": "n", "numVFs": 1.5}},
              {"metadata": {"name": "text"}, "spec": {"numVFs": "4"}},
              {"metadata": {"name": "good"}, "spec": {"address": "0000:3b:00.0", "nodeName": "n", "numVFs": 2}}
            ]}
            """
        let (devices, skipped) = try PCIDevicesAddon.read(fromJSON: text)
        #expect(devices.map(\.name) == ["good"])
        #expect(
            skipped == [
                "SRIOVNetworkDevice bad skipped: spec.numVFs must be a whole number of VFs, found 1.5; the addon would "
                    + "refuse it too: fix or delete the object, then run harvester-sriov pcidevices again",
                "SRIOVNetworkDevice text skipped: spec.numVFs must be a whole number of VFs, found something else; the "
                    + "addon would refuse it too: fix or delete the object, then run harvester-sriov pcidevices again",
            ])
    }

    @Test(.enabled(if: FakeAPIServer.available, "needs kubectl and python3"))
    func syncPatchesTheOthersWhenOneObjectIsBad() throws {
        let objects = PCIDevicesCommandTests.objects.replacing(
            #""nodeName": "worker-1", "numVFs": 0}, "status": {"status": "sriovNetworkDeviceDisabled"}}, {"apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "SRIOVNetworkDevice", "metadata": {"name": "worker-1-ens801f0""#,
            with:
                #""nodeName": "worker-1", "numVFs": 0.5}, "status": {"status": "sriovNetworkDeviceDisabled"}}, {"apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "SRIOVNetworkDevice", "metadata": {"name": "worker-1-ens801f0""#
        )
        #expect(objects != PCIDevicesCommandTests.objects)
        let server = try FakeAPIServer(node: PCIDevicesCommandTests.node, devices: objects)
        let result = try PCIDevicesCommandTests.Node().pcidevices(["--sync"], kubeconfig: server.kubeconfig)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(server.patches.count == 1)
        #expect(
            result.stderr.contains(
                "SRIOVNetworkDevice worker-1-enp59s0f1 skipped: spec.numVFs must be a whole number of VFs, found 0.5"),
            "\(result.stderr)")
        #expect(!result.stderr.contains("DecodingError"))
    }

    @Test func controlCharactersAreEscaped() {
        #expect(escapingControls("a\nb\tc\u{1b}[31md\u{7f}") == #"a\nb\tc\u{1b}[31md\u{7f}"#)
        #expect(escapingControls("plain ü") == "plain ü")
    }

    @Test func aNameInTheFixCommandIsShellQuoted() {
        let command = PCIDevicesAddon.fixCommand(object: "a b; rm -rf /\n", numVFs: 4)
        #expect(command.contains(#" $'a b; rm -rf /\n' --type"#), "\(command)")
        #expect(!command.contains("\n"))
        #expect(PCIDevicesAddon.fixCommand(object: "it's", numVFs: 1).contains(#" 'it'\''s' "#))
        #expect(PCIDevicesAddon.fixCommand(object: "worker-1-enp59s0f0", numVFs: 1).contains(" worker-1-enp59s0f0 "))
    }

    /// Every message of the one error type and of a policy problem stays on one line.
    @Test func aProblemWithANewlineInANameIsOneLine() {
        let problem = PolicyProblem(file: "p\n.yaml", policy: "x\ny", field: "metadata.name", message: "bad")
        #expect(!problem.description.contains("\n"), "\(problem.description)")
        let errors: [SRIOVError] = [
            .usage("--node a\nb: bad"), .cluster(.rejected, "Error from server: x\ny"),
            .io(path: "/a\nb", operation: "read", errno: .noSuchFileOrDirectory), .unsafePath("x\ny"),
        ]
        for error in errors { #expect(!error.description.contains("\n"), "\(error.description)") }
    }
}
