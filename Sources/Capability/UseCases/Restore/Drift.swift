import SRIOVHost
import SRIOVModel

/// The pure comparison of a PF, as the kernel has it now, with its plan: restore uses it
/// to skip a PF already as planned and to check its work, status to list what differs.
public enum Drift {
    /// How the PF differs from the plan; empty when it is as planned.
    public static func differences(_ planned: PlannedInterface, _ pf: PFState, card: CardIdentity?) -> [String] {
        var found: [String] = []
        guard let numVFs = pf.numVFs else {
            return ["sriov_numvfs holds no VF count; \(planned.numVfs) VFs are planned"]
        }
        if numVFs != planned.numVfs { found.append("\(numVFs) VFs instead of \(planned.numVfs)") }
        if pf.vfs.count != planned.numVfs {
            return found.isEmpty ? ["\(pf.vfs.count) VFs present instead of \(planned.numVfs)"] : found
        }
        for group in planned.vfGroups {
            for vf in pf.vfs where group.vfRange.contains(vf.index) {
                let index = vf.index
                // Held by the PF driver, whoever drives the VF.
                found += settingDifferences(group.vfOptions.settings, vf)
                switch group.deviceType {
                case .vfioPCI where vf.driver != "vfio-pci":
                    found.append("VF \(index) on \(vf.driver ?? "no driver") instead of vfio-pci")
                case .netdevice where vf.driver == nil || vf.driver == "vfio-pci":
                    found.append("VF \(index) on \(vf.driver ?? "no driver") instead of its network driver")
                case .netdevice:
                    if let mtu = group.mtu ?? planned.mtu, let actual = vf.mtu, actual != mtu {
                        found.append("VF \(index) MTU \(actual) instead of \(mtu)")
                    }
                    if group.vfOptions.stableMAC, let card, let mac = vf.mac {
                        let wanted = StableMAC.text(StableMAC.address(vf: index, of: card))
                        if mac != wanted { found.append("VF \(index) MAC \(mac) instead of \(wanted)") }
                    }
                default:
                    break
                }
            }
        }
        return found
    }

    /// Planned VF settings the PF driver reports otherwise; a setting it does not report
    /// (trust on some drivers) is not compared.
    static func settingDifferences(_ planned: [VFSetting], _ vf: VFState) -> [String] {
        guard !planned.isEmpty else { return [] }
        guard let actual = vf.settings else {
            return ["VF \(vf.index): the PF reports no VF settings to compare with the plan"]
        }
        return planned.compactMap { wanted in
            let current: VFSetting? =
                switch wanted {
                case .mac: nil
                case .trust: actual.trust.map(VFSetting.trust)
                case .spoofCheck: actual.spoofCheck.map(VFSetting.spoofCheck)
                case .vlan: .vlan(actual.vlan, qos: actual.vlanQoS, proto: actual.vlanProto)
                case .txRates: .txRates(min: actual.minTxRate, max: actual.maxTxRate)
                case .linkState: .linkState(actual.linkState)
                }
            guard let current, current != wanted else { return nil }
            return "VF \(vf.index) \(current) instead of \(wanted)"
        }
    }
}

extension VFOptions {
    /// The settings asked for besides the MAC, in the order restore writes them.
    public var settings: [VFSetting] {
        var settings: [VFSetting] = []
        if let trust { settings.append(.trust(trust)) }
        if let spoofCheck { settings.append(.spoofCheck(spoofCheck)) }
        if let vlan { settings.append(.vlan(vlan, qos: vlanQoS ?? 0, proto: vlanProto ?? .dot1Q)) }
        if let linkState { settings.append(.linkState(linkState)) }
        if let txRates { settings.append(.txRates(min: txRates.min, max: txRates.max)) }
        return settings
    }
}
