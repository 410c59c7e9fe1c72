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

    public init(engine: RestoreEngine) throws(SRIOVError) {
        let state = try engine.store.load()
        let host = try engine.kernel.inventory()
        let tracker = CardTracker(stored: state.cards, host: host)
        let plan = PlanResolver.resolve(
            tracker.follow(state.policies), host: host, labels: NodeLabels.of(host, extra: state.nodeLabels))
        interfaces = plan.interfaces.map { planned in
            let card = host.interfaces.first { $0.address == planned.pciAddress }.map(CardIdentity.init)
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
                differences: planned.problems + RestoreEngine.differences(planned, pf, card: card))
        }
        interfaces += tracker.foreign.map { foreign in
            PF(
                pciAddress: foreign.found.address.description, name: foreign.found.name, desiredVfs: 0,
                actualVfs: foreign.found.numVFs, vfs: [],
                differences: [
                    "holds a different card (\(CardTracker.describe(CardIdentity(foreign.found)))) than the policies were applied to"
                ])
        }
        lastRestore = engine.runtime.readStatus()
        inSync = interfaces.allSatisfy(\.differences.isEmpty)
    }

    public var json: String { encodeJSON(self) }

    public var table: String {
        var out = ""
        if interfaces.isEmpty {
            out += "No PF of this node is configured by the stored policies.\n"
        } else {
            var rows = [["PF", "PCI ADDRESS", "VFS", "STATE"]]
            for pf in interfaces {
                rows.append([
                    pf.name ?? "-", pf.pciAddress, "\(pf.actualVfs.map(String.init) ?? "-")/\(pf.desiredVfs)",
                    pf.differences.isEmpty ? "in sync" : pf.differences.joined(separator: "; "),
                ])
            }
            out += alignedColumns(rows)
        }
        if let last = lastRestore {
            out += "\nLast restore (finished at \(last.finishedAt), seconds since the epoch):\n"
            for pf in last.pfs {
                out +=
                    "  \(pf.pciAddress) \(pf.name ?? "-"): \(pf.status.rawValue)\(pf.message.map { " - \($0)" } ?? "")\n"
            }
        } else {
            out += "\nNo restore has run since boot.\n"
        }
        return out
    }
}
