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

        @OptionGroup var target: RootOptions

        @Option(name: .customLong("node-label"), help: "An extra label (key=value) for policies' nodeSelector.")
        var nodeLabels: [String] = []

        @Option(help: "The prefix of the resources: <prefix>/<resourceName>.")
        var resourcePrefix = ResourcePrefix.standard

        @Flag(help: "Mark every entry externalResourceProvider: the SR-IOV device plugin serves all vfio-pci pools.")
        var externalResourceProvider = false

        func run() throws {
            try runReporting {
                if let problem = ResourcePrefix.problem(resourcePrefix) { throw SRIOVError.usage(problem) }
                let current = try CurrentPlan.load(
                    store: target.store(), inventory: HostDiscovery.discover, nodeLabels: nodeLabels)
                for warning in current.warnings { printError("harvester-sriov: warning: \(warning)") }
                let devices = KubeVirtDevices(
                    plan: current.plan, host: current.host, prefix: resourcePrefix,
                    allExternal: externalResourceProvider)
                for note in devices.notes { printError("harvester-sriov: note: \(note)") }
                output(devices.json(), terminator: "")
            }
        }
    }
}
