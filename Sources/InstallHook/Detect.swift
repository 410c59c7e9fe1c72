import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "List the node's SR-IOV capable NICs (PFs) with their VFs, and why other NICs are not usable.")

    @Flag(help: "Print JSON (the operator's SriovNetworkNodeState interface names) instead of a table.")
    var json = false

    func run() throws {
        let host = try runReporting { try HostDiscovery.discover() }
        output(json ? DetectReport.json(host) : DetectReport.table(host), terminator: "")
    }
}
