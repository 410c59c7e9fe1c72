import ArgumentParser
import Capability

extension Export {
    struct DevicePlugin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device-plugin",
            abstract: "Print the sriov-network-device-plugin config (one pool per resource) for this node's plan.",
            discussion:
                "Each pool selects exactly the VFs the plan gives its resource (pfNames with VF ranges). "
                + "With --write it is installed as /etc/pcidp/config.json under --root.")

        @OptionGroup var target: RootOptions

        @Option(name: .customLong("node-label"), help: "An extra label (key=value) for policies' nodeSelector.")
        var nodeLabels: [String] = []

        @Option(help: "The prefix of the resources: <prefix>/<resourceName>.")
        var resourcePrefix = ResourcePrefix.standard

        @Flag(help: "Install the config where the device plugin reads it instead of printing it.")
        var write = false

        func run() throws {
            try runReporting {
                if let problem = ResourcePrefix.problem(resourcePrefix) { throw SRIOVError.usage(problem) }
                let current = try CurrentPlan.load(
                    store: target.store(), inventory: HostDiscovery.discover, nodeLabels: nodeLabels)
                for warning in current.warnings { printError("harvester-sriov: warning: \(warning)") }
                let config = DevicePluginConfig(
                    plan: current.plan, host: current.host, policies: current.state.policies, prefix: resourcePrefix)
                for note in config.notes { printError("harvester-sriov: note: \(note)") }
                guard write else { return output(config.json(), terminator: "") }
                let root = try target.resolve().root
                let outcome = try RootWriter(root: root).write(DevicePluginConfig.path, Array(config.json().utf8))
                output("\(outcome.rawValue) \(root.display(DevicePluginConfig.path))")
            }
        }
    }
}
