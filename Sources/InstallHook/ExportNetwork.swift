import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

extension Export {
    struct Network: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "network",
            abstract:
                "Print the NetworkAttachmentDefinitions that sriov-network-operator would render for SriovNetworks.",
            discussion:
                "Each network's resource must get VFs on this node (see harvester-sriov plan). "
                + "Apply the output with kubectl apply -f -."
        )

        @Argument(help: "YAML files with SriovNetwork documents (or a List of them).")
        var files: [String]

        @OptionGroup var options: PlanOptions

        func run() throws {
            try runReporting {
                // The flags first: a usage error (64) before any file is read.
                try options.checkPrefix()
                try options.refuseOnHarvester(NetworkAttachment.harvesterRefusal)  // also checks --root
                output(
                    try NetworkAttachment.export(files: files, current: options.plan(), prefix: options.resourcePrefix),
                    terminator: "")
            }
        }
    }
}
