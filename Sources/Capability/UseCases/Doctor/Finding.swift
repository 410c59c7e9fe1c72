import SRIOVHost
import SRIOVModel

/// One thing `doctor` found that stands between this node and its plan: what, on which device, why it
/// matters, and the exact fix. Failing: the plan cannot work as stored; warning: it works, with a cost.
public struct Finding: Equatable, Sendable, Encodable {
    public enum Severity: String, Sendable, Encodable {
        case failing, warning
    }

    public var severity: Severity
    /// A short name of the check: iommu, iommu-group, vf-count, host-network, driver.
    public var check: String
    /// The PF, VF or node it is about.
    public var device: String
    public var what: String
    public var why: String
    public var fix: String

    public init(_ severity: Severity, _ check: String, device: String, what: String, why: String, fix: String) {
        self.severity = severity
        self.check = check
        self.device = device
        self.what = what
        self.why = why
        self.fix = fix
    }

    /// One line: `failing: iommu: 0000:3b:00.1 (enp59s0f1): … (why); fix: …`.
    public var line: String { "\(severity.rawValue): \(check): \(device): \(what) (\(why)); fix: \(fix)" }
}
