import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Validate, store, list and remove SriovNetworkNodePolicy manifests for this node.",
        subcommands: [Check.self, Apply.self, List.self, Remove.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate policy files as strictly as the operator's webhook; exit 65 listing every problem.")

        @Argument(help: "YAML files with SriovNetworkNodePolicy documents (or a List of them).")
        var files: [String]

        @Option(help: "Check against this system's NICs when it is the running host (/).")
        var root = "/"

        func run() throws {
            try runReporting {
                let (policies, warnings) = try PolicyApplication.check(files: files, root: TargetRoot(root))
                for warning in warnings { printError("warning: \(warning)") }
                output(
                    "\(count(policies.count, "policy", "policies")) valid: \(policies.map(\.name).sorted().joined(separator: ", "))"
                )
            }
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Validate policy files and store them as this node's desired VF state.")

        @Argument(help: "YAML files with SriovNetworkNodePolicy documents (or a List of them).")
        var files: [String]

        @OptionGroup var target: RootOptions

        @Option(
            name: .customLong("node-label"),
            help: "A label (key=value) this node carries, for policies' nodeSelector. Repeatable.")
        var nodeLabels: [String] = []

        @Flag(help: "Validate and say what would change, without writing.")
        var dryRun = false

        func run() throws {
            try runReporting {
                let labels = try NodeLabels.parse(nodeLabels)
                let report = try PolicyApplication(store: try target.store()).apply(
                    files: files, nodeLabels: labels, dryRun: dryRun)
                for warning in report.warnings { printError("warning: \(warning)") }
                for note in report.notes { printError("note: \(note)") }
                for change in report.changes { output(change) }
                let verb = dryRun ? "would be" : "is"
                switch report.outcome {
                case .unchanged: output("unchanged: \(report.statePath) already holds these policies")
                default:
                    output(
                        "\(report.statePath) \(verb) \(report.outcome.rawValue) (\(count(report.state.policies.count, "policy", "policies")))"
                    )
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored policies.")

        @OptionGroup var target: RootOptions

        func run() throws {
            try runReporting {
                let state = try target.store().load()
                output(PolicyListing.table(state), terminator: "")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Remove stored policies by name.")

        @Argument(help: "Names of stored policies.")
        var names: [String]

        @OptionGroup var target: RootOptions

        func run() throws {
            try runReporting {
                let store = try target.store()
                let result = try PolicyApplication(store: store).remove(names)
                result.waitNote.map { printError("note: \($0)") }
                output(
                    "removed \(names.joined(separator: ", ")); \(store.displayPath) \(result.outcome.rawValue) (\(count(result.state.policies.count, "policy", "policies")) left)"
                )
            }
        }
    }
}

/// "1 policy", "2 policies".
func count(_ number: Int, _ singular: String, _ plural: String) -> String {
    "\(number) \(number == 1 ? singular : plural)"
}
