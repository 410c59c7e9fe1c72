import FoundationEssentials
import SRIOVHost
import SRIOVModel

/// The Node's labels as the cluster has them (Harvester's `install.labels`, roles, zones, NFD's), read with the
/// node's own credential: what policies' nodeSelectors are matched against on an operator-run node.
public enum ClusterNodeLabels {
    /// `kubectl get node NAME -o json` with `kubectl`'s kubeconfig; `again` is the command to run again.
    public static func read(_ kubectl: Kubectl, node: String, again: String) throws(SRIOVError) -> [String: String] {
        let kubeconfig = kubectl.kubeconfig
        let output = try kubectl.run(
            ["get", "node", node, "-o", "json"], what: "get node \(node)", again: again, log: { _ in },
            failure: { failure, detail in
                switch failure {
                case .notRegistered: "the API server does not know node \(node) (\(detail)); pass --node"
                case .refused: "the credential in \(kubeconfig) may not read node \(node) (\(detail))"
                case .rejected, .unreachable: "the API server refused to read node \(node): \(detail)"
                }
            })
        return try labels(fromJSON: output)
    }

    static func labels(fromJSON text: String) throws(SRIOVError) -> [String: String] {
        struct Node: Decodable {
            struct Metadata: Decodable { var labels: [String: String]? }
            var metadata: Metadata
        }
        do {
            return try JSONDecoder().decode(Node.self, from: Data(text.utf8)).metadata.labels ?? [:]
        } catch {
            throw .cluster(.rejected, "kubectl get node printed no Node object; check the kubectl version")
        }
    }
}
