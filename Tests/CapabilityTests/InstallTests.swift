import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// The files install and label put on a node, in both layouts, and how they are written.
@Suite struct InstallTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Compares every generated text file with its golden copy under Tests/CapabilityTests/Golden/<layout>/;
    /// UPDATE_GOLDEN=1 rewrites them after a deliberate change.
    @Test(arguments: Layout.allCases)
    func generatedFilesMatchTheirGoldenCopies(_ layout: Layout) throws {
        let files = try NodeFiles.installFiles(
            InstallOptions(layout: layout), label: try CapabilityLabel(capable: true), binary: [0x7f])
        #expect(files.map(\.path.string) == Self.expectedPaths[layout])
        for file in files {
            guard case let .text(text) = file.content else { continue }
            let url = Self.golden.appendingPathComponent(layout.rawValue).appendingPathComponent(file.path.string)
            if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
            #expect(try String(contentsOf: url, encoding: .utf8) == text, "\(file.path) differs from its golden copy")
        }
    }

    static let expectedPaths: [Layout: [String]] = [
        .fhs: [
            "usr/local/bin/harvester-sriov", "etc/udev/rules.d/70-harvester-sriov.rules",
            "etc/systemd/system/harvester-sriov-restore.service", "etc/systemd/system/harvester-sriov-restore@.service",
            "etc/systemd/system/multi-user.target.wants/harvester-sriov-restore.service",
            "etc/systemd/system/harvester-sriov-policies.path", "etc/systemd/system/harvester-sriov-policies.service",
            "etc/systemd/system/multi-user.target.wants/harvester-sriov-policies.path",
            "etc/systemd/system/harvester-sriov-cluster.path", "etc/systemd/system/harvester-sriov-label.service",
            "etc/systemd/system/harvester-sriov-pcidevices.service", "etc/systemd/system/harvester-sriov-watch.service",
            "etc/systemd/system/harvester-sriov-waiting.timer", "etc/systemd/system/harvester-sriov-waiting.service",
            "etc/systemd/system/timers.target.wants/harvester-sriov-waiting.timer",
            "etc/systemd/system/multi-user.target.wants/harvester-sriov-cluster.path",
            "etc/systemd/system/rke2-server.service.wants/harvester-sriov-label.service",
            "etc/systemd/system/rke2-agent.service.wants/harvester-sriov-label.service",
            "etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml", "etc/harvester-sriov/node-label-patch.json",
        ],
        .harvester: [
            "usr/local/bin/harvester-sriov", "oem/91_harvester_sriov.yaml",
            "usr/local/etc/harvester-sriov/node-label-patch.json",
        ],
    ]

    @Test func theYipFileFollowsYipsSchema() throws {
        let text = try NodeFiles.yip(InstallOptions(layout: .harvester), label: try CapabilityLabel(capable: true))
        let documents = try YAMLReader.documents(text)
        guard case let .mapping(top, _)? = documents.first else {
            Issue.record("not a map")
            return
        }
        #expect(top.map(\.key) == ["name", "stages"])
        guard case let .mapping(stages, _) = top[1].value, case let .sequence(steps, _) = stages.first?.value,
            case let .mapping(step, _)? = steps.first
        else {
            Issue.record("no stage step")
            return
        }
        #expect(stages.map(\.key) == ["initramfs"])
        #expect(step.map(\.key) == ["name", "if", "files", "systemctl"])
        #expect(
            step[1].value == .scalar(.string(#"[ ! -f "/run/cos/recovery_mode" ]"#), line: 0),
            "Harvester's recovery guard")
        guard case let .sequence(files, _) = step[2].value else {
            Issue.record("no files")
            return
        }
        var paths: [String] = []
        for file in files {
            guard case let .mapping(fields, _) = file else { continue }
            #expect(fields.map(\.key) == ["path", "permissions", "owner", "group", "content"])
            #expect(fields[1].value == .scalar(.integer(0o644), line: 0), "permissions is an integer")
            if case let .scalar(.string(path), _) = fields[0].value { paths.append(path) }
            // The embedded content is byte for byte the file install writes elsewhere.
            if case let .scalar(.string(content), _) = fields[4].value,
                paths.last == "/etc/udev/rules.d/70-harvester-sriov.rules"
            {
                #expect(content == NodeFiles.udevRule(InstallOptions(layout: .harvester)))
            }
        }
        #expect(
            paths == [
                "/etc/udev/rules.d/70-harvester-sriov.rules", "/etc/systemd/system/harvester-sriov-restore.service",
                "/etc/systemd/system/harvester-sriov-restore@.service",
                "/etc/systemd/system/harvester-sriov-policies.path",
                "/etc/systemd/system/harvester-sriov-policies.service",
                "/etc/systemd/system/harvester-sriov-cluster.path", "/etc/systemd/system/harvester-sriov-label.service",
                "/etc/systemd/system/harvester-sriov-pcidevices.service",
                "/etc/systemd/system/harvester-sriov-watch.service",
                "/etc/systemd/system/harvester-sriov-waiting.timer",
                "/etc/systemd/system/harvester-sriov-waiting.service",
                "/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml",
            ])
        #expect(
            step[3].value
                == .mapping(
                    [
                        (
                            key: "enable",
                            value: .sequence(
                                [
                                    .scalar(.string("harvester-sriov-restore.service"), line: 0),
                                    .scalar(.string("harvester-sriov-policies.path"), line: 0),
                                    .scalar(.string("harvester-sriov-waiting.timer"), line: 0),
                                    .scalar(.string("harvester-sriov-cluster.path"), line: 0),
                                    .scalar(.string("harvester-sriov-label.service"), line: 0),
                                ], line: 0)
                        )
                    ], line: 0))
    }

    /// yip expands file content as a Go text/template: a `{{` of ours must print itself.
    @Test(arguments: [
        ("no braces", "no braces"),
        ("a {{ .Values }} b", #"a {{"{{"}} .Values }} b"#),
        ("{{{", #"{{"{{"}}{"#),
        ("}} alone", "}} alone"),
    ])
    func templateActionsAreWrittenAsLiterals(_ text: String, _ escaped: String) {
        #expect(NodeFiles.goTemplateLiteral(text) == escaped)
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theYipFileValidatesAgainstYipsSchema() throws {
        let text = try NodeFiles.yip(InstallOptions(layout: .harvester), label: try CapabilityLabel(capable: true))
        let check = try SchemaCheck.validate(text, against: SchemaCheck.schema("yip-config.schema.json"))
        #expect(check.stdout == "valid\n", "\(check.stderr)")
    }

    @Test func noTextReachesTheYipFileAsATemplateAction() throws {
        let text = try NodeFiles.yip(InstallOptions(layout: .harvester), label: try CapabilityLabel(capable: true))
        // Every `{{` that is there opens the literal action `{{"{{"}}`.
        var rest = Substring(text)
        while let range = rest.range(of: "{{") {
            #expect(rest[range.lowerBound...].hasPrefix(#"{{"{{"}}"#))
            rest = rest[rest.index(range.lowerBound, offsetBy: 7)...]
        }
    }

    @Test(
        .enabled(if: Tool.available("systemd-analyze"), "needs systemd-analyze (systemd) to verify the units"),
        arguments: Layout.allCases)
    func unitsPassSystemdAnalyzeVerify(_ layout: Layout) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let options = InstallOptions(layout: .fhs)
        let writer = FileInstaller(writer: RootWriter(root: try TargetRoot(root)))
        _ = try writer.apply(
            NodeFiles.installFiles(
                options, label: try CapabilityLabel(capable: true), binary: Array("#!/bin/sh\n".utf8)))
        if layout == .harvester {
            // The units that the yip file writes are the same text with the harvester paths.
            for file in NodeFiles.etcFiles(
                InstallOptions(layout: .harvester), label: try CapabilityLabel(capable: true))
            {
                if case let .text(text) = file.content { try folder.write("root/\(file.path)", text) }
            }
        }
        // systemd-analyze cannot verify a template, and stumbles on ':' in an instance
        // named on its command line: verify an instance file of the template instead.
        try folder.write(
            "root/etc/systemd/system/harvester-sriov-restore@verify.service",
            try folder.read("root/etc/systemd/system/harvester-sriov-restore@.service"))
        let verify = try Program.run(
            try Tool.url("systemd-analyze"),
            [
                "verify", "--root=\(root)", "/etc/systemd/system/harvester-sriov-restore.service",
                "/etc/systemd/system/harvester-sriov-restore@verify.service",
                "/etc/systemd/system/harvester-sriov-policies.path",
                "/etc/systemd/system/harvester-sriov-policies.service",
                "/etc/systemd/system/harvester-sriov-cluster.path", "/etc/systemd/system/harvester-sriov-label.service",
                "/etc/systemd/system/harvester-sriov-pcidevices.service",
                "/etc/systemd/system/harvester-sriov-watch.service",
            ], mergingErrors: true)
        let output = verify.stdout
        // Units named in ordering that this root does not have (rke2, NetworkManager) are fine.
        let complaints = output.split(separator: "\n").filter { !$0.contains("not found") && !$0.isEmpty }
        #expect(verify.status == 0 || complaints.isEmpty, "systemd-analyze verify: \(output)")
        #expect(complaints.isEmpty, "systemd-analyze verify: \(output)")
    }

    @Test(arguments: Layout.allCases)
    func installTwiceChangesNothingTheSecondTimeAndUninstallRemovesExactlyThat(_ layout: Layout) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try folder.write("root/etc/keep-me", "unrelated\n")
        let installation = NodeInstallation(root: try TargetRoot(root), options: InstallOptions(layout: layout))
        let label = try CapabilityLabel(capable: true)
        let first = try installation.install(label: label, binary: Array("binary".utf8), dryRun: false)
        #expect(first.allSatisfy { $0.outcome == .created })
        #expect(first.count == Self.expectedPaths[layout]!.count + 1, "plus the empty state file")
        var binaryStatus = stat()
        stat(folder.path("root/usr/local/bin/harvester-sriov"), &binaryStatus)
        #expect(binaryStatus.st_mode & 0o777 == 0o755)

        let second = try installation.install(label: label, binary: Array("binary".utf8), dryRun: false)
        #expect(second.allSatisfy { $0.outcome == .unchanged })
        #expect(second.count == Self.expectedPaths[layout]!.count, "the existing state file is left alone")

        let removed = try installation.uninstall(purge: false)
        #expect(removed.filter { $0.outcome == .removed }.count == Self.expectedPaths[layout]!.count)
        // On Harvester uninstall also removes what yip wrote under /etc, absent here.
        #expect(removed.allSatisfy { $0.outcome == .removed || $0.path.hasPrefix(root + "/etc/") })
        #expect(folder.exists("root/" + layout.stateFile.string), "the policies stay without --purge")
        #expect(try folder.read("root/etc/keep-me") == "unrelated\n")
        let purged = try installation.uninstall(purge: true)
        let state = root + "/" + layout.stateFile.string
        let lock = root + "/" + layout.stateLockFile.string
        let stateFolder = root + "/" + layout.stateFile.removingLastComponent().string
        #expect(purged.filter { $0.outcome != .absent }.map(\.path) == [state, lock, stateFolder])
        #expect(!folder.exists("root/" + layout.stateFile.removingLastComponent().string))
        #expect(!folder.exists("root/" + layout.stateLockFile.string))
    }

    @Test func dryRunPrintsAUnifiedDiffAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let installation = NodeInstallation(root: try TargetRoot(root), options: InstallOptions(layout: .fhs))
        _ = try installation.install(
            label: try CapabilityLabel(capable: false), binary: Array("v1".utf8), dryRun: false)
        let before = try folder.read("root/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml")

        let changes = try installation.install(
            label: try CapabilityLabel(capable: true), binary: Array("v2".utf8), dryRun: true)
        let dropIn = try #require(changes.first { $0.path.hasSuffix("91-harvester-sriov.yaml") })
        #expect(dropIn.outcome == .updated)
        #expect(
            dropIn.diff == """
                --- a\(root)/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml
                +++ b\(root)/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml
                @@ -1,4 +1,4 @@
                 # harvester-sriov \(version): this node's SR-IOV capability, as a label the node
                 # registers with.
                 node-label+:
                -  - "network-sriov.capable=false"
                +  - "network-sriov.capable=true"

                """)
        #expect(changes.first { $0.path.hasSuffix("bin/harvester-sriov") }?.diff.hasPrefix("Binary files") == true)
        #expect(changes.first { $0.path.hasSuffix(".rules") }?.outcome == .unchanged)
        #expect(try folder.read("root/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml") == before)
    }

    @Test func aSymlinkPlantedInTheTargetIsRefusedAndNothingLeaks() throws {
        let folder = try TemporaryFolder()
        let outside = try folder.folder("outside")
        try FileManager.default.createDirectory(
            atPath: folder.path("root/etc/systemd"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc/systemd/system"), withDestinationPath: outside)
        let installation = NodeInstallation(
            root: try TargetRoot(folder.path("root")), options: InstallOptions(layout: .fhs))
        #expect(throws: SRIOVError.self) {
            try installation.install(label: try CapabilityLabel(capable: true), binary: [1], dryRun: false)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
    }

    @Test(
        arguments: [
            ("network-sriov.capable", nil),
            ("feature.node.kubernetes.io/network-sriov.capable", nil),
            (
                "Bad Key",
                "--key Bad Key: the key name \"Bad Key\" must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            ),
            (
                "-x.io/cap",
                "--key -x.io/cap: the key prefix \"-x.io\" must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
            ),
        ] as [(String, String?)])
    func labelKeysFollowKubernetesSyntax(_ key: String, _ problem: String?) {
        do {
            let label = try CapabilityLabel(key: key, capable: true)
            #expect(problem == nil)
            #expect(NodeFiles.labelPatch(label) == #"{"metadata":{"labels":{"\#(key)":"true"}}}"# + "\n")
        } catch {
            #expect(error.description == problem)
        }
    }

    static let kubeletOwn =
        "is a label kubelet sets itself on every node (well_known_labels.go kubeletLabels); "
        + "use network-sriov.capable, feature.node.kubernetes.io/network-sriov.capable or a key of your own domain"
    static let kubernetesNamespace =
        "kubelet refuses node labels in the kubernetes.io and k8s.io namespaces except under "
        + "kubelet.kubernetes.io and node.kubernetes.io (--node-labels, NodeRestriction); "
        + "use network-sriov.capable, feature.node.kubernetes.io/network-sriov.capable or a key of your own domain"

    /// Keys a node may set on itself (kubelet's --node-labels rule and NodeRestriction), and none kubelet sets.
    @Test(
        arguments: [
            ("network-sriov.capable", nil), ("feature.node.kubernetes.io/network-sriov.capable", nil),
            ("node.kubernetes.io/sriov", nil), ("kubelet.kubernetes.io/sriov", nil),
            ("example.com/sriov", nil), ("kubernetes.io.example.com/sriov", nil), ("notkubernetes.io/sriov", nil),
            ("net.kubernetes.io/sriov", kubernetesNamespace), ("kubernetes.io/sriov", kubernetesNamespace),
            ("k8s.io/sriov", kubernetesNamespace), ("sriov.k8s.io/capable", kubernetesNamespace),
            ("node-role.kubernetes.io/sriov", kubernetesNamespace),
            ("node-restriction.kubernetes.io/sriov", kubernetesNamespace),
            ("beta.kubernetes.io/sriov", kubernetesNamespace),
            ("kubernetes.io/hostname", kubeletOwn), ("kubernetes.io/os", kubeletOwn),
            ("kubernetes.io/arch", kubeletOwn),
            ("beta.kubernetes.io/arch", kubeletOwn), ("node.kubernetes.io/instance-type", kubeletOwn),
            ("topology.kubernetes.io/zone", kubeletOwn), ("failure-domain.beta.kubernetes.io/region", kubeletOwn),
        ] as [(String, String?)])
    func labelKeysFollowKubeletsRule(_ key: String, _ problem: String?) {
        #expect(CapabilityLabel.keyProblem(key) == problem)
        do {
            _ = try CapabilityLabel(key: key, capable: true)
            #expect(problem == nil)
        } catch {
            #expect(error.exitCode == 64)
            #expect(error.description == "--key \(key): \(problem ?? "")")
        }
    }

    @Test func theMergePatchIsJSONAKubernetesClientAccepts() throws {
        let patch = NodeFiles.labelPatch(try CapabilityLabel(capable: false))
        let json = try JSONDocument(patch)
        #expect(json["metadata", "labels", "network-sriov.capable"] as? String == "false")
    }

    @Test(
        .enabled(if: Tool.available("systemd-escape"), "needs systemd-escape (systemd)"),
        arguments: ["0000:3b:00.0", "0000:af:1f.7", "10000:00:02.0"])
    func pciAddressesNeedNoSystemdEscaping(_ address: String) throws {
        // The udev rule puts %b (the PCI address) into the instance name as it is.
        let escaped = try Program.run(try Tool.url("systemd-escape"), [address])
        #expect(escaped.status == 0, "\(escaped.stderr)")
        #expect(escaped.stdout == address + "\n")
    }

    @Test func unifiedDiffOfANewFile() {
        #expect(
            UnifiedDiff.render(old: nil, new: "a\nb\n", path: "/x")
                == "--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n")
        #expect(UnifiedDiff.render(old: "a\n", new: "a\n", path: "/x") == "")
    }
}

/// label, install, uninstall and hook as a user (or the installer) runs them.
@Suite struct InstallCommandTests {
    @Test(arguments: [(true, "network-sriov.capable=true"), (false, "network-sriov.capable=false")])
    func labelOnANodeWithAndWithoutSRIOV(_ capable: Bool, _ expected: String) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed(capable ? [Fixtures.x710, Fixtures.virtio] : [Fixtures.virtio])
        let result = try Umockdev.run(["label", "--root", root], in: testbed.root)
        #expect(result.status == 0)
        #expect(
            try folder.read("root/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml").contains(
                "  - \"\(expected)\"\n"))
        #expect(
            try folder.read("root/etc/harvester-sriov/node-label-patch.json")
                == #"{"metadata":{"labels":{"network-sriov.capable":"\#(capable)"}}}"# + "\n")
        let printed = try Umockdev.run(
            ["label", "--print", "--key", "feature.node.kubernetes.io/network-sriov.capable"], in: testbed.root)
        #expect(printed.stdout.hasPrefix("feature.node.kubernetes.io/\(expected)\n"))
    }

    /// A key kubelet or NodeRestriction would refuse ends install, label and hook with 64 and one line,
    /// before anything is written.
    @Test(
        arguments: [
            ["install"], ["label"], ["label", "--print"], ["hook", "--mode", "join"],
        ])
    func aKeyKubeletRefusesIsAUsageError(_ command: [String]) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        let result = try Umockdev.run(
            command + ["--root", root, "--key", "net.kubernetes.io/sriov"], in: testbed.root)
        #expect(result.status == 64)
        #expect(result.stdout == "")
        #expect(
            result.stderr
                == "harvester-sriov: --key net.kubernetes.io/sriov: \(InstallTests.kubernetesNamespace)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    @Test func hookInstallsIntoAnElementalTargetAndASecondRunChangesNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        _ = try folder.folder("target/oem")
        let testbed = try Testbed(Fixtures.server)
        let policy = PolicyCommandTests.examples[2]
        let first = try Umockdev.run(
            ["hook", "--mode", "join", "--root", root, "--policy", policy, "--node-label", "zone=a"], in: testbed.root)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(
            first.stdout == """
                harvester-sriov hook, mode join, layout harvester, root \(root)
                node label: network-sriov.capable=true (5 SR-IOV capable PFs)
                policy enp59s0f1-pods: added
                policy enp59s0f1-vms: added
                created \(root)/usr/local/etc/harvester-sriov/state.json
                created \(root)/usr/local/bin/harvester-sriov
                created \(root)/oem/91_harvester_sriov.yaml
                created \(root)/usr/local/etc/harvester-sriov/node-label-patch.json

                """)
        let state = try JSONDocument(try folder.read("target/usr/local/etc/harvester-sriov/state.json"))
        #expect(
            (state["cards"] as? [Any])?.count == 1, "the hardware is live during installation: the card is recorded")
        #expect(state["nodeLabels", "zone"] as? String == "a")
        #expect(
            FileManager.default.contentsEqual(
                atPath: folder.path("target/usr/local/bin/harvester-sriov"), andPath: Umockdev.binary.path))

        let second = try Umockdev.run(
            ["hook", "--mode", "join", "--root", root, "--policy", policy, "--node-label", "zone=a"], in: testbed.root)
        #expect(second.status == 0)
        #expect(second.stdout.hasSuffix("nothing changed: 3 files already as they should be\n"))
        #expect(second.stdout.contains("unchanged \(root)/usr/local/etc/harvester-sriov/state.json"))
    }

    @Test func hookWritesNothingWhenAPolicyIsInvalid() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        try folder.write(
            "bad.yaml",
            PolicyManifest.policy("bad", #"{resourceName: r, numVfs: 99, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        let testbed = try Testbed(Fixtures.server)
        let result = try Umockdev.run(
            ["hook", "--mode", "create", "--root", root, "--policy", folder.path("bad.yaml")], in: testbed.root)
        #expect(result.status == 65)
        #expect(
            result.stderr.contains(
                "asks for 99 VFs on enp59s0f0 (0000:3b:00.0), which allows at most 64 (sriov_totalvfs)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    @Test(
        arguments: [
            (
                ["hook", "--mode", "install", "--root", "relative"], 64,
                "harvester-sriov: --root relative: must be an absolute path, e.g. --root /run/cos/target\n"
            ),
            (["hook", "--mode", "upgrade", "--root", "/tmp"], 64, nil),
            (["hook", "--mode", "install"], 64, nil),
        ] as [([String], Int32, String?)])
    func hookRefusesBadArguments(_ arguments: [String], _ status: Int32, _ message: String?) throws {
        let testbed = try Testbed([Fixtures.nvme])
        let result = try Umockdev.run(arguments, in: testbed.root)
        #expect(result.status == status)
        if let message { #expect(result.stderr == message) }
    }

    @Test func installIntoAReadOnlyTargetFailsClearly() throws {
        let testbed = try Testbed([Fixtures.x710])
        let result = try Umockdev.run(["install", "--root", "/proc/self", "--layout", "fhs"], in: testbed.root)
        #expect(result.status == 74)
        #expect(result.stderr.hasPrefix("harvester-sriov: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    /// Tests run the debug build, not the one scripts/build-release links against the
    /// nodes' glibc: the commands that copy it onto a node say so, `label` does not copy it.
    @Test(arguments: [
        (["install", "--layout", "fhs"], true), (["hook", "--mode", "install", "--layout", "fhs"], true),
        (["label", "--layout", "fhs"], false),
    ])
    func aDevelopmentBuildSaysSoWhenItInstallsItself(command: [String], copiesTheBinary: Bool) throws {
        #expect(!Build.isRelease)
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        let result = try Umockdev.run(command + ["--root", root], in: testbed.root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == (copiesTheBinary ? "note: \(Build.developmentNote)\n" : ""))
        #expect(FileManager.default.fileExists(atPath: root + "/usr/local/bin/harvester-sriov") == copiesTheBinary)
    }

    @Test func installDryRunOnTheCommandLine() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        let result = try Umockdev.run(["install", "--dry-run", "--root", root, "--layout", "fhs"], in: testbed.root)
        #expect(result.status == 0)
        #expect(
            result.stdout.contains(
                "would be created: \(root)/etc/udev/rules.d/70-harvester-sriov.rules\n--- /dev/null\n+++ b\(root)/etc/udev/rules.d/70-harvester-sriov.rules\n"
            ))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }
}
