import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import Testbed
import Testing

/// The real kernel side, against umockdev testbeds: what it reads, and that its
/// writes go through a child process that can be abandoned.
@Suite struct SysfsKernelTests {
    let kernel = SysfsKernel(executable: Umockdev.binary.path)

    @Test func readsAPFWithItsVFs() throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        let pf = try #require(try Umockdev.within(testbed.root) { kernel.pf(PCIAddress("0000:3b:00.0")!) })
        #expect(pf.driver == "i40e")
        #expect(pf.netdev == "enp59s0f0")
        #expect(pf.mtu == 1500)
        #expect(pf.totalVFs == 64)
        #expect(pf.numVFs == 4)
        #expect(pf.ready)
        #expect(pf.vfs.map(\.index) == [0, 1, 2, 3])
        #expect(pf.vfs.map(\.driver) == ["iavf", "iavf", "iavf", "vfio-pci"])
        #expect(pf.vfs.map(\.netdev) == ["enp59s0f0v0", "enp59s0f0v1", "enp59s0f0v2", nil])
        #expect(pf.vfs.first?.mac == "02:fd:fe:9e:a1:00")
        #expect(pf.vfs.map(\.iommuGroup) == [31, 32, 33, 34])
        #expect(try Umockdev.within(testbed.root) { kernel.pf(PCIAddress("0000:99:00.0")!) } == nil)
        #expect(
            try Umockdev.within(testbed.root) { kernel.driverLoaded("vfio-pci") && !kernel.driverLoaded("mlx5_core") })
    }

    @Test func writesNumVFsThroughAChildProcess() throws {
        let testbed = try Testbed([Fixtures.x710])
        try Umockdev.within(testbed.root) {
            try kernel.setNumVFs(8, pf: PCIAddress("0000:3b:00.0")!, timeout: .seconds(5))
        }
        #expect(
            try String(
                contentsOfFile: testbed.root + "/sys/devices/pci0000:00/0000:3b:00.0/sriov_numvfs", encoding: .utf8)
                == "8")
    }

    @Test func aWriteThatNeverReturnsIsAbandonedAtTheDeadline() throws {
        let testbed = try Testbed([Fixtures.x710])
        // A FIFO with no reader: opening it for writing blocks, as a stuck driver does.
        let file = testbed.root + "/sys/devices/pci0000:00/0000:3b:00.0/sriov_numvfs"
        try FileManager.default.removeItem(atPath: file)
        #expect(mkfifo(file, 0o644) == 0)
        #expect(
            throws: KernelError(
                target: "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs", operation: "write 8 to",
                timedOut: .milliseconds(500))
        ) {
            try Umockdev.within(testbed.root) {
                try kernel.setNumVFs(8, pf: PCIAddress("0000:3b:00.0")!, timeout: .milliseconds(500))
            }
        }
    }

    @Test func theChildReportsTheErrno() throws {
        let testbed = try Testbed([Fixtures.virtio])
        #expect(
            throws: KernelError(
                target: "/sys/bus/pci/devices/0000:00:03.0/sriov_numvfs", operation: "write 2 to",
                errno: .noSuchFileOrDirectory)
        ) {
            try Umockdev.within(testbed.root) {
                try kernel.setNumVFs(2, pf: PCIAddress("0000:00:03.0")!, timeout: .seconds(5))
            }
        }
    }

    @Test func bindingSetsTheOverrideAndProbes() throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        // umockdev has no drivers: unbind and drivers_probe are plain files there.
        let probe = testbed.root + "/sys/bus/pci/drivers_probe"
        _ = FileManager.default.createFile(atPath: probe, contents: nil)
        let unbind = testbed.root + "/sys/bus/pci/drivers/iavf/unbind"
        _ = FileManager.default.createFile(atPath: unbind, contents: nil)
        try Umockdev.within(testbed.root) {
            try kernel.bind(PCIAddress("0000:3b:02.0")!, to: "vfio-pci", timeout: .seconds(5))
        }
        #expect(
            try String(
                contentsOfFile: testbed.root + "/sys/devices/pci0000:00/0000:3b:02.0/driver_override", encoding: .utf8)
                == "vfio-pci")
        #expect(try String(contentsOfFile: unbind, encoding: .utf8) == "0000:3b:02.0")
        #expect(try String(contentsOfFile: probe, encoding: .utf8) == "0000:3b:02.0")
    }

    /// Harvester's PCI devices addon leaves the VF ID in vfio-pci's dynamic IDs (new_id); a VF bound back to its
    /// network driver must not be probed to vfio-pci again, so the ID is removed first (and only then).
    @Test(arguments: [nil, "vfio-pci"])
    func bindingToTheNetworkDriverRemovesVFIOsDynamicID(driver: String?) throws {
        let testbed = try Testbed([Fixtures.x710WithVFs])
        for file in [
            "sys/bus/pci/drivers_probe", "sys/bus/pci/drivers/vfio-pci/remove_id",
            "sys/bus/pci/drivers/vfio-pci/unbind",
        ] {
            try FileManager.default.createDirectory(
                atPath: testbed.root + "/" + (file as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: testbed.root + "/" + file, contents: nil)
        }
        try Umockdev.within(testbed.root) {
            try kernel.bind(PCIAddress("0000:3b:02.3")!, to: driver, timeout: .seconds(5))
        }
        let removed = try String(
            contentsOfFile: testbed.root + "/sys/bus/pci/drivers/vfio-pci/remove_id", encoding: .utf8)
        #expect(removed == (driver == nil ? "8086 154c" : ""))
    }
}

/// `restore` and `status` as a user runs them.
@Suite struct RestoreCommandTests {
    @Test func statusIsInSyncWhenTheKernelMatchesThePlanAndSays3WhenNot() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let run = try folder.folder("run")
        let testbed = try Testbed([Fixtures.x710WithVFs])
        try folder.write(
            "p.yaml",
            PolicyManifest.policy(
                "x710", #"{resourceName: x710, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0#0-2"]}}"#,
                annotations: "harvester-sriov.io/vf-mac: kernel")
                + PolicyManifest.policy(
                    "vm",
                    #"{resourceName: vm, numVfs: 4, deviceType: vfio-pci, nicSelector: {pfNames: ["enp59s0f0#3-3"]}}"#))
        #expect(
            try Umockdev.run(["policy", "apply", "--root", root, folder.path("p.yaml")], in: testbed.root).status == 0)

        let inSync = try Umockdev.run(["status", "--root", root, "--runtime-directory", run], in: testbed.root)
        #expect(inSync.status == 0)
        #expect(inSync.stdout.hasPrefix("PF         PCI ADDRESS   VFS  STATE\nenp59s0f0  0000:3b:00.0  4/4  in sync\n"))
        #expect(inSync.stdout.contains("No restore has run since boot."))

        try folder.write(
            "p.yaml",
            PolicyManifest.policy("x710", #"{resourceName: x710, numVfs: 8, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        #expect(
            try Umockdev.run(["policy", "apply", "--root", root, folder.path("p.yaml")], in: testbed.root).status == 0)
        let drift = try Umockdev.run(
            ["status", "--json", "--root", root, "--runtime-directory", run], in: testbed.root)
        #expect(drift.status == 3)
        let json = try JSONDocument(drift.stdout)
        #expect(json["inSync"] as? Bool == false)
        #expect(json["interfaces", 0, "differences"] as? [String] == ["4 VFs instead of 8"])
        #expect(json["lastRestore"] is NSNull)
    }

    @Test func restoreWithNothingStoredSaysSoAndSucceeds() throws {
        let folder = try TemporaryFolder()
        let testbed = try Testbed([Fixtures.x710])
        let result = try Umockdev.run(
            ["restore", "--root", try folder.folder("root"), "--runtime-directory", try folder.folder("run")],
            in: testbed.root)
        #expect(result.status == 0)
        #expect(
            result.stderr
                == "info: no policies are stored in \(folder.path("root"))/etc/harvester-sriov/state.json; nothing to restore\n"
        )
        #expect(folder.exists("run/status.json"))
    }

    @Test func restoreRefusesContradictoryFlags() throws {
        let result = try Umockdev.runBinary(["restore", "--all", "enp59s0f0"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("give --all or PF names, not both"))
    }

    @Test(arguments: [("ok", 0), ("/nonexistent/dir/file", 2)])
    func sysfsWriteExitsWithTheErrno(_ target: String, _ code: Int32) throws {
        let folder = try TemporaryFolder()
        let path = target == "ok" ? folder.path("value") : target
        if target == "ok" { try folder.write("value", "") }
        let result = try Umockdev.runBinary(["sysfs-write", path, "7"])
        #expect(result.status == code)
        if target == "ok" { #expect(try folder.read("value") == "7") }
    }
}
