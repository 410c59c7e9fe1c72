import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 21: on a kernel whose PCI locks are wedged (a NIC hot-unplugged while its VFs were made), a read of
/// `sriov_numvfs` sleeps for good. Every command still answers: at once where it needs no such read, and
/// within the deadline, naming the attribute, where it does.
/// A FIFO whose writer never writes stands in for the attribute: its read blocks, as the kernel's does.
@Suite struct LockedAttributeTests {
    /// Judged by what each command says, not by the wall clock: a command that met the deadline says "did not
    /// answer within 10 s"; one that never returned is the time limit's failure.
    @Test(.timeLimit(.minutes(1)))
    func detectStatusAndDoctorAnswerWithinTheDeadlineAndNameTheAttribute() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let pf = DoctorTests.x710()
        let testbed = try Testbed([pf])
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

        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = testbed.root
        let path = "harvester-sriov: /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs: "
        func runAll(_ commands: [[String]]) throws -> [Program.Result] {
            let running = try commands.map { try Program.start(Umockdev.binary, $0, environment: environment) }
            let results = try running.map { try $0.wait() }
            for (command, result) in zip(commands, results) { #expect(!result.signaled, "\(command[0])") }
            return results
        }
        func namesTheAttribute(_ result: Program.Result) -> Bool {
            // The first to read waits out the deadline; one that comes while that read is still asleep does
            // not read beside it.
            (result.stderr.contains(path + "it did not answer within 10 s; ")
                || result.stderr.contains(path + "process "))
                && result.stderr.contains("reboot the node")
        }

        // Discovery takes the count from config space, which takes no device lock: detect and doctor do not wait.
        // Restore's reader, which status uses, reads the attribute itself.
        let first = try runAll([
            ["detect"], ["doctor", "--root", root],
            ["status", "--root", root, "--offline", "--runtime-directory", try folder.folder("run")],
        ])
        #expect(first[0].status == 0 && !first[0].stderr.contains(path), "\(first[0].stderr)")
        #expect(first[0].stdout.contains(" 4/64 "), "\(first[0].stdout)")
        #expect(!first[1].stderr.contains(path), "\(first[1].stderr)")
        #expect(namesTheAttribute(first[2]), "\(first[2].stderr)")
        #expect(first[2].status == 3, "unknown count: drift; \(first[2].stdout)")

        // Where config space cannot tell (a user who is not root reads 64 bytes of it), detect reads the attribute.
        try CorruptSysfsTests.hideConfigSpaceCount(testbed, pf)
        let second = try runAll([["detect"]])
        #expect(second[0].status == 0, "\(second[0].stderr)")
        #expect(namesTheAttribute(second[0]), "\(second[0].stderr)")
        #expect(second[0].stdout.contains(" -/64 "), "\(second[0].stdout)")
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
