import SRIOVModel

extension SriovNetworkDecoder {
    /// Reads every file; a network defined twice (same name, same target namespace) is a problem,
    /// since the second NetworkAttachmentDefinition would replace the first.
    public static func load(_ paths: [String]) -> (networks: [SriovNetwork], problems: [PolicyProblem]) {
        var networks: [SriovNetwork] = []
        let problems = ManifestFiles.read(paths, fileKind: "network file") { path, text in
            let decoded = decode(text, file: path)
            var problems = decoded.problems
            for network in decoded.networks {
                if let first = networks.first(where: {
                    $0.name == network.name && $0.targetNamespace == network.targetNamespace
                }) {
                    problems.append(
                        PolicyProblem(
                            file: path, line: network.line, policy: network.name, field: "metadata.name",
                            message:
                                "is defined twice for one namespace (also at \(first.file):\(first.line)); "
                                + "rename one or set another networkNamespace",
                            object: "network"))
                    continue
                }
                networks.append(network)
            }
            return problems
        }
        return (networks, problems)
    }
}
