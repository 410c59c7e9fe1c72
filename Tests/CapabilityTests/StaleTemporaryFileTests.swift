import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Temporary files that killed writes leave behind: removed by the writer and by uninstall
/// once their writer is gone, never while it is alive.
@Suite struct StaleTemporaryFileTests {
    static func temporary(_ name: String, pid: pid_t, _ random: String = "1234") -> String {
        ".\(name).harvester-sriov-tmp.\(pid).\(random)"
    }

    /// Sets a file's modification time to 2000-01-01, before any boot of this machine.
    static func backdate(_ path: String) throws {
        let january2000 = Date(timeIntervalSince1970: 946_684_800)
        try FileManager.default.setAttributes([.modificationDate: january2000], ofItemAtPath: path)
    }

    @Test func theNameIsOursAndNamesTheWriter() {
        let name = RootWriter.temporaryName("harvester-sriov")
        #expect(name.hasPrefix(".harvester-sriov.harvester-sriov-tmp.\(getpid())."))
        #expect(RootWriter.temporaryWriter(name, of: "harvester-sriov") == getpid())
        #expect(RootWriter.temporaryWriter(name, of: "harvester") == nil, "another file's temporary")
        let prefix = ".harvester-sriov.harvester-sriov-tmp."
        for foreign in [
            ".harvester-sriov.tmp-12-34", prefix + "12", prefix + "12.3.4", prefix + "x.3", prefix + "0.3",
            prefix + ".3", prefix + "+1.3", prefix + "１２.3",
        ] {
            #expect(RootWriter.temporaryWriter(foreign, of: "harvester-sriov") == nil, "\(foreign)")
        }
    }

    @Test func installRemovesADeadWritersFilesAndLeavesALiveOnesAlone() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let dead = try Processes.deadPID()
        #expect(kill(dead, 0) != 0 && errno == ESRCH, "the child was reaped")
        let bin = "root/usr/local/bin/"
        let wants = "root/etc/systemd/system/multi-user.target.wants/"
        let stale = bin + Self.temporary("harvester-sriov", pid: dead)
        let live = bin + Self.temporary("harvester-sriov", pid: getpid())
        // Our own PID is alive, but a file from before this boot was written by an earlier
        // process that had the same PID.
        let earlierBoot = bin + Self.temporary("harvester-sriov", pid: getpid(), "99")
        let foreign = [
            bin + ".harvester-sriov.tmp-\(dead)-1", bin + Self.temporary("other", pid: dead),
            bin + ".harvester-sriov.harvester-sriov-tmp.\(dead)",
        ]
        for path in [stale, live, earlierBoot] + foreign { try folder.write(path, "partial") }
        try Self.backdate(folder.path(earlierBoot))
        _ = try folder.folder(wants)
        let staleLink = wants + Self.temporary("harvester-sriov-restore.service", pid: dead)
        try FileManager.default.createSymbolicLink(atPath: folder.path(staleLink), withDestinationPath: "../x.service")

        let installation = NodeInstallation(root: try TargetRoot(root), options: InstallOptions(layout: .fhs))
        _ = try installation.install(
            label: try CapabilityLabel(capable: true), binary: Array("binary".utf8), dryRun: false)

        #expect(!folder.exists(stale))
        #expect(!folder.exists(earlierBoot))
        // lstat, since the link dangles and a check that follows it would miss a link left behind.
        var linkStatus = stat()
        #expect(lstat(folder.path(staleLink), &linkStatus) == -1 && errno == ENOENT, "the stale link is removed")
        #expect(folder.exists(live), "a write in progress is left alone")
        for path in foreign { #expect(folder.exists(path), "\(path) is not ours") }
        #expect(try folder.read("root/usr/local/bin/harvester-sriov") == "binary")
    }

    @Test(arguments: [false, true])
    func uninstallRemovesThemWithAndWithoutPurge(_ purge: Bool) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let installation = NodeInstallation(root: try TargetRoot(root), options: InstallOptions(layout: .harvester))
        _ = try installation.install(
            label: try CapabilityLabel(capable: true), binary: Array("binary".utf8), dryRun: false)
        let dead = try Processes.deadPID()
        let stale = [
            "usr/local/bin/" + Self.temporary("harvester-sriov", pid: dead),
            "oem/" + Self.temporary("91_harvester_sriov.yaml", pid: dead),
            "usr/local/etc/harvester-sriov/" + Self.temporary("state.json", pid: dead),
        ]
        let live = "usr/local/bin/" + Self.temporary("harvester-sriov", pid: getpid())
        for path in stale + [live] { try folder.write("root/" + path, "partial") }

        let changes = try installation.uninstall(purge: purge)
        for path in stale {
            #expect(!folder.exists("root/" + path))
            #expect(changes.contains { $0.path == "\(root)/\(path)" && $0.outcome == .removed }, "\(path) is reported")
        }
        #expect(folder.exists("root/" + live))
        #expect(folder.exists("root/usr/local/etc/harvester-sriov/state.json") == !purge)
    }

    @Test func uninstallOnTheCommandLineSaysWhatItRemoved() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let dead = try Processes.deadPID()
        try folder.write("root/usr/local/bin/" + Self.temporary("harvester-sriov", pid: dead), "partial")
        let testbed = try Testbed([Fixtures.nvme])
        let result = try Umockdev.run(["uninstall", "--root", root, "--layout", "fhs"], in: testbed.root)
        #expect(result.status == 0)
        let stale = "\(root)/usr/local/bin/\(Self.temporary("harvester-sriov", pid: dead))"
        #expect(result.stdout.hasPrefix("removed \(stale)\nabsent "))
    }
}
