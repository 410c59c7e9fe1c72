import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

extension Export {
    struct DevicePlugin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device-plugin",
            abstract: "Print the sriov-network-device-plugin config (one pool per resource) for this node's plan.",
            discussion:
                "Each pool selects exactly the VFs the plan gives its resource (pfNames with VF ranges). "
                + "With --write it is installed as /etc/pcidp/config.json under --root.")

        @OptionGroup var options: PlanOptions

        @Flag(help: "Install the config where the device plugin reads it instead of printing it.")
        var write = false

        func run() throws {
            try runReporting {
                try options.checkPrefix()
                let current = try options.plan()
                let config = DevicePluginConfig(
                    plan: current.plan, host: current.host, policies: current.state.policies,
                    prefix: options.resourcePrefix)
                for note in config.notes { printError("harvester-sriov: note: \(note)") }
                guard write else { return output(config.json(), terminator: "") }
                let root = try options.target.resolve().root
                let outcome = try config.install(under: root)
                output("\(outcome.rawValue) \(root.display(DevicePluginConfig.path))")
            }
        }
    }
}
