import SRIOVHost
import SRIOVModel
import SystemPackage

/// Policies read from the files a user named, with every problem found in them.
public struct PolicyInput: Sendable {
    public var policies: [NodePolicy] = []
    /// The file each policy came from, for messages.
    public var origins: [String: String] = [:]
    public var problems: [PolicyProblem] = []
    /// Each file's text as it was read and checked, by path.
    public var texts: [String: String] = [:]

    /// Reads and decodes every file; a policy name defined twice is a problem too.
    public static func load(_ paths: [String]) -> PolicyInput {
        var policies: [NodePolicy] = []
        var origins: [String: String] = [:]
        var texts: [String: String] = [:]
        var problems = ManifestFiles.read(paths, fileKind: "policy file") { path, text in
            texts[path] = text
            let decoded = PolicyDecoder.decode(text, file: path)
            var problems = decoded.problems
            for policy in decoded.policies {
                if let first = origins[policy.name] {
                    problems.append(
                        PolicyProblem(
                            file: path, policy: policy.name, field: "metadata.name",
                            message: "is defined twice (also in \(first)); policy names must be unique"))
                    continue
                }
                origins[policy.name] = path
                policies.append(policy)
            }
            return problems
        }
        problems += PolicyRules.checkSet(policies, origins: origins)
        return PolicyInput(policies: policies, origins: origins, problems: problems, texts: texts)
    }
}

/// The manifest files a user named (policies, networks): each read whole, or the one problem that kept it unread.
enum ManifestFiles {
    /// Calls `decode` with each file's text in order, and returns every problem: those of the files that could
    /// not be read and those `decode` found, in file order.
    static func read(
        _ paths: [String], fileKind: String, _ decode: (_ path: String, _ text: String) -> [PolicyProblem]
    ) -> [PolicyProblem] {
        var problems: [PolicyProblem] = []
        for path in paths {
            do {
                // A regular file of at most `PolicyDecoder.maximumFileSize`, refused before a byte is read otherwise.
                let bytes = try BoundedRead.file(path, limit: PolicyDecoder.maximumFileSize)
                problems += decode(path, String(decoding: bytes, as: UTF8.self))
            } catch {
                let hint = if case .tooLarge = error { "; a \(fileKind) is a few KiB of YAML" } else { "" }
                problems.append(PolicyProblem(file: path, message: error.description + hint))
            }
        }
        return problems
    }
}
