import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 19: cluster errors are classified by HTTP status, not by kubectl's wording; a kubeconfig or kubectl that
/// is not a regular file is a local problem (74) found before any attempt.
@Suite struct ClusterStatusTests {
    /// kubectl -v=6's response lines, old and structured: taken out of the output, their last status kept.
    @Test func theLastLoggedResponseStatusIsKept() {
        let raw = """
            I1204 21:15:23.805103   23595 loader.go:402] Config loaded from file:  /tmp/kc.yaml
            I1204 21:15:23.805444   23595 round_trippers.go:560] GET http://127.0.0.1:9/api?timeout=2s 200 OK in 3 milliseconds
            I1204 21:15:23.805444   23595 round_trippers.go:560] PATCH http://127.0.0.1:9/api/v1/nodes/a 500 Internal Server Error in 3 milliseconds
            Error from server (StorageRebalancing): the store is rebalancing
            """
        let (output, status) = Kubectl.withoutLog(raw)
        #expect(output == "Error from server (StorageRebalancing): the store is rebalancing")
        #expect(status == 500)
        let structured =
            #"I1204 21:15:23.805444   23595 round_trippers.go:632] "Response" verb="PATCH" url="http://x" status="429 Too Many Requests" milliseconds=3"#
        #expect(Kubectl.withoutLog(structured + "\nerror").httpStatus == 429)
        #expect(
            Kubectl.withoutLog(
                "I1204 21:15:23.805444   23595 round_trippers.go:560] GET http://x/api  in 0 milliseconds"
            )
            .httpStatus == nil)
    }

    @Test(
        arguments: [
            (500, Kubectl.Verdict.retry), (429, .retry), (503, .retry), (408, .retry), (401, .failed(.refused)),
            (403, .failed(.refused)), (404, .failed(.notRegistered)), (422, .failed(.rejected)),
        ] as [(Int, Kubectl.Verdict)])
    func anUnusualReasonIsClassifiedByItsStatus(code: Int, verdict: Kubectl.Verdict) {
        #expect(
            Kubectl.verdict(
                status: 1, output: "Error from server (StorageRebalancing): the store is rebalancing", httpStatus: code)
                == verdict)
    }

    @Test(.enabled(if: FakeAPIServer.available, "needs kubectl and python3"), arguments: ["500x2-odd", "429x2-odd"])
    func aServerErrorWithAnUnusualReasonIsRetried(mode: String) throws {
        let server = try FakeAPIServer(node: LabelApplyTests.node, mode: mode)
        let result = try LabelApplyTests().apply(["--node", LabelApplyTests.node], kubeconfig: server.kubeconfig)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(server.patches.map { $0.split(separator: " ").last } == [mode.prefix(3), mode.prefix(3), "200"])
        #expect(try server.labels["network-sriov.capable"] == "true")
    }

    /// A FIFO or folder as kubeconfig, a folder as kubectl: 74 at once, no attempt.
    @Test(arguments: ["fifo", "folder", "kubectl-folder"])
    func aKubeconfigOrKubectlThatIsNoFileIs74(_ kind: String) throws {
        let folder = try TemporaryFolder()
        try folder.write("kubeconfig", "apiVersion: v1\nkind: Config\n")
        var kubeconfig = folder.path("kubeconfig")
        var kubectl = "/bin/true"
        switch kind {
        case "fifo":
            kubeconfig = folder.path("fifo")
            #expect(mkfifo(kubeconfig, 0o600) == 0)
        case "folder": kubeconfig = try folder.folder("config-folder")
        default: kubectl = try folder.folder("kubectl")
        }
        do {
            _ = try Kubectl(kubectl: kubectl, kubeconfig: kubeconfig, missingKubeconfig: "pass --kubeconfig")
            Issue.record("accepted \(kind)")
        } catch {
            #expect(error.exitCode == 74)
            #expect(error.description.contains("not a regular file"), "\(error.description)")
        }
        let result = try Umockdev.runBinary([
            "label", "--apply", "--root", try folder.folder("root"), "--layout", "fhs", "--kubeconfig", kubeconfig,
            "--kubectl", kubectl, "--node", "a", "--retry-for", "30",
        ])
        #expect(result.status == 74, "\(result.stderr)")
        #expect(!result.stderr.contains("attempt"), "\(result.stderr)")
    }

    /// Against a silent server, the second attempt still gets a whole request timeout: with --retry-for 5 and
    /// --request-timeout 3 it starts at about 4 s, with 1 s of --retry-for left, and runs its 3 s.
    @Test(.enabled(if: FakeAPIServer.available, "needs kubectl and python3"))
    func aLaterAttemptGetsAWholeRequestTimeout() throws {
        let server = try FakeAPIServer(node: LabelApplyTests.node, mode: "slow")
        let result = try LabelApplyTests().apply(
            ["--node", LabelApplyTests.node, "--retry-for", "5", "--request-timeout", "3"],
            kubeconfig: server.kubeconfig)
        #expect(result.status == 69, "\(result.stderr)")
        let attempts = result.stderr.split(separator: "\n").filter { $0.contains("attempt ") }
        #expect(attempts.count == 2, "\(result.stderr)")
        #expect(attempts.last?.hasSuffix("no answer within 3 s") == true, "\(result.stderr)")
    }
}
