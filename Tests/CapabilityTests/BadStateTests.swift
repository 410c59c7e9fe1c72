import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// A stored state that cannot be used: restore says so in the journal and touches no
/// VF; plan and status exit 65 with the message. And no input of the state, restore
/// or status paths reaches a trap.
@Suite struct BadStateTests {
    typealias H = RestoreHarness

    /// States that are invalid whatever else the decoder checks: not JSON, and a schema
    /// version from the future.
    static func badStates() throws -> [(label: String, text: String, says: String)] {
        let yaml = PolicyManifest.policy(
            "x710", #"{resourceName: x710, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#)
        let policy = try #require(PolicyDecoder.decode(yaml, file: "p.yaml").policies.first)
        let valid = Data(DesiredState(policies: [policy]).jsonBytes)
        var json = try #require(try JSONSerialization.jsonObject(with: valid) as? [String: Any])
        json["schemaVersion"] = 99
        let future = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        return [
            ("not JSON", "{\"schemaVersion\": 1, \"policies\": [", "is not a harvester-sriov state file"),
            ("schema version 99", future, "schema version 99"),
        ]
    }

    @Test(arguments: [0, 1])
    func restoreLogsAnInvalidStateAndLeavesTheVFsAlone(_ which: Int) throws {
        let bad = try Self.badStates()[which]
        let node = try H([H.x710()])
        try node.apply(
            PolicyManifest.policy("x710", #"{resourceName: x710, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        _ = try node.restore()
        let before = node.kernel.changeLog
        #expect(!before.isEmpty, "the first restore created the VFs")

        try node.folder.write("root/etc/harvester-sriov/state.json", bad.text)
        let error = #expect(throws: SRIOVError.self) { try node.restore() }
        #expect(error?.exitCode == 65)
        #expect(node.kernel.changeLog == before, "no sysfs or netlink write")
        #expect(node.kernel.snapshot("0000:3b:00.0")?.vfs.count == 4, "the VFs are still there")
        let statePath = node.store.displayPath
        let logged = node.logs.all.suffix(2)
        #expect(logged.first?.hasPrefix("error: \(statePath): ") == true)
        #expect(logged.first?.contains(bad.says) == true)
        #expect(
            logged.last == "error: the stored state \(statePath) is invalid, so no VF was changed: "
                + "fix the file, or remove it and apply the policies again")
    }

    /// As the boot unit runs it: the lines reach the journal with the error priority.
    @Test(arguments: [0, 1])
    func theRestoreCommandSaysItInTheJournalAndExits65(_ which: Int) throws {
        try Umockdev.requirePreload()
        let bad = try Self.badStates()[which]
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let run = try folder.folder("run")
        try folder.write("root/etc/harvester-sriov/state.json", bad.text)
        let testbed = try Testbed([Fixtures.x710WithVFs])
        let numVFs = testbed.root + "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs"
        let before = try String(contentsOfFile: numVFs, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = testbed.root
        environment["JOURNAL_STREAM"] = "8:1234"
        let result = try Umockdev.runBinary(
            ["restore", "--root", root, "--runtime-directory", run],
            environment: environment)
        #expect(result.status == 65)
        #expect(result.stdout == "")
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3, "one line per problem, one that says what restore did, and the final newline")
        #expect(lines.first?.hasPrefix("<3>\(root)/etc/harvester-sriov/state.json: ") == true)
        #expect(lines.first?.contains(bad.says) == true)
        #expect(
            lines.dropFirst().first.map(String.init)
                == "<3>the stored state \(root)/etc/harvester-sriov/state.json "
                + "is invalid, so no VF was changed: "
                + "fix the file, or remove it and apply the policies again")
        #expect(try String(contentsOfFile: numVFs, encoding: .utf8) == before)
    }

    @Test(arguments: [["plan"], ["status"], ["status", "--json"], ["policy", "list"]])
    func planAndStatusExit65WithTheMessage(_ command: [String]) throws {
        let bad = try Self.badStates()[1]
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let run = try folder.folder("run")
        try folder.write("root/etc/harvester-sriov/state.json", bad.text)
        let testbed = try Testbed([Fixtures.x710WithVFs])
        let runtime = command[0] == "status" ? ["--runtime-directory", run] : []
        let result = try Umockdev.run(command + ["--root", root] + runtime, in: testbed.root)
        #expect(result.status == 65)
        #expect(result.stdout == "")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("\(root)/etc/harvester-sriov/state.json: ") == true)
        #expect(lines.first?.contains(bad.says) == true)
        #expect(lines.last == "harvester-sriov: 1 problem; nothing was written")
    }

    // MARK: - No trap from input

    /// numVfs 0 and Int.min (a state file written by hand) made `0...(numVfs - 1)` trap.
    @Test(arguments: [0, -1, Int.min])
    func aPolicyAskingForNoVFsResolvesToNothing(_ numVfs: Int) throws {
        let host = try SimulatedKernel([H.x710()]).inventory()
        let spec = PolicySpec(resourceName: "none", numVfs: numVfs, nicSelector: NICSelector(vendor: "8086"))
        let policy = NodePolicy(name: "none", spec: spec)
        let plan = PlanResolver.resolve([policy], host: host, labels: [:])
        #expect(plan.interfaces.isEmpty)
        #expect(plan.unmatched.map(\.reason) == ["numVfs \(numVfs) asks for no VFs"])
    }

    /// A VF range as wide as Int (a state file written by hand) is walked over the VFs
    /// present, not index by index.
    @Test func aRangeAsWideAsIntIsNotWalkedIndexByIndex() throws {
        let kernel = SimulatedKernel([H.x710()])
        try kernel.setNumVFs(4, pf: PCIAddress("0000:3b:00.0")!, timeout: .seconds(1))
        let pf = try #require(kernel.pf(PCIAddress("0000:3b:00.0")!))
        let group = VFGroup(
            resourceName: "wide", deviceType: .vfioPCI, vfRange: 2...Int.max, policyName: "wide",
            mtu: nil, isRdma: false)
        let planned = PlannedInterface(
            pciAddress: pf.address, name: "enp59s0f0", numVfs: 4, mtu: nil, linkType: nil,
            vfGroups: [group], numVfsPolicy: "wide")
        #expect(Drift.differences(planned, pf, card: nil).count == 2, "VFs 2 and 3 are not on vfio-pci")
    }

    /// VFs are found by the kernel's index, not by their position in the list.
    @Test func aVFIsFoundByItsIndexWhenTheKernelSkippedOne() throws {
        let address = PCIAddress("0000:3b:02.0")!
        let vfs = [0, 2].map {
            VFState(index: $0, address: address, driver: nil, netdev: nil, mtu: nil, mac: nil, iommuGroup: nil)
        }
        let pf = PFState(address: address, driver: "i40e", netdev: "p", mtu: nil, totalVFs: 64, numVFs: 3, vfs: vfs)
        #expect(pf.vf(2)?.index == 2)
        #expect(pf.vf(1) == nil)
        #expect(pf.vf(-1) == nil)
        #expect(pf.vf(Int.max) == nil)
    }

    @Test func durationsBeyondIntSaturateInMessages() {
        #expect(milliseconds(.seconds(Int64.max)) == Int.max)
        #expect(milliseconds(.seconds(Int64.min)) == Int.min)
        #expect(seconds(.seconds(Int64.max)) == "9223372036854775.8")
        #expect(seconds(.milliseconds(450)) == "0.5")
        #expect(seconds(.milliseconds(60_000)) == "60")
    }

    @Test(arguments: [
        ["restore", "--timeout", "9223372036854775807"], ["restore", "--wait", "9223372036854775807"],
        ["restore", "--timeout", "0"], ["install", "--wait", "9223372036854775807", "--root", "/nonexistent"],
        ["hook", "--mode", "join", "--root", "/nonexistent", "--timeout=-1"],
    ])
    func secondsBeyondADayAreRefusedBeforeTheyOverflow(_ arguments: [String]) throws {
        let result = try Umockdev.runBinary(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("--timeout must be 1 to 86400 seconds and --wait 0 to 86400"))
    }
}

/// Inputs that once crashed or hung what plan, restore and status do with a state,
/// replayed through the state fuzzer's plain build (scripts/fuzz-state finds new ones).
@Suite struct StateFuzzerRegressionTests {
    static let fuzzer = Umockdev.binary.deletingLastPathComponent().appendingPathComponent("state-fuzzer")
    static let regressions = PolicyCommandTests.repository.appendingPathComponent("Tests/StateFuzzer/regressions")

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: fuzzer.path),
            "needs the state-fuzzer beside harvester-sriov (swift build --build-tests builds it)"))
    func keptInputsDecodeAndResolveWithoutATrap() throws {
        let inputs = try FileManager.default.contentsOfDirectory(atPath: Self.regressions.path).sorted()
            .map { Self.regressions.appendingPathComponent($0).path }
        #expect(inputs.count >= 3)
        let result = try Program.run(Self.fuzzer, inputs, stdout: "/dev/null")
        #expect(!result.signaled && result.status == 0, "\(result.stderr)")
    }
}
