import Foundation
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 19: numbers from flags are range-checked where they are parsed, children run in a process group of
/// their own that is killed whole at the deadline.
@Suite struct BoundsTests {
    /// `label --apply` and `pcidevices` with numbers near Int.max: one line and 64, not "Not enough bits" (132).
    @Test(
        arguments: [
            ["label", "--apply", "--request-timeout", "3074457345618258602"],
            ["pcidevices", "--request-timeout", "9223372036854775807"],
            ["pcidevices", "--request-timeout", "0"],
            ["label", "--apply", "--retry-for", "9223372036854775807"],
            ["pcidevices", "--retry-for=-1"],
            ["pcidevices", "--claim", "--wait-for", "9223372036854775807"],
        ])
    func aNumberOutOfItsRangeIsAUsageLine(arguments: [String]) throws {
        let folder = try TemporaryFolder()
        try folder.write("kubeconfig", "apiVersion: v1\nkind: Config\n")
        let result = try Umockdev.runBinary(
            arguments + ["--root", try folder.folder("root"), "--kubeconfig", folder.path("kubeconfig")])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(!result.signaled)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("harvester-sriov: --") == true, "\(result.stderr)")
        #expect(lines.first?.contains(" seconds") == true, "\(result.stderr)")
    }

    @Test func kubectlRefusesOutOfRangeNumbers() {
        #expect(throws: SRIOVError.usage("--request-timeout 3074457345618258602: must be 1 to 3600 seconds")) {
            try Kubectl(
                kubectl: "/bin/true", kubeconfig: "/dev/null", missingKubeconfig: "",
                requestTimeoutSeconds: Int.max / 3)
        }
        #expect(throws: SRIOVError.usage("--retry-for 86401: must be 0 to 86400 seconds")) {
            try Kubectl(kubectl: "/bin/true", kubeconfig: "/dev/null", missingKubeconfig: "", retrySeconds: 86401)
        }
    }

    /// A script that leaves `sleep 1000` behind and records its pid in `pids`. Written through a descriptor that
    /// no other test's child can inherit, so that running it does not fail with ETXTBSY.
    func script(_ folder: TemporaryFolder, _ body: String) throws -> [String] {
        let text = "#!/bin/sh\nsleep 1000 &\necho $! >> \(folder.path("pids"))\n\(body)\n"
        let fd = open(folder.path("kubectl"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        #expect(fd >= 0)
        #expect(write(fd, text, text.utf8.count) == text.utf8.count)
        close(fd)
        return [folder.path("kubectl")]
    }

    /// Whether a pid still runs (a zombie, waiting for init to reap it, does not).
    /// The script's processes are all gone (SIGKILL takes effect a moment after it is sent): polled, up to 5 s.
    func allGone(_ folder: TemporaryFolder) throws -> Bool {
        for _ in 0..<250 {
            if try running(folder).isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    func running(_ folder: TemporaryFolder) throws -> [String] {
        try folder.read("pids").split(separator: "\n").map(String.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return !stat.contains(") Z ")
        }
    }

    /// The child sleeps past its deadline and its own child holds the output pipe: the run ends at the deadline
    /// and takes the leftover with it.
    @Test func aKubectlThatLeavesAChildEndsAtItsDeadline() throws {
        let folder = try TemporaryFolder()
        let kubectl = try script(folder, "sleep 1000")
        let run = Kubectl.run(kubectl, timeout: .seconds(1))
        #expect(run.status == nil, "killed at the deadline")
        #expect(run.output.hasSuffix("no answer within 1 s"), "\(run.output)")
        #expect(try allGone(folder))
    }

    /// The child exits at once; what it left behind keeps the pipe open: its answer counts at once.
    @Test func aKubectlThatExitsIsDoneThoughItsChildHoldsThePipe() throws {
        let folder = try TemporaryFolder()
        let kubectl = try script(folder, "echo node/worker-1 patched\nexit 0")
        let run = Kubectl.run(kubectl, timeout: .seconds(30))
        #expect(run.status == 0, "its own exit status, not a kill at the deadline")
        #expect(run.lastLine == "node/worker-1 patched")
        #expect(try allGone(folder))
    }

    /// The runner SysfsKernel uses for sysfs-write and modprobe: no pipe, the same group kill.
    @Test func aChildWithoutOutputIsKilledWithItsGroup() throws {
        let folder = try TemporaryFolder()
        let program = try script(folder, "exec sleep 1000")
        let outcome = ChildProcess.run(program, captureOutput: false, timeout: .milliseconds(500))
        #expect(outcome.timedOut)
        #expect(try allGone(folder))
    }
}
