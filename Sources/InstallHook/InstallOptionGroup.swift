import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

/// Options shared by install, label and hook.
struct InstallFlags: ParsableArguments {
    @Option(
        help:
            "The node label key, e.g. feature.node.kubernetes.io/network-sriov.capable. Default: the key installed before, else network-sriov.capable."
    )
    var key: String?

    @Option(help: "Seconds the boot unit waits for configured PFs that have not appeared.")
    var wait = RestoreOptions.defaultAppearWaitSeconds

    @Option(help: "Seconds restore gives one PF.")
    var timeout = RestoreOptions.defaultTimeoutSeconds

    @Flag(help: "Print a unified diff of what would change, and write nothing.")
    var dryRun = false

    func validate() throws {
        try validateSeconds(timeout: timeout, wait: wait)
    }

    func options(_ layout: Layout) -> InstallOptions {
        InstallOptions(layout: layout, wait: wait, timeout: timeout)
    }
}

/// `install` and `hook` copy the running binary onto the node: one line on stderr when it
/// is not the binary scripts/build-release makes.
func noteIfDevelopmentBuild() {
    if !Build.isRelease { printError("note: \(Build.developmentNote)") }
}

/// Elemental 2's after-install chroot has the persistent partition elsewhere than /usr/local: say where it went.
func notePersistentMount(_ persistent: PersistentMount, _ root: TargetRoot) {
    if persistent == .elemental2 {
        printError(
            "note: the persistent partition is mounted at \(root.display(root.usrLocal)) (Elemental 2): what the node will see under /usr/local is written there"
        )
    }
}

/// One line per file; with --dry-run the diffs too.
func report(_ changes: [FileInstaller.Change], dryRun: Bool) {
    for change in changes {
        if dryRun {
            output(
                change.outcome == .unchanged
                    ? "unchanged \(change.path)" : "would be \(change.outcome.rawValue): \(change.path)")
            output(change.diff, terminator: "")
        } else {
            output("\(change.outcome.rawValue) \(change.path)")
        }
    }
    let changed = changes.filter { $0.outcome != .unchanged && $0.outcome != .absent }.count
    if changed == 0 {
        output(
            "nothing \(dryRun ? "would change" : "changed"): \(count(changes.count, "file", "files")) already as they should be"
        )
    }
}
