import ArgumentParser
import Capability

extension Export {
    struct KubeVirt: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kubevirt",
            abstract: "Print a merge patch for the KubeVirt CR that permits this node's vfio-pci pools.",
            discussion:
                "Apply it with kubectl patch kubevirt kubevirt -n harvester-system --type merge --patch-file. "
                + "The patch replaces the whole pciHostDevices list: add the entries already there first.")

        @OptionGroup var options: PlanOptions

        @Flag(help: "Mark every entry externalResourceProvider: the SR-IOV device plugin serves all vfio-pci pools.")
        var externalResourceProvider = false

        func run() throws {
            try runReporting {
                try options.checkPrefix()
                let current = try options.plan()
                let devices = KubeVirtDevices(
                    plan: current.plan, host: current.host, prefix: options.resourcePrefix,
                    allExternal: externalResourceProvider)
                for note in devices.notes { printError("harvester-sriov: note: \(note)") }
                output(devices.json(), terminator: "")
            }
        }
    }
}
