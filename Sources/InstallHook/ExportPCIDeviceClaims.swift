import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

extension Export {
    struct PCIDeviceClaims: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pcideviceclaims",
            abstract: "Print the PCIDeviceClaims that give this node's planned vfio-pci VFs to Harvester's VMs.",
            discussion: """
                One claim per vfio-pci VF, named as Harvester's PCI devices addon names the VF's PCIDevice. The \
                addon's controller needs each claim to name its PCIDevice's uid in ownerReferences, which only \
                the cluster knows: harvester-sriov pcidevices --claim creates them with it, waits until the addon \
                has bound them, and prints the names VMs use.
                """)

        @OptionGroup var options: PlanOptions

        @Option(help: "The claims' spec.userName (the Harvester UI lets that user disable passthrough).")
        var user = SRIOVModel.PCIDeviceClaims.defaultUser

        @Option(
            help:
                "This node's name (default: RKE2's node-name, else the host name, lowercased, as kubelet registers it)."
        )
        var node: String?

        func run() throws {
            try runReporting {
                let node = try NodeName.resolve(root: options.target.resolve().root.path, override: node)
                let current = try options.plan()
                let (claims, notes) = SRIOVModel.PCIDeviceClaims.wanted(
                    plan: current.plan, host: current.host, node: node, user: user)
                for note in notes { printError("harvester-sriov: note: \(note)") }
                output(try SRIOVModel.PCIDeviceClaims.yaml(claims), terminator: "")
            }
        }
    }
}
