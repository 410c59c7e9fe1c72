import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `hook` writes everything or nothing: every target is checked before the first write.
@Suite struct HookAllOrNothingTests {
    /// Every path hook writes, per layout: what install writes, and the state file.
    static let targets: [(Layout, String)] = Layout.allCases.flatMap { layout in
        ((InstallTests.expectedPaths[layout] ?? []) + [layout.stateFile.string]).map { (layout, $0) }
    }
    /// The links `systemctl enable` would make: the boot unit's and the path units'.
    static let enablementLinks: Set<String> = [
        "etc/systemd/system/multi-user.target.wants/harvester-sriov-restore.service",
        "etc/systemd/system/multi-user.target.wants/harvester-sriov-policies.path",
        "etc/systemd/system/multi-user.target.wants/harvester-sriov-cluster.path",
        "etc/systemd/system/rke2-server.service.wants/harvester-sriov-label.service",
        "etc/systemd/system/timers.target.wants/harvester-sriov-waiting.timer",
        "etc/systemd/system/rke2-agent.service.wants/harvester-sriov-label.service",
    ]

    /// Plants at `path` what the writer must refuse: a link to a file outside the root or,
    /// where a link belongs, a regular file.
    static func plant(_ path: String, in folder: TemporaryFolder) throws {
        try folder.write("outside/secret", "secret\n")
        if enablementLinks.contains(path) {
            try folder.write("root/" + path, "not a link\n")
        } else {
            _ = try folder.folder("root/" + (path as NSString).deletingLastPathComponent)
            try FileManager.default.createSymbolicLink(
                atPath: folder.path("root/" + path),
                withDestinationPath: folder.path("outside/secret"))
        }
    }

    @Test(arguments: targets, [false, true])
    func anUnsafeTargetStopsHookBeforeItWritesAnything(_ target: (Layout, String), _ dryRun: Bool) throws {
        let (layout, path) = target
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try Self.plant(path, in: folder)
        let before = try RootTree(folder.path(""))

        let host = try Umockdev.discover(Fixtures.server)
        let hook = HookRun(root: try TargetRoot(root), options: InstallOptions(layout: layout))
        do {
            _ = try hook.run(
                policyFiles: [PolicyCommandTests.examples[2]], nodeLabels: [:],
                labelKey: CapabilityLabel.defaultKey, host: host, binary: Array("binary".utf8),
                dryRun: dryRun)
            Issue.record("hook must refuse \(path)")
        } catch {
            #expect(error.exitCode == 77)
            #expect(error.description.hasPrefix("refusing to "))
            #expect(error.description.contains("\(root)/\(path): it is a "), "\(error)")
        }
        #expect(try RootTree(folder.path("")) == before, "nothing was written, the state file included")
    }

    @Test func onTheCommandLineItExits77WithOneLineAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        _ = try folder.folder("target/oem")
        try folder.write("outside/secret", "secret\n")
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("target/oem/91_harvester_sriov.yaml"),
            withDestinationPath: folder.path("outside/secret"))
        let before = try RootTree(folder.path(""))
        let testbed = try Testbed(Fixtures.server)
        let arguments = ["hook", "--mode", "join", "--root", root, "--policy", PolicyCommandTests.examples[2]]
        let result = try Umockdev.run(arguments, in: testbed.root)
        #expect(result.status == 77)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr == "harvester-sriov: refusing to replace \(root)/oem/91_harvester_sriov.yaml: "
                + "it is a symbolic link; remove it first\n")
        #expect(try RootTree(folder.path("")) == before)
    }

    @Test func checkRefusesALinkedFolderOnTheWayAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        let outside = try folder.folder("outside")
        _ = try folder.folder("root/usr")
        try FileManager.default.createSymbolicLink(atPath: folder.path("root/usr/local"), withDestinationPath: outside)
        let writer = RootWriter(root: try TargetRoot(folder.path("root")))
        let refusal =
            "refusing to write through \(folder.path("root"))/usr/local: it is a symbolic link or not a "
            + "folder, and a path inside --root must not lead outside it; remove it or choose another --root"
        #expect(throws: SRIOVError.unsafePath(refusal)) {
            try writer.check("usr/local/bin/harvester-sriov", as: .file)
        }
        // Missing folders are fine: the write creates them. Check creates nothing.
        try writer.check("etc/udev/rules.d/70-harvester-sriov.rules", as: .file)
        #expect(!folder.exists("root/etc"))
    }
}
