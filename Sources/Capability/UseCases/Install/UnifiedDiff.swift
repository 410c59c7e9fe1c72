import SRIOVHost
import SRIOVModel

/// `diff -u` of two texts, for `--dry-run`: what would change, in the form every
/// reviewer reads. Files here are tens of lines, so a plain LCS table is enough.
public enum UnifiedDiff {
    public static func render(old: String?, new: String, path: String, context: Int = 3) -> String {
        let a = old.map(lines) ?? []
        let b = lines(new)
        guard a != b else { return "" }
        // Longest common subsequence, filled from the end.
        var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        enum Edit {
            case same(String)
            case removed(String)
            case added(String)
        }
        var edits: [Edit] = []
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                edits.append(.same(a[i]))
                i += 1
                j += 1
            }
            // Removals before additions, as diff -u prints them.
            else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] {
                edits.append(.removed(a[i]))
                i += 1
            } else {
                edits.append(.added(b[j]))
                j += 1
            }
        }
        let shown = path.hasPrefix("/") ? path : "/" + path
        var out = "--- \(old == nil ? "/dev/null" : "a" + shown)\n+++ b\(shown)\n"
        // Group changes with `context` unchanged lines around them into hunks.
        let changed = edits.indices.filter { if case .same = edits[$0] { return false } else { return true } }
        var hunkStart = 0
        while hunkStart < changed.count {
            var hunkEnd = hunkStart
            while hunkEnd + 1 < changed.count, changed[hunkEnd + 1] - changed[hunkEnd] <= 2 * context { hunkEnd += 1 }
            let first = max(0, changed[hunkStart] - context)
            let last = min(edits.count - 1, changed[hunkEnd] + context)
            var oldLine = 1
            var newLine = 1
            for edit in edits[..<first] {
                switch edit {
                case .same:
                    oldLine += 1
                    newLine += 1
                case .removed: oldLine += 1
                case .added: newLine += 1
                }
            }
            var oldCount = 0
            var newCount = 0
            var body = ""
            for edit in edits[first...last] {
                switch edit {
                case let .same(line):
                    body += " \(line)\n"
                    oldCount += 1
                    newCount += 1
                case let .removed(line):
                    body += "-\(line)\n"
                    oldCount += 1
                case let .added(line):
                    body += "+\(line)\n"
                    newCount += 1
                }
            }
            out +=
                "@@ -\(oldCount == 0 ? oldLine - 1 : oldLine),\(oldCount) +\(newCount == 0 ? newLine - 1 : newLine),\(newCount) @@\n"
                + body
            hunkStart = hunkEnd + 1
        }
        return out
    }

    private static func lines(_ text: String) -> [String] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if result.last == "" { result.removeLast() }
        return result
    }
}
