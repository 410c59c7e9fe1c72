/// The node label harvester-sriov sets: `network-sriov.capable=true|false` by default.
public struct CapabilityLabel: Sendable {
    public static let defaultKey = "network-sriov.capable"

    public var key: String
    public var value: String

    /// Validates the key: Kubernetes' label syntax and the keys a node may set on itself.
    public init(key: String = defaultKey, capable: Bool) throws(SRIOVError) {
        try Self.check(key)
        self.key = key
        value = String(capable)
    }

    /// Why `key` cannot be the capability label's key, or nil: `--key` is refused with it (exit 64) before
    /// anything is read or written.
    public static func keyProblem(_ key: String) -> String? {
        LabelSyntax.keyProblem(key) ?? KubeletLabels.problem(key)
    }

    /// `key`, when given, is checked (64 before anything is read or written).
    public static func check(_ key: String?) throws(SRIOVError) {
        if let key, let problem = keyProblem(key) { throw .usage("--key \(key): \(problem)") }
    }

    /// For listing paths, which do not depend on the label.
    package static let placeholder = CapabilityLabel(validKey: defaultKey, value: "false")

    private init(validKey: String, value: String) {
        key = validKey
        self.value = value
    }
}
