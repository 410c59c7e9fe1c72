import Foundation
import SystemPackage
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// The node's one name (`NodeName`), as kubelet and RKE2 work it out, in every command that names the node.
@Suite struct NodeNameTests {
    static let policy = PolicyManifest.policy(
        "by-hostname",
        #"{resourceName: r, numVfs: 2, nicSelector: {pfNames: [enp59s0f0]}, nodeSelector: {kubernetes.io/hostname: NAME}}"#
    )

    /// `harvester-sriov ARGS` in a UTS namespace of its own whose host name is `hostname`: the test
    /// machine's name is never changed.
    static func run(hostname: String, _ arguments: [String], in testbed: String) throws -> Program.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = testbed
        return try Program.run(
            try Tool.url("unshare"),
            ["--uts", "sh", "-c", #"hostname "$0" && exec "$@""#, hostname, Umockdev.binary.path] + arguments,
            environment: environment)
    }

    @Test(.enabled(if: getuid() == 0 && Tool.available("unshare"), "needs root and unshare (util-linux)"))
    func aMixedCaseHostNameIsTheLowerCaseNodeNameInDetectAndThePlan() throws {
        try Umockdev.requirePreload()
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let testbed = try Testbed([Fixtures.x710])
        let detect = try Self.run(hostname: "MixedCase-Node", ["detect", "--json"], in: testbed.root)
        #expect(detect.status == 0, "\(detect.stderr)")
        #expect(try JSONDocument(detect.stdout)["node"] as? String == "mixedcase-node")

        try folder.write("p.yaml", Self.policy.replacingOccurrences(of: "NAME", with: "mixedcase-node"))
        let apply = try Umockdev.run(["policy", "apply", "--root", root, folder.path("p.yaml")], in: testbed.root)
        #expect(apply.status == 0, "\(apply.stderr)")
        let plan = try Self.run(hostname: "MixedCase-Node", ["plan", "--root", root, "--json"], in: testbed.root)
        #expect(plan.status == 0, "\(plan.stderr)")
        let json = try JSONDocument(plan.stdout)
        #expect(json["interfaces", 0, "numVfs"] as? Int == 2, "kubernetes.io/hostname is the lower-case name")
        #expect(json["unmatched"] as? [String] == [])
    }

    /// RKE2's `node-name` (config.yaml, then config.yaml.d in name order, the last one set winning) is the
    /// node's name, lower-cased as k3s does; `--node` wins over both. nil: the host name, lower-cased.
    @Test(
        arguments: [
            ([:], nil, nil),
            (["config.yaml": "node-name: Worker-1\n"], nil, "worker-1"),
            (["config.yaml": "token: x\n", "config.yaml.d/50-a.yaml": "node-name: \" worker-2 \"\n"], nil, "worker-2"),
            (
                [
                    "config.yaml": "node-name: worker-1\n", "config.yaml.d/10-a.yaml": "node-name: worker-2\n",
                    "config.yaml.d/20-b.yml": "node-name: worker-3\n", "config.yaml.d/30-c.txt": "node-name: other\n",
                ],
                nil, "worker-3"
            ),
            (["config.yaml": "node-name: [not, a, name]\n"], nil, nil), (["config.yaml": "node-name: [\n"], nil, nil),
            (["config.yaml": "node-name: Worker-1\n"], "given-name", "given-name"),
        ] as [([String: String], String?, String?)])
    func rke2NodeNameOverridesTheHostName(_ files: [String: String], _ override: String?, _ expected: String?) throws {
        let folder = try TemporaryFolder()
        _ = try folder.folder("root/etc/rancher/rke2/config.yaml.d")
        for (name, text) in files { try folder.write("root/etc/rancher/rke2/\(name)", text) }
        let root = FilePath(folder.path("root"))
        #expect(try NodeName.resolve(root: root, override: override) == expected ?? NodeName.hostName().lowercased())
    }

    @Test func rke2NodeNameIsTheHostnameLabelOfThePlan() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try folder.write("root/etc/rancher/rke2/config.yaml", "node-name: Rke2-Node\n")
        let testbed = try Testbed([Fixtures.x710])
        try folder.write("p.yaml", Self.policy.replacingOccurrences(of: "NAME", with: "rke2-node"))
        let apply = try Umockdev.run(["policy", "apply", "--root", root, folder.path("p.yaml")], in: testbed.root)
        #expect(apply.status == 0, "\(apply.stderr)")
        let plan = try Umockdev.run(["plan", "--root", root, "--json"], in: testbed.root)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(try JSONDocument(plan.stdout)["interfaces", 0, "numVfs"] as? Int == 2)
    }

    @Test(arguments: ["", "a/b"])
    func aNameThatCannotBeANodesIsAUsageError(_ name: String) {
        #expect(
            throws: SRIOVError.usage(
                "node name '\(name)' is not a Node's name; pass --node with the name kubectl get nodes shows")
        ) {
            try NodeName.resolve(override: name)
        }
    }
}
