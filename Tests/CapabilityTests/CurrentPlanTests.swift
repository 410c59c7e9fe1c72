import Capability
import SRIOVHost
import SRIOVModel
import Testbed
import Testing

/// The plan for this node now, which restore, status and `plan` share: moved cards
/// followed, a different card in a remembered slot left out, labels merged.
@Suite struct CurrentPlanTests {
    typealias H = RestoreHarness

    static let slot = PolicyManifest.policy(
        "slot", #"{resourceName: slot, numVfs: 2, nicSelector: {rootDevices: ["0000:3b:00.0"]}}"#)

    @Test func aMovedCardIsPlannedInItsNewSlot() throws {
        let node = try H([H.x710()])
        try node.apply(Self.slot)
        let moved = SimulatedKernel([H.x710("0000:5e:00.0", netdev: "enp94s0f0")])
        let current = try CurrentPlan.load(store: node.store, inventory: moved.inventory)
        #expect(current.plan.interfaces.map(\.pciAddress.description) == ["0000:5e:00.0"])
        #expect(current.tracker.moves.map(\.to.address.description) == ["0000:5e:00.0"])
        #expect(current.tracker.foreign.isEmpty)
    }

    @Test func aDifferentCardInTheSlotIsLeftOutAndSaidOnce() throws {
        let node = try H([H.x710()])
        try node.apply(Self.slot)
        let swapped = SimulatedKernel([H.x710(mac: "3c:fd:fe:00:00:99")])
        let current = try CurrentPlan.load(store: node.store, inventory: swapped.inventory)
        #expect(current.plan.interfaces.isEmpty)
        let foreign = try #require(current.tracker.foreign.first)
        #expect(
            CurrentPlan.refusal(foreign)
                == "0000:3b:00.0: holds a different card (MAC 3c:fd:fe:00:00:99) than the policies were applied to (MAC 3c:fd:fe:9e:a1:00); not configuring it: apply the policies again to adopt this card"
        )

        let status = try NodeStatus(engine: node.engine(kernel: swapped))
        #expect(!status.inSync)
        #expect(
            status.interfaces.map(\.differences) == [
                ["holds a different card (MAC 3c:fd:fe:00:00:99) than the policies were applied to"]
            ], "the slot is listed once, as restore sees it")
    }

    @Test func labelsGivenNowWinOverTheStoredOnes() throws {
        let node = try H([H.x710()])
        try node.apply(
            PolicyManifest.policy(
                "rack",
                #"{resourceName: rack, numVfs: 2, nodeSelector: {rack: a}, nicSelector: {pfNames: [enp59s0f0]}}"#))
        _ = try node.store.update { state in
            state = DesiredState(policies: state.policies, nodeLabels: ["rack": "b"], cards: state.cards)
        }
        #expect(try CurrentPlan.load(store: node.store, inventory: node.kernel.inventory).plan.interfaces.isEmpty)
        let given = try CurrentPlan.load(store: node.store, inventory: node.kernel.inventory, nodeLabels: ["rack=a"])
        #expect(given.plan.interfaces.map(\.numVfs) == [2])
    }

    @Test func aBadLabelIsAUsageError() throws {
        let node = try H([H.x710()])
        #expect(throws: SRIOVError.usage("--node-label rack: write it as key=value")) {
            try CurrentPlan.load(store: node.store, inventory: node.kernel.inventory, nodeLabels: ["rack"])
        }
    }
}
