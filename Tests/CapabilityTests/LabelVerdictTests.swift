import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// How `label --apply` reads kubectl's exit and output: what is retried and what ends at once.
@Suite struct LabelVerdictTests {
    @Test(
        arguments: [
            (0, "node/worker-1 patched", Kubectl.Verdict.applied),
            (1, "Error from server (InternalError): etcdserver: request timed out", .retry),
            (1, "Error from server (ServiceUnavailable): the server is currently unable to handle the request", .retry),
            (1, "Error from server (Timeout): the server was unable to return a response in the time allotted", .retry),
            (
                1, "The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?",
                .retry
            ),
            (1, "Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded)", .retry),
            (1, "error: You must be logged in to the server (Unauthorized)", .failed(.refused)),
            (
                1,
                "error: You must be logged in to the server (the server has asked for the client to provide credentials)",
                .failed(.refused)
            ),
            (
                1, "Error from server (Forbidden): nodes \"a\" is forbidden: node \"b\" is not allowed",
                .failed(.refused)
            ),
            (1, "Error from server (NotFound): nodes \"a\" not found", .failed(.notRegistered)),
            (1, "Error from server (BadRequest): invalid patch", .failed(.rejected)),
        ] as [(Int32, String, Kubectl.Verdict)])
    func kubectlOutcomes(status: Int32, output: String, verdict: Kubectl.Verdict) {
        #expect(Kubectl.verdict(status: status, output: output) == verdict)
    }

    @Test func aChildKilledAtItsDeadlineIsRetried() {
        #expect(Kubectl.verdict(status: nil, output: "no answer within 10 s") == .retry)
    }

    @Test func aMissingKubectlIsNamed() {
        #expect(throws: SRIOVError.self) {
            try NodeLabelApplication(kubectl: "/nonexistent/kubectl", kubeconfig: "/dev/null", node: "a")
        }
        do {
            _ = try NodeLabelApplication(kubectl: "/nonexistent/kubectl", kubeconfig: "/dev/null", node: "a")
        } catch {
            #expect(
                error.description
                    == "run kubectl /nonexistent/kubectl: No such file or directory (ENOENT); "
                    + "pass --kubectl with the path of an executable kubectl")
            #expect(error.exitCode == 74)
        }
    }

    @Test func theArgumentsAreOneMergePatchWithARequestTimeout() throws {
        let application = try NodeLabelApplication(kubectl: "/bin/true", kubeconfig: "/dev/null", node: "worker-1")
        let label = try CapabilityLabel(capable: true)
        #expect(
            application.arguments(label) == [
                "/bin/true", "--kubeconfig", "/dev/null", "--request-timeout=10s", "patch", "node", "worker-1",
                "--type", "merge", "-p", #"{"metadata":{"labels":{"network-sriov.capable":"true"}}}"#,
            ])
    }
}
