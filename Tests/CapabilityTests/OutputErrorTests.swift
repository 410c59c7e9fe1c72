import Foundation
import Testbed
import Testing

/// Whatever a command prints goes through one checked writer: a failed write is exit 74.
@Suite struct OutputErrorTests {
    static let failure = "harvester-sriov: writing to standard output failed: No space left on device (ENOSPC)\n"

    /// ROOT, RUN and POLICY stand for a target root with one stored policy, a runtime
    /// folder and a policy file.
    @Test(arguments: [
        ["detect"], ["detect", "--json"], ["plan", "--root", "ROOT"], ["plan", "--json", "--root", "ROOT"],
        ["policy", "check", "POLICY"], ["policy", "apply", "--dry-run", "--root", "ROOT", "POLICY"],
        ["policy", "apply", "--root", "ROOT", "POLICY"], ["policy", "list", "--root", "ROOT"],
        ["policy", "remove", "x710-port0-netdevice", "--root", "ROOT"],
        ["status", "--root", "ROOT", "--runtime-directory", "RUN"],
        ["status", "--json", "--root", "ROOT", "--runtime-directory", "RUN"],
        ["label", "--print"], ["label", "--root", "ROOT"], ["install", "--root", "ROOT"],
        ["install", "--dry-run", "--root", "ROOT"], ["uninstall", "--root", "ROOT"],
        ["hook", "--mode", "install", "--root", "ROOT"], ["--version"], ["--help"], ["detect", "--help"],
        ["export", "cloudinit", "POLICY", "--match-selector", "a=b"], ["export", "device-plugin", "--root", "ROOT"],
        ["export", "kubevirt", "--root", "ROOT"],
    ])
    func aFullStandardOutputIsExit74WithOneLine(_ arguments: [String]) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed(Fixtures.server)
        let policy = PolicyCommandTests.examples[0]
        let stored = try Umockdev.run(["policy", "apply", "--root", root, policy], in: testbed.root)
        #expect(stored.status == 0)
        let placeholders = ["ROOT": root, "RUN": folder.path("run"), "POLICY": policy]
        let substituted = arguments.map { placeholders[$0] ?? $0 }
        let result = try Umockdev.run(substituted, in: testbed.root, stdout: "/dev/full")
        #expect(result.status == 74)
        #expect(result.stderr.hasSuffix(Self.failure), "\(result.stderr)")
        // Before it: only the note that a target root is not this host.
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.allSatisfy { $0.hasPrefix("harvester-sriov: ") || $0.hasPrefix("note: ") })
    }
}
