import Foundation

/// Everything under a folder, without following links: each path with its kind and its
/// bytes or link target. Two equal snapshots mean nothing was written in between.
struct RootTree: Equatable, CustomStringConvertible {
    enum Entry: Equatable {
        case folder
        case file(Data, permissions: Int)
        case link(String)
        case other
    }

    var entries: [String: Entry]

    init(_ root: String) throws {
        entries = [:]
        try walk(root, relative: "")
    }

    private mutating func walk(_ root: String, relative: String) throws {
        let folder = relative.isEmpty ? root : root + "/" + relative
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
            let path = relative.isEmpty ? name : relative + "/" + name
            // attributesOfItem does not follow a link.
            let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + path)
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?:
                entries[path] = .folder
                try walk(root, relative: path)
            case .typeRegular?:
                entries[path] = .file(
                    try Data(contentsOf: URL(fileURLWithPath: root + "/" + path)),
                    permissions: (attributes[.posixPermissions] as? Int) ?? -1)
            case .typeSymbolicLink?:
                entries[path] = .link(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + path))
            default:
                entries[path] = .other
            }
        }
    }

    var description: String { entries.keys.sorted().joined(separator: ", ") }
}

/// Process IDs for tests of stale temporary files.
enum Processes {
    /// The PID of a child that has exited and been reaped: no process has it now (a PID is
    /// reused only after the kernel has cycled through pid_max others).
    static func deadPID() throws -> pid_t {
        try Program.run(URL(fileURLWithPath: "/bin/true"), []).pid
    }
}
