import ArgumentParser
import Capability
import Logging
import SRIOVHost
import SRIOVModel

struct PCIDevices: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcidevices",
        abstract: "Compare Harvester's PCI devices addon objects (SRIOVNetworkDevice) of this node with the plan.",
        discussion: """
            The addon writes each object's spec.numVFs to its PF (0 removes VFs), so for every PF the plan gives VFs, \
            the object must ask for the plan's count. Without --sync, each conflict is printed with the kubectl command \
            that resolves it. --sync patches the objects (an admin kubeconfig: RKE2's on a server node, or \
            --kubeconfig); --restore then restores the PFs whose objects changed. Exit status: 0 agreed, patched or \
            no addon; 3 conflicts left; 77 credential refused; 69 the API did not answer; 74 no kubeconfig or kubectl.
            """)

    @OptionGroup var target: RootOptions

    @Flag(help: "Patch the objects that ask for another VF count than the plan.")
    var sync = false

    @Flag(help: "With --sync: restore the PFs whose objects were patched (the addon removed their VFs).")
    var restore = false

    @Flag(
        help:
            "Claim the plan's vfio-pci VFs (PCIDeviceClaim), wait until the addon bound them, and print the resource names VMs' hostDevices use."
    )
    var claim = false

    @Option(help: "With --claim: the claims' spec.userName.")
    var user = PCIDeviceClaims.defaultUser

    @Option(help: "With --claim: seconds to wait for the addon's PCIDevice objects and its binding.")
    var waitFor = 120

    @OptionGroup var cluster: KubectlOptions

    func validate() throws {
        guard sync || !restore else { throw ValidationError("--restore goes with --sync") }
        guard !claim || !sync else { throw ValidationError("--claim and --sync are separate runs") }
        try usageLine { () throws(SRIOVError) in
            guard PCIDeviceClaiming.waitRange.contains(waitFor) else {
                throw .usage("--wait-for \(waitFor): must be 0 to 3600 seconds")
            }
        }
    }

    func run() throws {
        LoggingSystem.bootstrap(JournalLogHandler.init)
        let logger = Logger(label: "harvester-sriov")
        if claim { return try runClaim(logger) }
        let outcome = try runReporting {
            let current = try CurrentPlan.load(store: target.store(), inventory: target.discover)
            let agreement = try PCIDevicesAgreement(
                kubectl: cluster.kubectl, kubeconfig: cluster.kubeconfig, node: cluster.node,
                requestTimeoutSeconds: cluster.requestTimeout, retrySeconds: cluster.retryFor)
            return try agreement.reconcile(plan: current.plan, patch: sync) { logger.info("\($0)") }
        }
        switch outcome {
        case .noAddon, .agreed:
            return
        case let .conflicting(conflicts):
            for conflict in conflicts { output("\(conflict.description); fix: \(conflict.fix)") }
            throw ExitCode(NodeStatus.driftExitCode)
        case let .patched(conflicts):
            for conflict in conflicts {
                output("\(conflict.description); set it to \(conflict.planned)")
            }
            guard restore else { return }
            let result = try runReporting {
                let engine = RestoreEngine(
                    kernel: SysfsKernel(), store: try target.store(), runtime: try RuntimeDirectory(), logger: logger)
                return try engine.run(RestoreOptions(selection: conflicts.map(\.pf.description)))
            }
            if result.failed { throw ExitCode(1) }
        }
    }

    private func runClaim(_ logger: Logger) throws {
        try runReporting {
            let claiming = try PCIDeviceClaiming(
                kubectl: cluster.kubectl, kubeconfig: cluster.kubeconfig, node: cluster.node, user: user,
                waitSeconds: waitFor, requestTimeoutSeconds: cluster.requestTimeout, retrySeconds: cluster.retryFor)
            let current = try CurrentPlan.load(store: target.store(), inventory: target.discover)
            let outcome = try claiming.claim(plan: current.plan, host: current.host) { logger.info("\($0)") }
            for name in outcome.created { output("created PCIDeviceClaim \(name)") }
            if outcome.alreadyThere > 0 {
                output("\(outcome.alreadyThere) PCIDeviceClaims were there already")
            }
            for served in outcome.served {
                output(
                    "resource \(served.resource): \(served.vfs) VFs; VMs ask for them with hostDevices deviceName "
                        + served.deviceNames.joined(separator: " or "))
            }
            for note in outcome.notes { printError("harvester-sriov: note: \(note)") }
        }
    }
}
