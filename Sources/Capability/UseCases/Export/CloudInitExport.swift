import SRIOVHost
import SRIOVModel
import SystemPackage

/// A Harvester node-manager `CloudInit` (node.harvesterhci.io/v1beta1, cluster-scoped)
/// whose yip contents drop policy files into the harvester layout's `policies.d/` on
/// every node whose labels match: how one set of policies reaches a whole cluster.
/// Follows node-manager's `manifests/crds/node.harvesterhci.io_cloudinits.yaml` and
/// `pkg/apis/node.harvesterhci.io/v1beta1/cloudinit.go`.
public struct CloudInitExport: Sendable {
    public var name: String
    public var filename: String
    public var matchSelector: [String: String]
    public var paused: Bool
    /// Each policy file's drop-in name and text, in the order given.
    public var files: [(dropIn: String, text: String)]

    /// node-manager's webhook refuses these (they are Elemental's or Harvester's own
    /// /oem files); ours and the ones Harvester's upgrades write would be overwritten.
    public static let reservedFilenames: Set<String> = [
        "90_custom.yaml", "99_settings.yaml", "elemental.config", "grubenv", "harvester.config", "install",
        InstallOptions.yipFile.lastComponent?.string ?? "91_harvester_sriov.yaml",
        // The installer's note that harvester-sriov was not installed (installer-scripts/).
        "90_harvester_sriov_not_installed.yaml",
        "91_cleanup_kubelet.yaml", "92_hostname_override.yaml", "99_custom.yaml", "99_disable_lh_multipathd.yaml",
    ]

    /// The harvester layout's drop-in folder, read beside the stored state.
    public static let policyFolder: FilePath = Layout.harvester.stateFile.removingLastComponent().appending(
        "policies.d")

    /// Reads and validates the policy files (exit 65 listing every problem) and the
    /// flags (exit 64).
    public init(
        files paths: [String], matchSelector flags: [String], name: String?, filename: String?, paused: Bool = false
    ) throws(SRIOVError) {
        // The flags first: a usage error (64) before any file is read.
        matchSelector = try Self.selector(flags)
        let givenName = try name.map(Self.checkedName)
        let givenFilename = try filename.map(Self.checkedFilename)
        let input = PolicyInput.load(paths)
        guard input.problems.isEmpty else { throw .invalidPolicies(input.problems) }
        var seen: [String: String] = [:]
        files = []
        for path in paths {
            let dropIn = Self.dropInName(path)
            if let other = seen[dropIn] {
                throw .usage("\(other) and \(path) would both be \(Self.policyFolder)/\(dropIn); rename one")
            }
            seen[dropIn] = path
            files.append((dropIn, input.texts[path] ?? ""))
        }
        let stems = files.map { String($0.dropIn.dropLast(".yaml".count)) }
        self.name = givenName ?? Self.derivedName(stems)
        self.filename = givenFilename ?? Self.derivedFilename(self.name)
        self.paused = paused
    }

    /// The CR, as YAML for `kubectl apply -f -`.
    public func yaml() throws(SRIOVError) -> String {
        var spec = [
            YAMLPair(
                "matchSelector",
                .mapping(matchSelector.sorted { $0.key < $1.key }.map { YAMLPair($0.key, .string($0.value)) })),
            YAMLPair("filename", .string(filename)),
            YAMLPair("contents", .string(try yipDocument(), literal: true)),
        ]
        if paused { spec.append(YAMLPair("paused", .boolean(true))) }
        return try Self.emit(
            .mapping([
                YAMLPair("apiVersion", .string("node.harvesterhci.io/v1beta1")),
                YAMLPair("kind", .string("CloudInit")),
                YAMLPair("metadata", .mapping([YAMLPair("name", .string(name))])),
                YAMLPair("spec", .mapping(spec)),
            ]), what: "CloudInit \(name)")
    }

    /// The yip document node-manager writes as /oem/<filename>. Stage `initramfs`: it runs
    /// at every boot before the restore unit, like our own /oem file (docs/harvester.md);
    /// yip reads every content as a Go template, so each `{{` is written as a literal.
    public func yipDocument() throws(SRIOVError) -> String {
        let entries = files.map { file in
            YAMLValue.mapping([
                YAMLPair("path", .string("/" + Self.policyFolder.appending(file.dropIn).string)),
                YAMLPair("permissions", .integer(0o644)),
                YAMLPair("owner", .integer(0)),
                YAMLPair("group", .integer(0)),
                YAMLPair("content", .string(NodeFiles.goTemplateLiteral(file.text), literal: true)),
            ])
        }
        let step = YAMLValue.mapping([
            YAMLPair("name", .string("harvester-sriov: policies of CloudInit \(name)")),
            YAMLPair("if", .string(NodeFiles.yipRecoveryGuard)),
            YAMLPair("files", .sequence(entries)),
        ])
        return try Self.emit(
            .mapping([
                YAMLPair("name", .string("harvester-sriov policies (CloudInit \(name))")),
                YAMLPair("stages", .mapping([YAMLPair("initramfs", .sequence([step]))])),
            ]), what: "the yip contents")
    }

    private static func emit(_ value: YAMLValue, what: String) throws(SRIOVError) -> String {
        try YAMLEmitter.document(value, what: what)
    }

    /// `key=value` flags with Kubernetes' label syntax; at least one, since an empty
    /// selector would match every node.
    static func selector(_ flags: [String]) throws(SRIOVError) -> [String: String] {
        guard !flags.isEmpty else {
            throw .usage(
                "--match-selector is required: give the labels (key=value) of the nodes that get these policies")
        }
        var labels: [String: String] = [:]
        for flag in flags {
            let (key, value) = try LabelSyntax.pair(flag, option: "--match-selector")
            if let earlier = labels[key], earlier != value {
                throw .usage("--match-selector \(flag): \(key) is already \(earlier); a node has one value per label")
            }
            labels[key] = value
        }
        return labels
    }

    /// The file's name without `.yaml`/`.yml`, with anything but letters, digits, `-`, `_`
    /// and `.` made `-`, plus `.yaml`: the folder reads only `*.yaml`.
    static func dropInName(_ path: String) -> String {
        var stem = FilePath(path).lastComponent?.string ?? path
        for suffix in [".yaml", ".yml"] where stem.hasSuffix(suffix) { stem.removeLast(suffix.count) }
        let cleaned = String(stem.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) ? $0 : "-" })
        // At most 255 bytes with ".yaml" (a 255-byte "NAME.yml" would be one more).
        return (cleaned.isEmpty ? "policy" : String(cleaned.prefix(250))) + ".yaml"
    }

    /// `92_<name>.yaml`, within a file name's 255 bytes: a longer name is cut, and ends in a hash of the whole
    /// name, so that two long names that share their beginning do not become one /oem file.
    static func derivedFilename(_ name: String) -> String {
        let whole = "92_\(name).yaml"
        guard whole.utf8.count > 255 else { return whole }
        let suffix = "-" + hex(fnv1a(name), width: 8) + ".yaml"
        var stem = String(name.prefix(255 - "92_".count - suffix.count))
        while stem.hasSuffix("-") { stem.removeLast() }
        return "92_" + stem + suffix
    }

    /// `harvester-sriov-` and the files' names, as a DNS subdomain.
    static func derivedName(_ stems: [String]) -> String {
        let raw = (["harvester-sriov"] + stems).joined(separator: "-").lowercased()
        var name = String(raw.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        // Cut to 253 with a hash of the whole, so that two long names sharing their beginning stay two objects.
        let suffix = name.count > 253 ? "-" + hex(fnv1a(name), width: 8) : ""
        name = String(name.prefix(253 - suffix.count))
        while name.hasSuffix("-") { name.removeLast() }
        return name + suffix
    }

    static func fnv1a(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }

    /// Kubernetes' DNS subdomain (apimachinery IsDNS1123Subdomain), which object names use.
    static func checkedName(_ name: String) throws(SRIOVError) -> String {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...253).contains(name.count),
            labels.allSatisfy({ label in
                !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
                    && label.first != "-" && label.last != "-"
            })
        else {
            throw .usage(
                "--name \(name): must be a DNS subdomain (at most 253 lowercase letters, digits, '-' and '.', "
                    + "starting and ending with a letter or digit)")
        }
        return name
    }

    static func checkedFilename(_ filename: String) throws(SRIOVError) -> String {
        if reservedFilenames.contains(filename) {
            throw .usage(
                "--filename \(filename): that /oem file belongs to Harvester, Elemental or harvester-sriov; "
                    + "choose another name")
        }
        guard filename.hasSuffix(".yaml"), filename.count > ".yaml".count, filename.count <= 255,
            filename.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
            filename.first != "."
        else {
            throw .usage(
                "--filename \(filename): must be a file name of letters, digits, '-', '_' and '.' "
                    + "ending in .yaml, which yip reads from /oem")
        }
        return filename
    }
}
