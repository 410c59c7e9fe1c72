import ArgumentParser
import Capability
import Logging

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

    @OptionGroup var cluster: KubectlOptions

    func validate() throws {
        guard sync || !restore else { throw ValidationError("--restore goes with --sync") }
    }

    func run() throws {
        LoggingSystem.bootstrap(JournalLogHandler.init)
        let logger = Logger(label: "harvester-sriov")
        let outcome = try runReporting {
            let current = try CurrentPlan.load(store: target.store(), inventory: HostDiscovery.discover)
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
}
