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

    static let note = "target/oem/90_harvester_sriov_not_installed.yaml"

    /// Elemental runs after-install-chroot without --strict, so a failed hook must leave a note that
    /// every boot prints; the next successful run removes it.
    @Test func aFailedHookLeavesANoteForEveryBootAndASuccessfulOneRemovesIt() throws {
        try Umockdev.requirePreload()
        let folder = try TemporaryFolder()
        let target = try folder.folder("target")
        _ = try folder.folder("target/oem")
        try folder.write("bad/bad.yaml", "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkNodePolicy\n")
        let testbed = try Testbed(Fixtures.server)
        let environment = [
            "HARVESTER_SRIOV_BIN": Umockdev.binary.path, "HARVESTER_SRIOV_LOG": folder.path("hook.log"),
        ]
        let failed = try run(
            ["join", target],
            environment: environment.merging(["HARVESTER_SRIOV_POLICIES": folder.path("bad")]) {
                $1
            }, testbed: testbed)
        #expect(failed.status == 65)
        #expect(failed.output.contains("wrote \(folder.path(Self.note)): every boot will say"))
        let note = try folder.read(Self.note)
        #expect(note.contains("harvester-sriov was not installed: harvester-sriov hook exited 65: "))
        #expect(!note.contains("{{"), "yip would expand it as a template")
        #expect(!folder.exists("target/usr/local/bin/harvester-sriov"))
        if SchemaCheck.available {
            let check = try SchemaCheck.validate(note, against: SchemaCheck.schema("yip-config.schema.json"))
            #expect(check.stdout == "valid\n", "\(check.stderr)")
        }
        // The note's command, as yip's boot stage runs it (`sh -c`), minus the console and the journal.
        let command = try #require(
            note.components(separatedBy: "        - |\n").last?.replacingOccurrences(of: "\n          ", with: "\n"))
        let printed = try Program.run(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                command.replacingOccurrences(of: "> /dev/console", with: "").replacingOccurrences(
                    of: "logger -t", with: ": logger -t"),
            ])
        #expect(printed.stdout.hasPrefix("harvester-sriov was not installed: harvester-sriov hook exited 65: "))
        #expect(printed.stdout.split(separator: "\n").count == 1)

        let succeeded = try run(["join", target], environment: environment, testbed: testbed)
        #expect(succeeded.status == 0, "\(succeeded.output)")
        #expect(succeeded.output.contains("removed \(folder.path(Self.note))"))
        #expect(!folder.exists(Self.note))
    }

    /// In Elemental's chroot there is no /run/cos/target: the glue's target is then /.
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/run/cos/target")))
    func theTargetIsSlashWhereThereIsNoRunCosTarget() throws {
        let folder = try TemporaryFolder()
        // Stands in for harvester-sriov: prints its arguments, as the real one would receive them.
        try folder.write("bin", "#!/bin/sh\necho \"arguments: $*\"\n")
        _ = try Program.run(URL(fileURLWithPath: "/bin/chmod"), ["+x", folder.path("bin")])
        let result = try Program.run(
            URL(fileURLWithPath: "/bin/sh"), [Self.script],
            environment: [
                "HARVESTER_SRIOV_BIN": folder.path("bin"), "HARVESTER_SRIOV_LOG": folder.path("log"),
                "PATH": "/usr/bin:/bin",
            ],
            mergingErrors: true)
        #expect(result.status == 0)
        #expect(result.stdout.contains("arguments: hook --mode install --root /\n"), "\(result.stdout)")
    }

    /// The example configuration's own note, for a failed fetch (the glue is not there yet).
    @Test func theExampleConfigurationsFetchFailureNoteIsAValidYipFile() throws {
        let example = try String(
            contentsOf: PolicyCommandTests.repository.appendingPathComponent(
                "installer-scripts/harvester-config-example.yaml"), encoding: .utf8)
        let start = try #require(example.range(of: "<<'EOF'\n"))
        let end = try #require(example.range(of: "\n      EOF\n", range: start.upperBound..<example.endIndex))
        let note = example[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.dropFirst(6) }.joined(separator: "\n")
        #expect(note.contains("name: harvester-sriov not installed\n"))
        #expect(!note.contains("{{"))
        #expect(!example.contains("example.internal"), "no DNS in the chroot: a literal address")
        if SchemaCheck.available {
            let check = try SchemaCheck.validate(note, against: SchemaCheck.schema("yip-config.schema.json"))
            #expect(check.stdout == "valid\n", "\(check.stderr)")
        }
    }
}
