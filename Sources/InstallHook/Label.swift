import ArgumentParser
import Capability

struct Label: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the node's SR-IOV capability label: an RKE2 config drop-in and a Kubernetes merge patch.",
        discussion: """
            The drop-in (etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml, or the yip file /oem/91_harvester_sriov.yaml on \
            Harvester) labels the node when it registers; for a node that is already registered: \
            kubectl patch node NAME --type merge --patch-file <state folder>/node-label-patch.json
            """)

    @OptionGroup var target: RootOptions
    @OptionGroup var flags: InstallFlags

    @Flag(help: "Print the label, the drop-in and the patch instead of writing them.")
    var print = false

    func run() throws {
        try runReporting {
            let (root, layout) = try target.resolve()
            let label = try CapabilityLabel(key: flags.key, capable: try HostDiscovery.discover().capable)
            if self.print {
                output("\(label.key)=\(label.value)\n")
                output(NodeFiles.rke2DropIn(label))
                output(NodeFiles.labelPatch(label), terminator: "")
                return
            }
            let installation = NodeInstallation(root: root, options: flags.options(layout))
            report(try installation.label(label, dryRun: flags.dryRun), dryRun: flags.dryRun)
        }
    }
}
