import ArgumentParser
import Capability
import Logging
import SRIOVHost
import SRIOVModel

struct Label: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Write the node's SR-IOV capability label: an RKE2 config drop-in and a Kubernetes merge patch.",
        discussion: """
            The drop-in (etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml, or the yip file /oem/91_harvester_sriov.yaml on \
            Harvester) labels the node when it registers; for a node that is already registered: \
            kubectl patch node NAME --type merge --patch-file <state folder>/node-label-patch.json

            --apply also sends that patch itself, through kubectl, with the node's own kubelet credential, after \
            it has rewritten the files (RKE2 applies the drop-in's labels again at every start). Exit status: 0 applied; 69 the API did not answer (retried with back-off for \
            --retry-for seconds); 77 credential refused (401/403); 68 no such node (404); 74 no kubeconfig or kubectl.
            """)

    @OptionGroup var target: RootOptions
    @OptionGroup var flags: InstallFlags

    @Flag(help: "Print the label, the drop-in and the patch instead of writing them.")
    var print = false

    @Flag(help: "Patch this node's Node object now, through kubectl, instead of writing files.")
    var apply = false

    /// Used with --apply only.
    @OptionGroup var cluster: KubectlOptions

    func validate() throws {
        guard !(apply && print) else { throw ValidationError("give --apply or --print, not both") }
        guard apply || (cluster.kubeconfig == nil && cluster.node == nil && cluster.kubectl == nil) else {
            throw ValidationError("--kubeconfig, --node and --kubectl go with --apply")
        }
    }

    func run() throws {
        try runReporting {
            try CapabilityLabel.check(flags.key)
            let (root, layout) = try target.resolve()
            // kubectl and the kubeconfig are checked first: a wrong one is 74 before anything is read or written.
            let application = try apply ? applicationChecked() : nil
            let key = StateStore(root: root, layout: layout).capabilityKey(given: flags.key)
            let label = try CapabilityLabel.discovered(key: key)
            let installation = NodeInstallation(root: root, options: flags.options(layout))
            if let application {
                try applyNow(label, application: application, installation: installation)
                return
            }
            if self.print {
                output("\(label.key)=\(label.value)\n")
                output(NodeFiles.rke2DropIn(label))
                output(NodeFiles.labelPatch(label), terminator: "")
                return
            }
            report(try installation.label(label, dryRun: flags.dryRun), dryRun: flags.dryRun)
        }
    }

    /// One line per attempt on stderr (the journal when run from a unit); the error, if any, once. The drop-in
    /// (and the yip file's copy) is rewritten first: RKE2 sets its configured labels again at every start, so a
    /// patch alone would be undone by the next one.
    private func applicationChecked() throws(SRIOVError) -> NodeLabelApplication {
        try NodeLabelApplication(
            kubectl: cluster.kubectl, kubeconfig: cluster.kubeconfig, node: cluster.node,
            requestTimeoutSeconds: cluster.requestTimeout, retrySeconds: cluster.retryFor)
    }

    private func applyNow(
        _ label: CapabilityLabel, application: NodeLabelApplication, installation: NodeInstallation
    ) throws {
        LoggingSystem.bootstrap(JournalLogHandler.init)
        let logger = Logger(label: "harvester-sriov")
        for change in try installation.label(label, dryRun: false) where change.outcome != .unchanged {
            logger.info("\(change.outcome.rawValue) \(change.path)")
        }
        try application.apply(label) { logger.info("\($0)") }
        // The Node's labels, for the next restore's nodeSelectors (the label unit then starts one).
        do {
            let labels = try ClusterNodeLabels.read(
                application.kubectl, node: application.node, again: "harvester-sriov label --apply")
            let update = try target.store().update(checkingRules: false) { state in state.clusterLabels = labels }
            if update.outcome != .unchanged {
                logger.info("stored the Node's \(labels.count) labels for policies' nodeSelector")
            }
        } catch {
            logger.warning("the Node's labels were not stored (\(error)); policies match the ones stored before")
        }
    }
}
