import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The name this node registers with, as kubelet and RKE2 work it out: RKE2's `node-name` (its
/// `--hostname-override` for kubelet) where its config sets one, else the host name; either one
/// lower-cased. Every command that names this node (detect, the policies' `kubernetes.io/hostname`,
/// label --apply, pcidevices, export pcideviceclaims) takes it from here, so they never disagree.
///
/// Upstream: kubernetes `pkg/util/node/node.go` `GetHostname` (the override, else `os.Hostname()`;
/// trimmed, then `strings.ToLower`); k3s `pkg/agent/config/config.go` `GetHostnameAndIPs` (the same,
/// for RKE2's `node-name`); k3s `pkg/configfilearg/parser.go` (config.yaml, then the `config.yaml.d`
/// drop-ins `*.yaml`/`*.yml` in name order, a later value of a key replacing an earlier one).
public enum NodeName {
    /// RKE2's config file, relative to the root.
    static let rke2Config: FilePath = "etc/rancher/rke2/config.yaml"

    /// The name: `override` as given (`--node`), else RKE2's `node-name` under `root`, else the host
    /// name; the last two lower-cased. Refused (64) when it cannot be a Node's name.
    public static func resolve(root: FilePath = "/", override: String? = nil) throws(SRIOVError) -> String {
        let name = override ?? (configured(root: root) ?? hostName()).lowercased()
        guard !name.isEmpty, !name.contains("/") else {
            throw .usage("node name '\(name)' is not a Node's name; pass --node with the name kubectl get nodes shows")
        }
        return name
    }

    /// The same, for a report that must not fail: the host name as it is when even that is unusable.
    public static func resolved(root: FilePath = "/") -> String {
        (try? resolve(root: root)) ?? hostName()
    }

    /// RKE2's `node-name` under `root`, trimmed, or nil when no config file sets one. A file that cannot be
    /// read or parsed is passed over: RKE2 itself does not start with it.
    static func configured(root: FilePath) -> String? {
        let config = root.appending(rke2Config.components)
        let folder = FilePath(config.string + ".d")
        let dropIns = Sysfs.entries(folder).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        var name: String?
        for file in [config] + dropIns.map({ folder.appending($0) }) {
            guard let bytes = try? BoundedRead.file(file.string, limit: PolicyDecoder.maximumFileSize),
                case let text = String(decoding: bytes, as: UTF8.self),
                let documents = try? YAMLReader.documents(text),
                case let .mapping(pairs, _)? = documents.first
            else { continue }
            for (key, value) in pairs where key == "node-name" {
                switch value {
                case let .scalar(.string(text), _): name = text
                case let .scalar(.integer(number), _): name = String(number)
                default: continue
                }
            }
        }
        let trimmed = name?.trimmingSpaces
        return trimmed?.isEmpty == false ? trimmed : nil
    }

    /// `uname -n`: what Go's `os.Hostname()` reads (/proc/sys/kernel/hostname), as kubelet does.
    public static func hostName() -> String { uname(\.nodename) }
}
