/// One thing wrong with the policies: where (file, line, policy, field) and what to do.
public struct PolicyProblem: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var policy: String?
    public var field: String?
    public var message: String
    /// What `policy` names: "policy", or "network" for a SriovNetwork.
    public var object = "policy"

    public init(
        file: String, line: Int? = nil, policy: String? = nil, field: String? = nil, message: String,
        object: String = "policy"
    ) {
        self.file = file
        self.line = line
        self.policy = policy
        self.field = field
        self.message = message
        self.object = object
    }

    /// `policies.yaml:12: policy "x": spec.numVfs: must be ...`, on one line: control characters in the file's,
    /// the policy's or the field's name, or in a message quoting one, are escaped.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let policy { text += ": \(object) \"\(policy)\"" }
        if let field { text += ": \(field)" }
        return escapingControls(text + ": " + message)
    }
}
