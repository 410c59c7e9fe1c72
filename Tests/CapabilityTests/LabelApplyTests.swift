import Foundation
import Testbed
import Testing

/// `harvester-sriov label --apply`, run as a unit runs it, through the real kubectl against a test
/// double of kube-apiserver (Support/FakeAPIServer.py) that logs every request.
@Suite(.enabled(if: FakeAPIServer.available, "needs kubectl and python3"))
struct LabelApplyTests {
    static let node = "worker-1"

    /// Runs label --apply on the server testbed (SR-IOV capable), kubectl's cache in a folder of its own, the
    /// drop-in it rewrites under `root` (a new folder by default).
    func apply(_ extra: [String], kubeconfig: String, root: String? = nil) throws -> Program.Result {
        try Umockdev.requirePreload()
        let testbed = try Testbed(Fixtures.server)
        let home = try TemporaryFolder()
        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = testbed.root
        environment["HOME"] = home.url.path
        let arguments = [
            "label", "--apply", "--root", try root ?? home.folder("root"), "--layout", "fhs", "--kubeconfig",
            kubeconfig, "--kubectl", try Tool.url("kubectl").path,
        ]
        return try Umockdev.runBinary(arguments + extra, environment: environment)
    }

    /// k3s re-applies its configured node-label values at every agent start (pkg/agent/run.go, configureNode
    /// -> updateMutableLabels): the drop-in's `node-label+` values, patched onto the Node.
    func restartRKE2(root: String, server: FakeAPIServer) throws {
        let dropIn = try String(
            contentsOfFile: root + "/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml", encoding: .utf8)
        var labels: [String: String] = [:]
        for line in dropIn.split(separator: "\n") where line.hasPrefix("  - \"") {
            let pair = line.dropFirst(5).dropLast().split(separator: "=", maxSplits: 1).map(String.init)
            labels[pair[0]] = pair[1]
        }
        let patch = #"{"metadata":{"labels":{"# + labels.map { #""\#($0)":"\#($1)""# }.joined(separator: ",") + "}}}"
        let patched = try Program.run(
            try Tool.url("kubectl"),
            ["--kubeconfig", server.kubeconfig, "patch", "node", Self.node, "--type", "merge", "-p", patch])
        #expect(patched.status == 0, "\(patched.stderr)")
    }

    /// The value `label --apply` patches is the one RKE2 sets again at its next start.
    @Test func theLabelStaysAfterAnRKE2Restart() throws {
        let server = try FakeAPIServer(node: Self.node)
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        // An old drop-in that still says false, as before the NICs were added.
        try folder.write(
            "root/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml",
            "node-label+:\n  - \"network-sriov.capable=false\"\n")
        let result = try apply(["--node", Self.node], kubeconfig: server.kubeconfig, root: root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains("info: updated \(root)/etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml\n"))
        try restartRKE2(root: root, server: server)
        #expect(try server.labels["network-sriov.capable"] == "true")
    }

    func attempts(_ result: Program.Result) -> [Substring] {
        result.stderr.split(separator: "\n").filter { $0.contains("attempt ") }
    }

    @Test func oneMergePatchLabelsTheNamedNode() throws {
        let server = try FakeAPIServer(node: Self.node)
        let result = try apply(["--node", Self.node], kubeconfig: server.kubeconfig)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(server.patches.count == 1)
        #expect(server.patches.first?.hasPrefix("PATCH /api/v1/nodes/\(Self.node)?") == true)
        let labels = try server.labels
        #expect(labels["network-sriov.capable"] == "true")
        #expect(labels["kubernetes.io/hostname"] == Self.node, "the merge patch keeps the other labels")
        #expect(attempts(result).count == 1)
    }

    @Test func theKeyOptionNamesTheLabel() throws {
        let server = try FakeAPIServer(node: Self.node)
        let key = "feature.node.kubernetes.io/network-sriov.capable"
        let result = try apply(["--node", Self.node, "--key", key], kubeconfig: server.kubeconfig)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try server.labels[key] == "true")
        #expect(try server.labels["network-sriov.capable"] == nil)
    }

    @Test func serverErrorsAreRetriedUntilThePatchIsApplied() throws {
        let server = try FakeAPIServer(node: Self.node, mode: "500x2")
        let result = try apply(["--node", Self.node], kubeconfig: server.kubeconfig)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(server.patches.map { $0.split(separator: " ").last } == ["500", "500", "200"])
        #expect(attempts(result).count == 3)
        #expect(try server.labels["network-sriov.capable"] == "true")
    }

    @Test func anAPIThatNeverAnswersEndsAfterBoundedRetries() throws {
        let server = try FakeAPIServer(node: Self.node)
        server.stop()
        let result = try apply(["--node", Self.node, "--retry-for", "3"], kubeconfig: server.kubeconfig)
        #expect(result.status == 69)
        // Attempts at 0 s and 1 s; the next pause (2 s) would end past the 3 s.
        #expect(attempts(result).count == 2)
        let last = try #require(result.stderr.split(separator: "\n").last)
        #expect(last.hasPrefix("harvester-sriov: the Kubernetes API (kubeconfig \(server.kubeconfig)) did not answer"))
        #expect(last.contains("on node \(Self.node) in 2 attempts"))
        #expect(last.hasSuffix("; run harvester-sriov label --apply again once it answers"))
    }

    @Test func aSlowAnswerIsATimeoutAndRetried() throws {
        let server = try FakeAPIServer(node: Self.node, mode: "slow")
        let result = try apply(
            ["--node", Self.node, "--retry-for", "4", "--request-timeout", "1"], kubeconfig: server.kubeconfig)
        #expect(result.status == 69, "\(result.stderr)")
        #expect(server.patches.isEmpty, "the server logs a PATCH only once it answers")
        #expect(attempts(result).count == 2)
    }

    @Test(arguments: [
        (
            "403", 77,
            "harvester-sriov: the credential in KUBECONFIG may not label node worker-1 (403 Forbidden: Error from server "
                + "(Forbidden): nodes \"worker-1\" is forbidden: node \"other\" is not allowed to modify node "
                + "\"worker-1\"); use this node's own kubelet kubeconfig or one allowed to patch nodes"
        ),
        (
            "404", 68,
            "harvester-sriov: node worker-1 is not registered with the cluster (404 Not Found); wait until it has "
                + "joined, or pass --node with the name kubectl get nodes shows"
        ),
        (
            "401", 77,
            "harvester-sriov: the API server refused the credential in KUBECONFIG (401 Unauthorized); pass "
                + "--kubeconfig with a valid credential of this node"
        ),
    ])
    func refusalsAreNotRetried(mode: String, status: Int32, message: String) throws {
        let server = try FakeAPIServer(node: Self.node, mode: mode)
        let result = try apply(["--node", Self.node], kubeconfig: server.kubeconfig)
        #expect(result.status == status)
        #expect(attempts(result).count == 1)
        #expect(server.patches.isEmpty || server.patches.count == 1)
        let last = result.stderr.split(separator: "\n").last.map(String.init)
        #expect(last == message.replacingOccurrences(of: "KUBECONFIG", with: server.kubeconfig))
        #expect(!FileManager.default.fileExists(atPath: server.folder.url.path + "/node.json"), "nothing stored")
    }

    @Test func aMissingKubeconfigIsNamed() throws {
        let folder = try TemporaryFolder()
        let missing = folder.path("kubelet.kubeconfig")
        let result = try apply(["--node", Self.node], kubeconfig: missing)
        #expect(result.status == 74)
        #expect(
            result.stderr
                == "harvester-sriov: read the kubeconfig \(missing): No such file or directory (ENOENT); pass "
                + "--kubeconfig with a kubeconfig for this node (RKE2 writes "
                + "/var/lib/rancher/rke2/agent/kubelet.kubeconfig)\n")
    }

    @Test func theOptionsOfApplyNeedApply() throws {
        let result = try Umockdev.runBinary(["label", "--print", "--node", "x"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--kubeconfig, --node and --kubectl go with --apply"))
    }
}
