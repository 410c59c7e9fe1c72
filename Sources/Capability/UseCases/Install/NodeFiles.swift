import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// One file harvester-sriov puts under a root.
public struct GeneratedFile: Sendable {
    public enum Content: Sendable {
        case text(String)
        case bytes([UInt8])
        /// A symbolic link, as `systemctl enable` makes them.
        case symlink(String)
    }

    public var path: FilePath
    public var content: Content
    public var mode: mode_t

    public init(_ path: FilePath, _ content: Content, mode: mode_t = 0o644) {
        self.path = path
        self.content = content
        self.mode = mode
    }
}

/// Options that shape the generated files.
public struct InstallOptions: Sendable {
    public var layout: Layout
    /// Seconds the boot unit waits for configured PFs that have not appeared.
    public var wait: Int
    /// Seconds one PF may take.
    public var timeout: Int

    public init(
        layout: Layout, wait: Int = RestoreOptions.defaultAppearWaitSeconds,
        timeout: Int = RestoreOptions.defaultTimeoutSeconds
    ) {
        self.layout = layout
        self.wait = wait
        self.timeout = timeout
    }

    public static let binary: FilePath = "usr/local/bin/harvester-sriov"
    static let bootUnitName = "harvester-sriov-restore.service"
    static let pfUnitName = "harvester-sriov-restore@.service"
    static let policiesPathUnitName = "harvester-sriov-policies.path"
    static let policiesUnitName = "harvester-sriov-policies.service"
    static let clusterPathUnitName = "harvester-sriov-cluster.path"
    static let labelUnitName = "harvester-sriov-label.service"
    /// RKE2's units: a server node runs the first, an agent the second.
    static let rke2Units = ["rke2-server.service", "rke2-agent.service"]
    static let pcidevicesUnitName = "harvester-sriov-pcidevices.service"
    static let watchUnitName = "harvester-sriov-watch.service"
    static let waitingTimerName = "harvester-sriov-waiting.timer"
    static let waitingUnitName = "harvester-sriov-waiting.service"
    static let rulesFile: FilePath = "etc/udev/rules.d/70-harvester-sriov.rules"
    static let unitFolder: FilePath = "etc/systemd/system"
    static let dropIn: FilePath = "etc/rancher/rke2/config.yaml.d/91-harvester-sriov.yaml"
    static let yipFile: FilePath = "oem/91_harvester_sriov.yaml"

    /// The merge patch for a registered node, beside the state file.
    public var labelPatch: FilePath { layout.stateFile.removingLastComponent().appending("node-label-patch.json") }
}

/// Renders what goes onto a node: pure functions from options to file contents.
public enum NodeFiles {
    /// The udev rule: when a PF's netdev appears (driver load or reload, hotplug) or is
    /// renamed, ask systemd for the restore unit of that PF. No work runs inside udev:
    /// a RUN+= program would be killed at udev's event timeout.
    public static func udevRule(_ options: InstallOptions) -> String {
        """
        # harvester-sriov \(version): recreate a PF's VFs whenever the PF's netdev appears
        # (boot, driver load or reload, hotplug) or is renamed. The work runs in a systemd
        # unit, never in udev. %b is the PCI address of the function (the parent matched
        # by SUBSYSTEMS), which stays the same when udev renames the netdev.
        #
        # A PCI function that goes away (VFs removed by any writer of sriov_numvfs: Harvester's
        # PCI devices addon writes 0; or hotplug) starts the units that report it and, on server
        # nodes, set the addon's objects to the plan. A removed device's sysfs is gone, so the
        # rule cannot tell a VF from other functions; the units find out. VFs are made again
        # only where the addon's object was set to the plan, never in answer to a write alone:
        # no two writers take turns.
        ACTION=="remove", SUBSYSTEM=="pci", \\
          RUN+="/usr/bin/systemctl --no-block start \(InstallOptions.watchUnitName) \(InstallOptions.pcidevicesUnitName)"
        ACTION!="add|move", GOTO="harvester_sriov_end"
        SUBSYSTEM!="net", GOTO="harvester_sriov_end"
        # Only PFs: VFs have no sriov_totalvfs; 0 means SR-IOV is off in firmware.
        TEST!="device/sriov_totalvfs", GOTO="harvester_sriov_end"
        ATTR{device/sriov_totalvfs}=="0", GOTO="harvester_sriov_end"
        SUBSYSTEMS=="pci", TAG+="systemd", ENV{SYSTEMD_WANTS}+="harvester-sriov-restore@%b.service"
        LABEL="harvester_sriov_end"

        """
    }

    /// The boot-wide unit: restores every configured PF before the network and RKE2.
    public static func bootUnit(_ options: InstallOptions) -> String {
        let state = "/" + options.layout.stateFile.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Recreate SR-IOV VFs before networking and RKE2 (harvester-sriov)
            Documentation=https://github.com/harvester/harvester
            # Early: it must finish before the network is configured and before the kubelet
            # advertises VFs, and it needs only sysfs, udev and kernel modules.
            DefaultDependencies=no
            After=systemd-udevd.service systemd-modules-load.service local-fs.target
            Wants=network-pre.target
            Before=network-pre.target NetworkManager.service systemd-networkd.service wicked.service
            Before=rke2-server.service rke2-agent.service kubelet.service
            Conflicts=shutdown.target
            Before=shutdown.target
            ConditionPathExists=\(state)
            # Skipped, not failed, where the binary is gone: a recovery boot (no /usr/local)
            # or a node where only part of an uninstall took effect.
            ConditionFileIsExecutable=/\(InstallOptions.binary)

            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=/\(InstallOptions.binary) restore --all --wait \(options.wait) --timeout \(options.timeout) --layout \(options.layout.rawValue)
            # Bounded: waiting for PFs, then each PF's own deadline, plus a margin. A failure
            # is reported (systemctl --failed, the journal) but never blocks boot.
            TimeoutStartSec=\(options.wait + options.timeout + 30)

            [Install]
            WantedBy=multi-user.target

            """
    }

    /// The per-PF unit udev asks for; the instance is the PF's PCI address.
    public static func pfUnit(_ options: InstallOptions) -> String {
        let state = "/" + options.layout.stateFile.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Recreate the SR-IOV VFs of PF %I (harvester-sriov)
            Documentation=https://github.com/harvester/harvester
            DefaultDependencies=no
            After=systemd-udevd.service systemd-modules-load.service local-fs.target
            Conflicts=shutdown.target
            Before=shutdown.target
            ConditionPathExists=\(state)
            ConditionFileIsExecutable=/\(InstallOptions.binary)

            [Service]
            Type=oneshot
            ExecStart=/\(InstallOptions.binary) restore --wait 10 --timeout \(options.timeout) --layout \(options.layout.rawValue) %I
            # A PF that came or went may change the capability label: set it again if it was set.
            ExecStartPost=-/usr/bin/systemctl try-restart --no-block \(InstallOptions.labelUnitName)
            TimeoutStartSec=\(options.timeout + 40)

            """
    }

    /// Watches the drop-in policy folder. The boot unit cannot be started again (a oneshot
    /// that remains active), so a change starts a oneshot of its own that does not.
    public static func policiesPathUnit(_ options: InstallOptions) -> String {
        let folder = "/" + options.layout.policiesFolder.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Watch \(folder) for SR-IOV policies (harvester-sriov)
            Documentation=https://github.com/harvester/harvester

            [Path]
            # The folder itself: a file written, renamed into it or removed changes it. Missing
            # until an admin creates it; systemd then watches the nearest parent.
            PathChanged=\(folder)
            Unit=\(InstallOptions.policiesUnitName)

            [Install]
            WantedBy=multi-user.target

            """
    }

    /// What the path unit starts: a restore of every PF with the drop-in policies, after
    /// the boot restore (which already read them at boot).
    public static func policiesUnit(_ options: InstallOptions) -> String {
        let state = "/" + options.layout.stateFile.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Apply the drop-in SR-IOV policies (harvester-sriov)
            Documentation=https://github.com/harvester/harvester
            After=\(InstallOptions.bootUnitName)
            ConditionPathExists=\(state)
            ConditionFileIsExecutable=/\(InstallOptions.binary)

            [Service]
            Type=oneshot
            ExecStart=/\(InstallOptions.binary) restore --all --wait 10 --timeout \(options.timeout) --layout \(options.layout.rawValue)
            TimeoutStartSec=\(options.timeout + 40)

            """
    }

    /// Starts the cluster units once RKE2 has given the node its kubelet credential: after RKE2
    /// is up, and never in the way of boot (nothing waits for them).
    public static func clusterPathUnit(_ options: InstallOptions) -> String {
        """
        # harvester-sriov \(version)
        [Unit]
        Description=Wait for this node's kubelet credential (harvester-sriov)
        Documentation=https://github.com/harvester/harvester

        [Path]
        PathExists=\(Kubectl.kubeletKubeconfig)
        Unit=\(InstallOptions.labelUnitName)

        [Install]
        WantedBy=multi-user.target

        """
    }

    /// Sets the capability label on the registered node (RKE2 sets it only at registration).
    /// Restarted while the node is not registered yet or the API does not answer, a bounded
    /// number of times; it stays active after success, so that the path unit does not start
    /// it again and the PF unit can restart it. RKE2 applies its configured `node-label`s again
    /// at every agent start (k3s `pkg/agent/run.go`, `configureNode` -> `updateMutableLabels`):
    /// `PartOf` and the `.wants` links run the unit again after every RKE2 start and restart.
    public static func labelUnit(_ options: InstallOptions) -> String {
        """
        # harvester-sriov \(version)
        [Unit]
        Description=Set this node's SR-IOV capability label in the cluster (harvester-sriov)
        Documentation=https://github.com/harvester/harvester
        After=rke2-server.service rke2-agent.service network-online.target
        PartOf=rke2-server.service rke2-agent.service
        Wants=\(InstallOptions.pcidevicesUnitName)
        StartLimitIntervalSec=1200
        StartLimitBurst=6
        ConditionPathExists=\(Kubectl.kubeletKubeconfig)
        ConditionFileIsExecutable=/\(InstallOptions.binary)

        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/\(InstallOptions.binary) label --apply --layout \(options.layout.rawValue)
        # The Node's labels it stored may select other policies: a restore, which changes nothing otherwise.
        ExecStartPost=-/usr/bin/systemctl start --no-block \(InstallOptions.policiesUnitName)
        Restart=on-failure
        RestartSec=60
        TimeoutStartSec=180

        [Install]
        WantedBy=\(InstallOptions.rke2Units.joined(separator: " "))

        """
    }

    /// Makes Harvester's PCI devices addon ask for the plan's VF counts, on server nodes (the
    /// only ones with an admin credential), and restores the PFs it changed.
    public static func pcidevicesUnit(_ options: InstallOptions) -> String {
        let state = "/" + options.layout.stateFile.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Keep Harvester's PCI devices addon in step with the SR-IOV plan (harvester-sriov)
            Documentation=https://github.com/harvester/harvester
            After=rke2-server.service \(InstallOptions.bootUnitName)
            StartLimitIntervalSec=1200
            StartLimitBurst=6
            ConditionPathExists=\(Kubectl.adminKubeconfig)
            ConditionPathExists=\(state)
            ConditionFileIsExecutable=/\(InstallOptions.binary)

            [Service]
            Type=oneshot
            ExecStart=/\(InstallOptions.binary) pcidevices --sync --restore --layout \(options.layout.rawValue)
            Restart=on-failure
            RestartSec=60
            TimeoutStartSec=\(options.timeout + 180)

            """
    }

    /// Started by udev when VFs go away: says in the journal what differs from the plan and
    /// the command that settles it. It reads only; status exits 3 for drift, not a failure.
    public static func watchUnit(_ options: InstallOptions) -> String {
        let state = "/" + options.layout.stateFile.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Report SR-IOV VFs removed by another writer (harvester-sriov)
            Documentation=https://github.com/harvester/harvester
            ConditionPathExists=\(state)
            ConditionFileIsExecutable=/\(InstallOptions.binary)

            [Service]
            Type=oneshot
            # Reading sriov_numvfs waits for a write in progress (the kernel's device lock), so
            # status sees the removal whole.
            ExecStart=/\(InstallOptions.binary) status --layout \(options.layout.rawValue)
            SuccessExitStatus=3
            TimeoutStartSec=60

            """
    }

    /// Every 30 s, a restore while one left a change waiting for VFs in use (a VM's, a pod's): it is carried out
    /// once they are free. A calendar timer, since a skipped start (the condition) resets no monotonic timer.
    public static func waitingTimer(_ options: InstallOptions) -> String {
        """
        # harvester-sriov \(version)
        [Unit]
        Description=Retry SR-IOV changes that wait for VFs in use (harvester-sriov)
        Documentation=https://github.com/harvester/harvester

        [Timer]
        OnCalendar=*:*:0/30
        AccuracySec=1s
        Unit=\(InstallOptions.waitingUnitName)

        [Install]
        WantedBy=timers.target

        """
    }

    public static func waitingUnit(_ options: InstallOptions) -> String {
        let state = "/" + options.layout.stateFile.string
        return """
            # harvester-sriov \(version)
            [Unit]
            Description=Carry out SR-IOV changes once their VFs are free (harvester-sriov)
            Documentation=https://github.com/harvester/harvester
            After=\(InstallOptions.bootUnitName)
            ConditionPathExists=\(RuntimeDirectory.defaultPath)/\(RuntimeDirectory.waitingFile)
            ConditionPathExists=\(state)
            ConditionFileIsExecutable=/\(InstallOptions.binary)

            [Service]
            Type=oneshot
            ExecStart=/\(InstallOptions.binary) restore --all --wait 0 --timeout \(options.timeout) --layout \(options.layout.rawValue)
            TimeoutStartSec=\(options.timeout + 40)

            """
    }

    /// The RKE2 config drop-in: `node-label+` appends to the labels of earlier files, so
    /// Harvester's own labels stay.
    public static func rke2DropIn(_ label: CapabilityLabel) -> String {
        """
        # harvester-sriov \(version): this node's SR-IOV capability, as a label the node
        # registers with.
        node-label+:
          - "\(label.key)=\(label.value)"

        """
    }

    /// A Kubernetes merge patch for a node that is already registered:
    /// `kubectl patch node NAME --type merge --patch-file FILE`.
    public static func labelPatch(_ label: CapabilityLabel) -> String {
        JSONWriter.compactText { json in
            json.object { json in
                json.key("metadata")
                json.object { json in
                    json.key("labels")
                    json.object { json in
                        json.key(label.key)
                        json.string(label.value)
                    }
                }
            }
        } + "\n"
    }

    /// Harvester (Elemental) layout. At install time only /oem and /usr/local of the
    /// target persist, so the files under /etc are written by yip's initramfs stage at
    /// every boot, as Harvester's own /oem/90_custom.yaml does: /etc/udev is a tmpfs
    /// overlay rebuilt at every boot; /etc/systemd and /etc/rancher are persistent, and
    /// rewriting them keeps them equal to what this binary renders (docs/harvester.md).
    public static func yip(_ options: InstallOptions, label: CapabilityLabel) throws(SRIOVError) -> String {
        var files: [YAMLValue] = []
        // yip writes regular files only: the units the links enable are enabled instead, each once, as their
        // [Install] sections say (the same links).
        var enabled: [String] = []
        for file in etcFiles(options, label: label) {
            switch file.content {
            case let .text(content):
                files.append(
                    .mapping([
                        YAMLPair("path", .string("/\(file.path)")),
                        YAMLPair("permissions", .integer(0o644)),
                        YAMLPair("owner", .integer(0)),
                        YAMLPair("group", .integer(0)),
                        YAMLPair("content", .string(goTemplateLiteral(content), literal: true)),
                    ]))
            case .symlink:
                if let unit = file.path.lastComponent?.string, !enabled.contains(unit) { enabled.append(unit) }
            case .bytes:
                continue
            }
        }
        let stage = YAMLValue.mapping([
            YAMLPair("name", .string("harvester-sriov: udev rule, restore units and node label")),
            // Harvester's guard: a recovery boot runs nothing of ours.
            YAMLPair("if", .string(yipRecoveryGuard)),
            YAMLPair("files", .sequence(files)),
            YAMLPair("systemctl", .mapping([YAMLPair("enable", .sequence(enabled.map { .string($0) }))])),
        ])
        let document = YAMLValue.mapping([
            YAMLPair("name", .string("harvester-sriov")),
            YAMLPair("stages", .mapping([YAMLPair("initramfs", .sequence([stage]))])),
        ])
        let header = "# harvester-sriov \(version): written at install time; applied by yip at every boot.\n"
        return header + (try YAMLEmitter.document(document, what: InstallOptions.yipFile.string))
    }

    /// The guard every Harvester stage carries (harvester-installer's templates).
    static let yipRecoveryGuard = #"[ ! -f "/run/cos/recovery_mode" ]"#

    /// yip expands every file's content as a Go text/template, where `{{` opens an action:
    /// each one is written as the action `{{"{{"}}`, which prints it literally, so no
    /// text of ours (or of a label or policy) is ever run as a template.
    static func goTemplateLiteral(_ text: String) -> String {
        text.replacing("{{", with: #"{{"{{"}}"#)
    }

    /// The files under /etc: the udev rule, the units, their enablement and the label
    /// drop-in. Written as they are on a generic distribution; through the yip file on
    /// Harvester.
    public static func etcFiles(_ options: InstallOptions, label: CapabilityLabel) -> [GeneratedFile] {
        [
            GeneratedFile(InstallOptions.rulesFile, .text(udevRule(options))),
            GeneratedFile(InstallOptions.unitFolder.appending(InstallOptions.bootUnitName), .text(bootUnit(options))),
            GeneratedFile(InstallOptions.unitFolder.appending(InstallOptions.pfUnitName), .text(pfUnit(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending("multi-user.target.wants").appending(InstallOptions.bootUnitName),
                .symlink("../" + InstallOptions.bootUnitName)),
            GeneratedFile(
                InstallOptions.unitFolder.appending(InstallOptions.policiesPathUnitName),
                .text(policiesPathUnit(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending(InstallOptions.policiesUnitName), .text(policiesUnit(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending("multi-user.target.wants").appending(
                    InstallOptions.policiesPathUnitName),
                .symlink("../" + InstallOptions.policiesPathUnitName)),
            GeneratedFile(
                InstallOptions.unitFolder.appending(InstallOptions.clusterPathUnitName), .text(clusterPathUnit(options))
            ),
            GeneratedFile(InstallOptions.unitFolder.appending(InstallOptions.labelUnitName), .text(labelUnit(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending(InstallOptions.pcidevicesUnitName), .text(pcidevicesUnit(options))),
            GeneratedFile(InstallOptions.unitFolder.appending(InstallOptions.watchUnitName), .text(watchUnit(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending(InstallOptions.waitingTimerName), .text(waitingTimer(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending(InstallOptions.waitingUnitName), .text(waitingUnit(options))),
            GeneratedFile(
                InstallOptions.unitFolder.appending("timers.target.wants").appending(InstallOptions.waitingTimerName),
                .symlink("../" + InstallOptions.waitingTimerName)),
            GeneratedFile(
                InstallOptions.unitFolder.appending("multi-user.target.wants").appending(
                    InstallOptions.clusterPathUnitName),
                .symlink("../" + InstallOptions.clusterPathUnitName)),
        ]
            + InstallOptions.rke2Units.map { rke2 in
                GeneratedFile(
                    InstallOptions.unitFolder.appending("\(rke2).wants").appending(InstallOptions.labelUnitName),
                    .symlink("../" + InstallOptions.labelUnitName))
            } + [GeneratedFile(InstallOptions.dropIn, .text(rke2DropIn(label)))]
    }

    /// What `install` puts under a root: the binary, the /etc files (through the yip file
    /// on Harvester, and directly too when `applyNow`: on a booted node yip runs only at
    /// the next boot), and the merge patch.
    public static func installFiles(
        _ options: InstallOptions, label: CapabilityLabel, binary: [UInt8],
        applyNow: Bool = false
    ) throws(SRIOVError) -> [GeneratedFile] {
        let binary = GeneratedFile(InstallOptions.binary, .bytes(binary), mode: 0o755)
        let patch = GeneratedFile(options.labelPatch, .text(labelPatch(label)))
        switch options.layout {
        case .fhs: return [binary] + etcFiles(options, label: label) + [patch]
        case .harvester:
            return [binary, try yipFile(options, label: label)] + (applyNow ? etcFiles(options, label: label) : []) + [
                patch
            ]
        }
    }

    /// What `label` rewrites: the drop-in (inside the yip file on Harvester) and the patch.
    public static func labelFiles(_ options: InstallOptions, label: CapabilityLabel, applyNow: Bool = false)
        throws(SRIOVError) -> [GeneratedFile]
    {
        let dropIn = GeneratedFile(InstallOptions.dropIn, .text(rke2DropIn(label)))
        let patch = GeneratedFile(options.labelPatch, .text(labelPatch(label)))
        switch options.layout {
        case .fhs: return [dropIn, patch]
        case .harvester: return [try yipFile(options, label: label)] + (applyNow ? [dropIn] : []) + [patch]
        }
    }

    static func yipFile(_ options: InstallOptions, label: CapabilityLabel) throws(SRIOVError) -> GeneratedFile {
        GeneratedFile(InstallOptions.yipFile, .text(try yip(options, label: label)))
    }

    /// Every path `install` can write in this layout, for `uninstall`: on Harvester the
    /// /etc files too, since yip wrote them into persistent /etc/systemd and /etc/rancher.
    public static func installedPaths(_ options: InstallOptions) throws(SRIOVError) -> [FilePath] {
        try installFiles(options, label: CapabilityLabel.placeholder, binary: [], applyNow: true).map(\.path)
    }
}
