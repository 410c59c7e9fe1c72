import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract:
            "Put the binary, the udev rule, the restore units and the label under a root, so VFs come back at every boot."
    )

    @OptionGroup var target: RootOptions
    @OptionGroup var flags: InstallFlags

    func run() throws {
        try runReporting {
            try CapabilityLabel.check(flags.key)
            let (given, layout) = try target.resolve()
            let persistent = try PersistentMount.check(given, layout: layout)
            let root = given.writing(to: persistent)
            notePersistentMount(persistent, root)
            let key = StateStore(root: root, layout: layout).capabilityKey(given: flags.key)
            let label = try CapabilityLabel.discovered(key: key)
            let installation = NodeInstallation(root: root, options: flags.options(layout))
            report(
                try installation.install(
                    label: label, binary: try NodeInstallation.runningExecutable(), dryRun: flags.dryRun),
                dryRun: flags.dryRun)
            noteIfDevelopmentBuild()
        }
    }
}

struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall",
        abstract: "Remove what install put under a root; the stored policies stay unless --purge.")

    @OptionGroup var target: RootOptions

    @Flag(help: "Also remove the stored policies.")
    var purge = false

    func run() throws {
        try runReporting {
            let (root, layout) = try target.resolve()
            let changes = try NodeInstallation(root: root, options: InstallOptions(layout: layout)).uninstall(
                purge: purge)
            for change in changes { output("\(change.outcome.rawValue) \(change.path)") }
        }
    }
}
