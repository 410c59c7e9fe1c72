/// SriovNetworkNodePolicy documents (sriov-network-operator's CRD, sriovnetwork.openshift.io/v1)
/// as a user writes them, for the tests of everything that reads policies.
enum PolicyManifest {
    enum Layout {
        /// metadata and spec as flow maps on one line each; the document ends with `---`, so
        /// that documents can be concatenated into one file.
        case flow
        /// metadata and spec in block style, spec's lines indented by two: without annotations
        /// the spec body starts on line 6, which the messages' line numbers count on.
        case block
    }

    /// One policy named `name`. `spec` is a flow map (`{resourceName: r, ...}`) for `.flow` and
    /// block lines for `.block`; the required `nodeSelector` is `{}` (every node) unless `spec`
    /// sets it. `annotations` is the inside of a flow map, e.g. `harvester-sriov.io/vf-mac: kernel`.
    static func policy(_ name: String, _ spec: String, annotations: String = "", layout: Layout = .flow) -> String {
        let header = "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkNodePolicy\n"
        switch layout {
        case .flow:
            let body =
                spec.contains("nodeSelector") || !spec.hasPrefix("{") ? spec : "{nodeSelector: {}, " + spec.dropFirst()
            let metadata = annotations.isEmpty ? "{name: \(name)}" : "{name: \(name), annotations: {\(annotations)}}"
            return header + "metadata: \(metadata)\nspec: \(body)\n---\n"
        case .block:
            let body = spec.contains("nodeSelector") ? spec : spec + "\nnodeSelector: {}"
            let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
            let metadata =
                "metadata:\n  name: \(name)\n" + (annotations.isEmpty ? "" : "  annotations: {\(annotations)}\n")
            return header + metadata + "spec:\n" + lines.joined(separator: "\n") + "\n"
        }
    }
}
