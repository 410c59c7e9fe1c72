import SRIOVHost
import SRIOVModel

/// Renders a `NodeStatus`: JSON, or a table followed by the last restore's results.
public enum StatusReport {
    public static func json(_ status: NodeStatus) -> String {
        encodeJSON(status)
    }

    public static func table(_ status: NodeStatus) -> String {
        var out = ""
        if status.interfaces.isEmpty {
            out += "No PF of this node is configured by the stored policies.\n"
        } else {
            var rows = [["PF", "PCI ADDRESS", "VFS", "STATE"]]
            for pf in status.interfaces {
                rows.append([
                    pf.name ?? "-", pf.pciAddress, "\(pf.actualVfs.map(String.init) ?? "-")/\(pf.desiredVfs)",
                    pf.differences.isEmpty ? "in sync" : pf.differences.joined(separator: "; "),
                ])
            }
            out += alignedColumns(rows)
        }
        if let last = status.lastRestore {
            out += "\nLast restore (finished at \(last.finishedAt), seconds since the epoch):\n"
            for pf in last.pfs {
                out +=
                    "  \(pf.pciAddress) \(pf.name ?? "-"): \(pf.status.rawValue)\(pf.message.map { " - \($0)" } ?? "")\n"
            }
        } else {
            out += "\nNo restore has run since boot.\n"
        }
        return out
    }
}
