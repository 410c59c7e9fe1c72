import Foundation
import Testbed
import Testing

/// `harvester-sriov policy ...` and `plan`, run as a user runs them.
@Suite struct PolicyCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let examples = ["x710-netdevice.yaml", "vfio-passthrough.yaml", "split-pf.yaml"].map {
        repository.appendingPathComponent("examples").appendingPathComponent($0).path
    }

    @Test func theExamplesPassCheckAgainstAServerWithThoseCards() throws {
        let testbed = try Testbed(Fixtures.server)
        let result = try Umockdev.run(["policy", "check"] + Self.examples, in: testbed.root)
        #expect(result.stderr == "")
        #expect(
            result.stdout
                == "4 policies valid: e810-vm-passthrough, enp59s0f1-pods, enp59s0f1-vms, x710-port0-netdevice\n")
        #expect(result.status == 0)
    }

    @Test func checkListsEveryProblemAndExits65() throws {
        let folder = try TemporaryFolder()
        try folder.write(
            "bad.yaml",
            PolicyManifest.policy("a", #"{resourceName: r.1, numVfs: -2, nicSelector: {vendor: 8086}}"#))
        let result = try Umockdev.runBinary(["policy", "check", folder.path("bad.yaml"), folder.path("missing.yaml")])
        #expect(result.status == 65)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n").map { $0.replacingOccurrences(of: folder.path(""), with: "") }
        #expect(
            lines == [
                #"bad.yaml:4: policy "a": spec.resourceName: "r.1" "# + PolicyDecoderTests.resourceNameRule,
                #"bad.yaml:4: policy "a": spec.numVfs: must be at least 0, found -2"#,
                #"bad.yaml:4: policy "a": spec.nicSelector.vendor: must be a string, found the number 8086; quote it"#,
                "missing.yaml: cannot read: No such file or directory (ENOENT)",
                "harvester-sriov: 4 problems; nothing was written",
            ])
    }

    @Test func applyListRemoveAndPlanOnATargetRoot() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let testbed = try Testbed(Fixtures.server)

        let apply = try Umockdev.run(
            ["policy", "apply", "--root", root, "--node-label", "zone=a"] + Self.examples, in: testbed.root)
        #expect(apply.status == 0)
        #expect(
            apply.stdout == """
                policy e810-vm-passthrough: added
                policy enp59s0f1-pods: added
                policy enp59s0f1-vms: added
                policy x710-port0-netdevice: added
                \(root)/etc/harvester-sriov/state.json is created (4 policies)

                """)
        #expect(apply.stderr.hasPrefix("note: \(root) is not this host"))

        let again = try Umockdev.run(
            ["policy", "apply", "--root", root, "--node-label", "zone=a"] + Self.examples, in: testbed.root)
        #expect(again.status == 0)
        #expect(
            again.stdout.hasSuffix("unchanged: \(root)/etc/harvester-sriov/state.json already holds these policies\n"))

        let list = try Umockdev.runBinary(["policy", "list", "--root", root])
        #expect(list.status == 0)
        #expect(
            list.stdout.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
                == ["NAME", "e810-vm-passthrough", "enp59s0f1-pods", "enp59s0f1-vms", "x710-port0-netdevice"])

        let plan = try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root)
        #expect(plan.status == 0)
        let json = try JSONDocument(plan.stdout)
        let interfaces = try #require(json["interfaces"] as? [[String: Any]])
        #expect(interfaces.map { $0["pciAddress"] as? String } == ["0000:3b:00.0", "0000:3b:00.1", "0000:af:00.0"])
        #expect(interfaces.map { $0["numVfs"] as? Int } == [4, 8, 16])
        #expect(json["interfaces", 1, "vfGroups", 1, "deviceType"] as? String == "vfio-pci")
        #expect(json["unmatched"] as? [String] == [])

        let remove = try Umockdev.runBinary(["policy", "remove", "--root", root, "enp59s0f1-vms", "enp59s0f1-pods"])
        #expect(remove.status == 0)
        #expect(
            remove.stdout
                == "removed enp59s0f1-vms, enp59s0f1-pods; \(root)/etc/harvester-sriov/state.json updated (2 policies left)\n"
        )

        let table = try Umockdev.run(["plan", "--root", root], in: testbed.root)
        #expect(table.stdout.contains("enp59s0f0  0000:3b:00.0  4"))
        #expect(!table.stdout.contains("enp59s0f1"))

        let unknown = try Umockdev.runBinary(["policy", "remove", "--root", root, "nope"])
        #expect(unknown.status == 64)
        #expect(
            unknown.stderr
                == "harvester-sriov: no policy named nope is stored in \(root)/etc/harvester-sriov/state.json; `harvester-sriov policy list` shows the stored ones\n"
        )
    }

    @Test(arguments: [
        (
            ["policy", "apply", "--root", "relative/path", "x.yaml"],
            "harvester-sriov: --root relative/path: must be an absolute path, e.g. --root /run/cos/target\n"
        ),
        (
            ["policy", "list", "--root", "/nonexistent"],
            "harvester-sriov: --root /nonexistent: No such file or directory (ENOENT); mount the target system first or pass the right path\n"
        ),
        (
            ["plan", "--node-label", "=x"],
            "harvester-sriov: --node-label =x: the key name \"\" must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit\n"
        ),
    ])
    func badFlagsAreUsageErrors(_ arguments: [String], _ message: String) throws {
        let testbed = try Testbed([Fixtures.nvme])
        let result = try Umockdev.run(arguments, in: testbed.root)
        #expect(result.status == 64)
        #expect(result.stderr == message)
    }

    @Test func dryRunPrintsWhatWouldChangeAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let result = try Umockdev.runBinary(["policy", "apply", "--dry-run", "--root", root, Self.examples[0]])
        #expect(result.status == 0)
        #expect(result.stdout.hasSuffix("\(root)/etc/harvester-sriov/state.json would be created (1 policy)\n"))
        #expect(!folder.exists("target/etc"))
    }
}
