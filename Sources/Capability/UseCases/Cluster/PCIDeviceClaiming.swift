import SRIOVHost
import SRIOVModel

/// Claims this node's planned vfio-pci VFs from Harvester's PCI devices addon, then waits until the addon has
/// bound them (`status.passthroughEnabled`), and tells which `PCIDevice` `status.resourceName` each of our
/// resources became: the name a VM's `hostDevices[].deviceName` must give. Needs a credential that may create
/// claims: RKE2's admin kubeconfig on a server node, or `--kubeconfig`.
public struct PCIDeviceClaiming: Sendable {
    public let kubectl: Kubectl
    public let node: String
    public let user: String
    /// How long to wait for the addon: for its `PCIDevice` objects of new VFs, then for its binding.
    public let wait: Duration
    /// The bounds of `--wait-for`, in seconds.
    public static let waitRange = 0...3600

    public init(
        kubectl: String? = nil, kubeconfig: String? = nil, node: String? = nil, user: String,
        waitSeconds: Int, requestTimeoutSeconds: Int = Kubectl.defaultRequestTimeoutSeconds,
        retrySeconds: Int = Kubectl.defaultRetrySeconds
    ) throws(SRIOVError) {
        guard Self.waitRange.contains(waitSeconds) else {
            throw .usage("--wait-for \(waitSeconds): must be 0 to 3600 seconds")
        }
        self.kubectl = try Kubectl.admin(
            kubectl: kubectl, kubeconfig: kubeconfig, mayDo: "create \(PCIDeviceClaims.claimResource)",
            orElse: "apply harvester-sriov export pcideviceclaims elsewhere",
            requestTimeoutSeconds: requestTimeoutSeconds, retrySeconds: retrySeconds)
        self.node = try NodeName.resolve(override: node)
        self.user = user
        wait = .seconds(waitSeconds)
    }

    /// One of our resources, as the addon serves it.
    public struct Served: Equatable, Sendable {
        public var resource: String
        /// The `PCIDevice` `status.resourceName`s of its VFs: one, unless VFs of other IDs are in it.
        public var deviceNames: [String]
        public var vfs: Int
    }

    public struct Outcome: Equatable, Sendable {
        public var created: [String]
        public var alreadyThere: Int
        public var served: [Served]
        /// Several of our resources behind one addon resource name: a VM cannot choose between them.
        public var notes: [String]
    }

    public func claim(plan: NodePlan, host: HostInventory, log: (String) -> Void) throws(SRIOVError) -> Outcome {
        let (wanted, notes) = PCIDeviceClaims.wanted(plan: plan, host: host, node: node, user: user)
        for note in notes { log(note) }
        guard !wanted.isEmpty else { return Outcome(created: [], alreadyThere: 0, served: [], notes: []) }
        let start = kubectl.clock.now

        // The addon makes a PCIDevice for each VF once it has seen it; its create webhook refuses a claim before.
        var devices: [String: PCIDeviceClaims.Device] = [:]
        try poll(since: start, log: log) { () throws(SRIOVError) in
            devices = try listDevices()
            let missing = wanted.filter { devices[$0.name] == nil }
            guard let first = missing.first else { return nil }
            return (
                "waiting for the PCI devices addon to list \(missing.count) VFs as PCIDevice objects",
                .cluster(
                    .notRegistered,
                    "the PCI devices addon has no PCIDevice \(missing.map(\.name).joined(separator: ", ")) (VF "
                        + "\(first.address) of \(first.pf)) after \(seconds(wait)) s; check that the VFs exist "
                        + "(harvester-sriov status) and the addon runs, then run harvester-sriov pcidevices --claim again"
                )
            )
        }
        for claim in wanted {
            let device = devices[claim.name]!
            guard device.address == claim.address.description, device.nodeName == node else {
                throw .cluster(
                    .rejected,
                    "PCIDevice \(claim.name) is \(device.address) on node \(device.nodeName), not VF \(claim.address) "
                        + "of \(claim.pf) on \(node); pass --node with the name kubectl get nodes shows")
            }
        }

        let existing = Set(try listClaims().map(\.name))
        let missing = wanted.filter { !existing.contains($0.name) }
        if !missing.isEmpty {
            let uids = Dictionary(uniqueKeysWithValues: missing.map { ($0.name, devices[$0.name]!.uid) })
            // The API server checks the claims against the CRD's schema and the addon's webhook; kubectl's own
            // client-side pass would only repeat the schema check, and needs the OpenAPI documents to do it.
            try kubectl.run(
                ["create", "--validate=false", "-f", "-"], input: try PCIDeviceClaims.yaml(missing, ownerUIDs: uids),
                what: "create \(missing.count) \(PCIDeviceClaims.claimResource)",
                again: "harvester-sriov pcidevices --claim",
                log: log, failure: { message($0, $1, verb: "create") })
        }

        // The addon's controller binds each claimed VF to vfio-pci and then sets passthroughEnabled.
        let names = Set(wanted.map(\.name))
        try poll(since: start, log: log) { () throws(SRIOVError) in
            let pending = try listClaims().filter { names.contains($0.name) && !$0.passthroughEnabled }.map(\.name)
                .sorted()
            guard let first = pending.first else { return nil }
            return (
                "waiting for the PCI devices addon to bind \(pending.count) claimed VFs to vfio-pci",
                .cluster(
                    .unreachable,
                    "the PCI devices addon has not enabled passthrough for \(pending.joined(separator: ", ")) after "
                        + "\(seconds(wait)) s; see kubectl describe \(PCIDeviceClaims.claimResource) \(first) and the "
                        + "addon's log, then run harvester-sriov pcidevices --claim again")
            )
        }

        // The resource names as they are now: the addon writes them when it makes the device.
        devices = try listDevices()
        var served: [Served] = []
        for claim in wanted {
            let name = devices[claim.name]?.resourceName ?? ""
            if let index = served.firstIndex(where: { $0.resource == claim.resource }) {
                served[index].vfs += 1
                if !served[index].deviceNames.contains(name) { served[index].deviceNames.append(name) }
            } else {
                served.append(Served(resource: claim.resource, deviceNames: [name], vfs: 1))
            }
        }
        served.sort { $0.resource < $1.resource }
        var outcomeNotes: [String] = []
        let byName = Dictionary(grouping: served.flatMap { s in s.deviceNames.map { ($0, s.resource) } }, by: \.0)
        for (name, holders) in byName.sorted(by: { $0.key < $1.key }) where holders.count > 1 {
            outcomeNotes.append(
                "resources \(holders.map(\.1).joined(separator: ", ")) are all served as \(name) (the addon pools "
                    + "VFs by vendor and device ID): a VM asking for \(name) gets any of their VFs")
        }
        return Outcome(
            created: missing.map(\.name), alreadyThere: wanted.count - missing.count, served: served,
            notes: outcomeNotes)
    }

    /// Asks `check` every 2 s until it has nothing to wait for (nil), or until `wait` has passed since `start`,
    /// when its error is thrown; its progress line goes to the log.
    private func poll(
        since start: ContinuousClock.Instant, log: (String) -> Void,
        _ check: () throws(SRIOVError) -> (progress: String, timeout: SRIOVError)?
    ) throws(SRIOVError) {
        while let waiting = try check() {
            guard kubectl.clock.now - start < wait else { throw waiting.timeout }
            log(waiting.progress)
            kubectl.clock.sleep(until: kubectl.clock.now + .seconds(2))
        }
    }

    private func listDevices() throws(SRIOVError) -> [String: PCIDeviceClaims.Device] {
        let output = try kubectl.run(
            ["get", PCIDeviceClaims.deviceResource, "-o", "json"], what: "list \(PCIDeviceClaims.deviceResource)",
            again: "harvester-sriov pcidevices --claim", log: { _ in }, failure: { message($0, $1, verb: "list") })
        let devices = try PCIDeviceClaims.devices(fromJSON: output).filter { $0.nodeName == node }
        return Dictionary(devices.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private func listClaims() throws(SRIOVError) -> [PCIDeviceClaims.ExistingClaim] {
        let output = try kubectl.run(
            ["get", PCIDeviceClaims.claimResource, "-o", "json"], what: "list \(PCIDeviceClaims.claimResource)",
            again: "harvester-sriov pcidevices --claim", log: { _ in }, failure: { message($0, $1, verb: "list") })
        return try PCIDeviceClaims.claims(fromJSON: output)
    }

    private func message(_ failure: ClusterFailure, _ detail: String, verb: String) -> String {
        switch failure {
        case .refused:
            "the credential in \(kubectl.kubeconfig) may not \(verb) PCI devices objects (\(detail)); use an admin "
                + "kubeconfig (\(Kubectl.adminKubeconfig) on a server node)"
        case .notRegistered:
            "the cluster has no \(PCIDeviceClaims.group) kinds (\(detail)); enable Harvester's pcidevices-controller "
                + "addon first"
        case .rejected, .unreachable:
            "the API server refused to \(verb) PCI devices objects: \(detail)"
        }
    }

    private func seconds(_ duration: Duration) -> Int64 { duration.components.seconds }
}
