import SRIOVHost
import SRIOVModel
import SystemPackage

/// The policies of the drop-in folder (`Layout.policiesFolder`): each `*.yaml` file is
/// decoded and checked with the rules `policy apply` uses, against the stored policies
/// and the drop-in files accepted before it (in name order). A file with any problem is
/// skipped whole, so that a half-read manifest never configures a NIC; the stored
/// policies and the other files still apply. A policy named like a stored one is a
/// conflict: the stored one wins, since it is what `policy apply` checked against the NICs.
public struct DropInPolicies: Sendable {
    public var policies: [NodePolicy] = []
    /// The file each drop-in policy came from, for messages.
    public var origins: [String: String] = [:]
    /// One line per problem, then one line per skipped file: warnings for stderr or the log.
    public var warnings: [String] = []

    public static let fileExtension = ".yaml"

    /// Reads the folder under the store's root; never throws: a folder that cannot be
    /// read (a symbolic link, a file) is a warning, and the stored policies apply alone.
    public static func load(_ store: StateStore, stored: [NodePolicy]) -> DropInPolicies {
        var result = DropInPolicies()
        let folder = store.layout.policiesFolder
        let names: [String]
        do {
            guard let listed = try store.writer.list(folder) else { return result }
            names = listed.filter { $0.hasSuffix(fileExtension) && !$0.hasPrefix(".") }
        } catch {
            result.warnings.append("\(error); the drop-in policies were not read, the stored ones apply")
            return result
        }
        var origins = Dictionary(stored.map { ($0.name, store.displayPath) }, uniquingKeysWith: { first, _ in first })
        for name in names {
            let relative = folder.appending(name)
            let path = store.writer.root.display(relative)
            let problems = result.check(relative, path: path, store: store, stored: stored, origins: &origins)
            guard !problems.isEmpty else { continue }
            result.warnings += problems.map(\.description)
            result.warnings.append(
                "\(path): skipped whole (\(problems.count == 1 ? "1 problem" : "\(problems.count) problems")); "
                    + "fix it; the stored policies and the other drop-in files still apply")
        }
        return result
    }

    /// Reads and checks one file; on no problem its policies join `self` and `origins`.
    private mutating func check(
        _ relative: FilePath, path: String, store: StateStore, stored: [NodePolicy], origins: inout [String: String]
    ) -> [PolicyProblem] {
        let bytes: [UInt8]?
        do {
            bytes = try store.writer.read(relative, limit: PolicyDecoder.maximumFileSize)
        } catch {
            return [PolicyProblem(file: path, message: "cannot read: \(error)")]
        }
        // Gone since the listing: nothing to apply, nothing to report.
        guard let bytes else { return [] }
        let decoded = PolicyDecoder.decode(String(decoding: bytes, as: UTF8.self), file: path)
        var problems = decoded.problems
        var seen = Set<String>()
        for policy in decoded.policies {
            if !seen.insert(policy.name).inserted {
                problems.append(
                    PolicyProblem(
                        file: path, policy: policy.name, field: "metadata.name",
                        message: "is defined twice in this file; policy names must be unique"))
            } else if let other = origins[policy.name] {
                let fix =
                    other == store.displayPath
                    ? "rename it here, or remove the stored one with `harvester-sriov policy remove \(policy.name)`"
                    : "rename it in one of the two files"
                problems.append(
                    PolicyProblem(
                        file: path, policy: policy.name, field: "metadata.name",
                        message: "conflicts with the policy of that name in \(other), which wins; \(fix)"))
            }
        }
        guard problems.isEmpty else { return problems }
        var candidateOrigins = origins
        for policy in decoded.policies { candidateOrigins[policy.name] = path }
        let setProblems = PolicyRules.checkSet(stored + policies + decoded.policies, origins: candidateOrigins)
        guard setProblems.isEmpty else { return setProblems }
        origins = candidateOrigins
        policies += decoded.policies
        for policy in decoded.policies { self.origins[policy.name] = path }
        return []
    }
}

extension StateStore {
    /// The stored state with the drop-in policies added, and the drop-in folder's
    /// warnings: what plan, restore and status act on. Only the stored part is ever
    /// written back; the drop-in files stay the only copy of their policies.
    public func loadWithDropIns() throws(SRIOVError) -> (state: DesiredState, warnings: [String]) {
        let stored = try load()
        let dropIns = DropInPolicies.load(self, stored: stored.policies)
        let state = DesiredState(
            policies: stored.policies + dropIns.policies, nodeLabels: stored.nodeLabels, cards: stored.cards,
            labelKey: stored.labelKey, clusterLabels: stored.clusterLabels)
        return (state, dropIns.warnings)
    }
}
