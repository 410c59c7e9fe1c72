import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this node against its stored plan: IOMMU, IOMMU groups, VF limits, host networking, drivers.",
        discussion: """
            Each finding says what, on which device, why it matters and the exact fix. A failing finding means the \
            plan cannot work as stored; a warning that it works at a cost. Exit status: 0 when nothing fails, 1 when \
            a finding fails.
            """)

    @OptionGroup var target: RootOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let findings = try runReporting {
            let current = try CurrentPlan.load(store: target.store(), inventory: target.discover)
            for warning in current.warnings { printError("harvester-sriov: warning: \(warning)") }
            let findings = Doctor.findings(current)
            if json {
                output(Doctor.json(findings, node: current.host.node), terminator: "")
            } else if findings.isEmpty {
                output("nothing stands between node \(current.host.node) and its plan")
            } else {
                for finding in findings { output(finding.line) }
            }
            return findings
        }
        if findings.contains(where: { $0.severity == .failing }) { throw ExitCode(Doctor.failingExitCode) }
    }
}
