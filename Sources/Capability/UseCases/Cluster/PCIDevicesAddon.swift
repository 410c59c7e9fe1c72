import FoundationEssentials
import SRIOVHost
import SRIOVModel

/// Harvester's PCI devices addon (harvester/pcidevices) keeps a cluster-scoped `SRIOVNetworkDevice`
/// for every SR-IOV NIC of every node, created with `spec.numVFs: 0`, and its controller writes
/// `spec.numVFs` to `sriov_numvfs` whenever the object changes or the controller starts
/// (`pkg/controller/sriovdevice/sriovdevice_controller.go`): 0 removes the VFs our plan made. The two
/// agree when the object asks for what the plan asks for; this is how they are brought to agree.
public enum PCIDevicesAddon {
    /// The kind's resource, fully qualified so that no other group's kind of the same name is meant.
    public static let resource = "sriovnetworkdevices.devices.harvesterhci.io"
    /// The label the controller lists a node's objects by (`v1beta1.NodeKeyName`).
    public static let nodeLabel = "nodename"

    /// The object's name, as the addon makes it (`nichelper.generateSRIOVDev`): `<node>-<ifname>`, lowercased.
    public static func objectName(node: String, interface: String) -> String {
        "\(node)-\(interface)".lowercased()
    }

    /// The merge patch that makes the object ask for the plan's count.
    public static func patch(numVFs: Int) -> String {
        JSONWriter.compactText {
            $0.object {
                $0.key("spec")
                $0.object { $0.member("numVFs", numVFs) }
            }
        }
    }

    /// The one command that resolves a conflict, for an admin with a kubeconfig that may patch the object.
    public static func fixCommand(object: String, numVFs: Int) -> String {
        "kubectl patch \(resource) \(shellQuoted(object)) --type merge -p '\(patch(numVFs: numVFs))'"
    }

    /// What status and restore say of a PF whose VFs, made by the last restore, are gone: someone wrote
    /// `sriov_numvfs` behind our back, and on Harvester that is most likely the addon.
    public static func removedByAnotherWriter(
        planned: PlannedInterface, interface: String?, node: String, madeByLastRestore: Int
    ) -> String {
        let object = objectName(node: node, interface: interface ?? "<interface>")
        return "the \(madeByLastRestore) VFs the last restore made were removed by another writer; if Harvester's "
            + "PCI devices addon is enabled, its SRIOVNetworkDevice \(object) asks for 0 VFs: run "
            + "\(fixCommand(object: object, numVFs: planned.numVfs)) with an admin kubeconfig"
    }

    /// One `SRIOVNetworkDevice` as the API returns it; only what the agreement needs.
    public struct Device: Equatable, Sendable {
        public var name: String
        public var address: String
        public var nodeName: String
        public var numVFs: Int

        public init(name: String, address: String, nodeName: String, numVFs: Int) {
            self.name = name
            self.address = address
            self.nodeName = nodeName
            self.numVFs = numVFs
        }
    }

    /// Where an object of this node asks for another VF count than the plan gives its PF.
    public struct Conflict: Equatable, Sendable {
        public var object: String
        public var pf: PCIAddress
        public var interface: String?
        public var asks: Int
        public var planned: Int

        public var description: String {
            "SRIOVNetworkDevice \(escapingControls(object)) asks for \(asks) VFs on PF \(pf)"
                + "\(interface.map { " (\(escapingControls($0)))" } ?? ""), "
                + "whose plan has \(planned)"
        }
        public var fix: String { PCIDevicesAddon.fixCommand(object: object, numVFs: planned) }
    }

    /// The conflicts: objects of `node` on a PF the plan gives VFs. PFs the plan leaves alone are the
    /// addon's to manage, whatever their objects ask.
    public static func conflicts(_ devices: [Device], plan: NodePlan, node: String) -> [Conflict] {
        devices.compactMap { device in
            guard device.nodeName == node, let address = PCIAddress(device.address),
                let planned = plan.interfaces.first(where: { $0.pciAddress == address }),
                planned.problems.isEmpty, device.numVFs != planned.numVfs
            else { return nil }
            return Conflict(
                object: device.name, pf: address, interface: planned.name, asks: device.numVFs,
                planned: planned.numVfs)
        }
        .sorted { $0.pf < $1.pf }
    }

    /// Reads `kubectl get -o json` output: a List of objects.
    public static func devices(fromJSON text: String) throws(SRIOVError) -> [Device] {
        try read(fromJSON: text).devices
    }

    /// Reads `kubectl get -o json` output: a List of objects. An object whose spec we cannot read (a numVFs
    /// that is not a whole number) is left out, with one plain line in `skipped`, so that it stops no other.
    public static func read(fromJSON text: String) throws(SRIOVError) -> (devices: [Device], skipped: [String]) {
        struct List: Decodable {
            var items: [Item]
        }
        struct Item: Decodable {
            var device: Device
            var problem: String?

            enum Keys: String, CodingKey { case metadata, spec, name, address, nodeName, numVFs }

            init(from decoder: any Decoder) throws {
                let object = try decoder.container(keyedBy: Keys.self)
                let name = try object.nestedContainer(keyedBy: Keys.self, forKey: .metadata)
                    .decode(String.self, forKey: .name)
                device = Device(name: name, address: "", nodeName: "", numVFs: 0)
                guard object.contains(.spec) else { return }
                guard let spec = try? object.nestedContainer(keyedBy: Keys.self, forKey: .spec) else {
                    problem = "spec must be an object"
                    return
                }
                for (key, path) in [(Keys.address, \Device.address), (.nodeName, \Device.nodeName)] {
                    guard spec.contains(key), (try? spec.decodeNil(forKey: key)) != true else { continue }
                    guard let value = try? spec.decode(String.self, forKey: key) else {
                        problem = "spec.\(key.rawValue) must be a string"
                        return
                    }
                    device[keyPath: path] = value
                }
                guard spec.contains(.numVFs), (try? spec.decodeNil(forKey: .numVFs)) != true else { return }
                if let count = try? spec.decode(Int.self, forKey: .numVFs), count >= 0 {
                    device.numVFs = count
                } else if let number = try? spec.decode(Double.self, forKey: .numVFs) {
                    problem = "spec.numVFs must be a whole number of VFs, found \(number)"
                } else {
                    problem = "spec.numVFs must be a whole number of VFs, found something else"
                }
            }
        }
        let list: List
        do {
            list = try JSONDecoder().decode(List.self, from: Data(text.utf8))
        } catch {
            throw .cluster(
                .rejected,
                "kubectl get \(resource) printed no list of objects (\(DesiredState.describe(error, bytes: Array(text.utf8)))); "
                    + "check the kubectl version")
        }
        var devices: [Device] = []
        var skipped: [String] = []
        for item in list.items {
            if let problem = item.problem {
                skipped.append(
                    "SRIOVNetworkDevice \(escapingControls(item.device.name)) skipped: \(problem); the addon would "
                        + "refuse it too: fix or delete the object, then run harvester-sriov pcidevices again")
            } else {
                devices.append(item.device)
            }
        }
        return (devices, skipped)
    }
}
