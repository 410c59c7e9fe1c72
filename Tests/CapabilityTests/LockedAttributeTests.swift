import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 21: on a kernel whose PCI locks are wedged (a NIC hot-unplugged while its VFs were made), a read of
/// `sriov_numvfs` sleeps for good. Every command still answers within its deadline and names the attribute.
/// A FIFO whose writer never writes stands in for the attribute: its read blocks, as the kernel's does.
@Suite struct LockedAttributeTests {
    @Test func detectStatusAndDoctorAnswerWithinTheDeadlineAndNameTheAttribute() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let testbed = try Testbed([DoctorTests.x710()])
        try folder.write(
            "p.yaml",
            PolicyManifest.policy("vms", #"{resourceName: vms, numVfs: 4, nicSelector: {pfNames: ["enp59s0f0"]}}"#))
        let hook = try Umockdev.run(
            ["hook", "--mode", "join", "--root", root, "--layout", "fhs", "--policy", folder.url.path + "/p.yaml"],
            in: testbed.root)
        #expect(hook.status == 0, "\(hook.stderr)")

        let file = testbed.path("0000:3b:00.0", "sriov_numvfs")
        #expect(unlink(file) == 0)
        #expect(mkfifo(file, 0o644) == 0)
        // The writer end held open and never written: a read waits.
        let writer = open(file, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        #expect(writer >= 0)
        defer { close(writer) }

        let commands = [
            ["detect"], ["status", "--root", root, "--offline", "--runtime-directory", try folder.folder("run")],
            ["doctor", "--root", root],
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = testbed.root
        let start = ContinuousClock.now
        let running = try commands.map { try Program.start(Umockdev.binary, $0, environment: environment) }
        let results = try running.map { try $0.wait() }
        let took = ContinuousClock.now - start
        // The deadline, and the starts of three processes on a machine busy with the other tests.
        #expect(took < LockedAttribute.deadline + .seconds(20), "\(took)")
        for (command, result) in zip(commands, results) {
            #expect(!result.signaled, "\(command[0])")
            // The first to read waits out the deadline; one that comes while that read is still asleep does
            // not read beside it.
            let path = "harvester-sriov: /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs: "
            #expect(
                result.stderr.contains(path + "it did not answer within 10 s; ")
                    || result.stderr.contains(path + "process "),
                "\(command[0]): \(result.stderr)")
            #expect(result.stderr.contains("reboot the node"), "\(command[0]): \(result.stderr)")
        }
        #expect(results[0].status == 0, "\(results[0].stderr)")
        #expect(results[1].status == 3, "unknown count: drift; \(results[1].stdout)")
    }

    @Test func recordsSurviveTheirRoundTrip() throws {
        let bytes =
            LockedAttribute.Record.make(index: 0, .success("7"))
            + LockedAttribute.Record.make(index: 2, .failure(.noSuchFileOrDirectory))
            + Array("1 0 3".utf8)  // cut short: no answer
        let answers = LockedAttribute.Record.parse(bytes)
        #expect(answers.count == 2)
        #expect(try answers[0]?.get() == "7")
        #expect(answers[2].map { if case .failure(.noSuchFileOrDirectory) = $0 { true } else { false } } == true)
        #expect(answers[1] == nil)
    }
}
