import SRIOVHost
import SRIOVModel

/// `hook`: the one call the Harvester installer makes. All or nothing: it validates
/// everything, then checks every path it will write, and only then writes the policies
/// and the files `install` writes.
public struct HookRun: Sendable {
    public struct Report: Sendable {
        public var label: CapabilityLabel
        /// The policies' report; nil when no policy file was given.
        public var policies: PolicyApplication.Report?
        /// Warnings from checking the policies against the node, given or not.
        public var warnings: [PolicyProblem]
        public var files: [FileInstaller.Change]
    }

    public let installation: NodeInstallation

    public init(root: TargetRoot, options: InstallOptions) {
        installation = NodeInstallation(root: root, options: options)
    }

    /// `host` is this machine's inventory: the hook runs on the node being installed, so
    /// its NICs are the node's even though the files go under another root.
    public func run(
        policyFiles: [String], nodeLabels: [String: String], labelKey: String, host: HostInventory,
        binary: [UInt8], dryRun: Bool
    ) throws(SRIOVError) -> Report {
        let label = try CapabilityLabel(key: labelKey, capable: host.capable)
        let input = PolicyInput.load(policyFiles)
        let application = PolicyApplication(store: installation.store)

        // 1. Validate: the policies (with the stored ones, against this node's NICs) and
        //    the files to install.
        var policies = try application.apply(
            input, nodeLabels: nodeLabels, host: host, dryRun: true, labelKey: label.key)
        let files = try installation.installFiles(label: label, binary: binary)
        if dryRun {
            return Report(
                label: label, policies: policyFiles.isEmpty ? nil : policies, warnings: policies.warnings,
                files: try installation.install(label: label, binary: binary, dryRun: true))
        }

        // 2. Check every path that will be written, the state file included, before the
        //    first write: a planted link or a read-only target leaves the root untouched.
        let state = GeneratedFile(installation.options.layout.stateFile, .bytes([]))
        try installation.installer.check(files + [state])

        // 3. Write: the policies, then everything else. Step 2 checked the free space too, so that no write in
        //    between fails with ENOSPC and leaves a state without its binary.
        if !policyFiles.isEmpty {
            policies = try application.apply(
                input, nodeLabels: nodeLabels, host: host, dryRun: false, labelKey: label.key)
        }
        return Report(
            label: label, policies: policyFiles.isEmpty ? nil : policies, warnings: policies.warnings,
            files: try installation.install(label: label, binary: binary, dryRun: false))
    }
}
