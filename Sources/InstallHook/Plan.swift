import ArgumentParser
import Capability

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Resolve the stored policies against this node's NICs now: VFs per PF, their groups, and what matched nothing."
    )

    @OptionGroup var target: RootOptions

    @Option(name: .customLong("node-label"), help: "An extra label (key=value) for policies' nodeSelector. Repeatable.")
    var nodeLabels: [String] = []

    @Flag(help: "Print JSON in the shape of the operator's SriovNetworkNodeState.spec.interfaces.")
    var json = false

    func run() throws {
        try runReporting {
            let plan = try CurrentPlan.load(
                store: target.store(), inventory: HostDiscovery.discover, nodeLabels: nodeLabels
            ).plan
            output(json ? PlanReport.json(plan) : PlanReport.table(plan), terminator: "")
        }
    }
}
