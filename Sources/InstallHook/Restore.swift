import ArgumentParser
import Capability
import Logging
import SRIOVHost
import SRIOVModel

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Recreate the VFs the stored policies ask for: at boot, when a PF reappears, or by hand.",
        discussion:
            "Exit status: 0 when every configured PF is as planned, 1 when any failed (each failure is one line naming the PF, the file, the errno and what to do)."
    )

    @Argument(help: "PF names or PCI addresses to restore (default: all configured PFs).")
    var pfs: [String] = []

    @Flag(help: "Restore every configured PF (the default when no PF is named).")
    var all = false

    @Option(help: "Seconds one PF may take, all steps together.")
    var timeout = RestoreOptions.defaultTimeoutSeconds

    @Option(help: "Seconds to wait for configured PFs that have not appeared yet (drivers still loading at boot).")
    var wait = RestoreOptions.defaultAppearWaitSeconds

    @OptionGroup var target: RootOptions

    @Flag(
        help:
            "Change VF counts even where VFs are in use (a VM's, a pod's): they are removed, and what used them loses them."
    )
    var force = false

    @Option(help: .hidden)
    var runtimeDirectory = RuntimeDirectory.defaultPath

    func validate() throws {
        guard !(all && !pfs.isEmpty) else { throw ValidationError("give --all or PF names, not both") }
        try validateSeconds(timeout: timeout, wait: wait)
    }

    func run() throws {
        LoggingSystem.bootstrap(JournalLogHandler.init)
        let logger = Logger(label: "harvester-sriov")
        let result: RestoreResult
        var engineRan = false
        do {
            let engine = RestoreEngine(
                kernel: SysfsKernel(), store: try target.store(), runtime: try RuntimeDirectory(runtimeDirectory),
                logger: logger)
            engineRan = true
            let options = RestoreOptions(
                selection: pfs, timeout: .seconds(timeout), appearTimeout: .seconds(wait), force: force)
            result = try engine.run(options)
            for unanswered in LockedAttribute.unanswered { logger.error("\(unanswered)") }
        } catch {
            // Restore runs from systemd: its errors go to the journal at error priority,
            // once (the engine logs those it throws).
            if !engineRan { logger.error("\(error)") }
            throw ExitCode(error.exitCode)
        }
        for pf in result.pfs {
            output(
                "\(pf.pciAddress) \(pf.name ?? "-"): \(pf.status.rawValue), \(pf.numVfs) VFs, \(pf.kernelMilliseconds) ms in the kernel, \(pf.totalMilliseconds) ms in all"
            )
        }
        if result.failed { throw ExitCode(1) }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Compare the stored plan with the VFs the kernel has now, and show the last restore.",
        discussion: "Exit status: 0 when every configured PF is as planned, 3 when any differs.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var target: RootOptions

    @Option(help: .hidden)
    var runtimeDirectory = RuntimeDirectory.defaultPath

    @OptionGroup var cluster: ClusterLabelOptions

    func run() throws {
        let status = try runReporting {
            let labels = cluster.read(root: try target.resolve().root)
            let engine = RestoreEngine(
                kernel: SysfsKernel(), store: try target.store(), runtime: try RuntimeDirectory(runtimeDirectory),
                logger: Logger(label: "harvester-sriov"))
            return try NodeStatus(engine: engine, clusterLabels: labels)
        }
        for warning in status.warnings { printError("harvester-sriov: warning: \(warning)") }
        output(json ? StatusReport.json(status) : StatusReport.table(status), terminator: "")
        if !json {
            for finding in status.findings where finding.severity == .failing { output("doctor: \(finding.line)") }
        }
        if !status.inSync { throw ExitCode(NodeStatus.driftExitCode) }
    }
}

/// Used by restore: one sysfs write in a process of its own, so that a driver that
/// never returns blocks only this process. Exits with the write's errno.
struct SysfsWrite: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sysfs-write", shouldDisplay: false)

    @Argument var path: String
    @Argument var value: String

    func run() throws {
        do {
            try SysfsKernel.write(path, value)
        } catch {
            throw ExitCode(error.rawValue)
        }
    }
}

/// Bounds for the seconds given to restore and install: beyond a day they are a typo,
/// and near Int.max they overflow the deadlines computed from them.
func validateSeconds(timeout: Int, wait: Int) throws {
    guard (1...86_400).contains(timeout), (0...86_400).contains(wait) else {
        throw ValidationError("--timeout must be 1 to 86400 seconds and --wait 0 to 86400")
    }
}
