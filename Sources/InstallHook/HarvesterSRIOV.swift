import ArgumentParser
import Capability

@main
struct HarvesterSRIOV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvester-sriov",
        abstract: "Detects a Harvester node's SR-IOV NICs, labels the node, and keeps its VFs across reboots.",
        version: Capability.version,
        subcommands: [Detect.self, Policy.self, Plan.self, Restore.self, Status.self, Label.self, Install.self, Uninstall.self, Hook.self, SysfsWrite.self]
    )
}
