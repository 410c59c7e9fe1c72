// Fuzz target for the stored-state decoder and what plan, restore and status do with a
// state. Built two ways, as policy-fuzzer is:
// - scripts/fuzz-state builds it with -sanitize=fuzzer -DFUZZING: main hands control to
//   libFuzzer's driver;
// - a plain build replays the files it is given (crashes, the corpus, regressions).
// `state-fuzzer --write-seeds DIR MANIFEST...` writes valid states made from manifests.
// Every input must end in a state or a one-line problem: no crash, no hang, no trap.
import Capability
import FuzzDriver
import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A node with four SR-IOV PFs, named as the examples and tests name them: two X710
/// ports, an E810, a ConnectX-5 port known by its serial number.
let host: HostInventory = {
    func pf(_ address: String, _ name: String, _ vendor: String, _ device: String, mac: String?, serial: String? = nil)
        -> PhysicalFunction
    {
        var netdev = NetDevice(name: name, mac: mac, mtu: 1500, type: 1, addressAssignType: 0)
        netdev.permanentMAC = mac
        let function = PCIFunction(
            address: PCIAddress(address) ?? PCIAddress(domain: 0, bus: 0, device: 0, function: 0),
            vendor: vendor, deviceID: device, driver: "drv", netdevs: [netdev])
        return PhysicalFunction(
            function: function, vendorName: nil, deviceName: nil, totalVFs: 64, numVFs: 0,
            capability: nil, serialNumber: serial, numaNode: 0, iommuGroup: 1, vfs: [])
    }
    return HostInventory(
        node: "fuzz",
        interfaces: [
            pf("0000:3b:00.0", "enp59s0f0", "8086", "1572", mac: "3c:fd:fe:9e:a1:00"),
            pf("0000:3b:00.1", "enp59s0f1", "8086", "1572", mac: "3c:fd:fe:9e:a1:01"),
            pf("0000:86:00.0", "ens3f0np0", "15b3", "1017", mac: nil, serial: "a1-b2-c3-d4-e5-f6-07-08"),
            pf("0000:af:00.0", "ens801f0", "8086", "1592", mac: "b4:96:91:aa:10:00"),
        ], unusable: [])
}()

/// The PF as restore would find it: `count` VFs (at most 256, whatever the state asks),
/// bound to a mix of drivers, MTUs and MACs.
func kernelView(_ planned: PlannedInterface, count: Int) -> PFState {
    let vfs = (0..<max(0, min(count, 256))).map { index in
        VFState(
            index: index, address: planned.pciAddress, driver: ["iavf", "vfio-pci", nil][index % 3],
            netdev: index % 3 == 0 ? "v\(index)" : nil, mtu: index % 2 == 0 ? 1500 : 9000,
            mac: index % 4 == 0 ? "02:00:00:00:00:0\(index % 10)" : nil, iommuGroup: index)
    }
    return PFState(
        address: planned.pciAddress, driver: "drv", netdev: planned.name, mtu: 9000, totalVFs: 64,
        numVFs: vfs.count, vfs: vfs)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzState(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let state = try? DesiredState.decode(bytes, file: "fuzz.json") else { return 0 }

    // Stored as it was read: the same bytes again, and the same state.
    let stored = state.jsonBytes
    guard let again = try? DesiredState.decode(stored, file: "fuzz.json"), again == state, again.jsonBytes == stored
    else {
        fatalError("a decoded state does not survive being stored again")
    }

    // policy apply and policy list: the stored policies are checked as a set, and listed.
    var origins: [String: String] = [:]
    for policy in state.policies { origins[policy.name] = "fuzz.json" }
    _ = PolicyRules.checkSet(state.policies, origins: origins)
    _ = PolicyRules.checkHost(state.policies, host: host, origins: origins)
    _ = PolicyListing.table(state)

    // plan: the policies against the node, as the table and the JSON.
    let labels = NodeLabels.of(host, extra: state.nodeLabels)
    let plan = PlanResolver.resolve(state.policies, host: host, labels: labels)
    _ = PlanReport.table(plan)
    _ = PlanReport.json(plan)

    // restore and status: follow moved cards, resolve, and compare with the kernel.
    let tracker = CardTracker(stored: state.cards, host: host)
    let followed = PlanResolver.resolve(tracker.follow(state.policies), host: host, labels: labels)
    for planned in followed.interfaces {
        let card = host.interfaces.first { $0.address == planned.pciAddress }.map(CardIdentity.init)
        _ = Drift.differences(planned, kernelView(planned, count: planned.numVfs), card: card)
        _ = Drift.differences(planned, kernelView(planned, count: 4), card: card)
    }
    for card in state.cards {
        _ = StableMAC.text(StableMAC.address(vf: 0, of: card))
    }
    return 0
}

@main
struct StateFuzzerMain {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--write-seeds", arguments.count >= 2 {
            try writeSeeds(into: arguments[1], from: Array(arguments.dropFirst(2)))
            return
        }
        try FuzzDriver.run(fuzzState, replaying: arguments)
    }

    /// Three states per manifest: as installed (no cards), as applied on this node (its
    /// cards), and after a card moved (a card remembered at a slot that is now empty).
    static func writeSeeds(into folder: String, from manifests: [String]) throws {
        let writer = RootWriter(root: try TargetRoot(folder))
        let cards = host.interfaces.map(CardIdentity.init)
        var moved = cards[0]
        moved.pciAddress = PCIAddress("0000:5e:00.0") ?? moved.pciAddress
        for manifest in manifests {
            let decoded = PolicyDecoder.decode(
                String(decoding: try FuzzDriver.readFile(manifest), as: UTF8.self), file: manifest)
            let name = FilePath(manifest).stem ?? "seed"
            let states = [
                ("installed", DesiredState(policies: decoded.policies)),
                ("applied", DesiredState(policies: decoded.policies, nodeLabels: ["zone": "a"], cards: cards)),
                ("moved", DesiredState(policies: decoded.policies, cards: [moved] + cards.dropFirst())),
            ]
            for (kind, state) in states {
                try writer.write(FilePath("\(name)-\(kind).json"), state.jsonBytes)
            }
        }
    }

}
