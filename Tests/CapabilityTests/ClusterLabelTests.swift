import Foundation
import Testbed
import Testing

/// Policies' nodeSelectors against the Node's labels as the cluster has them (Harvester's install.labels, zones,
/// NFD's), read with the node's credential through the real kubectl from the API-server double; stored by
/// `label --apply` for the next boot, when the API does not answer yet.
@Suite(.enabled(if: FakeAPIServer.available, "needs kubectl and python3"))
struct ClusterLabelTests {
    static let node = "worker-1"
    static let zonePolicy = PolicyManifest.policy(
        "zoned",
        #"{resourceName: zoned, numVfs: 2, nodeSelector: {topology.kubernetes.io/zone: "a"}, "#
            + #"nicSelector: {pfNames: ["enp59s0f1"]}}"#)

    struct Node {
        let folder: TemporaryFolder
        let root: String
        let testbed: Testbed

        init(_ manifests: String) throws {
            folder = try TemporaryFolder()
            root = try folder.folder("root")
            testbed = try Testbed(Fixtures.server)
            try folder.write("p.yaml", manifests)
            let applied = try run(["policy", "apply", "--root", root, folder.url.path + "/p.yaml"])
            #expect(applied.status == 0, "\(applied.stderr)")
        }

        func run(_ arguments: [String]) throws -> Program.Result {
            var environment = ProcessInfo.processInfo.environment
            environment["UMOCKDEV_DIR"] = testbed.root
            environment["HOME"] = folder.url.path
            environment["LD_PRELOAD"] = "libumockdev-preload.so.0"
            return try Umockdev.runBinary(arguments, environment: environment)
        }

        /// How many VFs `plan` gives enp59s0f1 (0 when the policy matched nothing).
        func plannedVFs(_ extra: [String]) throws -> Int {
            let planned = try run(["plan", "--json", "--root", root] + extra)
            #expect(planned.status == 0, "\(planned.stderr)")
            let interfaces = try JSONDocument(planned.stdout)["interfaces"] as? [Any] ?? []
            let count = interfaces.compactMap { ($0 as? [String: Any])?["numVfs"] as? Int }.reduce(0, +)
            if ProcessInfo.processInfo.environment["SHOW_PLAN"] != nil { print(planned.stdout, planned.stderr) }
            return count
        }
    }

    @Test func aLabelChangedInTheClusterIsUsedByTheNextPlan() throws {
        let node = try Node(Self.zonePolicy)
        let api = try FakeAPIServer(node: Self.node, labels: ["topology.kubernetes.io/zone": "a"])
        let asked = ["--kubeconfig", api.kubeconfig, "--node", Self.node]
        #expect(try node.plannedVFs(asked) == 2)
        let patched = try Program.run(
            try Tool.url("kubectl"),
            [
                "--kubeconfig", api.kubeconfig, "patch", "node", Self.node, "--type", "merge", "-p",
                #"{"metadata":{"labels":{"topology.kubernetes.io/zone":"b"}}}"#,
            ])
        #expect(patched.status == 0, "\(patched.stderr)")
        #expect(try node.plannedVFs(asked) == 0)
        // Without the cluster, and nothing stored: the selector's key is not on the node.
        #expect(try node.plannedVFs(["--offline"]) == 0)
    }

    @Test func labelApplyStoresTheLabelsForTheNextBoot() throws {
        let node = try Node(Self.zonePolicy)
        let api = try FakeAPIServer(node: Self.node, labels: ["topology.kubernetes.io/zone": "a"])
        let applied = try node.run([
            "label", "--apply", "--root", node.root, "--layout", "fhs", "--kubeconfig", api.kubeconfig, "--node",
            Self.node,
        ])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stderr.contains("stored the Node's "))
        api.stop()
        // The API is gone (a boot before RKE2): the stored labels still select the policy.
        #expect(try node.plannedVFs(["--offline"]) == 2)
        let unanswered = try node.run(["plan", "--root", node.root, "--kubeconfig", api.kubeconfig])
        #expect(unanswered.status == 0)
        #expect(unanswered.stderr.contains("warning: the Node's labels were not read ("))
        #expect(unanswered.stderr.contains("matching against the ones stored by the last label --apply"))
    }

    /// What harvester-sriov derives is never taken from the cluster, where it may be stale.
    @Test func theClustersCapabilityLabelDoesNotOverrideWhatTheNodeShows() throws {
        let node = try Node(
            PolicyManifest.policy(
                "capable",
                #"{resourceName: capable, numVfs: 2, nodeSelector: {network-sriov.capable: "true"}, "#
                    + #"nicSelector: {pfNames: ["enp59s0f1"]}}"#))
        let api = try FakeAPIServer(node: Self.node, labels: ["network-sriov.capable": "false"])
        #expect(try node.plannedVFs(["--kubeconfig", api.kubeconfig, "--node", Self.node]) == 2)
    }

    /// An operator's policy as its quickstart writes it: node-feature-discovery's key, with a zone the cluster
    /// gives the Node; matched against the labels read from the API.
    @Test func anNFDSelectedPolicyMatchesWithTheClustersLabels() throws {
        let node = try Node(
            PolicyManifest.policy(
                "operator",
                #"{resourceName: operator, numVfs: 2, nodeSelector: "#
                    + #"{feature.node.kubernetes.io/network-sriov.capable: "true", topology.kubernetes.io/zone: "a"}, "#
                    + #"nicSelector: {pfNames: ["enp59s0f1"]}}"#))
        let api = try FakeAPIServer(node: Self.node, labels: ["topology.kubernetes.io/zone": "a"])
        #expect(try node.plannedVFs(["--kubeconfig", api.kubeconfig, "--node", Self.node]) == 2)
        #expect(try node.plannedVFs(["--offline"]) == 0, "the zone comes from the cluster")
    }
}
