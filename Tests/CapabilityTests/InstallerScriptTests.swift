import Foundation
import Testbed
import Testing

/// installer-scripts/harvester-sriov-hook.sh, run as the installer runs it.
@Suite struct InstallerScriptTests {
    static let script = PolicyCommandTests.repository.appendingPathComponent(
        "installer-scripts/harvester-sriov-hook.sh"
    ).path

    func run(_ arguments: [String], environment extra: [String: String], testbed: Testbed) throws -> (
        status: Int32, output: String
    ) {
        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = testbed.root
        environment.merge(extra) { _, new in new }
        let result = try Program.run(
            URL(fileURLWithPath: "/bin/sh"), [Self.script] + arguments, environment: environment, mergingErrors: true)
        return (result.status, result.stdout)
    }

    @Test func findsTheBinaryPassesModeTargetPoliciesAndLabelsAndLogs() throws {
        try Umockdev.requirePreload()
        let folder = try TemporaryFolder()
        let target = try folder.folder("target")
        _ = try folder.folder("target/oem")
        try folder.write(
            "policies/split.yaml",
            try String(
                contentsOf: PolicyCommandTests.repository.appendingPathComponent("examples/split-pf.yaml"),
                encoding: .utf8))
        let testbed = try Testbed(Fixtures.server)
        let result = try run(
            ["join", target],
            environment: [
                "HARVESTER_SRIOV_BIN": Umockdev.binary.path, "HARVESTER_SRIOV_POLICIES": folder.path("policies"),
                "HARVESTER_SRIOV_NODE_LABELS": "zone=a rack=r1", "HARVESTER_SRIOV_LOG": folder.path("log/hook.log"),
            ], testbed: testbed)
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.output.contains(
                "hook --mode join --root \(target) --layout harvester --policy \(folder.path("policies/split.yaml")) --node-label zone=a --node-label rack=r1"
            ))
        #expect(result.output.contains("created \(target)/oem/91_harvester_sriov.yaml"))
        #expect(try folder.read("log/hook.log").contains("finished with status 0"))
        #expect(folder.exists("target/usr/local/etc/harvester-sriov/state.json"))
    }

    @Test func failsClearlyWithoutABinaryAndPassesOnHarvesterSRIOVsStatus() throws {
        try Umockdev.requirePreload()
        let folder = try TemporaryFolder()
        let testbed = try Testbed([Fixtures.nvme])
        let missing = try run(
            ["install", try folder.folder("t")],
            environment: [
                "HARVESTER_SRIOV_BIN": "/nonexistent", "PATH": "/usr/bin:/bin",
                "HARVESTER_SRIOV_LOG": folder.path("hook.log"),
            ], testbed: testbed)
        #expect(missing.status == 69)
        #expect(missing.output.contains("no harvester-sriov binary"))

        let badRoot = try run(
            ["install", "relative/root"],
            environment: [
                "HARVESTER_SRIOV_BIN": Umockdev.binary.path, "HARVESTER_SRIOV_LOG": folder.path("hook.log"),
            ], testbed: testbed)
        #expect(badRoot.status == 64)
        #expect(badRoot.output.contains("--root relative/root: must be an absolute path"))
    }
}
