import Logging
import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

public struct RestoreOptions: Sendable {
    /// PF names or PCI addresses; empty means every configured PF.
    public var selection: [String]
    /// How long one PF may take, all steps together (the operator uses 2 minutes for the write).
    public var timeout: Duration
    /// How long to wait for configured PFs that have not appeared (boot: drivers still loading).
    public var appearTimeout: Duration
    /// Change VF counts even under VFs in use (a VM's, a pod's): the admin's choice, said in the log.
    public var force: Bool

    /// The defaults, in the whole seconds the command-line flags and the installed units take.
    public static let defaultTimeoutSeconds = 120
    public static let defaultAppearWaitSeconds = 60

    /// A PF as the user may name it: a PCI address in the kernel's form, lspci's short form without the domain
    /// (`3b:00.0`, domain 0000) or in capitals, all become the kernel's form; a name stays as it is.
    static func normalized(_ pf: String) -> String {
        if let address = PCIAddress(pf) { return address.description }
        if pf.count(where: { $0 == ":" }) == 1, let address = PCIAddress("0000:" + pf) { return address.description }
        return pf
    }

    public init(
        selection: [String] = [], timeout: Duration = .seconds(defaultTimeoutSeconds),
        appearTimeout: Duration = .seconds(defaultAppearWaitSeconds), force: Bool = false
    ) {
        self.force = force
        self.selection = selection.map(Self.normalized)
        self.timeout = timeout
        self.appearTimeout = appearTimeout
    }
}

/// Makes the stored desired state real: for each PF the policies resolve to, the
/// right number of VFs, each on the planned driver, with the planned MTU and a stable
/// MAC. Safe to run any number of times; PFs are restored in parallel and each fails
/// alone.
public struct RestoreEngine: Sendable {
    public let kernel: any SRIOVKernel
    public let store: StateStore
    public let runtime: RuntimeDirectory
    public let logger: Logger

    public init(kernel: any SRIOVKernel, store: StateStore, runtime: RuntimeDirectory, logger: Logger) {
        self.kernel = kernel
        self.store = store
        self.runtime = runtime
        self.logger = logger
    }

    /// Restores the PFs. Whatever stops the whole restore is logged too (the boot unit's
    /// only witness is the journal); an invalid state stops it before any VF is touched.
    public func run(_ options: RestoreOptions) throws(SRIOVError) -> RestoreResult {
        do {
            // An event that comes while a round runs (a driver reload, a policy file) is not lost when
            // systemd merges its start request into the running unit: whatever changed during a round, a
            // PF's netdev made again or the policies, gets one more round, at most `rounds` in all; so does
            // a PF that did not settle at its plan.
            // What a round acts on, restore's own record of the cards aside.
            func wanted() -> [NodePolicy]? { try? store.loadWithDropIns().state.policies }
            var selection = options.selection
            var result: RestoreResult?
            var round = 1
            while true {
                let before = (policies: wanted(), netdevs: netdevIdentities())
                let outcome = try restoreAll(
                    RestoreOptions(
                        selection: selection, timeout: options.timeout, appearTimeout: options.appearTimeout,
                        force: options.force))
                result = result.map { Self.merge($0, outcome) } ?? outcome
                guard round < Self.rounds else { break }
                let changedState = wanted() != before.policies
                let remade = netdevIdentities().filter { address, ifindex in
                    before.netdevs[address].map { $0 != ifindex } ?? false
                }.map(\.key.description).sorted()
                let unsettled = outcome.pfs.filter(\.differsAfterRestoring).map(\.pciAddress)
                guard changedState || !remade.isEmpty || !unsettled.isEmpty else { break }
                if changedState {
                    logger.notice("the policies changed during the restore: restoring again")
                } else {
                    if !remade.isEmpty {
                        logger.notice(
                            "\(remade.joined(separator: ", ")): the netdev was made again during the restore: restoring again"
                        )
                    }
                    if !unsettled.isEmpty {
                        logger.notice("\(unsettled.joined(separator: ", ")): not at the plan yet: restoring again")
                    }
                    let again = Array(Set(remade + unsettled)).sorted()
                    selection = options.selection.isEmpty ? again : selection
                }
                round += 1
            }
            return result ?? RestoreResult(finishedAt: 0, pfs: [])
        } catch {
            if case let .invalidPolicies(problems) = error {
                for problem in problems { logger.error("\(problem)") }
                let advice = "fix the file, or remove it and apply the policies again"
                logger.error("the stored state \(store.displayPath) is invalid, so no VF was changed: \(advice)")
            } else {
                logger.error("\(error)")
            }
            throw error
        }
    }

    /// Rounds of one restore at most: the first, and two for events that came during it.
    static let rounds = 3

    /// One result for all rounds: each PF's outcome from the last round that restored it, except that a later
    /// "unchanged" keeps what an earlier round did, unless that failed: the PF is at its plan now.
    static func merge(_ earlier: RestoreResult, _ later: RestoreResult) -> RestoreResult {
        var pfs = earlier.pfs
        for outcome in later.pfs {
            if let index = pfs.firstIndex(where: { $0.pciAddress == outcome.pciAddress }) {
                if outcome.status != .unchanged || pfs[index].status == .failed { pfs[index] = outcome }
            } else {
                pfs.append(outcome)
            }
        }
        return RestoreResult(finishedAt: later.finishedAt, pfs: pfs)
    }

    /// Each PF's netdev identity now, by PCI address.
    private func netdevIdentities() -> [PCIAddress: Int] {
        guard let host = try? kernel.inventory() else { return [:] }
        var identities: [PCIAddress: Int] = [:]
        for pf in host.interfaces { identities[pf.address] = kernel.pf(pf.address)?.ifindex }
        return identities
    }

    private func restoreAll(_ options: RestoreOptions) throws(SRIOVError) -> RestoreResult {
        let (state, warnings) = try store.loadWithDropIns()
        for warning in warnings { logger.warning("\(warning)") }
        guard !state.policies.isEmpty else {
            logger.info("no policies are stored in \(store.displayPath); nothing to restore")
            return try finish([], all: options.selection.isEmpty)
        }
        var host = try kernel.inventory()
        var tracker = CardTracker(stored: state.cards, host: host)

        // At boot the PFs' drivers may still be loading: wait, bounded, for the ones we expect.
        let appearDeadline = kernel.now + options.appearTimeout
        var outcomes: [PFOutcome] = []
        var notReady: [String] = []
        while true {
            var waiting = expectedButNotReady(state, tracker: tracker, host: host, selection: options.selection)
            // Ready now, but the node was read before: a netdev that got its final name in between is not in that
            // reading, and its policies by name would select nothing (seen in an event storm on a real kernel: the
            // restore udev started for the PF said no policy configures it). Then it is read again.
            if waiting.isEmpty,
                state.cards.contains(where: { card in
                    kernel.pf(card.pciAddress)?.netdev
                        != host.interfaces.first(where: { $0.address == card.pciAddress })?.name
                })
            {
                host = try kernel.inventory()
                tracker = CardTracker(stored: state.cards, host: host)
                waiting = expectedButNotReady(state, tracker: tracker, host: host, selection: options.selection)
            }
            notReady = waiting
            guard !waiting.isEmpty, kernel.now < appearDeadline else {
                for name in waiting {
                    let waited = seconds(options.appearTimeout)
                    let message =
                        if let missing = PCIAddress(name).flatMap({ kernel.pf($0)?.notReady }) {
                            "\(name): waited \(waited) s, and the PF \(missing)"
                        } else {
                            "\(name): did not appear with a driver and a netdev within \(waited) s; check that the card is seated and its driver loads (dmesg)"
                        }
                    logger.error("\(message)")
                    outcomes.append(
                        PFOutcome(pciAddress: name, name: nil, status: .failed, numVfs: 0, message: message))
                }
                break
            }
            kernel.waitForEvent(until: appearDeadline)
            host = try kernel.inventory()
            tracker = CardTracker(stored: state.cards, host: host)
        }

        let current = CurrentPlan(state: state, host: host)
        for move in current.tracker.moves {
            logger.notice(
                "the card with \(CardTracker.describe(move.card)) moved from \(move.card.pciAddress) to \(move.to.address) (\(move.to.name ?? "no netdev")); following it"
            )
        }
        for foreign in current.tracker.foreign {
            let message = CurrentPlan.refusal(foreign)
            logger.error("\(message)")
            outcomes.append(
                PFOutcome(
                    pciAddress: foreign.found.address.description, name: foreign.found.name, status: .failed, numVfs: 0,
                    message: message))
        }

        // A PF given up on above is left alone: without its final netdev name, its policies by name do not
        // select it and a broader one (by vendor and device) would, so its plan now is not its plan (seen in an
        // event storm on a real kernel: 1 VF written instead of 3). The event that brings its netdev restores it.
        let gaveUp = Set(
            notReady.compactMap { name in
                PCIAddress(name) ?? state.cards.first(where: { $0.name == name })?.pciAddress
            })
        var plan = current.plan.interfaces.filter { !gaveUp.contains($0.pciAddress) }
        if !options.selection.isEmpty {
            plan = plan.filter {
                options.selection.contains($0.pciAddress.description) || options.selection.contains($0.name ?? "")
            }
            let unknown = options.selection.filter { wanted in
                !plan.contains { $0.pciAddress.description == wanted || $0.name == wanted }
            }
            for name in unknown { logger.info("\(name): no stored policy configures it; nothing to do") }
        }

        warnOfRemovedVFs(plan)
        let jobs: [@Sendable () -> PFOutcome] = plan.map { planned in
            let card = host.card(at: planned.pciAddress)
            return { self.restore(planned, card: card, timeout: options.timeout, force: options.force) }
        }
        outcomes += kernel.concurrently(jobs)

        recordCards(tracker: current.tracker, plan: plan, host: host)
        return try finish(outcomes, all: options.selection.isEmpty)
    }

    /// VFs the last restore made that are gone were removed by another writer (Harvester's PCI devices
    /// addon, most likely): said in the journal, as restore makes them again.
    private func warnOfRemovedVFs(_ plan: [PlannedInterface]) {
        guard let previous = runtime.readStatus() else { return }
        let node = NodeName.resolved(root: store.writer.root.path)
        for planned in plan {
            guard let made = previous.vfsMade(at: planned.pciAddress), let pf = kernel.pf(planned.pciAddress),
                let now = pf.numVFs, now < made
            else { continue }
            let why = PCIDevicesAddon.removedByAnotherWriter(
                planned: planned, interface: planned.name ?? pf.netdev, node: node, madeByLastRestore: made)
            logger.warning("\(planned.pciAddress) \(planned.name ?? "-"): \(why); making them again")
        }
    }

    /// Remembers where moved cards are now, and adopts the cards of policies applied at
    /// install time, which carry no identities yet. Restores of different PFs run at
    /// the same time (one per udev event), and `policy apply` may too, so the state is
    /// re-read and written under the state lock: each adds its cards, none loses
    /// another's. The VFs are restored by now, so a failure here is only a warning.
    private func recordCards(tracker: CardTracker, plan: [PlannedInterface], host: HostInventory) {
        let movedFrom = Set(tracker.moves.map(\.card.pciAddress))
        let found =
            tracker.moves.map { CardIdentity($0.to) }
            + plan.compactMap { host.card(at: $0.pciAddress) }
        guard !found.isEmpty || !movedFrom.isEmpty else { return }
        do {
            let update = try store.update { state in
                var cards = state.cards.filter { !movedFrom.contains($0.pciAddress) }
                for card in found where !cards.contains(where: { $0.pciAddress == card.pciAddress }) {
                    cards.append(card)
                }
                state = DesiredState(
                    policies: state.policies, nodeLabels: state.nodeLabels, cards: cards, labelKey: state.labelKey,
                    clusterLabels: state.clusterLabels)
            }
            if let note = update.waitNote { logger.notice("\(note)") }
        } catch {
            logger.warning("could not record the cards' identities in \(store.displayPath): \(error)")
        }
    }

    /// Writes the result to the status file. A restore of some PFs (udev starts one per
    /// PF) keeps the other PFs' last results, so that status shows every PF's.
    private func finish(_ outcomes: [PFOutcome], all: Bool) throws(SRIOVError) -> RestoreResult {
        let result = RestoreResult(finishedAt: Int(time(nil)), pfs: outcomes.sorted { $0.pciAddress < $1.pciAddress })
        let lock = try runtime.lock(name: "status", until: kernel.now + .seconds(30), clock: kernel)
        defer { withExtendedLifetime(lock) {} }
        var recorded = result
        if !all, let previous = runtime.readStatus() {
            let mine = Set(outcomes.map(\.pciAddress))
            recorded.pfs = (previous.pfs.filter { !mine.contains($0.pciAddress) } + outcomes).sorted {
                $0.pciAddress < $1.pciAddress
            }
        }
        try runtime.writeStatus(recorded)
        return result
    }

    /// Names of configured PFs that are absent or not ready yet.
    private func expectedButNotReady(
        _ state: DesiredState, tracker: CardTracker, host: HostInventory, selection: [String]
    ) -> [String] {
        var expected = Set(tracker.missing.map(\.pciAddress.description))
        for policy in tracker.follow(state.policies) {
            for device in policy.spec.nicSelector.rootDevices
            where PCIAddress(device).map({ kernel.pf($0)?.ready != true }) ?? false {
                expected.insert(device)
            }
            for pfName in policy.spec.nicSelector.pfNames
            where !host.interfaces.contains(where: { $0.name == pfName.name })
                && !state.cards.contains(where: { $0.name == pfName.name })
            {
                expected.insert(pfName.name)
            }
        }
        for card in state.cards where !tracker.missing.contains(card) {
            if let pf = kernel.pf(card.pciAddress), !pf.ready, !tracker.moves.contains(where: { $0.card == card }) {
                expected.insert(card.pciAddress.description)
            }
        }
        let names = expected.sorted()
        return selection.isEmpty
            ? names
            : names.filter { name in
                selection.contains(name)
                    || state.cards.contains { $0.pciAddress.description == name && selection.contains($0.name ?? "") }
            }
    }
}
