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

    /// `host` is the live host's inventory when the root is this system, else nil.
    public func apply(_ input: PolicyInput, nodeLabels: [String: String], host: HostInventory?, dryRun: Bool)
        throws(SRIOVError) -> Report {
        guard input.problems.isEmpty else { throw .invalidPolicies(input.problems) }
        var stored = try store.load()
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

        var warnings: [PolicyProblem] = [], notes: [String] = []
        let labels = stored.nodeLabels.merging(nodeLabels) { _, given in given }
        if let host {
            let checked = PolicyRules.checkHost(policies, host: host, origins: origins)
            guard checked.errors.isEmpty else { throw .invalidPolicies(checked.errors) }
            warnings = checked.warnings
            let plan = PlanResolver.resolve(policies, host: host, labels: NodeLabels.of(host, extra: labels))
            stored.cards = plan.interfaces.compactMap { planned in
                host.interfaces.first { $0.address == planned.pciAddress }.map(CardIdentity.init)
            }
        } else {
            notes.append("\(store.writer.root.path) is not this host: the checks against its NICs (numVfs <= sriov_totalvfs, IOMMU for vfio-pci, selectors that match nothing) run when the node restores its VFs")
        }
        let state = DesiredState(policies: policies, nodeLabels: labels, cards: stored.cards)
        let outcome: WriteOutcome
        if dryRun {
            let current = try store.writer.read(store.layout.stateFile)
            outcome = current == nil ? .created : current == state.jsonBytes ? .unchanged : .updated
        } else {
            outcome = try store.save(state)
        }
        return Report(changes: changes, warnings: warnings, notes: notes, outcome: outcome, statePath: store.displayPath, state: state)
    }

    /// `policy remove`: removes the named policies; naming one that is not stored is an error.
    /// It is the way out of a stored policy that breaks a rule, so the rules are checked
    /// on what is left, not on what is removed.
    public func remove(_ names: [String]) throws(SRIOVError) -> (outcome: WriteOutcome, state: DesiredState) {
        let stored = try store.load(checkingRules: false)
        let known = Set(stored.policies.map(\.name))
        let unknown = names.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw .usage("no policy named \(unknown.joined(separator: ", ")) is stored in \(store.displayPath); `harvester-sriov policy list` shows the stored ones")
        }
        var state = stored
        state.policies.removeAll { names.contains($0.name) }
        let problems = state.problems(file: store.displayPath)
        guard problems.isEmpty else { throw .invalidPolicies(problems) }
        return (try store.save(state), state)
    }
}
