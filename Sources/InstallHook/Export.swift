import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print Kubernetes objects that carry harvester-sriov's configuration to a cluster.",
        subcommands: [CloudInit.self, DevicePlugin.self, KubeVirt.self, Network.self, PCIDeviceClaims.self])

    struct CloudInit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cloudinit",
            abstract: "Print a node-manager CloudInit that puts policy files on every node a selector matches.",
            discussion: "Apply it with kubectl apply -f -; yip writes the files at each node's next boot.")

        @Argument(help: "YAML files with SriovNetworkNodePolicy documents (or a List of them).")
        var files: [String]

        @Option(
            name: .customLong("match-selector"),
            help: "A label (key=value) the nodes must carry. Repeatable; at least one.")
        var matchSelector: [String] = []

        @Option(help: "The CloudInit's name (a DNS subdomain); derived from the files by default.")
        var name: String?

        @Option(help: "The file node-manager writes under /oem; 92_<name>.yaml by default.")
        var filename: String?

        @Flag(help: "Set spec.paused: node-manager leaves the nodes' files as they are.")
        var paused = false

        func run() throws {
            try runReporting {
                let export = try CloudInitExport(
                    files: files, matchSelector: matchSelector, name: name, filename: filename, paused: paused)
                output(try export.yaml(), terminator: "")
            }
        }
    }
}
