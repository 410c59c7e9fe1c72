import SRIOVModel

extension NetworkAttachment {
    /// `export network FILE...`: the NetworkAttachmentDefinitions for the SriovNetworks in `files`, each of whose
    /// resources this node's plan must provide; every problem is listed (65) before anything is printed.
    public static func export(files: [String], current: CurrentPlan, prefix: String) throws(SRIOVError) -> String {
        let (networks, problems) = SriovNetworkDecoder.load(files)
        guard problems.isEmpty else { throw .invalidPolicies(problems) }
        let unprovided = unprovided(networks, plan: current.plan, policies: current.state.policies)
        guard unprovided.isEmpty else { throw .invalidPolicies(unprovided) }
        return try yaml(networks, prefix: prefix)
    }
}
