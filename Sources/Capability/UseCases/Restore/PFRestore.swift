import Logging
import SRIOVHost
import SRIOVModel
import SystemPackage

/// One PF's restore: its VF count, then each VF's MAC and settings, driver, MTU and rates, as planned.
extension RestoreEngine {
    /// How long a PF's VFs may take to show what was set before it counts as drift.
    static let settleTime: Duration = .seconds(3)

    /// Restores one PF under its lock, within `timeout`; a failure is this PF's alone.
    func restore(_ planned: PlannedInterface, card: CardIdentity?, timeout: Duration, force: Bool = false) -> PFOutcome
    {
        let start = kernel.now
        let deadline = start + timeout
        let label = "\(planned.pciAddress) (\(planned.name ?? "no netdev"))"
        var kernelTime = Duration.zero
        func outcome(_ status: PFOutcome.Status, _ message: String? = nil) -> PFOutcome {
            PFOutcome(
                pciAddress: planned.pciAddress.description, name: planned.name, status: status, numVfs: planned.numVfs,
                message: message, kernelMilliseconds: milliseconds(kernelTime),
                totalMilliseconds: milliseconds(kernel.now - start))
        }
        do {
            // Said in the journal: two restores of one PF (udev's and the boot unit's, or an event storm's) take turns.
            let lock = try runtime.lock(planned.pciAddress, until: deadline, clock: kernel) { file in
                logger.notice("\(label): another restore of this PF is running; waiting for it (\(file))")
            }
            defer { withExtendedLifetime(lock) {} }
            var pf = try waitFor(planned.pciAddress, label: label, until: deadline, what: "a driver and a netdev") {
                $0.ready
            }

            // Checked here, before any write, so that the message names the policy to fix
            // rather than quoting the kernel's ERANGE.
            if let total = pf.totalVFs, planned.numVfs > total {
                return fail(label, PlanResolver.tooManyVFs(planned, totalVFs: total) + "; nothing was written", outcome)
            }
            // An unknown count is not taken for 0: writing 0 (or N) blindly could remove
            // VFs that VMs or pods use. The kernel always writes a count there, so a PF
            // without one is left alone until its driver is reloaded.
            guard let current = pf.numVFs else {
                let file = Sysfs.numVFsFile(planned.pciAddress).string
                return fail(
                    label,
                    "\(file) holds no VF count, so how many VFs exist is unknown; nothing was written: "
                        + "check dmesg, reload the NIC's driver or reboot, then run restore again", outcome)
            }
            if Drift.differences(planned, pf, card: card).isEmpty {
                logger.info("\(label): \(planned.numVfs) VFs as planned; nothing to do")
                return outcome(.unchanged)
            }
            // Going through 0 removes every VF: never from under a VM or a pod unless the admin says so
            // (sriov-network-operator drains the node for it; #225, #626, #843).
            if current != planned.numVfs, current > 0 {
                let users = pf.vfs.flatMap { vf in kernel.users(of: vf).map { "VF \(vf.index) (\(vf.address)) \($0)" } }
                if !users.isEmpty {
                    let held = users.joined(separator: "; ")
                    let message = "\(label): the change from \(current) to \(planned.numVfs) VFs waits: \(held)"
                    guard force else {
                        logger.warning(
                            "\(message); it is carried out once they are free (restore --force cuts them now)")
                        applyInPlace(planned, pf: pf, card: card, label: label)
                        return outcome(.waiting, message)
                    }
                    logger.warning("\(label): --force: removing VFs in use: \(held)")
                }
            }
            if current != planned.numVfs {
                // New VFs wait for us to probe them, so their MACs are set before any
                // driver reads them; autoprobe is back on whatever happens.
                try kernelCall(label) { () throws(KernelError) in
                    try kernel.setDriversAutoprobe(false, pf: planned.pciAddress)
                }
                defer { try? kernel.setDriversAutoprobe(true, pf: planned.pciAddress) }
                // The kernel refuses N to M directly (EBUSY): go through 0.
                for count in (current > 0 ? [0] : []) + [planned.numVfs] {
                    let before = kernel.now
                    try write(count, planned, label: label, deadline: deadline)
                    kernelTime += kernel.now - before
                }
                logger.info("\(label): created \(planned.numVfs) VFs in \(milliseconds(kernelTime)) ms")
            }
            let allVFs = "all \(planned.numVfs) VFs"
            pf = try waitFor(
                planned.pciAddress, label: label, until: deadline, what: { _ in allVFs }, sameNetdev: pf.ifindex,
                { $0.vfs.count == planned.numVfs })
            try configureVFs(planned, pf: pf, card: card, label: label, deadline: deadline)
            // A VF driver may take a MAC set through the PF a moment after it bound (igbvf
            // gets it over the PF's mailbox; seen on a real kernel): what is left gets a few
            // seconds to settle before it counts as drift.
            let settleBy = min(deadline, kernel.now + Self.settleTime)
            var left = Drift.differences(planned, kernel.pf(planned.pciAddress) ?? pf, card: card)
            while !left.isEmpty, kernel.now < settleBy {
                kernel.waitForEvent(until: min(settleBy, kernel.now + .milliseconds(200)))
                left = Drift.differences(planned, kernel.pf(planned.pciAddress) ?? pf, card: card)
            }
            guard left.isEmpty else {
                return fail(
                    label, "\(PFOutcome.stillDiffers): \(left.joined(separator: "; "))", outcome)
            }
            return outcome(.configured)
        } catch {
            return fail(label, error.description, outcome)
        }
    }

    /// While a count change waits, what can change without removing a VF still does: each present VF's settings
    /// (VLAN, rates, trust, spoof check, link state), and the MAC of a VF nobody uses. Failures are logged only:
    /// the next restore tries again.
    private func applyInPlace(_ planned: PlannedInterface, pf: PFState, card: CardIdentity?, label: String) {
        guard let pfNetdev = pf.netdev else { return }
        for group in planned.vfGroups {
            for vf in pf.vfs where group.vfRange.contains(vf.index) {
                var settings = group.vfOptions.settings
                if group.vfOptions.stableMAC, let card, kernel.users(of: vf).isEmpty {
                    settings.insert(.mac(StableMAC.address(vf: vf.index, of: card)), at: 0)
                }
                for setting in settings {
                    do {
                        try kernel.setVF(vf.index, pfNetdev: pfNetdev, setting)
                    } catch {
                        logger.warning("\(label): VF \(vf.index): \(SRIOVError.restore("\(error)"))")
                    }
                }
            }
        }
    }

    private func fail(_ label: String, _ message: String, _ outcome: (PFOutcome.Status, String?) -> PFOutcome)
        -> PFOutcome
    {
        let text = message.hasPrefix(label) ? message : "\(label): \(message)"
        logger.error("\(text)")
        return outcome(.failed, text)
    }

    private func write(_ count: Int, _ planned: PlannedInterface, label: String, deadline: ContinuousClock.Instant)
        throws(SRIOVError)
    {
        do {
            try kernel.setNumVFs(count, pf: planned.pciAddress, timeout: kernel.remaining(until: deadline))
        } catch {
            let file = Sysfs.numVFsFile(planned.pciAddress).string
            if let timedOut = error.timedOut {
                throw .restore(
                    "\(label): writing \(count) to \(file) did not return within \(seconds(timedOut)) s; the driver is stuck: check dmesg, then reload the driver or reboot"
                )
            }
            // A write that was not started (one of ours still in the kernel there) says why in its own words.
            if error.errno == nil, let detail = error.detail {
                throw .restore("\(label): writing \(count) to \(file) was \(detail)")
            }
            let errno = error.errno ?? .ioError
            let hint: String =
                switch errno {
                case .noMemory:
                    "the firmware left no address space for the VFs' BARs: boot with pci=realloc, or enable SR-IOV/IOV BAR space in the BIOS"
                case .noSuchFileOrDirectory:
                    "the PF has no driver, or its driver cannot create VFs: load the NIC's driver"
                case .outOfRange:
                    "the PF allows at most \(kernel.pf(planned.pciAddress)?.totalVFs.map(String.init) ?? "fewer") VFs (sriov_totalvfs): lower numVfs in the policy"
                case .resourceBusy:
                    "VFs still exist and are in use: stop what uses them (VMs, pods) and run restore again"
                default: "see dmesg"
                }
            throw .restore(
                "\(label): writing \(count) to \(file) failed: \(errno.description) (\(SRIOVError.symbol(errno))); \(hint)"
            )
        }
    }

    /// Re-reads the PF on every device event until `condition` holds, or fails at the deadline.
    private func waitFor(
        _ address: PCIAddress, label: String, until deadline: ContinuousClock.Instant, what: String,
        _ condition: (PFState) -> Bool
    ) throws(SRIOVError) -> PFState {
        try waitFor(address, label: label, until: deadline, what: { _ in what }, condition)
    }

    /// `what` names, from the last state read, what was still missing at the deadline. With `sameNetdev` (the
    /// ifindex the VFs were made under), a netdev made again ends the wait at once: a driver reload removed the
    /// VFs, and the restore's next round (or the one its event started) makes them again; waiting on would only
    /// hold that up until the deadline (seen in an event storm on a real kernel: 2 minutes).
    private func waitFor(
        _ address: PCIAddress, label: String, until deadline: ContinuousClock.Instant,
        what: (PFState) -> String, sameNetdev: Int? = nil, _ condition: (PFState) -> Bool
    ) throws(SRIOVError) -> PFState {
        let start = kernel.now
        while true {
            let pf = kernel.pf(address)
            if let pf, condition(pf) { return pf }
            if let sameNetdev, pf?.ifindex != sameNetdev {
                throw .restore(
                    "\(label): the PF's netdev was made again (its driver reloaded) while waiting for \(pf.map(what) ?? "the PF"); its VFs are made again after this"
                )
            }
            guard kernel.now < deadline else {
                let missing = pf.map(what) ?? "the PF"
                throw .restore(
                    "\(label): timed out after \(seconds(kernel.now - start)) s waiting for \(missing)")
            }
            kernel.waitForEvent(until: deadline)
        }
    }

    /// MACs, trust and the other VF settings first (the PF driver resets a VF to apply
    /// some), then drivers, then one wait for every VF to be bound as planned, then MTUs,
    /// then rates, which need the PF's link up. The PF is re-read a handful of times, not
    /// once per VF: on a real PF each read is a few hundred sysfs reads.
    private func configureVFs(
        _ planned: PlannedInterface, pf: PFState, card: CardIdentity?, label: String,
        deadline: ContinuousClock.Instant
    ) throws(SRIOVError) {
        guard let pfNetdev = pf.netdev else {
            throw .restore("\(label): the PF has no netdev to configure its VFs through")
        }
        if let mtu = planned.mtu, (pf.mtu ?? 0) < mtu {
            // A VF's MTU cannot exceed its PF's.
            try kernelCall(label) { () throws(KernelError) in try kernel.setMTU(mtu, netdev: pfNetdev) }
        }
        // The VFs present, not the range's indices: a range from the state can be as wide as Int.
        let assignments = planned.vfGroups.flatMap { group in
            pf.vfs.filter { group.vfRange.contains($0.index) }.map { (vf: $0, group: group) }
        }
        var macs: [Int: [UInt8]] = [:]
        let driver = pf.driver ?? "PF"
        for (vf, group) in assignments {
            let mac = group.vfOptions.stableMAC ? card.map { StableMAC.address(vf: vf.index, of: $0) } : nil
            macs[vf.index] = mac
            for setting in (mac.map { [.mac($0)] } ?? []) + group.vfOptions.settings {
                if case .txRates = setting { continue }
                try setVF(setting, vf.index, pfNetdev: pfNetdev, group: group, driver: driver, label: label)
            }
        }
        if !pf.up {
            // VF drivers get their MAC from the PF only while it is up (igbvf otherwise
            // picks a random one), and no VF passes traffic through a PF that is down.
            try kernelCall(label) { () throws(KernelError) in try kernel.setLinkUp(pfNetdev) }
        }
        for (vf, group) in assignments {
            switch group.deviceType {
            case .vfioPCI:
                guard vf.iommuGroup != nil else {
                    throw .restore(
                        "\(label): VF \(vf.index) (\(vf.address)) has no iommu_group, so vfio-pci cannot take it: enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (or amd_iommu=on)"
                    )
                }
                if !kernel.driverLoaded("vfio-pci") {
                    do {
                        try kernel.loadDriver("vfio-pci", timeout: kernel.remaining(until: deadline))
                    } catch {
                        throw .restore(
                            "\(label): the vfio-pci driver is not loaded and modprobe vfio-pci failed (\(error.errno.map { SRIOVError.symbol($0) } ?? error.detail ?? "it timed out")): install the kernel's vfio-pci module"
                        )
                    }
                }
                if vf.driver != "vfio-pci" {
                    try kernelCall(label) { () throws(KernelError) in
                        try kernel.bind(vf.address, to: "vfio-pci", timeout: kernel.remaining(until: deadline))
                    }
                }
            case .netdevice:
                // New VFs (autoprobe was off) and VFs left without a driver are probed; a
                // bound VF whose MAC is not the planned one is probed again, since some
                // VF drivers (igbvf) read the MAC only when they probe.
                let staleMAC = macs[vf.index].map { vf.netdev != nil && vf.mac != StableMAC.text($0) } ?? false
                if vf.driver == "vfio-pci" || vf.driver == nil || staleMAC {
                    try kernelCall(label) { () throws(KernelError) in
                        try kernel.bind(vf.address, to: nil, timeout: kernel.remaining(until: deadline))
                    }
                }
            }
        }
        let unbound = { (pf: PFState) -> String in
            guard let vf = assignments.first(where: { !Self.boundAsPlanned(pf, $0.vf.index, $0.group.deviceType) })
            else { return "" }
            let driver = vf.group.deviceType == .vfioPCI ? "vfio-pci" : "its network driver with a netdev"
            return "VF \(vf.vf.index) (\(vf.vf.address)) to be bound to \(driver)"
        }
        let allBound = { (pf: PFState) in
            assignments.allSatisfy { Self.boundAsPlanned(pf, $0.vf.index, $0.group.deviceType) }
        }
        let bound = try waitFor(
            planned.pciAddress, label: label, until: deadline, what: unbound, sameNetdev: pf.ifindex, allBound)
        for (vf, group) in assignments where group.deviceType == .netdevice {
            if let mtu = group.mtu ?? planned.mtu, bound.vf(vf.index)?.mtu != mtu {
                try setVFMTU(mtu, vf: vf.index, planned: planned, label: label, deadline: deadline)
            }
        }
        for (vf, group) in assignments {
            guard let rates = group.vfOptions.txRates else { continue }
            let setting = VFSetting.txRates(min: rates.min, max: rates.max)
            // igb sets rates only with the link up and its speed known, which can come some time
            // after the PF was set up (seen in the VM: EINVAL just as the link came up). Carrier
            // changes send no uevent, so a refusal is retried every second for a few seconds, after
            // waiting for the carrier if it is down; what is still refused then is refused.
            let retryUntil = min(deadline, kernel.now + Self.rateRetryWindow)
            while true {
                do {
                    try kernel.setVF(vf.index, pfNetdev: pfNetdev, setting)
                    break
                } catch
                    where [.invalidArgument, .resourceTemporarilyUnavailable].contains(error.errno)
                    && kernel.now < retryUntil
                {
                    if kernel.pf(planned.pciAddress)?.carrier == false {
                        _ = try waitFor(
                            planned.pciAddress, label: label, until: deadline,
                            what: "the PF's link (carrier) to set VF \(vf.index)'s \(setting), as \(driver) sets rates "
                                + "only with the link up; connect the port, then run restore again"
                        ) { $0.carrier }
                    } else {
                        kernel.waitForEvent(until: min(retryUntil, kernel.now + .seconds(1)))
                    }
                } catch {
                    throw refusal(error, setting, vf.index, group: group, driver: driver, label: label)
                }
            }
        }
    }

    /// How long a refused rate is tried again while the link settles.
    static let rateRetryWindow: Duration = .seconds(8)

    /// Sets a VF netdev's MTU by its current name. udev may rename the netdev between
    /// our read and our write (seen on a real kernel: ENOENT for ethN); then the name is
    /// read again and the write retried, until the deadline.
    private func setVFMTU(
        _ mtu: Int, vf index: Int, planned: PlannedInterface, label: String,
        deadline: ContinuousClock.Instant
    ) throws(SRIOVError) {
        while true {
            guard let netdev = kernel.pf(planned.pciAddress)?.vfs.first(where: { $0.index == index })?.netdev else {
                throw .restore("\(label): VF \(index) lost its netdev while its MTU was being set")
            }
            do {
                return try kernel.setMTU(mtu, netdev: netdev)
            } catch {
                let renamed = error.errno == .noSuchFileOrDirectory || error.errno == .operationNotSupportedByDevice
                guard renamed, kernel.now < deadline else { throw failure(label, error) }
                kernel.waitForEvent(until: min(deadline, kernel.now + .milliseconds(200)))
            }
        }
    }

    private func setVF(
        _ setting: VFSetting, _ index: Int, pfNetdev: String, group: VFGroup, driver: String, label: String
    ) throws(SRIOVError) {
        do {
            try kernel.setVF(index, pfNetdev: pfNetdev, setting)
        } catch {
            throw refusal(error, setting, index, group: group, driver: driver, label: label)
        }
    }

    /// A VF setting the driver refused, in one line: which, why, and the annotation to change.
    private func refusal(
        _ error: KernelError, _ setting: VFSetting, _ index: Int, group: VFGroup, driver: String, label: String
    ) -> SRIOVError {
        guard let errno = error.errno else { return failure(label, error) }
        let key: String =
            switch setting {
            case .mac: "vf-mac"
            case .trust: "vf-trust"
            case .spoofCheck: "vf-spoof-check"
            case .vlan: errno == .protocolNotSupported ? "vlanProto" : "vlan"
            case let .txRates(min, _): min > 0 ? "min_tx_rate" : "max_tx_rate"
            case .linkState: "link_state"
            }
        let annotation = VFOptions.annotationPrefix + key
        let policy = "in policy \"\(group.policyName)\""
        let hint: String =
            switch errno {
            case .notSupported: "the driver cannot do this on this NIC: remove \(annotation) \(policy)"
            case .protocolNotSupported:
                "the driver takes only 802.1Q VLANs for VFs: set \(annotation) to 802.1q \(policy)"
            case .invalidArgument:
                "the driver refuses this value (igb takes no min_tx_rate, and a max_tx_rate only up to the link "
                    + "speed): change \(annotation) \(policy)"
            case .resourceTemporarilyUnavailable:
                "the driver cannot do it now: check the PF's link and dmesg, then run restore again"
            default: "check dmesg, then run restore again"
            }
        return .restore(
            "\(label): VF \(index): the \(driver) driver refused \(setting): \(errno.description) "
                + "(\(SRIOVError.symbol(errno))); \(hint)")
    }

    private static func boundAsPlanned(_ pf: PFState, _ index: Int, _ type: DeviceType) -> Bool {
        guard let vf = pf.vf(index) else { return false }
        switch type {
        case .vfioPCI: return vf.driver == "vfio-pci"
        case .netdevice: return vf.driver != nil && vf.driver != "vfio-pci" && vf.netdev != nil && vf.netdevSettled
        }
    }

    private func kernelCall(_ label: String, _ body: () throws(KernelError) -> Void) throws(SRIOVError) {
        do {
            try body()
        } catch {
            throw failure(label, error)
        }
    }

    private func failure(_ label: String, _ error: KernelError) -> SRIOVError {
        if let timedOut = error.timedOut {
            return .restore("\(label): \(error.operation) \(error.target) did not return within \(seconds(timedOut)) s")
        }
        if let detail = error.detail, error.errno == nil {
            return .restore("\(label): \(error.operation) \(error.target) failed: \(detail)")
        }
        let errno = error.errno ?? .ioError
        return .restore(
            "\(label): \(error.operation) \(error.target) failed: \(errno.description) (\(SRIOVError.symbol(errno)))")
    }
}
