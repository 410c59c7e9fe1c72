import ArgumentParser
import Capability

struct Hook: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The one call the Harvester installer makes: detect, label, apply policies, install.",
        discussion: """
            Runs on the machine being installed, so the NICs it detects are the node's own even though the files go \
            under --root. Everything is validated before anything is written.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        /// A new cluster's first node, a node joining a cluster, or a plain install.
        case create, join, install
    }

    @Option(help: "The installer's mode: create, join or install.")
    var mode: Mode

    @Option(help: "The mounted target system, e.g. /run/cos/target.")
    var root: String

    @Option(help: "fhs or harvester. Default: harvester when the root has /oem.")
    var layout: LayoutOption?

    @Option(name: .customLong("policy"), help: "A policy file to store for this node. Repeatable.")
    var policies: [String] = []

    @Option(name: .customLong("node-label"), help: "A label (key=value) the node will carry, for policies' nodeSelector. Repeatable.")
    var nodeLabels: [String] = []

    @OptionGroup var flags: InstallFlags

    func run() throws {
        try runReporting {
            let target = try TargetRoot(root)
            let layout = layout?.layout ?? Layout.detect(target)
            let labels = try NodeLabels.parse(nodeLabels)
            let host = try HostDiscovery.discover()
            let label = try NodeLabel(key: flags.key, capable: host.capable)
            let installation = NodeInstallation(root: target, options: flags.options(layout))
            let binary = try NodeInstallation.runningExecutable()

            // Validate everything before writing anything.
            let input = PolicyInput.load(policies)
            let application = PolicyApplication(store: StateStore(root: target, layout: layout))
            var policyReport = try application.apply(input, nodeLabels: labels, host: host, dryRun: true)
            _ = try installation.installFiles(label: label, binary: binary)

            print("harvester-sriov hook, mode \(mode.rawValue), layout \(layout.rawValue), root \(target.path)")
            print("node label: \(label.key)=\(label.value) (\(count(host.interfaces.count, "SR-IOV capable PF", "SR-IOV capable PFs")))")
            policyReport.warnings.forEach { printError("warning: \($0)") }
            if !flags.dryRun, !policies.isEmpty {
                policyReport = try application.apply(input, nodeLabels: labels, host: host, dryRun: false)
                policyReport.notes.forEach { printError("note: \($0)") }
            }
            if !policies.isEmpty {
                policyReport.changes.forEach { print($0) }
                print("\(flags.dryRun ? "would be " : "")\(policyReport.outcome.rawValue) \(policyReport.statePath)")
            }
            report(try installation.install(label: label, binary: binary, dryRun: flags.dryRun), dryRun: flags.dryRun)
        }
    }
}
