import SRIOVHost
import SRIOVModel

/// `policy apply`: validate new policies together with the stored ones, then store
/// them atomically. Policies replace stored ones of the same name, as `kubectl apply`.
public struct PolicyApplication: Sendable {
    public struct Report: Sendable {
        public var changes: [String]
        public var warnings: [PolicyProblem]
        /// Said when the host checks are deferred to restore time.
        public var notes: [String]
        public var outcome: WriteOutcome
        public var statePath: String
        public var state: DesiredState
    }

    public let store: StateStore

    public init(store: StateStore) { self.store = store }

    /// `policy apply FILE...`: on the running host (root `/`) the policies are also checked against its NICs;
    /// for another root that check is left to restore time, and the report says so.
    public func apply(files: [String], nodeLabels: [String: String], dryRun: Bool) throws(SRIOVError) -> Report {
        let input = PolicyInput.load(files)
        let host =
            store.writer.root.isLiveHost && input.problems.isEmpty
            ? try HostDiscovery.discover(root: store.writer.root.path) : nil
        return try apply(input, nodeLabels: nodeLabels, host: host, dryRun: dryRun)
    }

    /// `policy check FILE...`: the files as strictly as the operator's webhook; against this system's NICs too when
    /// `root` is the running host. Returns the valid policies and the warnings.
    public static func check(files: [String], root: TargetRoot) throws(SRIOVError) -> (
        policies: [NodePolicy], warnings: [PolicyProblem]
    ) {
        let input = PolicyInput.load(files)
        guard input.problems.isEmpty else { throw .invalidPolicies(input.problems) }
        guard root.isLiveHost else { return (input.policies, []) }
        let checked = PolicyRules.checkHost(input.policies, host: try HostDiscovery.discover(), origins: input.origins)
        guard checked.errors.isEmpty else { throw .invalidPolicies(checked.errors) }
        return (input.policies, checked.warnings)
    }

    /// `host` is the live host's inventory when the root is this system, else nil. A real
    /// apply checks and writes under the state lock, so that the policies it checks
    /// against are the ones it stores beside; a dry run reads without the lock.
    /// `labelKey`: the capability label's key being installed with the policies (hook), stored with them;
    /// nil keeps the stored one.
    public func apply(
        _ input: PolicyInput, nodeLabels: [String: String], host: HostInventory?, dryRun: Bool,
        labelKey: String? = nil
    ) throws(SRIOVError) -> Report {
        guard input.problems.isEmpty else { throw .invalidPolicies(input.problems) }
        guard !dryRun else {
            let current = try store.writer.read(store.layout.stateFile, limit: StateStore.maximumFileSize)
            let stored =
                try current.map { bytes throws(SRIOVError) in
                    try DesiredState.decode(bytes, file: store.displayPath)
                } ?? .empty
            var report = try merge(input, into: stored, nodeLabels: nodeLabels, host: host, labelKey: labelKey)
            report.outcome = current == nil ? .created : current == report.state.jsonBytes ? .unchanged : .updated
            return report
        }
        let update = try store.update { (state: inout DesiredState) throws(SRIOVError) -> Report in
            let report = try merge(input, into: state, nodeLabels: nodeLabels, host: host, labelKey: labelKey)
            state = report.state
            return report
        }
        var report = update.value
        report.outcome = update.outcome
        report.notes += update.waitNote.map { [$0] } ?? []
        return report
    }

    /// The stored state with `input`'s policies added or replacing those of the same
    /// name, checked as one set; the outcome is left for the caller.
    private func merge(
        _ input: PolicyInput, into stored: DesiredState, nodeLabels: [String: String],
        host: HostInventory?, labelKey: String?
    ) throws(SRIOVError) -> Report {
        let key = labelKey ?? stored.capabilityKey
        var changes: [String] = []
        var merged = Dictionary(stored.policies.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for policy in input.policies.sorted(by: { $0.name < $1.name }) {
            switch merged[policy.name] {
            case nil: changes.append("policy \(policy.name): added")
            case policy?: changes.append("policy \(policy.name): unchanged")
            default: changes.append("policy \(policy.name): replaced")
            }
            merged[policy.name] = policy
        }
        let policies = Array(merged.values)
        var origins = input.origins
        for policy in stored.policies where origins[policy.name] == nil { origins[policy.name] = store.displayPath }
        let setProblems = PolicyRules.checkSet(policies, origins: origins)
        guard setProblems.isEmpty else { throw .invalidPolicies(setProblems) }

        var warnings: [PolicyProblem] = []
        var notes: [String] = []
        var cards = stored.cards
        let labels = stored.nodeLabels.merging(nodeLabels) { _, given in given }
        if let host {
            let checked = PolicyRules.checkHost(policies, host: host, origins: origins)
            guard checked.errors.isEmpty else { throw .invalidPolicies(checked.errors) }
            warnings = checked.warnings
            let plan = PlanResolver.resolve(
                policies, host: host,
                labels: CurrentPlan.labels(host, cluster: stored.clusterLabels, stored: labels, given: [:], key: key))
            cards = plan.interfaces.compactMap { host.card(at: $0.pciAddress) }
        } else {
            notes.append(
                "\(store.writer.root.path) is not this host: the checks against its NICs (numVfs <= sriov_totalvfs, IOMMU for vfio-pci, selectors that match nothing) run when the node restores its VFs"
            )
        }
        let state = DesiredState(
            policies: policies, nodeLabels: labels, cards: cards, labelKey: key, clusterLabels: stored.clusterLabels)
        return Report(
            changes: changes, warnings: warnings, notes: notes, outcome: .unchanged,
            statePath: store.displayPath, state: state)
    }

    /// `policy remove`: removes the named policies, under the state lock; naming one that
    /// is not stored is an error and changes nothing. It is the way out of a stored policy
    /// that breaks a rule, so the rules are checked on what is left, not on what is removed.
    public func remove(_ names: [String])
        throws(SRIOVError) -> (outcome: WriteOutcome, state: DesiredState, waitNote: String?)
    {
        let update = try store.update(checkingRules: false) { (state: inout DesiredState) throws(SRIOVError) in
            let known = Set(state.policies.map(\.name))
            let unknown = names.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw .usage(
                    "no policy named \(unknown.joined(separator: ", ")) is stored in \(store.displayPath); `harvester-sriov policy list` shows the stored ones"
                )
            }
            state.policies.removeAll { names.contains($0.name) }
            let problems = state.problems(file: store.displayPath)
            guard problems.isEmpty else { throw .invalidPolicies(problems) }
        }
        return (update.outcome, update.state, update.waitNote)
    }
}
