import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct Hook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
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

    @Option(
        name: .customLong("node-label"),
        help: "A label (key=value) the node will carry, for policies' nodeSelector. Repeatable.")
    var nodeLabels: [String] = []

    @OptionGroup var flags: InstallFlags

    func run() throws {
        try runReporting {
            try CapabilityLabel.check(flags.key)
            let given = try TargetRoot(root)
            let layout = layout?.layout ?? Layout.detect(given)
            // Before anything else: the binary and the state must land where they survive the first boot.
            let persistent = try PersistentMount.check(given, layout: layout)
            let target = given.writing(to: persistent)
            let labels = try NodeLabels.parse(nodeLabels)
            let host = try HostDiscovery.discover(root: target.path)
            let binary = try NodeInstallation.runningExecutable()
            let hook = HookRun(root: target, options: flags.options(layout))
            let result = try hook.run(
                policyFiles: policies, nodeLabels: labels,
                labelKey: StateStore(root: target, layout: layout).capabilityKey(given: flags.key),
                host: host,
                binary: binary, dryRun: flags.dryRun)

            output("harvester-sriov hook, mode \(mode.rawValue), layout \(layout.rawValue), root \(target.path)")
            notePersistentMount(persistent, target)
            let pfs = count(host.interfaces.count, "SR-IOV capable PF", "SR-IOV capable PFs")
            output("node label: \(result.label.key)=\(result.label.value) (\(pfs))")
            for warning in result.warnings { printError("warning: \(warning)") }
            if let policies = result.policies {
                for change in policies.changes { output(change) }
                output("\(flags.dryRun ? "would be " : "")\(policies.outcome.rawValue) \(policies.statePath)")
                if !flags.dryRun {
                    for note in policies.notes { printError("note: \(note)") }
                }
            }
            report(result.files, dryRun: flags.dryRun)
            // What will stand in the plan's way on this node: said, never a reason not to install.
            if let state = result.policies?.state {
                for finding in Doctor.findings(CurrentPlan(state: state, host: host)) {
                    printError("doctor: \(finding.line)")
                }
            }
            noteIfDevelopmentBuild()
        }
    }
}
