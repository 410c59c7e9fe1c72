import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract:
            "Resolve the stored policies against this node's NICs now: VFs per PF, their groups, and what matched nothing."
    )

    @OptionGroup var target: RootOptions

    @Option(name: .customLong("node-label"), help: "An extra label (key=value) for policies' nodeSelector. Repeatable.")
    var nodeLabels: [String] = []

    @Flag(help: "Print JSON in the shape of the operator's SriovNetworkNodeState.spec.interfaces.")
    var json = false

    @OptionGroup var cluster: ClusterLabelOptions

    func run() throws {
        try runReporting {
            let (root, _) = try target.resolve()
            let current = try CurrentPlan.load(
                store: target.store(), inventory: target.discover, nodeLabels: nodeLabels,
                clusterLabels: cluster.read(root: root))
            for warning in current.warnings { printError("harvester-sriov: warning: \(warning)") }
            let plan = current.plan
            output(json ? PlanReport.json(plan) : PlanReport.table(plan), terminator: "")
            // The table lists them; JSON keeps its shape (the names), so the reasons go to stderr.
            if json {
                for (policy, reason) in plan.unmatched {
                    printError("harvester-sriov: note: policy \(policy) configures nothing on this node: \(reason)")
                }
            }
        }
    }
}
