import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

extension Export {
    struct KubeVirt: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kubevirt",
            abstract: "Print a merge patch for the KubeVirt CR that permits this node's vfio-pci pools.",
            discussion:
                "For a KubeVirt cluster (not Harvester, whose PCI devices addon owns the list: use pcidevices --claim). "
                + "Apply it with kubectl patch kubevirt kubevirt -n kubevirt --type merge --patch-file. "
                + "The patch replaces the whole pciHostDevices list: add the entries already there first.")

        @OptionGroup var options: PlanOptions

        func run() throws {
            try runReporting {
                try options.checkPrefix()
                try options.refuseOnHarvester(KubeVirtDevices.harvesterRefusal)
                let current = try options.plan()
                let devices = try KubeVirtDevices(
                    plan: current.plan, host: current.host, prefix: options.resourcePrefix)
                for note in devices.notes { printError("harvester-sriov: note: \(note)") }
                output(devices.json(), terminator: "")
            }
        }
    }
}
