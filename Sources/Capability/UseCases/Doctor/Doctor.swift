import SRIOVHost
import SRIOVModel

/// `doctor`: what on this node stands between it and its stored plan, said before a restore fails or a VM
/// cannot start. Most SR-IOV reports on Harvester are about the environment: the IOMMU (harvester#7340,
/// #10499), firmware VF caps (sriov-network-device-plugin#536, #601), a bridge filling an XL710's VLAN filter
/// table (harvester#5678), a PF that is also the management uplink (harvester#4601). Pure: from the plan, the
/// host and the facts read from sysfs.
public enum Doctor {
    /// Exit status of `doctor` when a finding fails.
    public static let failingExitCode: Int32 = 1

    public static func findings(
        plan: NodePlan, host: HostInventory, policies: [NodePolicy], facts: NodeFacts
    ) -> [Finding] {
        var findings: [Finding] = []
        let workable = plan.interfaces.filter { $0.problems.isEmpty }
        let vfio = workable.filter { $0.vfGroups.contains { $0.deviceType == .vfioPCI } }
        if !vfio.isEmpty { findings += iommu(vfio, host: host, facts: facts) }
        for planned in plan.interfaces {
            let pf = host.interfaces.first { $0.address == planned.pciAddress }
            let device = "\(planned.pciAddress)" + (planned.name.map { " (\($0))" } ?? "")
            if !planned.problems.isEmpty, let pf { findings.append(vfCount(planned, pf: pf, device: device)) }
            if let name = planned.name, let master = facts.masters[name] {
                findings.append(hostNetwork(device: device, pf: pf, master: master))
            }
            if pf?.function.driver == "mlx4_core" {
                findings.append(
                    Finding(
                        .failing, "driver", device: device,
                        what: "mlx4_core makes VFs only when it loads, from its num_vfs module parameter",
                        why:
                            "it has no sriov_configure, so a write to sriov_numvfs fails with ENOENT (drivers/pci/iov.c)",
                        fix: "set options mlx4_core num_vfs=\(planned.numVfs) in /etc/modprobe.d (on Harvester "
                            + "through a yip file in /oem), then reload mlx4_core"))
            }
        }
        findings += driverless(host: host, policies: policies)
        return findings.sorted {
            ($0.severity == .failing ? 0 : 1, $0.device) < ($1.severity == .failing ? 0 : 1, $1.device)
        }
    }

    /// The findings of this node's plan now: `current` as plan and status see it, the facts read from sysfs.
    public static func findings(_ current: CurrentPlan, kernel: some SRIOVKernel = SysfsKernel()) -> [Finding] {
        findings(
            plan: current.plan, host: current.host, policies: current.state.policies,
            facts: kernel.facts(current.host))
    }

    /// `doctor --json`: the node, the counts and every finding.
    public static func json(_ findings: [Finding], node: String) -> String {
        struct Report: Encodable {
            var node: String
            var failing: Int
            var warnings: Int
            var findings: [Finding]
        }
        return encodeJSON(
            Report(
                node: node, failing: findings.filter { $0.severity == .failing }.count,
                warnings: findings.filter { $0.severity == .warning }.count, findings: findings))
    }

    static func kernelArguments(_ facts: NodeFacts) -> String {
        facts.cpuVendor == "AuthenticAMD" ? "amd_iommu=on iommu=pt" : "intel_iommu=on iommu=pt"
    }

    static func iommu(_ vfio: [PlannedInterface], host: HostInventory, facts: NodeFacts) -> [Finding] {
        var findings: [Finding] = []
        guard facts.iommuGroups else {
            let arguments = kernelArguments(facts)
            return [
                Finding(
                    .failing, "iommu", device: "node \(host.node)",
                    what: "the kernel has no IOMMU groups, and the plan has vfio-pci VFs on "
                        + vfio.map { $0.name ?? $0.pciAddress.description }.joined(separator: ", "),
                    why: "vfio-pci takes no device without an IOMMU: restore fails those PFs and VMs get no VF",
                    fix: "enable VT-d or AMD-Vi in the firmware and boot with \(arguments); on Harvester: "
                        + "grub2-editenv /oem/grubenv set third_party_kernel_args=\"<what grub2-editenv "
                        + "/oem/grubenv list shows> \(arguments)\", then reboot")
            ]
        }
        if !facts.loadedDrivers.contains("vfio-pci"), facts.modulesAvailable["vfio-pci"] == false {
            findings.append(
                Finding(
                    .failing, "driver", device: "node \(host.node)",
                    what: "vfio-pci is not loaded and the kernel has no vfio-pci module",
                    why: "the plan's vfio-pci VFs cannot be bound",
                    fix: "install the running kernel's vfio-pci module (CONFIG_VFIO_PCI), or make those policies "
                        + "deviceType netdevice"))
        }
        // The VFs that exist now: each must be alone in its group, or with VFs of the plan on vfio-pci only,
        // since vfio hands a VM the whole group.
        var ours = Set<PCIAddress>()
        for planned in vfio {
            guard let pf = host.interfaces.first(where: { $0.address == planned.pciAddress }) else { continue }
            for group in planned.vfGroups where group.deviceType == .vfioPCI {
                for vf in pf.vfs where group.vfRange.contains(vf.vfID) { ours.insert(vf.function.address) }
            }
        }
        for planned in vfio {
            guard let pf = host.interfaces.first(where: { $0.address == planned.pciAddress }) else { continue }
            for vf in pf.vfs where ours.contains(vf.function.address) {
                guard let group = vf.iommuGroup else { continue }
                let others = (facts.groupMembers[group] ?? []).filter { !ours.contains($0) }
                guard !others.isEmpty else { continue }
                let named = others.map { $0 == pf.address ? "\($0) (its PF)" : $0.description }
                findings.append(
                    Finding(
                        .failing, "iommu-group",
                        device: "\(vf.function.address) (VF \(vf.vfID) of \(planned.name ?? pf.address.description))",
                        what: "IOMMU group \(group) also holds \(named.joined(separator: ", "))",
                        why: "vfio-pci gives a VM a whole IOMMU group, so this VF cannot be passed through alone",
                        fix: "move the card to a slot whose root port supports ACS, or enable ACS in the firmware; "
                            + "else use its VFs as netdevice"))
            }
        }
        return findings
    }

    static func vfCount(_ planned: PlannedInterface, pf: PhysicalFunction, device: String) -> Finding {
        let driver = pf.function.driver ?? ""
        let hardware =
            pf.capability.map {
                $0.totalVFs > pf.totalVFs
                    ? " (the card's SR-IOV capability says "
                        + "\($0.totalVFs); the driver allows fewer)" : ""
            } ?? ""
        let lower = "or lower numVfs in policy \"\(planned.numVfsPolicy)\" to \(pf.totalVFs)"
        let fix: String
        switch driver {
        case "mlx5_core":
            fix =
                "raise the firmware's limit: mstconfig -d \(pf.address) set SRIOV_EN=1 NUM_OF_VFS=\(planned.numVfs) "
                + "(or mlxconfig), then a cold reboot (power off; a warm reset keeps the old value), \(lower)"
        case "bnxt_en":
            fix = "raise the VF count in the NIC's NVM with Broadcom's niccli, then a cold reboot, \(lower)"
        case "i40e", "ice", "ixgbe", "igb":
            fix = "\(driver) and the card's NVM set this limit per port; \(lower.dropFirst(3))"
        default:
            fix = String(lower.dropFirst(3))
        }
        return Finding(
            .failing, "vf-count", device: device,
            what: "policy \"\(planned.numVfsPolicy)\" asks for \(planned.numVfs) VFs, the PF allows \(pf.totalVFs) "
                + "(sriov_totalvfs)\(hardware)",
            why: "the kernel refuses more (ERANGE), so restore leaves this PF alone", fix: fix)
    }

    static func hostNetwork(device: String, pf: PhysicalFunction?, master: NodeFacts.Master) -> Finding {
        let name = master.name
        // Harvester's names: mgmt-bo and mgmt-br carry the management network; <network>-bo the uplink of a
        // cluster network (network-controller-harvester).
        let role =
            name.hasPrefix("mgmt-")
            ? "the management network"
            : name.hasSuffix("-bo") || name.hasSuffix("-br") ? "cluster network \(name.dropLast(3))" : "the host"
        switch master {
        case .bridge:
            let xl710 = pf?.function.driver == "i40e"
            return Finding(
                .warning, "host-network", device: device,
                what: "the PF is a port of bridge \(name) (\(role))",
                why: "the bridge adds a VLAN filter to the PF for each VLAN it carries"
                    + (xl710
                        ? ", and an XL710's filter table is small: once the bridge fills it, VLANs on VFs fail "
                            + "(harvester#5678)" : "") + "; VF traffic leaves through the port, not the bridge",
                fix: "give VFs a NIC that carries no bridge, or keep the bridge's VLANs few")
        case .bond, .other:
            return Finding(
                .warning, "host-network", device: device,
                what: "the PF is a member of \(master == .bond(name) ? "bond" : "device") \(name) (\(role))",
                why: "making VFs resets the PF on some drivers (i40e, ice), so the bond loses this link for a moment "
                    + "at every restore"
                    + (name.hasPrefix("mgmt-")
                        ? ", and the node may drop out of the cluster "
                            + "(harvester#4601)" : "") + "; VF traffic leaves through this port only",
                fix: "give VFs a NIC that is not in \(name), or accept the link reset at each restore")
        }
    }

    /// NICs without a driver that a policy's nicSelector names by address or by vendor and device ID.
    static func driverless(host: HostInventory, policies: [NodePolicy]) -> [Finding] {
        host.unusable.filter { $0.reason == .noDriver }.compactMap { nic in
            let function = nic.function
            guard
                let policy = policies.first(where: { policy in
                    let selector = policy.spec.nicSelector
                    return selector.rootDevices.contains(function.address.description)
                        || (selector.vendor == function.vendor
                            && (selector.deviceID == nil || selector.deviceID == function.deviceID))
                })
            else { return nil }
            return Finding(
                .failing, "driver", device: "\(function.address) (\(function.vendor):\(function.deviceID))",
                what: "policy \"\(policy.name)\" selects this NIC, which has no driver",
                why: "without its driver the PF has no netdev and cannot make VFs",
                fix: "load its driver (modprobe; lspci -k -s \(function.address) names the candidates), or check "
                    + "that the firmware did not hide it")
        }
    }
}
