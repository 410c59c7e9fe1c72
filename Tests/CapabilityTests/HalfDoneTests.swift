import Foundation
import Testbed
import Testing

/// Multi-file writes that must not stop halfway: a hook on a full partition, a purge over a planted link.
@Suite struct HalfDoneTests {
    static let policy = PolicyManifest.policy(
        "x710", #"{resourceName: x710, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#)

    /// A 2 MiB tmpfs as the target: the binary does not fit. Needs root (mount), as CI runs.
    @Test(.enabled(if: geteuid() == 0, "mounts a tmpfs"))
    func hookOnAFullPartitionWritesNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        try folder.write("p.yaml", Self.policy)
        let mounted = try Program.run(
            URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=2m", "tmpfs", root])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        defer { _ = try? Program.run(URL(fileURLWithPath: "/bin/umount"), [root]) }
        let testbed = try Testbed(Fixtures.server)
        let hook = try Umockdev.run(
            ["hook", "--mode", "join", "--root", root, "--layout", "fhs", "--policy", folder.url.path + "/p.yaml"],
            in: testbed.root)
        #expect(hook.status == 74, "\(hook.stderr)")
        #expect(hook.stderr.contains("No space left on device (ENOSPC)"))
        #expect(hook.stderr.contains("free space there and run again (nothing was written)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty, "nothing was written")
    }

    @Test(arguments: ["link", "file"])
    func purgeRefusesAPlantedPoliciesFolderBeforeRemovingAnything(planted: String) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed(Fixtures.server)
        try folder.write("p.yaml", Self.policy)
        let hook = try Umockdev.run(
            ["hook", "--mode", "join", "--root", root, "--layout", "fhs", "--policy", folder.url.path + "/p.yaml"],
            in: testbed.root)
        #expect(hook.status == 0, "\(hook.stderr)")
        let dropIns = root + "/etc/harvester-sriov/policies.d"
        try? FileManager.default.removeItem(atPath: dropIns)
        if planted == "link" {
            try FileManager.default.createSymbolicLink(atPath: dropIns, withDestinationPath: folder.url.path)
        } else {
            try folder.write("root/etc/harvester-sriov/policies.d", "not a folder\n")
        }
        let before = try RootTree(root)
        let purge = try Umockdev.run(["uninstall", "--purge", "--root", root, "--layout", "fhs"], in: testbed.root)
        #expect(purge.status == 77, "\(purge.stderr)")
        #expect(purge.stderr.split(separator: "\n").count == 1)
        #expect(try RootTree(root) == before, "nothing removed")
    }
}
