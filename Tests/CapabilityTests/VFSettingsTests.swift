import CLibNL
import Foundation
import SystemPackage
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Per-VF VLAN, QoS, protocol, rates and link state from policy annotations: read and
/// checked as sriov-cni checks them, stored, applied by restore through the PF driver
/// (which may refuse them), and compared with what the driver reports.
@Suite struct VFSettingsTests {
    typealias H = RestoreHarness

    /// Policy "p1" with `annotations` (a flow map's inside) on line 5.
    static func manifest(_ annotations: String) -> String {
        PolicyDecoderTests.manifest(PolicyDecoderTests.valid).replacingFirst(
            "  name: p1", with: "  name: p1\n  annotations: {\(annotations)}")
    }

    static func annotations(_ values: [String: String]) -> String {
        values.sorted { $0.key < $1.key }.map { "harvester-sriov.io/\($0.key): \"\($0.value)\"" }
            .joined(separator: ", ")
    }

    // MARK: - Annotations

    @Test(arguments: [
        (["vlan": "100"], VFOptions(vlan: 100)),
        (
            ["vlan": "4094", "vlanQoS": "7", "vlanProto": "802.1AD"],
            VFOptions(vlan: 4094, vlanQoS: 7, vlanProto: .dot1AD)
        ),
        (["vlan": "0", "vlanQoS": "0", "vlanProto": "802.1Q"], VFOptions(vlan: 0, vlanQoS: 0, vlanProto: .dot1Q)),
        (["min_tx_rate": "100", "max_tx_rate": "1000"], VFOptions(minTxRate: 100, maxTxRate: 1000)),
        (["min_tx_rate": "100", "max_tx_rate": "0"], VFOptions(minTxRate: 100, maxTxRate: 0)),
        (["max_tx_rate": "100"], VFOptions(maxTxRate: 100)),
        (["link_state": "disable", "vf-trust": "on"], VFOptions(trust: true, linkState: .disable)),
    ])
    func readsTheSettings(_ values: [String: String], _ options: VFOptions) {
        let decoded = PolicyDecoder.decode(Self.manifest(Self.annotations(values)), file: "p.yaml")
        #expect(decoded.problems.map(\.description) == [])
        #expect(decoded.policies.first?.vfOptions == options)
    }

    static let field = #"p.yaml:5: policy "p1": metadata.annotations.harvester-sriov.io/"#

    @Test(arguments: [
        (["vlan": "4095"], "vlan: must be a VLAN ID from 0 to 4094, found 4095"),
        (["vlan": "-1"], "vlan: must be a VLAN ID from 0 to 4094, found -1"),
        (["vlan": "ten"], #"vlan: must be a whole number in quotes, e.g. "100"; found "ten""#),
        (["vlanQoS": "3"], "vlanQoS: needs harvester-sriov.io/vlan; set the VLAN ID, or remove vlanQoS"),
        (["vlan": "10", "vlanQoS": "8"], "vlanQoS: must be a priority (PCP) from 0 to 7, found 8"),
        (
            ["vlan": "0", "vlanQoS": "1"],
            "vlanQoS: needs a non-zero harvester-sriov.io/vlan; set the VLAN ID, or remove vlanQoS"
        ),
        (["vlan": "10", "vlanProto": "802.1x"], #"vlanProto: must be "802.1Q" or "802.1ad", found "802.1x""#),
        (["vlanProto": "802.1q"], "vlanProto: needs harvester-sriov.io/vlan; set the VLAN ID, or remove vlanProto"),
        (
            ["vlan": "0", "vlanProto": "802.1ad"],
            "vlanProto: 802.1ad needs a non-zero harvester-sriov.io/vlan; set the VLAN ID, or use 802.1q"
        ),
        (["max_tx_rate": "-1"], "max_tx_rate: must be a rate in Mbps from 0 (no limit) to 4294967295, found -1"),
        (
            ["min_tx_rate": "4294967296"],
            "min_tx_rate: must be a rate in Mbps from 0 (no limit) to 4294967295, found 4294967296"
        ),
        (
            ["min_tx_rate": "200", "max_tx_rate": "100"],
            "min_tx_rate: 200 Mbps is above max_tx_rate 100 Mbps; lower min_tx_rate or raise max_tx_rate"
        ),
        (["link_state": "up"], #"link_state: must be "auto", "enable" or "disable", found "up""#),
    ])
    func refusesBadSettings(_ values: [String: String], _ message: String) {
        let decoded = PolicyDecoder.decode(Self.manifest(Self.annotations(values)), file: "p.yaml")
        #expect(decoded.policies.isEmpty)
        #expect(decoded.problems.map(\.description) == [Self.field + message])
    }

    // MARK: - Stored state

    static func policy(_ options: VFOptions) throws -> NodePolicy {
        var policy = try #require(
            PolicyDecoder.decode(PolicyDecoderTests.manifest(PolicyDecoderTests.valid), file: "p.yaml").policies.first)
        policy.vfOptions = options
        return policy
    }

    @Test func theSettingsSurviveTheStateFile() throws {
        let options = VFOptions(
            trust: true, vlan: 100, vlanQoS: 3, vlanProto: .dot1AD, minTxRate: 10, maxTxRate: 500,
            linkState: .enable)
        let state = DesiredState(policies: [try Self.policy(options)])
        let read = try DesiredState.decode(state.jsonBytes, file: "state.json")
        #expect(read == state)
        #expect(read.policies.first?.vfOptions == options)
    }

    /// A state written before these settings existed: its VF options have three fields.
    @Test func aStateFromBeforeTheSettingsIsRead() throws {
        let current = DesiredState(policies: [try Self.policy(VFOptions(trust: true, spoofCheck: false))])
        let text = String(decoding: current.jsonBytes, as: UTF8.self)
        let old = """
            "vfOptions" : {
                    "spoofCheck" : false,
                    "stableMAC" : true,
                    "trust" : true
                  }
            """
        #expect(text.contains(old), "the encoder writes no new field when none is set: \(text)")
        let read = try DesiredState.decode(Array(text.utf8), file: "state.json")
        #expect(read.policies.first?.vfOptions == VFOptions(trust: true, spoofCheck: false))
    }

    @Test func aStoredSettingOutOfRangeIsRefusedAsInAManifest() throws {
        let state = DesiredState(policies: [try Self.policy(VFOptions(vlan: 5000))])
        let error = #expect(throws: SRIOVError.self) {
            try DesiredState.decode(state.jsonBytes, file: "state.json")
        }
        #expect(error?.exitCode == 65)
        #expect(
            error?.description
                == #"state.json: policy "p1": metadata.annotations.harvester-sriov.io/vlan: "#
                + "must be a VLAN ID from 0 to 4094, found 5000; remove the policy with "
                + "`harvester-sriov policy remove p1` and apply its manifest again, or restore state.json from a backup"
        )
    }

    // MARK: - Restore

    static func x710(_ annotations: [String: String], deviceType: String = "netdevice") -> String {
        PolicyManifest.policy(
            "x710",
            "{resourceName: x710, numVfs: 2, deviceType: \(deviceType), nicSelector: {pfNames: [\"enp59s0f0\"]}}",
            annotations: Self.annotations(annotations))
    }

    static func igb(_ annotations: [String: String], name: String = "igb", pf: String = "enp1s0") -> String {
        PolicyManifest.policy(
            name, "{resourceName: \(name), numVfs: 2, nicSelector: {pfNames: [\"\(pf)\"]}}",
            annotations: Self.annotations(annotations))
    }

    @Test(arguments: ["netdevice", "vfio-pci"])
    func restoreSetsThemAndThenLeavesThePFAlone(_ deviceType: String) throws {
        let node = try H([H.x710()])
        try node.apply(
            Self.x710(
                ["vlan": "100", "vlanQoS": "3", "max_tx_rate": "500", "link_state": "disable"], deviceType: deviceType))
        #expect(try node.restore().pfs.map(\.status) == [.configured])
        var wanted = VFSettings()
        wanted.vlan = 100
        wanted.vlanQoS = 3
        wanted.maxTxRate = 500
        wanted.linkState = .disable
        #expect(node.kernel.snapshot("0000:3b:00.0")?.vfs.map(\.settings) == [wanted, wanted])
        let changes = node.kernel.changeLog.count
        #expect(try node.restore().pfs.map(\.status) == [.unchanged])
        #expect(node.kernel.changeLog.count == changes, "nothing written when the kernel is as planned")
    }

    /// igb sets rates only with the link up, which comes a moment after restore brings the PF up.
    @Test func igbGetsItsVLANAndRateAndGetsThemBackAfterADriverReload() throws {
        var pf = H.x82576()
        pf.carrierDelay = .seconds(1)
        let node = try H([pf])
        try node.apply(Self.igb(["vlan": "100", "max_tx_rate": "100"]))
        #expect(try node.restore().pfs.map(\.status) == [.configured])
        let rateWrites = node.kernel.changeLog.filter { $0 == "vf enp1s0 0 min_tx_rate 0 and max_tx_rate 100 Mbps" }
        #expect(rateWrites.count == 2, "refused while the link came up, then set")
        let vfs = { node.kernel.snapshot("0000:01:00.0")?.vfs.map { [$0.settings.vlan, $0.settings.maxTxRate] } }
        #expect(vfs() == [[100, 100], [100, 100]])

        node.kernel.reloadDriver(of: "0000:01:00.0")
        #expect(node.kernel.snapshot("0000:01:00.0")?.vfs.isEmpty == true)
        #expect(try node.restore().pfs.map(\.status) == [.configured])
        #expect(vfs() == [[100, 100], [100, 100]])
        #expect(try NodeStatus(engine: node.engine()).inSync)
    }

    /// The link is up but igb does not know its speed yet: the refusal is tried again, not reported.
    @Test func aRateRefusedJustAfterTheLinkCameUpIsSetOnTheNextTry() throws {
        var pf = H.x82576()
        pf.carrierDelay = .milliseconds(100)
        pf.faults = [.linkSpeedLate]
        let node = try H([pf])
        try node.apply(Self.igb(["max_tx_rate": "100"]))
        #expect(try node.restore().pfs.map(\.status) == [.configured])
        #expect(node.kernel.snapshot("0000:01:00.0")?.vfs.map(\.settings.maxTxRate) == [100, 100])
    }

    static let refusals: [(label: String, pf: SimulatedKernel.PF, policy: String, message: String)] = {
        var i350 = H.x82576()
        i350.deviceID = "1521"
        return [
            (
                "igb takes no min_tx_rate", H.x82576(), igb(["min_tx_rate": "10", "max_tx_rate": "100"]),
                "0000:01:00.0 (enp1s0): VF 0: the igb driver refused min_tx_rate 10 and max_tx_rate 100 Mbps: "
                    + "Invalid argument (EINVAL); the driver refuses this value (igb takes no min_tx_rate, "
                    + "and a max_tx_rate only up to the link speed): change harvester-sriov.io/min_tx_rate "
                    + #"in policy "igb""#
            ),
            (
                "igb sets rates on the 82576 only", i350, igb(["max_tx_rate": "100"]),
                "0000:01:00.0 (enp1s0): VF 0: the igb driver refused min_tx_rate 0 and max_tx_rate 100 Mbps: "
                    + "Operation not supported (EOPNOTSUPP); the driver cannot do this on this NIC: "
                    + #"remove harvester-sriov.io/max_tx_rate in policy "igb""#
            ),
            (
                "igb has no link_state", H.x82576(), igb(["link_state": "enable"]),
                "0000:01:00.0 (enp1s0): VF 0: the igb driver refused link_state enable: "
                    + "Operation not supported (EOPNOTSUPP); the driver cannot do this on this NIC: "
                    + #"remove harvester-sriov.io/link_state in policy "igb""#
            ),
            (
                "i40e takes no 802.1ad", H.x710(), x710(["vlan": "100", "vlanProto": "802.1ad"]),
                "0000:3b:00.0 (enp59s0f0): VF 0: the i40e driver refused vlan 100 (vlanQoS 0, vlanProto 802.1ad): "
                    + "Protocol not supported (EPROTONOSUPPORT); the driver takes only 802.1Q VLANs for VFs: "
                    + #"set harvester-sriov.io/vlanProto to 802.1q in policy "x710""#
            ),
        ]
    }()

    /// The refusal fails that PF alone, in one line; the other PF is restored.
    @Test(arguments: 0..<refusals.count)
    func aSettingTheDriverRefusesFailsItsPF(_ index: Int) throws {
        let refusal = Self.refusals[index]
        let other = H.x82576("0000:02:00.0", netdev: "enp2s0", mac: "52:54:00:12:34:58")
        let node = try H([refusal.pf, other])
        try node.apply(refusal.policy + Self.igb(["vlan": "7"], name: "other", pf: "enp2s0"))
        let result = try node.restore()
        #expect(result.failed)
        let failed = try #require(result.pfs.first { $0.status == .failed })
        #expect(failed.message == refusal.message)
        #expect(node.outcome(result, "0000:02:00.0")?.status == .configured)
        #expect(node.logs.all.contains("error: \(refusal.message)"))
    }

    @Test func aRateWithoutALinkFailsAtTheDeadlineSayingWhy() throws {
        var pf = H.x82576()
        pf.cableConnected = false
        let node = try H([pf])
        try node.apply(Self.igb(["max_tx_rate": "100"]))
        let result = try node.restore(timeout: .milliseconds(500))
        let message = try #require(result.pfs.first?.message)
        #expect(
            message.hasPrefix("0000:01:00.0 (enp1s0): timed out after 0.5 s waiting"), "the deadline, in simulated time"
        )
        #expect(
            message.hasSuffix(
                "waiting for the PF's link (carrier) to set VF 0's min_tx_rate 0 and max_tx_rate 100 Mbps, as igb "
                    + "sets rates only with the link up; connect the port, then run restore again"))
    }

    // MARK: - Drift

    @Test func statusShowsAVLANChangedByHandAndRestorePutsItBack() throws {
        let node = try H([H.x710()])
        try node.apply(Self.x710(["vlan": "100", "vf-trust": "on"]))
        _ = try node.restore()
        #expect(try NodeStatus(engine: node.engine()).inSync)

        node.kernel.changeVFSettings("0000:3b:00.0", vf: 0) { $0.vlan = 200 }
        node.kernel.update("0000:3b:00.0") { $0.vfs[1].trust = false }
        let status = try NodeStatus(engine: node.engine())
        #expect(!status.inSync)
        #expect(
            status.interfaces.map(\.differences) == [
                [
                    "VF 0 vlan 200 (vlanQoS 0, vlanProto 802.1q) instead of vlan 100 (vlanQoS 0, vlanProto 802.1q)",
                    "VF 1 trust off instead of trust on",
                ]
            ])

        #expect(try node.restore().pfs.map(\.status) == [.configured])
        #expect(node.kernel.snapshot("0000:3b:00.0")?.vfs.map(\.settings.vlan) == [100, 100])
        #expect(try NodeStatus(engine: node.engine()).inSync)
    }

    @Test func aPFThatReportsNoVFSettingsDiffersWhenSomeArePlanned() {
        var vf = VFState(
            index: 0, address: PCIAddress("0000:3b:02.0")!, driver: "iavf", netdev: nil, mtu: nil, mac: nil,
            iommuGroup: nil)
        #expect(Drift.settingDifferences([], vf) == [])
        #expect(
            Drift.settingDifferences([.vlan(5, qos: 0, proto: .dot1Q)], vf) == [
                "VF 0: the PF reports no VF settings to compare with the plan"
            ])
        vf.settings = VFSettings()
        #expect(Drift.settingDifferences([.trust(true)], vf) == [], "a driver that does not report trust")
    }

    // MARK: - libnl's answers

    /// libnl turns the kernel's errno into its own code; the errnos drivers refuse VF
    /// settings with are turned back, so that the message can say what to do.
    @Test(arguments: [
        (NLE_INVAL, Errno.invalidArgument), (NLE_OPNOTSUPP, .notSupported),
        (NLE_PROTO_MISMATCH, .protocolNotSupported), (NLE_AGAIN, .resourceTemporarilyUnavailable),
    ])
    func aDriversRefusalKeepsItsErrno(_ code: Int32, _ errno: Errno) {
        #expect(
            SysfsKernel.failure(-code, target: "enp1s0 vf 0")
                == KernelError(
                    target: "enp1s0 vf 0", operation: "RTM_SETLINK", errno: errno))
    }

    @Test func anotherLibnlErrorIsGivenInLibnlsWords() {
        let error = SysfsKernel.failure(-NLE_MSGSIZE, target: "enp1s0")
        #expect(error.errno == nil)
        #expect(error.detail == "Message size not sufficient (libnl)")
    }
}
