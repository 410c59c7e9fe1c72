import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import Testbed

/// Stand-in for kube-apiserver: starts FakeAPIServer.py (beside this file) on an ephemeral port and
/// writes a kubeconfig for it; the server logs every request to a file the tests read.
final class FakeAPIServer {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("FakeAPIServer.py")
    static var available: Bool { Tool.available("kubectl") && Tool.available("python3") }

    let folder: TemporaryFolder
    private var pid: pid_t = 0
    private(set) var port = 0
    var kubeconfig: String { folder.url.path + "/kubeconfig" }

    /// `mode`: ok, 401, 403, 404, 500x2 or slow (see the script). `devices`, a JSON list of
    /// SRIOVNetworkDevice objects, makes the server serve harvester/pcidevices' kind. `pcidevices`, the PCI
    /// functions the addon found on the node, makes it a Harvester cluster (see the script).
    init(
        node: String, mode: String = "ok", devices: String? = nil, pcidevices: [FakeFunction]? = nil,
        labels: [String: String] = [:]
    ) throws {
        folder = try TemporaryFolder()
        if !labels.isEmpty {
            try folder.write(
                "node-labels.json", String(decoding: try JSONSerialization.data(withJSONObject: labels), as: UTF8.self))
        }
        if let devices { try folder.write("sriovnetworkdevices.json", devices) }
        if let pcidevices { try folder.write("pcidevices.json", Self.pciDeviceObjects(pcidevices, node: node)) }
        // posix_spawn and waitpid, not Process: stop() must end the server for certain. Its output goes
        // to /dev/null, not the test runner's, which a server left running would hold open.
        let arguments = [try Tool.url("python3").path, Self.script.path, folder.url.path, node, mode]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw TestbedError("cannot start python3: errno \(spawned)") }
        let portFile = folder.url.path + "/port"
        // The script renames the port file into place once it listens; a few seconds at most.
        var waited = 0
        while !FileManager.default.fileExists(atPath: portFile) {
            guard waited < 1000 else {
                stop()
                throw TestbedError("FakeAPIServer.py did not start")
            }
            usleep(10_000)
            waited += 1
        }
        guard let port = Int(try String(contentsOfFile: portFile, encoding: .utf8)) else {
            stop()
            throw TestbedError("FakeAPIServer.py wrote no port")
        }
        self.port = port
        try Self.kubeconfig(server: "http://127.0.0.1:\(port)").write(
            toFile: kubeconfig, atomically: true, encoding: .utf8)
    }

    deinit { stop() }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        pid = 0
    }

    /// One "METHOD PATH STATUS" per request answered.
    var requests: [String] {
        ((try? String(contentsOfFile: folder.url.path + "/requests", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    var patches: [String] { requests.filter { $0.hasPrefix("PATCH ") } }

    /// The SRIOVNetworkDevice objects after the last change, as JSON.
    var devices: String {
        get throws { try String(contentsOfFile: folder.url.path + "/sriovnetworkdevices.json", encoding: .utf8) }
    }

    /// The stored Node's labels after the last change.
    var labels: [String: String] {
        get throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder.url.path + "/node.json"))
            let node = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let metadata = node?["metadata"] as? [String: Any]
            return metadata?["labels"] as? [String: String] ?? [:]
        }
    }

    /// The `PCIDevice` objects pcidevices' node controller makes for each function (pcidevice_controller.go,
    /// l.57-111): named by `PCIDeviceNameForHostname`, with the IDs and IOMMU group; the script adds the
    /// resourceName as the addon derives it.
    static func pciDeviceObjects(_ functions: [FakeFunction], node: String) -> String {
        let all = functions.flatMap { [$0] + ($0.sriov?.vfs ?? []) }
        let objects = all.map { function -> String in
            let name = "\(node)-" + function.address.filter { $0 != ":" && $0 != "." }
            return """
                {"apiVersion": "devices.harvesterhci.io/v1beta1", "kind": "PCIDevice",
                 "metadata": {"name": "\(name)", "uid": "uid-\(name)", "labels": {"nodename": "\(node)"}},
                 "status": {"address": "\(function.address)", "nodeName": "\(node)",
                            "vendorId": "\(hex(function.vendor, width: 4))", "deviceId": "\(hex(function.device, width: 4))",
                            "iommuGroup": "\(function.iommuGroup.map(String.init) ?? "")",
                            "kernelDriverInUse": "\(function.driver ?? "")"}}
                """
        }
        return "[" + objects.joined(separator: ",\n") + "]"
    }

    /// A file of the server's state (pcideviceclaims.json, kubevirt.json, nads.json), as JSON.
    func state(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.url.path + "/" + name)))
    }

    var stateFolder: String { folder.url.path }

    static func kubeconfig(server: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster: {server: "\(server)"}
        users:
        - name: node
          user: {token: test-token}
        contexts:
        - name: test
          context: {cluster: test, user: node}
        current-context: test

        """
    }
}
