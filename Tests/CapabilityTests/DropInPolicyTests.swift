import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import Testbed
import Testing

/// The drop-in policy folder beside the state: read by plan, restore and status with the
/// stored policies; a bad, conflicting or linked file is named and skipped whole.
@Suite struct DropInPolicyTests {
    typealias H = RestoreHarness

    static let folder = "root/etc/harvester-sriov/policies.d"
    static let x710Four = PolicyManifest.policy(
        "x710", #"{resourceName: x710, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#)
    static let igbThree = PolicyManifest.policy(
        "igb", #"{resourceName: igb, numVfs: 3, nicSelector: {deviceID: "10c9"}}"#)

    /// The line that follows a file's one problem.
    static func skipped(_ path: String) -> String {
        "\(path): skipped whole (1 problem); fix it; the stored policies and the other drop-in files still apply"
    }

    @Test(arguments: Layout.allCases)
    func theFolderIsBesideTheState(_ layout: Layout) {
        #expect(layout.policiesFolder == layout.stateFile.removingLastComponent().appending("policies.d"))
        #expect(
            layout.policiesFolder.string
                == (layout == .fhs ? "etc/harvester-sriov/policies.d" : "usr/local/etc/harvester-sriov/policies.d"))
    }

    @Test func noFolderMeansTheStoredPoliciesAlone() throws {
        let node = try H([H.x710()])
        try node.apply(Self.x710Four)
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state == (try node.store.load()))
        #expect(loaded.warnings.isEmpty)
    }

    @Test func aBadFileIsSkippedWholeWithItsProblemsNamedAndAnotherStillApplies() throws {
        let node = try H([H.x710(), H.x82576()])
        try node.folder.write("\(Self.folder)/good.yaml", Self.igbThree)
        // One good policy and one bad one in the same file: neither applies.
        try node.folder.write(
            "\(Self.folder)/bad.yaml",
            PolicyManifest.policy("fine", #"{resourceName: fine, numVfs: 1, nicSelector: {pfNames: ["enp1s0"]}}"#)
                + PolicyManifest.policy(
                    "broken", #"{resourceName: broken, numVfs: -2, nicSelector: {pfNames: [enp59s0f0]}}"#))
        try node.folder.write("\(Self.folder)/notes.txt", "not a manifest, not read\n")
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state.policies.map(\.name) == ["igb"])
        let bad = node.folder.path("\(Self.folder)/bad.yaml")
        #expect(
            loaded.warnings == [
                #"\#(bad):9: policy "broken": spec.numVfs: must be at least 0, found -2"#,
                Self.skipped(bad),
            ])
    }

    @Test func aPolicyNamedLikeAStoredOneIsAConflictAndTheStoredOneWins() throws {
        let node = try H([H.x710()])
        try node.apply(Self.x710Four)
        try node.folder.write(
            "\(Self.folder)/x710.yaml",
            PolicyManifest.policy("x710", #"{resourceName: x710, numVfs: 8, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state.policies.map(\.spec.numVfs) == [4])
        let file = node.folder.path("\(Self.folder)/x710.yaml")
        #expect(
            loaded.warnings == [
                #"\#(file): policy "x710": metadata.name: conflicts with the policy of that name in "#
                    + "\(node.store.displayPath), which wins; rename it here, or remove the stored one with "
                    + "`harvester-sriov policy remove x710`",
                Self.skipped(file),
            ])
    }

    @Test func twoDropInFilesWithOneNameKeepTheFirstInNameOrder() throws {
        let node = try H([H.x710()])
        try node.folder.write("\(Self.folder)/a.yaml", Self.x710Four)
        try node.folder.write("\(Self.folder)/b.yaml", Self.x710Four)
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state.policies.map(\.name) == ["x710"])
        let first = node.folder.path("\(Self.folder)/a.yaml")
        let second = node.folder.path("\(Self.folder)/b.yaml")
        #expect(
            loaded.warnings.first
                == #"\#(second): policy "x710": metadata.name: conflicts with the policy of that name in \#(first), "#
                + "which wins; rename it in one of the two files")
        #expect(loaded.warnings.count == 2)
    }

    @Test func theRulesBetweenPoliciesHoldAgainstTheStoredOnes() throws {
        let node = try H([H.x710()])
        try node.apply(Self.x710Four)
        try node.folder.write(
            "\(Self.folder)/overlap.yaml",
            PolicyManifest.policy(
                "other", #"{resourceName: other, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state.policies.map(\.name) == ["x710"])
        #expect(loaded.warnings.count == 2)
        #expect(loaded.warnings.first?.contains(#"selects every VF of enp59s0f0, as does "enp59s0f0""#) == true)
        #expect(
            loaded.warnings.last?.hasPrefix(node.folder.path("\(Self.folder)/overlap.yaml") + ": skipped whole") == true
        )
    }

    @Test func aLinkedFolderIsRefusedNotFollowedAndTheStoredPoliciesApply() throws {
        let node = try H([H.x710(), H.x82576()])
        try node.apply(Self.x710Four)
        try node.folder.write("elsewhere/igb.yaml", Self.igbThree)
        try FileManager.default.createSymbolicLink(
            atPath: node.folder.path(Self.folder), withDestinationPath: node.folder.path("elsewhere"))
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state.policies.map(\.name) == ["x710"])
        #expect(
            loaded.warnings == [
                "refusing to list \(node.folder.path(Self.folder)): it is a symbolic link; remove it first; "
                    + "the drop-in policies were not read, the stored ones apply"
            ])
    }

    @Test func aLinkedFileIsRefusedAndTheOthersApply() throws {
        let node = try H([H.x710(), H.x82576()])
        try node.folder.write("elsewhere/igb.yaml", Self.igbThree)
        try node.folder.write("\(Self.folder)/x710.yaml", Self.x710Four)
        try FileManager.default.createSymbolicLink(
            atPath: node.folder.path("\(Self.folder)/igb.yaml"),
            withDestinationPath: node.folder.path("elsewhere/igb.yaml"))
        let loaded = try node.store.loadWithDropIns()
        #expect(loaded.state.policies.map(\.name) == ["x710"])
        let link = node.folder.path("\(Self.folder)/igb.yaml")
        #expect(
            loaded.warnings == [
                "\(link): cannot read: refusing to read \(link): it is a symbolic link; remove it first",
                Self.skipped(link),
            ])
    }

    @Test func restoreAppliesADropInAndStoresNoneOfIt() throws {
        let node = try H([H.x710(), H.x82576()])
        try node.apply(Self.x710Four)
        try node.folder.write("\(Self.folder)/igb.yaml", Self.igbThree)
        try node.folder.write("\(Self.folder)/bad.yaml", "kind: [\n")
        let result = try node.restore()
        #expect(result.pfs.map(\.status) == [.configured, .configured])
        #expect(node.kernel.snapshot("0000:01:00.0")?.vfs.count == 3)
        let bad = node.folder.path("\(Self.folder)/bad.yaml")
        #expect(node.logs.all.contains { $0.hasPrefix("warning: \(bad):") && $0.contains("not valid YAML") })
        #expect(node.logs.all.contains { $0.hasPrefix("warning: \(bad): skipped whole") })
        #expect(try node.store.load().policies.map(\.name) == ["x710"], "the drop-in stays the only copy")

        let status = try NodeStatus(engine: node.engine())
        #expect(status.inSync)
        #expect(status.interfaces.map(\.desiredVfs) == [3, 4])
        #expect(status.warnings.count == 2)
    }

    /// `plan` on a umockdev testbed: a stored example, another as a drop-in, and a bad
    /// file named on stderr while the command still succeeds.
    @Test func planShowsTheDropInPoliciesAndWarnsOfTheSkippedFile() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let testbed = try Testbed(Fixtures.server)
        let apply = try Umockdev.run(
            ["policy", "apply", "--root", root, PolicyCommandTests.examples[0]], in: testbed.root)
        #expect(apply.status == 0)
        let split = try String(contentsOfFile: PolicyCommandTests.examples[2], encoding: .utf8)
        try folder.write("target/etc/harvester-sriov/policies.d/split-pf.yaml", split)
        try folder.write(
            "target/etc/harvester-sriov/policies.d/zz-bad.yaml",
            PolicyManifest.policy("zz", #"{resourceName: zz, numVfs: 1, nicSelector: {}}"#))

        let plan = try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root)
        #expect(plan.status == 0)
        let json = try JSONDocument(plan.stdout)
        let interfaces = try #require(json["interfaces"] as? [[String: Any]])
        #expect(interfaces.map { $0["pciAddress"] as? String } == ["0000:3b:00.0", "0000:3b:00.1"])
        #expect(interfaces.map { $0["numVfs"] as? Int } == [4, 8])
        let bad = "\(root)/etc/harvester-sriov/policies.d/zz-bad.yaml"
        let lines = plan.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("harvester-sriov: warning: \(bad):") == true)
        #expect(
            lines.last
                == "harvester-sriov: warning: " + Self.skipped(bad))
    }
}
