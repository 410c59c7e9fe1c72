import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `doctor` on fake sysfs trees: every check failing and passing.
@Suite struct DoctorTests {
    typealias D = DevicePluginExportTests

    /// An X710 port with 4 VFs, each in an IOMMU group of its own (31-34), the PF in 30.
    static func x710(vfGroups: (Int) -> Int? = { 31 + $0 }, master: FakeMaster? = nil) -> FakeFunction {
        var pf = Catalog.pf(
            .x710, at: "0000:3b:00.0", name: "enp59s0f0", mac: "3c:fd:fe:9e:a1:00", numVFs: 4, iommuGroup: 30)
        for index in pf.sriov!.vfs.indices {
            pf.sriov!.vfs[index].iommuGroup = vfGroups(index)
            pf.sriov!.vfs[index].driver = "vfio-pci"
            pf.sriov!.vfs[index].netdevs = []
        }
        pf.netdevs[0].master = master
        return pf
    }

    static let mlx5 = Catalog.pf(
        .connectX5, at: "0000:86:00.0", name: "ens3f0np0", mac: "98:03:9b:7f:00:a0", iommuGroup: 70)

    static let vms = [D.policy("vms", "vms", 4, D.pf("enp59s0f0"), deviceType: .vfioPCI)]
    static let pods = [D.policy("pods", "pods", 4, D.pf("enp59s0f0"))]

    /// The findings for `policies` on a testbed of `functions`; `modules` as the kernel's module index.
    static func findings(
        _ policies: [NodePolicy], _ functions: [FakeFunction], modules: String? = nil,
        edit: (Testbed) throws -> Void = { _ in }
    ) throws -> [Finding] {
        let testbed = try Testbed(functions)
        try edit(testbed)
        let folder = try TemporaryFolder()
        try folder.write("modules/modules.dep", modules ?? "kernel/drivers/vfio/pci/vfio-pci.ko: vfio.ko\n")
        let (host, facts) = try Umockdev.within(testbed.root) {
            let host = try HostDiscovery.discover()
            return (host, NodeFacts.read(host, modules: folder.url.path + "/modules"))
        }
        let plan = PlanResolver.resolve(policies, host: host, labels: [:])
        return Doctor.findings(plan: plan, host: host, policies: policies, facts: facts)
    }

    @Test(arguments: [true, false])
    func vfioPCIVFsNeedAnIOMMU(present: Bool) throws {
        var pf = Self.x710()
        if !present {
            pf.iommuGroup = nil
            for index in pf.sriov!.vfs.indices { pf.sriov!.vfs[index].iommuGroup = nil }
        }
        let findings = try Self.findings(Self.vms, [pf])
        #expect(findings.map(\.check) == (present ? [] : ["iommu"]))
        if !present {
            #expect(findings[0].severity == .failing)
            #expect(findings[0].fix.contains("iommu=pt"))
            #expect(findings[0].fix.contains("grub2-editenv /oem/grubenv set third_party_kernel_args="))
        }
        // A netdevice plan needs none.
        #expect(try Self.findings(Self.pods, [pf]).isEmpty)
    }

    @Test(arguments: [("alone", nil as Int?), ("with its PF", 30), ("with one another", 31)])
    func eachVfioVFIsAloneInItsGroupOrWithPlannedOnes(label: String, shared: Int?) throws {
        // VF 2 in group `shared`: its PF's group, or VF 0's (both planned vfio-pci VFs, which is fine).
        let pf = Self.x710(vfGroups: { index in index == 2 ? (shared ?? 33) : 31 + index })
        let findings = try Self.findings(Self.vms, [pf])
        if shared == 30 {
            #expect(findings.map(\.check) == ["iommu-group"])
            #expect(findings[0].device == "0000:3b:02.2 (VF 2 of enp59s0f0)")
            #expect(findings[0].what == "IOMMU group 30 also holds 0000:3b:00.0 (its PF)")
        } else {
            #expect(findings.isEmpty, "\(label): \(findings.map(\.line))")
        }
    }

    @Test(arguments: [
        ("mlx5_core", "mstconfig -d 0000:86:00.0 set SRIOV_EN=1 NUM_OF_VFS=200"),
        ("i40e", "i40e and the card's NVM set this limit per port; lower numVfs in policy \"many\" to 64"),
    ])
    func numVfsOverTotalVFsNamesTheVendorsFix(driver: String, fix: String) throws {
        let (pf, name) = driver == "i40e" ? (Self.x710(), "enp59s0f0") : (Self.mlx5, "ens3f0np0")
        let findings = try Self.findings([D.policy("many", "many", 200, D.pf(name))], [pf])
        #expect(findings.map(\.check) == ["vf-count"])
        #expect(findings[0].severity == .failing)
        #expect(findings[0].fix.contains(fix), "\(findings[0].fix)")
        if driver == "mlx5_core" { #expect(findings[0].fix.contains("cold reboot")) }
    }

    @Test(arguments: [
        (FakeMaster.bond("mgmt-bo"), "the PF is a member of bond mgmt-bo (the management network)", "harvester#4601"),
        (FakeMaster.bridge("data-br"), "the PF is a port of bridge data-br (cluster network data)", "harvester#5678"),
    ])
    func aPFInABondOrBridgeIsAWarning(master: FakeMaster, what: String, issue: String) throws {
        let findings = try Self.findings(Self.pods, [Self.x710(master: master)])
        #expect(findings.map(\.check) == ["host-network"])
        #expect(findings[0].severity == .warning)
        #expect(findings[0].what == what)
        #expect(findings[0].why.contains(issue))
    }

    @Test(arguments: [true, false])
    func vfioPCIMustBeLoadableWhenThePlanNeedsIt(moduleThere: Bool) throws {
        // No VF on vfio-pci yet, so the driver is not loaded in the testbed.
        var pf = Self.x710()
        for index in pf.sriov!.vfs.indices { pf.sriov!.vfs[index].driver = "iavf" }
        let findings = try Self.findings(
            Self.vms, [pf], modules: moduleThere ? nil : "kernel/drivers/net/ethernet/intel/i40e/i40e.ko:\n")
        #expect(findings.map(\.check) == (moduleThere ? [] : ["driver"]))
        if !moduleThere { #expect(findings[0].what == "vfio-pci is not loaded and the kernel has no vfio-pci module") }
    }

    @Test func aDriverlessNICAPolicySelectsFails() throws {
        var pf = Self.x710()
        pf.driver = nil
        pf.netdevs = []
        let findings = try Self.findings(
            [D.policy("x710", "x710", 4, NICSelector(vendor: "8086", deviceID: "1572"))], [pf])
        #expect(findings.map(\.check) == ["driver"])
        #expect(findings[0].what == "policy \"x710\" selects this NIC, which has no driver")
    }

    // MARK: - The command

    /// A root with one policy for the X710 port stored, applied on a testbed of `pf`.
    static func applied(_ spec: String, on pf: FakeFunction) throws -> (TemporaryFolder, String, Testbed) {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([pf])
        try folder.write("p.yaml", PolicyManifest.policy("p", spec))
        let applied = try Umockdev.run(
            ["policy", "apply", "--root", root, folder.url.path + "/p.yaml"], in: testbed.root)
        #expect(applied.status == 0, "\(applied.stderr)")
        return (folder, root, testbed)
    }

    @Test func theCommandExits1OnAFailingFindingAndPrintsJSON() throws {
        var pf = Self.x710()
        pf.iommuGroup = nil
        for index in pf.sriov!.vfs.indices { pf.sriov!.vfs[index].iommuGroup = nil }
        let (folder, root, testbed) = try Self.applied(
            #"{resourceName: vms, numVfs: 4, deviceType: vfio-pci, nicSelector: {pfNames: ["enp59s0f0"]}}"#, on: pf)
        defer { withExtendedLifetime(folder) {} }
        let doctor = try Umockdev.run(["doctor", "--root", root], in: testbed.root)
        #expect(doctor.status == 1, "\(doctor.stderr)")
        #expect(doctor.stdout.hasPrefix("failing: iommu: node "))
        let json = try Umockdev.run(["doctor", "--root", root, "--json"], in: testbed.root)
        #expect(json.status == 1)
        #expect(try JSONDocument(json.stdout)["failing"] as? Int == 1)
        #expect(try JSONDocument(json.stdout)["findings", 0, "check"] as? String == "iommu")
    }

    @Test func nothingFoundIsSaidAndExits0() throws {
        let (folder, root, testbed) = try Self.applied(
            #"{resourceName: pods, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#, on: Self.x710())
        defer { withExtendedLifetime(folder) {} }
        let doctor = try Umockdev.run(["doctor", "--root", root], in: testbed.root)
        #expect(doctor.status == 0, "\(doctor.stderr)")
        #expect(doctor.stdout.hasPrefix("nothing stands between node "))
    }

    /// hook says what doctor finds and installs anyway; status shows the failing findings after its table.
    @Test func hookPrintsTheFindingsAndInstallsAnywayAndStatusShowsTheFailingOnes() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        // VF 2 shares its PF's IOMMU group (failing), and the PF is in the management bond (a warning).
        let pf = Self.x710(vfGroups: { index in index == 2 ? 30 : 31 + index }, master: .bond("mgmt-bo"))
        let testbed = try Testbed([pf])
        try folder.write(
            "p.yaml",
            PolicyManifest.policy(
                "vms", #"{resourceName: vms, numVfs: 4, deviceType: vfio-pci, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        let hook = try Umockdev.run(
            ["hook", "--mode", "join", "--root", root, "--layout", "fhs", "--policy", folder.url.path + "/p.yaml"],
            in: testbed.root)
        #expect(hook.status == 0, "\(hook.stderr)")
        #expect(hook.stderr.contains("doctor: failing: iommu-group: 0000:3b:02.2 (VF 2 of enp59s0f0): "))
        #expect(hook.stderr.contains("doctor: warning: host-network: 0000:3b:00.0 (enp59s0f0): "))
        #expect(FileManager.default.fileExists(atPath: root + "/usr/local/bin/harvester-sriov"))
        let status = try Umockdev.run(
            ["status", "--root", root, "--offline", "--runtime-directory", try folder.folder("run")], in: testbed.root)
        #expect(status.stdout.contains("\ndoctor: failing: iommu-group: 0000:3b:02.2"), "\(status.stdout)")
        #expect(!status.stdout.contains("warning"), "status shows only the failing findings")
    }
}
