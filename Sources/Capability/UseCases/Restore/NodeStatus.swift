import SRIOVHost
import SRIOVModel

/// `status`: the stored plan against what the kernel has now, PF by PF.
public struct NodeStatus: Encodable, Sendable {
    public struct PF: Encodable, Sendable {
        enum Keys: String, CodingKey { case pciAddress, name, desiredVfs, actualVfs, vfs, differences }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(pciAddress, forKey: .pciAddress)
            try c.encode(name, forKey: .name)
            try c.encode(desiredVfs, forKey: .desiredVfs)
            try c.encode(actualVfs, forKey: .actualVfs)
            try c.encode(vfs, forKey: .vfs)
            try c.encode(differences, forKey: .differences)
        }

        public var pciAddress: String
        public var name: String?
        public var desiredVfs: Int
        public var actualVfs: Int?
        public var vfs: [VF]
        /// Empty when the PF is as planned.
        public var differences: [String]
    }

    public struct VF: Encodable, Sendable {
        public var vfID: Int
        public var pciAddress: String
        public var driver: String?
        public var name: String?
        public var mtu: Int?
        public var mac: String?
    }

    public var inSync: Bool
    public var interfaces: [PF]
    public var lastRestore: RestoreResult?
    /// The drop-in folder's warnings, for stderr: not part of the JSON.
    public var warnings: [String] = []
    /// What `doctor` finds on this node now (status shows the failing ones): not part of the JSON.
    public var findings: [Finding] = []

    enum Keys: String, CodingKey { case inSync, interfaces, lastRestore }

    /// Absent values are written as null, as everywhere in our JSON.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(inSync, forKey: .inSync)
        try c.encode(interfaces, forKey: .interfaces)
        try c.encode(lastRestore, forKey: .lastRestore)
    }

    /// Exit status of `status`: 0 in sync, 3 when any PF differs from the plan.
    public static let driftExitCode: Int32 = 3

    /// Reads the stored plan, the node and the last restore's result.
    /// `clusterLabels`: the Node's labels read just now, else the stored ones are used.
    public init(engine: RestoreEngine, clusterLabels: [String: String]? = nil) throws(SRIOVError) {
        let current = try CurrentPlan.load(
            store: engine.store, inventory: engine.kernel.inventory, clusterLabels: clusterLabels)
        let last = engine.runtime.readStatus()
        let node = NodeName.resolved(root: engine.store.writer.root.path)
        interfaces = current.plan.interfaces.map { planned in
            guard let pf = engine.kernel.pf(planned.pciAddress) else {
                return PF(
                    pciAddress: planned.pciAddress.description, name: planned.name, desiredVfs: planned.numVfs,
                    actualVfs: nil, vfs: [], differences: ["the PF is not present"])
            }
            return PF(
                pciAddress: planned.pciAddress.description, name: planned.name, desiredVfs: planned.numVfs,
                actualVfs: pf.numVFs,
                vfs: pf.vfs.map {
                    VF(
                        vfID: $0.index, pciAddress: $0.address.description, driver: $0.driver, name: $0.netdev,
                        mtu: $0.mtu, mac: $0.mac)
                },
                // A plan the PF cannot take is said first: it is why restore failed.
                differences: planned.problems
                    + Drift.differences(planned, pf, card: current.host.card(at: planned.pciAddress))
                    + Self.removed(planned, pf, last: last, node: node))
        }
        interfaces += current.tracker.foreign.map { foreign in
            PF(
                pciAddress: foreign.found.address.description, name: foreign.found.name, desiredVfs: 0,
                actualVfs: foreign.found.numVFs, vfs: [], differences: [CurrentPlan.differentCard(foreign)])
        }
        lastRestore = last
        warnings = current.warnings
        findings = Doctor.findings(
            plan: current.plan, host: current.host, policies: current.state.policies,
            facts: engine.kernel.facts(current.host))
        inSync = interfaces.allSatisfy(\.differences.isEmpty)
    }

    /// Who to ask when VFs the last restore made are gone, and the command that settles it.
    private static func removed(_ planned: PlannedInterface, _ pf: PFState, last: RestoreResult?, node: String)
        -> [String]
    {
        guard let made = last?.vfsMade(at: planned.pciAddress), let now = pf.numVFs, now < made else { return [] }
        return [
            PCIDevicesAddon.removedByAnotherWriter(
                planned: planned, interface: planned.name ?? pf.netdev, node: node, madeByLastRestore: made)
                + ", then harvester-sriov restore --all"
        ]
    }
}
